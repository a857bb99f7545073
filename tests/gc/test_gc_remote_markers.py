"""Remote gc and fsck with run markers: runs named by run-key markers are roots (their outputs kept), gc
deletes the markers of runs it deletes, fsck verifies every marker."""

from __future__ import annotations

import json
import os
import time

from artvc.objstore import remote_runkeys
from artvc.objstore.lineage import Run
from artvc.objstore.objects import Kind
from artvc.objstore.store.remote import RemoteStore
from tests.pipeline.helpers import lock, ml_pipeline, repro_json
from tests.remote.conftest import add_remote, commit


def _remote(url) -> RemoteStore:
    store = RemoteStore.open(str(url), name="origin")
    store.refresh()
    return store


def _setup(ws, tmp_path):
    """C = 1 pushed but never committed (only its markers name its runs), then C = 2 committed and pushed."""
    url = tmp_path / "remote"
    ml_pipeline(ws)
    add_remote(ws, str(url))
    repro_json(ws)
    ws.art("push")
    old = lock(ws)
    (ws.root / "params.toml").write_text("[train]\nC = 2.0\nseed = 7\n")
    repro_json(ws)
    commit(ws, "C=2")
    ws.art("push")
    return url, old


def _gc(ws, *args) -> dict:
    return json.loads(ws.art("gc", "--remote", "origin", "--grace", "0", "--json", *args).stdout)


def test_runs_named_by_run_key_markers_are_roots_with_their_outputs(ws, tmp_path):
    url, old = _setup(ws, tmp_path)
    trainer = old["trainer"]
    model = next(o["id"] for o in trainer["outs"])
    report = _gc(ws, "--keep-last", "1")
    assert report["removed_markers"] == 0 and report["markers"] >= 6
    store = _remote(url)
    assert store.has(trainer["run"], Kind.RUN)
    assert store.has(model, Kind.FILE) or store.has(model, Kind.CHUNK)
    assert trainer["run"] in remote_runkeys.list_markers(store, trainer["run_key"])
    store.close()


def test_gc_deletes_the_markers_of_runs_it_deletes(ws, tmp_path):
    url, old = _setup(ws, tmp_path)
    month_ago = time.time() - 30 * 86400
    for name in ("trainer", "evaluator"):  # the C = 1 markers are old: beyond --keep-within they protect nothing
        marker = url / "runkeys" / old[name]["run_key"] / old[name]["run"]
        os.utime(marker, (month_ago, month_ago))
    report = _gc(ws, "--keep-within", "7d")
    assert report["removed_markers"] == 2
    store = _remote(url)
    for name in ("trainer", "evaluator"):
        assert not store.has(old[name]["run"], Kind.RUN)
        assert remote_runkeys.list_markers(store, old[name]["run_key"]) == []
    current = lock(ws)
    for entry in current.values():  # the committed runs and their markers stay
        assert store.has(entry["run"], Kind.RUN)
        assert remote_runkeys.list_markers(store, entry["run_key"]) == [entry["run"]]
    store.close()
    ws.art("fsck", "--remote", "origin")


def test_a_marker_whose_run_is_not_on_the_remote_is_reported_by_fsck_and_removed_by_gc(ws, tmp_path):
    url, _ = _setup(ws, tmp_path)
    stray = Run({"kind": "stage", "stage": "x", "run_key": "ab" * 32, "exit_status": 0, "outputs": []})
    path = url / "runkeys" / ("ab" * 32) / str(stray.oid)
    path.parent.mkdir(parents=True)
    path.write_bytes(stray.to_bytes())
    r = ws.art("fsck", "--remote", "origin", "--json", code=3)
    problems = json.loads(r.stdout)["problems"]
    assert [p["kind"] for p in problems] == ["marker"]
    assert "names a run the remote does not hold" in problems[0]["detail"]
    assert _gc(ws, "--keep-last", "1")["removed_markers"] == 1
    assert not path.exists()
    ws.art("fsck", "--remote", "origin")


def test_fsck_remote_verifies_marker_content_and_repair_deletes_bad_ones(ws, tmp_path):
    url, _ = _setup(ws, tmp_path)
    entry = lock(ws)["trainer"]
    marker = url / "runkeys" / entry["run_key"] / entry["run"]
    data = bytearray(marker.read_bytes())
    data[-1] ^= 0x01
    marker.write_bytes(bytes(data))
    r = ws.art("fsck", "--remote", "origin", code=3)
    assert f"runkeys/{entry['run_key']}/{entry['run']}" in r.stdout + r.stderr
    ws.art("fsck", "--remote", "origin", "--repair")
    assert not marker.exists() or marker.read_bytes() != bytes(data)
    ws.art("fsck", "--remote", "origin")
    ws.art("push")  # publishes the run's marker again
    assert marker.read_bytes() == Run.from_bytes(entry["run"], marker.read_bytes()).to_bytes()
