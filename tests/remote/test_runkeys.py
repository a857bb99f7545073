"""Run-key markers (objstore/remote_runkeys.py) on a directory remote and on moto S3: layout, verification,
ordering against the objects they name, request counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from artvc.errors import StoreIOError
from artvc.objstore import remote_runkeys as rk
from artvc.objstore.hashing import hash_bytes
from artvc.objstore.lineage import Run
from artvc.objstore.objects import Kind
from artvc.objstore.store.remote import RemoteStore
from tests.bucket_fixtures import bucket_name
from tests.remote.conftest import FAST_S3


def key(n: int) -> str:
    return str(hash_bytes(f"key {n}".encode()))


def make_run(run_key: str, n: int = 0, *, started: str = "2026-01-01T00:00:00Z", exit_status: int = 0) -> Run:
    return Run(
        {
            "kind": "stage",
            "stage": f"s{n}",
            "cmd": f"echo {n}",
            "run_key": run_key,
            "exit_status": exit_status,
            "started": started,
            "outputs": [],
        }
    )


def commit_runs(remote: RemoteStore, *runs: Run) -> None:
    with remote.writer() as w:
        for run in runs:
            w.put(run.oid, Kind.RUN, run.to_bytes())


@pytest.fixture(params=["dir", "s3"])
def open_remote(request, tmp_path: Path):
    """Open (a new handle on) one remote: a directory, or a moto S3 bucket."""
    if request.param == "dir":
        url, options = str(tmp_path / "remote"), {}
    else:
        server = request.getfixturevalue("s3_server")
        name = bucket_name(request.node.name)
        server.filesystem().mkdir(name)
        url, options = f"s3://{name}/root", server.storage_options
    opened: list[RemoteStore] = []

    def make() -> RemoteStore:
        opened.append(RemoteStore.open(url, options, name="origin"))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def remote(open_remote) -> RemoteStore:
    return open_remote()


def test_marker_path_is_the_documented_layout_and_refuses_non_ids():
    k, r = key(1), key(2)
    assert rk.marker_path(k, r) == f"runkeys/{k}/{r}"
    for bad in ("../x", k[:10], k.upper(), k + "/..", ""):
        with pytest.raises(ValueError):
            rk.marker_path(bad, r)
        with pytest.raises(ValueError):
            rk.marker_path(k, bad)


def test_publish_then_lookup_returns_verified_runs_newest_first(remote, open_remote):
    k = key(1)
    old, new = make_run(k, 1, started="2026-01-01T00:00:00Z"), make_run(k, 2, started="2026-02-01T00:00:00Z")
    other = make_run(key(2), 3)
    commit_runs(remote, old, new, other)
    for run in (old, new, other):
        rk.publish(remote, run["run_key"], run)
    rk.publish(remote, k, new)  # idempotent
    fresh = open_remote()
    before = fresh.requests
    found = rk.lookup(fresh, k)
    assert [r.oid for r in found] == [new.oid, old.oid]
    assert found[0].fields == new.fields
    assert fresh.requests - before == 3  # 1 LIST + 1 GET per marker
    assert rk.lookup(fresh, key(9)) == []
    assert rk.list_keys(fresh) == {k: sorted([str(old.oid), str(new.oid)]), key(2): [str(other.oid)]}
    many = rk.lookup_many(fresh, [k, key(2), key(9), k], jobs=3)
    assert {kk: [r.oid for r in v] for kk, v in many.items()} == {
        k: [new.oid, old.oid],
        key(2): [other.oid],
        key(9): [],
    }


def test_publish_refuses_a_run_not_committed_on_the_remote_or_of_another_key(remote):
    k = key(1)
    run = make_run(k)
    with pytest.raises(ValueError, match="not committed"):
        rk.publish(remote, k, run)
    commit_runs(remote, run, make_run(k, 5, exit_status=1))
    with pytest.raises(ValueError, match="not a successful run"):
        rk.publish(remote, key(2), run)
    with pytest.raises(ValueError, match="not a successful run"):
        rk.publish(remote, k, make_run(k, 5, exit_status=1))
    assert rk.list_keys(remote) == {}


def test_bad_markers_are_ignored_and_reported_never_trusted(remote):
    k = key(1)
    good = make_run(k, 1)
    commit_runs(remote, good)
    rk.publish(remote, k, good)
    other_key = make_run(key(2), 2)
    failed = make_run(k, 3, exit_status=1)
    tampered = bytearray(good.to_bytes())
    tampered[-3] ^= 1
    bad = {
        str(key(7)): bytes(tampered),  # content does not hash to its name
        str(other_key.oid): other_key.to_bytes(),  # a valid record of another run key
        str(failed.oid): failed.to_bytes(),  # a failed run
        str(key(8)): b"\xff" * 100,  # garbage
        "not-an-id": good.to_bytes(),  # misnamed
    }
    for name, data in bad.items():
        remote.publish_bytes(f"runkeys/{k}/{name}", data)
    reported: list[rk.BadMarker] = []
    found = rk.lookup(remote, k, on_bad=reported.append)
    assert [r.oid for r in found] == [good.oid]
    assert sorted(b.path.rsplit("/", 1)[1] for b in reported) == sorted(bad)
    assert all(b.reason for b in reported)
    with pytest.raises(rk.BadMarker, match="another run key"):
        rk.read_marker(remote, k, str(other_key.oid))


def test_an_oversized_marker_is_refused_without_reading_it(tmp_path):
    remote = RemoteStore.open(str(tmp_path / "remote"), name="origin")
    k = key(1)
    name = str(key(3))
    remote.publish_bytes(f"runkeys/{k}/{name}", b"\0" * (rk.MAX_MARKER + 1))
    reported: list[rk.BadMarker] = []
    before = remote.read_size
    assert rk.lookup(remote, k, on_bad=reported.append) == []
    assert remote.read_size == before
    assert "larger than" in reported[0].reason


def test_delete_removes_one_marker(remote):
    k = key(1)
    a, b = make_run(k, 1), make_run(k, 2)
    commit_runs(remote, a, b)
    rk.publish(remote, k, a)
    rk.publish(remote, k, b)
    rk.delete(remote, k, str(a.oid))
    rk.delete(remote, k, str(a.oid))  # already gone: fine
    assert [r.oid for r in rk.lookup(remote, k)] == [b.oid]


def test_a_kill_between_the_commit_and_the_marker_leaves_no_marker(tmp_path):
    """The fault point ``runkeys.objects-committed``: the run object is committed, the marker not written."""
    import subprocess
    import sys

    url = str(tmp_path / "remote")
    k = key(1)
    script = f"""
from artvc.objstore import remote_runkeys as rk
from artvc.objstore.objects import Kind
from artvc.objstore.lineage import Run
from artvc.objstore.store.remote import RemoteStore
run = Run({make_run(k).fields!r})
remote = RemoteStore.open({url!r}, name="origin")
with remote.writer() as w:
    w.put(run.oid, Kind.RUN, run.to_bytes())
rk.publish(remote, {k!r}, run)
"""
    env = {**__import__("os").environ, "ART_FAULT": "runkeys.objects-committed:kill"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    remote = RemoteStore.open(url, name="origin")
    run = make_run(k)
    assert remote.has(run.oid, Kind.RUN)
    assert rk.lookup(remote, k) == []
    rk.publish(remote, k, run)  # a later publish completes it
    assert [r.oid for r in rk.lookup(remote, k)] == [run.oid]


def test_lookup_on_an_unreachable_remote_raises_store_io_error(s3_server):
    store = RemoteStore.open(
        "s3://nowhere/root",
        {**s3_server.storage_options, "endpoint_url": "http://127.0.0.1:9", **FAST_S3},
        name="origin",
    )
    with pytest.raises(StoreIOError):
        rk.lookup(store, key(1))
    store.close()
