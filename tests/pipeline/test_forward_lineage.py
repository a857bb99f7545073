"""Forward lineage on a real three-stage pipeline: `art lineage --used-by PATH`, `--run RUN [--packages]`."""

from __future__ import annotations

import json
from importlib import metadata

from tests.pipeline.helpers import lock, ml_pipeline, repro_json


def _runs(node_list):
    for node in node_list:
        yield node
        for out in node["outputs"]:
            yield from _runs(out["used_by"])


def _two_trainer_runs(ws) -> dict:
    """importer -> trainer -> evaluator, then trainer and evaluator again with another C."""
    ml_pipeline(ws)
    repro_json(ws)
    first = lock(ws)
    (ws.root / "params.toml").write_text("[train]\nC = 2.0\nseed = 7\n")
    repro_json(ws)
    return first


def test_used_by_follows_every_version_down_to_the_final_outputs(ws):
    first = _two_trainer_runs(ws)
    now = lock(ws)
    tree = json.loads(ws.art("lineage", "--used-by", "data/raw.csv", "--json").stdout)
    assert tree["path"] == "data/raw.csv"
    [importer] = tree["used_by"]
    assert importer["run"]["stage"] == "importer" and importer["read"][0]["path"] == "data/raw.csv"
    [prepared] = importer["outputs"]
    assert prepared["path"] == "prepared.csv" and prepared["current"] is True
    trainers = prepared["used_by"]
    assert [t["run"]["oid"] for t in trainers] == [first["trainer"]["run"], now["trainer"]["run"]]
    models = [t["outputs"][0] for t in trainers]
    assert [m["current"] for m in models] == [False, True]
    # each model version leads to the evaluator run that read that version, and only to it
    evaluators = [m["used_by"] for m in models]
    assert [[e["run"]["oid"] for e in ev] for ev in evaluators] == [
        [first["evaluator"]["run"]],
        [now["evaluator"]["run"]],
    ]
    assert evaluators[0][0]["read"] == [{"path": "model.txt", "oid": first["trainer"]["outs"][0]["id"]}]
    finals = [ev[0]["outputs"][0] for ev in evaluators]
    assert [f["path"] for f in finals] == ["metrics.json", "metrics.json"]
    assert [f["used_by"] for f in finals] == [[], []]
    assert finals[1]["oid"] == now["evaluator"]["outs"][0]["id"] and finals[1]["current"] is True

    text = ws.art("lineage", "--used-by", "data/raw.csv").stdout.splitlines()
    assert text[0] == "data/raw.csv"
    assert sum("stage trainer  (read " in line for line in text) == 2
    assert sum("metrics.json" in line for line in text) == 2
    assert any(line.strip().startswith("└── metrics.json") and line.endswith("(current)") for line in text)


def test_used_by_a_middle_output_a_code_file_and_a_params_file(ws):
    first = _two_trainer_runs(ws)
    tree = json.loads(ws.art("lineage", "--used-by", "prepared.csv", "--json").stdout)
    assert [r["run"]["stage"] for r in _runs(tree["used_by"])] == ["trainer", "evaluator", "trainer", "evaluator"]
    by_code = json.loads(ws.art("lineage", "--used-by", "src/trainer.py", "--json").stdout)
    assert [r["run"]["stage"] for r in by_code["used_by"]] == ["trainer", "trainer"]
    assert by_code["used_by"][0]["run"]["oid"] == first["trainer"]["run"]
    by_params = json.loads(ws.art("lineage", "--used-by", "params.toml", "--json").stdout)
    assert [r["run"]["stage"] for r in _runs(by_params["used_by"])] == ["trainer", "evaluator", "trainer", "evaluator"]
    # a folder holding the path, or a path inside a consumed folder, count as reading it
    assert [
        r["run"]["stage"] for r in json.loads(ws.art("lineage", "--used-by", "data", "--json").stdout)["used_by"]
    ] == ["importer"]


def test_used_by_rebuilds_a_lost_index_from_the_store(ws):
    _two_trainer_runs(ws)
    before = ws.art("lineage", "--used-by", "data/raw.csv", "--json").stdout
    for suffix in ("", "-wal", "-shm"):
        (ws.root / f".art/state.db{suffix}").unlink(missing_ok=True)
    assert ws.art("lineage", "--used-by", "data/raw.csv", "--json").stdout == before


def test_used_by_of_an_unknown_path_and_of_an_unused_one(ws):
    ml_pipeline(ws)
    repro_json(ws)
    r = ws.art("lineage", "--used-by", "nothere.csv", code=1)
    assert r.stderr.splitlines()[0] == "art: error: nothere.csv does not exist and no recorded run read it"
    out = json.loads(ws.art("lineage", "--used-by", "metrics.json", "--json").stdout)
    assert out == {"path": "metrics.json", "used_by": []}
    assert "no recorded run read it" in ws.art("lineage", "--used-by", "metrics.json").stdout


