"""`art du`: logical, unique and stored sizes per artifact, totals that count shared chunks once."""

import json

from tests.builders import csv_bytes, random_bytes
from tests.remote.conftest import clone


def du(ws, *args):
    return json.loads(ws.art("du", *args, "--json").stdout)


def test_dedup_inside_and_across_artifacts_and_compression(ws):
    blob = random_bytes(300_000, 1)
    ws.gen({"d": {"a.bin": blob, "b.bin": blob}, "copy.bin": blob, "t.csv": csv_bytes(200_000, 2)})
    ws.art("add", "d", "copy.bin", "t.csv")
    r = du(ws)
    by = {a["path"]: a for a in r["artifacts"]}
    assert by["d"]["logical_size"] == 600_000 and by["d"]["unique_size"] == 300_000
    assert by["d"]["dedup_ratio"] == 2.0 and by["d"]["files"] == 2
    assert by["copy.bin"]["unique_size"] == 300_000
    assert by["t.csv"]["stored_size"] < by["t.csv"]["unique_size"] / 2  # CSV compresses well
    total = r["total"]
    assert total["logical_size"] == 1_100_000 and total["files"] == 4
    assert total["unique_size"] == 500_000  # the blob once, plus the CSV
    assert total["dedup_ratio"] == 2.2
    assert r["store"]["raw_size"] >= total["unique_size"] and r["store"]["objects"] >= total["objects"]
    text = ws.art("du").stdout
    assert "2.00x" in text and "total" in text and "the whole store" in text


def test_paths_and_revisions(ws):
    ws.gen({"a.bin": random_bytes(100_000, 3), "b.bin": random_bytes(50_000, 4)})
    ws.art("add", "a.bin", "b.bin")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "v1")
    ws.gen({"a.bin": random_bytes(70_000, 5)})
    ws.art("add", "a.bin")
    assert [a["path"] for a in du(ws, "b.bin")["artifacts"]] == ["b.bin"]
    assert {a["path"]: a["logical_size"] for a in du(ws, "--rev", "HEAD")["artifacts"]}["a.bin"] == 100_000
    assert {a["path"]: a["logical_size"] for a in du(ws)["artifacts"]}["a.bin"] == 70_000


def test_a_clone_without_data_says_what_is_missing(ws, tmp_path):
    ws.gen({"a.bin": random_bytes(100_000, 6)})
    ws.art("add", "a.bin")
    other = clone(ws, tmp_path / "clone")
    r = du(other)
    assert r["total"]["missing_objects"] == 1 and r["total"]["dedup_ratio"] is None
    assert "not in the local store" in other.art("du").stderr
