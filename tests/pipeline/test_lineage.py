import json

from tests.pipeline.helpers import TRAINER_TREE, lock, ml_pipeline, repro_json


def _walk(node):
    yield node
    for child in node["inputs"]:
        yield from _walk(child)


def test_lineage_reaches_the_added_raw_data_with_commits_and_code_hashes(ws):
    ml_pipeline(ws)
    ws.git("add", "-A")
    ws.git("commit", "-q", "-m", "pipeline")
    head = ws.git("rev-parse", "HEAD").stdout.strip()
    repro_json(ws)
    tree = json.loads(ws.art("lineage", "metrics.json", "--json").stdout)
    nodes = list(_walk(tree))
    by_path = {n["path"]: n for n in nodes}
    assert [by_path[p]["run"]["stage"] for p in ("metrics.json", "model.txt", "prepared.csv")] == [
        "evaluator",
        "trainer",
        "importer",
    ]
    raw = by_path["data/raw.csv"]
    assert raw["run"]["kind"] == "add"
    for path in ("metrics.json", "model.txt", "prepared.csv"):
        run = by_path[path]["run"]
        assert run["git"] == {"commit": head, "dirty": False, "branch": "main"}
        assert len(run["code_hash"]) == 64 and run["exit_status"] == 0
        assert run["user"] and run["host"] and run["python"] and run["art"] and len(run["packages"]) == 64
    assert by_path["model.txt"]["run"]["params"] == {"params.toml:train.C": 1.0}
    assert "src/trainer.py" in by_path["model.txt"]["run"]["code"]
    text = ws.art("lineage", "metrics.json").stdout
    for word in ("stage evaluator", "stage trainer", "stage importer", "data/raw.csv", "added by", head[:10]):
        assert word in text


def test_lineage_follows_the_current_version_and_log_lists_versions(ws):
    ml_pipeline(ws)
    repro_json(ws)
    ws.git("add", "-A")
    ws.git("commit", "-q", "-m", "svc")
    (ws.root / "src/trainer.py").write_text(TRAINER_TREE)
    repro_json(ws)
    ws.git("add", "-A")
    ws.git("commit", "-q", "-m", "tree")
    ws.git("commit", "-q", "--allow-empty", "-m", "unrelated")
    tree = json.loads(ws.art("lineage", "model.txt", "--json").stdout)
    assert b"model=tree" in (ws.root / "model.txt").read_bytes()
    assert tree["oid"] == lock(ws)["trainer"]["outs"][0]["id"]
    log = json.loads(ws.art("log", "model.txt", "--json").stdout)["versions"]
    assert [v["summary"] for v in log] == ["tree", "svc"]
    assert log[0]["oid"] == tree["oid"] and log[0]["oid"] != log[1]["oid"]
    raw_log = json.loads(ws.art("log", "data/raw.csv", "--json").stdout)["versions"]
    assert len(raw_log) == 1 and raw_log[0]["summary"] == "svc"


def test_lineage_of_untracked_path_fails_cleanly(ws):
    ws.gen({"x.txt": "x"})
    r = ws.art("lineage", "x.txt", code=1)
    assert r.stderr.startswith("art: error: x.txt is not tracked by art")


def test_runs_record_a_dirty_work_tree(ws):
    ml_pipeline(ws)
    ws.git("add", "-A")
    ws.git("commit", "-q", "-m", "pipeline")
    (ws.root / "params.toml").write_text("[train]\nC = 3.0\nseed = 7\n")  # tracked, not committed
    repro_json(ws)
    tree = json.loads(ws.art("lineage", "model.txt", "--json").stdout)
    assert tree["run"]["git"]["dirty"] is True
    assert "(dirty)" in ws.art("lineage", "model.txt").stdout
