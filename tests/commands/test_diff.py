"""``art diff``: sizes, bytes added/removed, files changed inside a folder, content summaries."""

import json

from tests.builders import random_bytes


def commit(ws, msg):
    ws.git("add", "-A")
    ws.git("commit", "-qm", msg)


def test_deleting_a_file_from_a_tracked_folder_shrinks_the_folder(ws):
    """Issue 10 item 5: the folder's new size was its pointer's (600000 -> 600000)."""
    ws.gen({"imgs": {f"{i:02}.bin": random_bytes(30_000, seed=i) for i in range(20)}})
    ws.art("add", "imgs")
    commit(ws, "v1")
    (ws.root / "imgs/07.bin").unlink()
    (change,) = json.loads(ws.art("diff", "--json").stdout)["changes"]
    assert change["path"] == "imgs" and change["state"] == "modified"
    assert change["old_size"] == 600_000 and change["new_size"] == 570_000
    assert (change["added_size"], change["removed_size"]) == (0, 30_000)
    assert [(f["path"], f["state"], f["old_size"], f["new_size"]) for f in change["files"]] == [
        ("07.bin", "removed", 30_000, None)
    ]
    text = ws.art("diff").stdout
    assert "585.9 KiB -> 556.6 KiB" in text
    assert "removed  imgs/07.bin" in text


def test_added_size_and_removed_count_chunks_the_same_from_the_workspace_and_the_store(ws):
    base = random_bytes(1_000_000, seed=1)
    ws.gen({"big.bin": base})
    ws.art("add", "big.bin")
    commit(ws, "v1")
    ws.gen({"big.bin": base[:500_000] + random_bytes(100_000, seed=2) + base[500_000:]})
    (before,) = json.loads(ws.art("diff", "--json").stdout)["changes"]  # workspace: chunked, not stored
    ws.art("add", "big.bin")
    commit(ws, "v2")
    (after,) = json.loads(ws.art("diff", "HEAD~1", "HEAD", "--json").stdout)["changes"]  # two manifests
    assert before == after
    # the 100 kB insertion plus the one or two chunks it lands in; far less than the whole file
    assert 100_000 < after["added_size"] < 100_000 + 2 * 256 * 1024
    assert 0 < after["removed_size"] < 2 * 256 * 1024
    assert after["added_size"] - after["removed_size"] == 100_000
    assert "summary" not in after  # not text-like data
    text = ws.art("diff", "HEAD~1", "HEAD").stdout
    assert f"(976.6 KiB -> 1.0 MiB; +{human(after['added_size'])}, -{human(after['removed_size'])})" in text


def human(n):
    from artvc.commands._render import human

    return human(n)


def test_metrics_json_shows_the_values_that_changed(ws):
    ws.gen({"metrics.json": json.dumps({"accuracy": 0.91, "loss": 0.3, "eval": {"f1": 0.8, "n": 100}})})
    ws.art("add", "metrics.json")
    commit(ws, "v1")
    ws.gen({"metrics.json": json.dumps({"accuracy": 0.94, "eval": {"f1": 0.8, "n": 120}, "epochs": 5})})
    text = ws.art("diff").stdout
    assert "accuracy: 0.91 -> 0.94 (+0.03)" in text
    assert "eval.n: 100 -> 120 (+20)" in text
    assert "- loss: 0.3" in text and "+ epochs: 5" in text and "f1" not in text
    (change,) = json.loads(ws.art("diff", "--json").stdout)["changes"]
    assert change["summary"] == {
        "format": "json",
        "keys": [
            {"key": "accuracy", "state": "modified", "old": 0.91, "new": 0.94, "change": 0.03},
            {"key": "loss", "state": "removed", "old": 0.3},
            {"key": "eval.n", "state": "modified", "old": 100, "new": 120, "change": 20},
            {"key": "epochs", "state": "added", "new": 5},
        ],
        "keys_changed": 4,
        "more": 0,
    }