def test_run_shows_one_run_by_id_or_prefix(ws):
    ml_pipeline(ws)
    ws.git("add", "-A")
    ws.git("commit", "-qm", "pipeline")
    repro_json(ws)
    stages = lock(ws)
    oid = stages["trainer"]["run"]
    full = json.loads(ws.art("lineage", "--run", oid, "--json").stdout)
    assert json.loads(ws.art("lineage", "--run", oid[:6].upper(), "--json").stdout) == full
    assert full["oid"] == oid and full["stage"] == "trainer" and full["exit_status"] == 0
    assert full["params"] == {"params.toml:train.C": 1.0} and "src/trainer.py" in full["code"]
    assert full["inputs"] == [
        {
            "path": "prepared.csv",
            "oid": stages["importer"]["outs"][0]["id"],
            "kind": "file",
            "run_oid": stages["importer"]["run"],
        }
    ]
    assert full["outputs"][0]["path"] == "model.txt" and full["outputs"][0]["oid"] == stages["trainer"]["outs"][0]["id"]
    assert full["git"]["commit"] == ws.git("rev-parse", "HEAD").stdout.strip()
    assert full["host"] and full["python"] and full["started"].endswith("Z") and full["duration"] >= 0
    text = ws.art("lineage", "--run", oid[:10]).stdout
    for word in (f"run {oid}", "stage     trainer", "params    params.toml:train.C = 1.0", "inputs    prepared.csv"):
        assert word in text
    assert "installed packages: art lineage --run" in text


def test_run_packages_prints_the_recorded_list(ws):
    ml_pipeline(ws)
    repro_json(ws)
    oid = lock(ws)["evaluator"]["run"]
    text = ws.art("lineage", "--run", oid, "--packages").stdout
    assert f"artvc=={metadata.version('artvc')}" in text.splitlines()
    payload = json.loads(ws.art("lineage", "--run", oid, "--packages", "--json").stdout)
    assert payload["run_oid"] == oid and len(payload["packages_oid"]) == 64
    assert {"name": "artvc", "version": metadata.version("artvc")} in payload["packages"]
    assert len(payload["packages"]) == len([line for line in text.splitlines() if line])
    # an `art add` run records no package list
    raw_run = json.loads(ws.art("lineage", "data/raw.csv", "--json").stdout)["run"]["oid"]
    r = ws.art("lineage", "--run", raw_run, "--packages", code=1)
    assert r.stderr.startswith(f"art: error: run {raw_run[:10]} records no package list")


def test_run_and_option_errors(ws):
    ml_pipeline(ws)
    repro_json(ws)
    r = ws.art("lineage", "--run", "zzzz", code=2)
    assert r.stderr.startswith("art: error: 'zzzz' is not a run id")
    known = {s["run"][:4] for s in lock(ws).values()}
    unknown = next(p for p in ("0000", "ffff", "1234", "abcd") if p not in known)
    r = ws.art("lineage", "--run", unknown, code=1)
    assert r.stderr.startswith(f"art: error: run {unknown} is not in the store")
    assert ws.art("lineage", code=2).stderr.startswith("art: error: give one of PATH, --used-by PATH or --run RUN")
    r = ws.art("lineage", "metrics.json", "--packages", code=2)
    assert r.stderr.startswith("art: error: --packages goes with --run RUN")


def test_a_run_reached_twice_is_listed_again_as_seen(ws):
    ws.gen(
        {
            "x.txt": "x\n",
            "art.toml": """
[stages.a]
cmd = "cat x.txt > a.txt"
deps = ["x.txt"]
outs = ["a.txt"]

[stages.b]
cmd = "cat x.txt x.txt > b.txt"
deps = ["x.txt"]
outs = ["b.txt"]

[stages.c]
cmd = "cat a.txt b.txt > c.txt"
deps = ["a.txt", "b.txt"]
outs = ["c.txt"]
""",
        }
    )
    repro_json(ws)
    tree = json.loads(ws.art("lineage", "--used-by", "x.txt", "--json").stdout)
    assert [r["run"]["stage"] for r in tree["used_by"]] == ["a", "b"]
    under_a, under_b = (r["outputs"][0]["used_by"] for r in tree["used_by"])
    assert [(n["run"]["stage"], n["seen"]) for n in under_a + under_b] == [("c", False), ("c", True)]
    assert under_a[0]["outputs"][0]["path"] == "c.txt" and under_b[0]["outputs"] == []
    assert under_a[0]["read"] == [{"path": "a.txt", "oid": lock(ws)["a"]["outs"][0]["id"]}]
    text = ws.art("lineage", "--used-by", "x.txt").stdout
    assert text.count("stage c  (read") == 2 and text.count("(see above)") == 1 and text.count("c.txt") == 1
