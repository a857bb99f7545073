"""Remote gc keeps what recent pushes relied on (root records), even in old packs, before git knows it."""

import json
import os
import time

import pytest

from artvc.objstore.gc import remote_times
from artvc.objstore.store.remote import RemoteStore
from artvc.workspace.gc import Retention, gc
from tests.builders import random_bytes
from tests.conftest import Workspace, git
from tests.remote.conftest import add_remote, art_json

V1 = random_bytes(700_000, seed=11)
V2 = random_bytes(700_000, seed=12)
MIX = V1[:400_000] + random_bytes(100_000, seed=13)  # a new file made mostly of V1's chunks


def _commit(w: Workspace, files: dict, message: str) -> None:
    w.gen(files)
    w.art("add", *files)
    w.git("add", "-A")
    w.git("commit", "-qm", message)


def _history(ws: Workspace, tmp_path, url: str, options: dict | None = None):
    """Clone A pushed V1 then V2 of data.bin (art and git); returns the bare git origin."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    ws.git("remote", "add", "origin", str(bare))
    add_remote(ws, url, options, name="storage")
    for n, data in enumerate((V1, V2)):
        _commit(ws, {"data.bin": data}, f"v{n + 1}")
        ws.art("push")
        ws.git("push", "-q", "origin", "HEAD:main")
    return bare


def _b_readds_old_data(bare, tmp_path) -> tuple[Workspace, dict]:
    """Clone B re-adds V1 (whose objects sit in A's old pack) and a file of mostly old chunks; art push."""
    git(tmp_path, "clone", "-q", str(bare), str(tmp_path / "b"))
    b = Workspace(tmp_path / "b")
    _commit(b, {"data.bin": V1, "mix.bin": MIX}, "back to v1, plus mix")
    pushed = art_json(b, "push")
    assert pushed["already_on_remote"] > 0, "the push relied on objects already on the remote"
    return b, pushed


def _fresh_clone_pulls_b(bare, tmp_path, b: Workspace) -> None:
    b.git("push", "-q", "origin", "HEAD:main")
    git(tmp_path, "clone", "-q", str(bare), str(tmp_path / "c"))
    c = Workspace(tmp_path / "c")
    c.art("pull")
    assert (c.root / "data.bin").read_bytes() == V1
    assert (c.root / "mix.bin").read_bytes() == MIX


def _age(directory, seconds: float) -> None:
    old = time.time() - seconds
    for p in directory.rglob("*"):
        if p.is_file():
            os.utime(p, (old, old))


def test_remote_gc_keeps_old_objects_a_recent_push_relied_on(ws, tmp_path):
    remote = tmp_path / "remote"
    bare = _history(ws, tmp_path, str(remote))
    _age(remote / "index", 7200)  # A's pushes were two hours ago: past the 1h grace period
    _age(remote / "roots", 7200)
    b, _ = _b_readds_old_data(bare, tmp_path)
    assert len(list((remote / "roots").iterdir())) == 2 + 1, "one root record per push"
    # A has not fetched B's commit and keeps only its tip (V2): without B's record V1's pack would go
    report = art_json(ws, "gc", "--remote", "storage", "--keep-last", "1")
    assert report["root_records"] == 1 and report["expired_root_records"] == 2
    assert len(list((remote / "roots").iterdir())) == 1
    assert not list((remote / "locks").iterdir())
    ws.art("fsck", "--remote", "storage", "--read-data")
    _fresh_clone_pulls_b(bare, tmp_path, b)


def test_expired_root_records_are_removed_and_protect_nothing_more(ws, tmp_path):
    remote = tmp_path / "remote"
    bare = _history(ws, tmp_path, str(remote))
    _age(remote / "index", 7200)
    b, _ = _b_readds_old_data(bare, tmp_path)
    b.git("push", "-q", "origin", "HEAD:main")
    ws.git("pull", "-q", "origin", "main")  # A now knows B's commit: its refs keep V1
    _age(remote / "roots", 7200)
    dry = art_json(ws, "gc", "--remote", "storage", "--keep-last", "1", "--dry-run")
    assert dry["expired_root_records"] == 3 and len(list((remote / "roots").iterdir())) == 3
    report = art_json(ws, "gc", "--remote", "storage", "--keep-last", "1")
    assert report["expired_root_records"] == 3 and report["root_records"] == 0
    assert not list((remote / "roots").iterdir())
    _fresh_clone_pulls_b(bare, tmp_path, b)


def test_remote_gc_refuses_a_damaged_recent_root_record(ws, tmp_path):
    remote = tmp_path / "remote"
    _history(ws, tmp_path, str(remote))
    record = sorted((remote / "roots").iterdir())[-1]
    record.write_bytes(record.read_bytes().replace(b'"version":1', b'"version":2'))
    before = sorted(p.name for p in (remote / "index").rglob("*.idx"))
    r = ws.art("gc", "--remote", "storage", "--keep-last", "1", "--grace", "1h", code=3)
    assert f"root record roots/{record.name} is damaged" in r.stderr and "hint:" in r.stderr
    assert sorted(p.name for p in (remote / "index").rglob("*.idx")) == before
    assert not list((remote / "locks").iterdir())


@pytest.mark.slow  # waits out a lock timeout / S3's whole-second times
def test_root_records_protect_old_objects_on_s3(ws, tmp_path, s3_server):
    from tests.bucket_fixtures import bucket_name

    name = bucket_name("roots")
    s3_server.filesystem().mkdir(name)
    url = f"s3://{name}/root"
    bare = _history(ws, tmp_path, url, s3_server.storage_options)
    time.sleep(2.1)  # S3 keeps its own times (whole seconds): B's record is then strictly younger than A's
    b, _ = _b_readds_old_data(bare, tmp_path)
    store = RemoteStore.open(url, dict(s3_server.storage_options))
    newest = max(remote_times(store, "roots").values())
    store.close()
    with ws.repo() as repo:  # a grace period that covers B's push and not A's
        result = gc(repo, Retention(keep_last=1), remote="storage", grace=1.5, now=newest + 1)
    assert result.details["root_records"] == 1
    ws.art("fsck", "--remote", "storage", "--read-data")
    _fresh_clone_pulls_b(bare, tmp_path, b)


@pytest.mark.parametrize("nothing", [True, False])
def test_every_push_records_its_roots_after_its_data(ws, tmp_path, nothing):
    remote = tmp_path / "remote"
    add_remote(ws, str(remote))
    _commit(ws, {"x.bin": V1}, "x")
    ws.art("push")
    if nothing:
        (remote / "roots").joinpath(next((remote / "roots").iterdir()).name).unlink()
        assert art_json(ws, "push")["objects"] == 0  # sends nothing, still records what it relied on
    (record,) = list((remote / "roots").iterdir())
    body = json.loads(record.read_bytes())
    with ws.repo() as repo:
        x = repo.artifacts()[0][1]
    assert body["version"] == 1 and body["roots"]["file"] == [str(x.oid)]


def test_a_push_whose_lock_was_broken_meanwhile_fails_and_records_nothing(ws, tmp_path):
    from artvc.errors import RepoLockedError
    from artvc.workspace.push import push

    remote = tmp_path / "remote"
    add_remote(ws, str(remote))
    ws.gen({"big.bin": random_bytes(300_000, seed=21)})
    ws.art("add", "big.bin")

    def a_gc_breaks_our_lock(_n):  # as a gc does with a lock it takes for stale
        for lock in (remote / "locks").iterdir():
            lock.unlink()

    with ws.repo() as repo, pytest.raises(RepoLockedError, match="was removed by another process"):
        push(repo, progress=a_gc_breaks_our_lock)
    assert not (remote / "roots").exists() or not list((remote / "roots").iterdir())
    ws.art("push")
    assert len(list((remote / "roots").iterdir())) == 1


def test_a_remote_gc_whose_lock_was_broken_meanwhile_stops_before_deleting(ws, tmp_path):
    from artvc.errors import RepoLockedError

    remote = tmp_path / "remote"
    _history(ws, tmp_path, str(remote))
    before = {p.name for p in (remote / "index").rglob("*.idx")}

    def broken_after_copying(name):  # e.g. this machine slept past the stale time and a push broke the lock
        if name == "copied":
            for lock in (remote / "locks").iterdir():
                lock.unlink()

    with ws.repo() as repo, pytest.raises(RepoLockedError, match="was removed by another process"):
        gc(repo, Retention(keep_last=1), remote="storage", grace=0, phase=broken_after_copying)
    assert {p.name for p in (remote / "index").rglob("*.idx")} >= before
    report = art_json(ws, "gc", "--remote", "storage", "--keep-last", "1", "--grace", "0")
    assert report["removed_objects"] > 0


def test_a_hostile_root_record_nested_too_deeply_is_refused_as_damaged(ws, tmp_path):
    from artvc.objstore.hashing import hash_bytes

    remote = tmp_path / "remote"
    _history(ws, tmp_path, str(remote))
    body = b"[" * 200_000 + b"]" * 200_000  # named by its own hash, as a hostile remote can do
    (remote / "roots" / f"{hash_bytes(body)}.json").write_bytes(body)
    r = ws.art("gc", "--remote", "storage", code=3)  # recent: within the default 1h grace period
    assert "is damaged" in r.stderr and "Traceback" not in r.stderr
