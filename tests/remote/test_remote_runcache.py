"""The run cache across clones: ``art push`` publishes run-key markers, ``art repro --pull`` finds runs by
them (one listing per stage) and restores them like local cache hits."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from artvc.objstore import remote_runkeys
from artvc.objstore.store.remote import RemoteStore
from tests import servers
from tests.bucket_fixtures import bucket_name
from tests.pipeline.helpers import lock, ml_pipeline, repro_json, statuses
from tests.remote.conftest import add_remote, art_json, clone, commit


def _markers(url: str, options: dict | None = None) -> dict[str, list[str]]:
    store = RemoteStore.open(url, options or {}, name="origin")
    try:
        return remote_runkeys.list_keys(store)
    finally:
        store.close()


def _origin(ws, url: str, options: dict | None = None) -> dict:
    ml_pipeline(ws)
    first = repro_json(ws)
    assert set(statuses(first).values()) == {"ran"}
    add_remote(ws, url, options)
    return art_json(ws, "push")


def _fresh_clone(ws, tmp_path, name="clone"):
    other = clone(ws, tmp_path / name)
    (other.root / "side.log").unlink()
    return other


def test_push_publishes_a_marker_per_stage_run_and_a_fresh_clone_repro_pull_runs_nothing(ws, tmp_path):
    url = str(tmp_path / "remote")
    pushed = _origin(ws, url)
    assert pushed["markers"] == 4  # 3 stage runs (runkeys/) and the add run of data/raw.csv (produced/)
    entries = lock(ws)
    assert _markers(url) == {e["run_key"]: [e["run"]] for e in entries.values()}
    assert art_json(ws, "push")["markers"] == 0  # markers already there (and known: no listing)

    other = _fresh_clone(ws, tmp_path)
    other.art("pull", "data/raw.csv")  # the pipeline's input only: no run, no output is local
    result = repro_json(other, "--pull")
    assert statuses(result) == {"importer": "cached", "trainer": "cached", "evaluator": "cached"}
    assert not (other.root / "side.log").exists()  # zero executions
    assert result["remote_cache"]["lookups"] == 3 and result["remote_cache"]["hits"] == 3
    for name in ("prepared.csv", "model.txt", "metrics.json"):
        assert (other.root / name).read_bytes() == (ws.root / name).read_bytes()
    assert lock(other) == entries
    other.art("status", "--check")
    assert "nothing to reproduce" in other.art("repro").stdout


def test_without_pull_a_fresh_clone_runs_the_stages_and_remote_needs_pull(ws, tmp_path):
    _origin(ws, str(tmp_path / "remote"))
    other = _fresh_clone(ws, tmp_path)
    other.art("pull", "data/raw.csv")
    r = other.art("repro", "-r", "origin", code=2)
    assert "--pull" in r.stderr
    assert set(statuses(repro_json(other)).values()) == {"ran"}


@pytest.mark.long
def test_an_unreachable_remote_degrades_to_a_warning_and_local_behaviour(ws, tmp_path):
    _origin(ws, str(tmp_path / "remote"))
    other = _fresh_clone(ws, tmp_path)
    other.art("pull", "data/raw.csv")
    other.art("remote", "add", "gone", "s3://nowhere/x", "-o", "endpoint_url=http://127.0.0.1:9")
    r = other.art("repro", "--pull", "-r", "gone", "--json")
    assert "art: warning: the remote run cache is not used" in r.stderr
    assert set(statuses(json.loads(r.stdout)).values()) == {"ran"}


def test_a_damaged_marker_is_reported_and_the_stage_runs(ws, tmp_path):
    url = tmp_path / "remote"
    _origin(ws, str(url))
    key = lock(ws)["importer"]["run_key"]
    marker = next((url / "runkeys" / key).iterdir())
    data = bytearray(marker.read_bytes())
    data[-2] ^= 0x01
    marker.write_bytes(bytes(data))
    other = _fresh_clone(ws, tmp_path)
    other.art("pull", "data/raw.csv")
    r = other.art("repro", "--pull", "--json")
    assert f"ignoring run-key marker runkeys/{key}/{marker.name}" in r.stderr
    assert statuses(json.loads(r.stdout))["importer"] == "ran"


def test_a_kill_before_the_marker_leaves_none_and_a_later_push_completes_it(ws, tmp_path):
    url = str(tmp_path / "remote")
    ml_pipeline(ws)
    repro_json(ws)
    add_remote(ws, url)
    env = {**os.environ, "ART_FAULT": "runkeys.objects-committed:kill"}
    proc = subprocess.run([sys.executable, "-m", "artvc", "push"], cwd=ws.root, env=env, capture_output=True)
    assert proc.returncode == -9, proc.stderr
    assert _markers(url) == {}  # the objects are committed, no marker precedes them
    assert art_json(ws, "push")["markers"] == 4  # backfilled: the runs were on the remote already
    assert sorted(_markers(url)) == sorted(e["run_key"] for e in lock(ws).values())


def test_a_marker_is_only_published_when_the_outputs_are_on_the_remote(ws, tmp_path):
    url = str(tmp_path / "remote")
    ml_pipeline(ws)
    repro_json(ws)
    add_remote(ws, url)
    art_json(ws, "push", "model.txt")  # the trainer's run and output only
    keys = _markers(url)
    assert list(keys) == [lock(ws)["trainer"]["run_key"]]
    assert art_json(ws, "push")["markers"] == 3  # importer, evaluator and the add run of data/raw.csv
    assert len(_markers(url)) == 3


@pytest.mark.long
def test_repro_pull_on_moto_lists_once_per_stage(ws, s3_server, tmp_path):
    name = bucket_name("runcache")
    s3_server.filesystem().mkdir(name)
    with servers.RequestCounter(s3_server.port) as counter:
        options = s3_server.options_for_port(counter.port)
        _origin(ws, f"s3://{name}/root", options)
        counter.reset()
        assert art_json(ws, "push")["markers"] == 0  # a push with nothing new: no marker request at all
        assert not [r for r in counter.requests if "runkeys" in r.path or "produced" in r.path], counter.requests
        other = _fresh_clone(ws, tmp_path)
        other.art("pull", "data/raw.csv")
        counter.reset()
        result = repro_json(other, "--pull")
        lookups = [r for r in counter.requests if "runkeys" in r.path and "list-type" in r.path]
        marker_gets = [r for r in counter.requests if r.method == "GET" and "/runkeys/" in r.path]
    assert statuses(result) == {"importer": "cached", "trainer": "cached", "evaluator": "cached"}
    assert not (other.root / "side.log").exists()
    assert len(lookups) <= 3, lookups
    assert len(marker_gets) == 3, counter.requests


@pytest.mark.parametrize("what", ["pull"])
def test_repro_pull_json_names_the_remote(ws, tmp_path, what):
    _origin(ws, str(tmp_path / "remote"))
    other = _fresh_clone(ws, tmp_path)
    other.art(what, "data/raw.csv")
    stats = repro_json(other, "--pull")["remote_cache"]
    assert stats["remote"] == "origin" and stats["used"] is True
    commit(other)