def test_csv_rows_added_and_removed_and_columns(ws):
    rows = [f"{i},name{i},{i * 7 % 13}" for i in range(1000)]
    ws.gen({"t.csv": "id,name,score\n" + "\n".join(rows) + "\n"})
    ws.art("add", "t.csv")
    commit(ws, "v1")
    new_rows = rows[:400] + rows[410:] + [f"{i},extra{i},1" for i in range(25)]  # 10 removed, 25 appended
    ws.gen({"t.csv": "id,name,score\n" + "\n".join(new_rows) + "\n"})
    ws.art("add", "t.csv")
    commit(ws, "v2")
    (change,) = json.loads(ws.art("diff", "HEAD~1", "HEAD", "--json").stdout)["changes"]
    assert change["summary"] == {
        "format": "csv",
        "rows_old": 1000,
        "rows_new": 1015,
        "rows_added": 25,
        "rows_removed": 10,
    }
    assert "rows: 1000 -> 1015 (+25, -10)" in ws.art("diff", "HEAD~1", "HEAD").stdout
    ws.gen({"t.csv": "id,name,score,weight\n" + "\n".join(r + ",1" for r in new_rows) + "\n"})
    (change,) = json.loads(ws.art("diff", "--json").stdout)["changes"]
    assert change["summary"]["columns_added"] == ["weight"] and change["summary"]["rows_added"] == 1015


def test_files_inside_a_folder_get_sizes_bytes_and_summaries(ws):
    ws.gen(
        {"run": {"params.toml": "[train]\nlr = 0.1\nepochs = 10\n", "notes.yaml": "a: 1\nb: [1, 2]\n", "x.bin": "x"}}
    )
    ws.art("add", "run")
    commit(ws, "v1")
    ws.gen({"run": {"params.toml": "[train]\nlr = 0.05\nepochs = 10\n", "notes.yaml": "a: 2\nb: [1, 2, 3]\n"}})
    (ws.root / "run/x.bin").unlink()
    ws.gen({"run": {"sub": {"new.tsv": "a\tb\n1\t2\n"}}})
    (change,) = json.loads(ws.art("diff", "--json").stdout)["changes"]
    files = {f["path"]: f for f in change["files"]}
    assert {p: f["state"] for p, f in files.items()} == {
        "notes.yaml": "modified",
        "params.toml": "modified",
        "sub/new.tsv": "added",
        "x.bin": "removed",
    }
    assert files["params.toml"]["summary"]["keys"] == [
        {"key": "train.lr", "state": "modified", "old": 0.1, "new": 0.05, "change": -0.05}
    ]
    assert [k["key"] for k in files["notes.yaml"]["summary"]["keys"]] == ["a", "b[2]"]
    assert files["sub/new.tsv"]["new_size"] == 8 and files["sub/new.tsv"]["added_size"] == 8
    assert files["x.bin"]["removed_size"] == 1
    assert change["added_size"] == sum(f["added_size"] for f in files.values())
    text = ws.art("diff").stdout
    assert "train.lr: 0.1 -> 0.05 (-0.05)" in text and "added  run/sub/new.tsv  (8 B)" in text


def test_large_files_are_not_summarised_and_unparseable_ones_say_why(ws):
    from artvc.workspace.diffcontent import SUMMARY_MAX

    ws.gen({"big.csv": b"a,b\n" + b"1,2\n" * (SUMMARY_MAX // 4), "m.json": '{"a": 1}'})
    ws.art("add", "big.csv", "m.json")
    commit(ws, "v1")
    with open(ws.root / "big.csv", "ab") as f:
        f.write(b"3,4\n")
    ws.gen({"m.json": '{"a": '})
    changes = {c["path"]: c for c in json.loads(ws.art("diff", "--json").stdout)["changes"]}
    assert changes["big.csv"]["summary"] == {"format": "csv", "skipped": "over 16 MiB"}
    assert changes["big.csv"]["added_size"] > 0
    assert changes["m.json"]["summary"]["skipped"].startswith("the new content is not valid JSON")
    assert "(no content summary: over 16 MiB)" in ws.art("diff").stdout


def test_a_revision_the_local_store_lacks_gives_sizes_but_no_bytes(ws, tmp_path):
    ws.gen({"m.json": '{"a": 1}'})
    ws.art("add", "m.json")
    commit(ws, "v1")
    ws.gen({"m.json": '{"a": 2}'})
    ws.art("add", "m.json")
    commit(ws, "v2")
    from tests.conftest import Workspace, git

    git(tmp_path, "clone", "-q", str(ws.root), "clone")
    clone = Workspace(tmp_path / "clone")
    (change,) = json.loads(clone.art("diff", "HEAD~1", "HEAD", "--json").stdout)["changes"]
    assert (change["old_size"], change["new_size"]) == (8, 8)
    assert change["added_size"] is None and change["removed_size"] is None
    assert "not in the local store" in change["summary"]["skipped"]
    text = clone.art("diff", "HEAD~1", "HEAD").stdout
    assert "modified  m.json  (8 B -> 8 B)" in text
