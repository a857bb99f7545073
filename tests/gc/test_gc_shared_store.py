"""A store shared by several workspaces (core.store): gc in one keeps what every registered one needs."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from artvc.objstore.reachability import closure
from artvc.workspace.roots import workspace_roots
from tests.builders import random_bytes
from tests.conftest import Workspace, git


def _workspace(tmp_path, name: str, store) -> Workspace:
    root = tmp_path / name
    root.mkdir()
    git(root, "init", "-q")
    w = Workspace(root)
    w.art("init")
    w.art("config", "core.store", str(store))
    return w


def _commit(w: Workspace, files: dict, message: str) -> None:
    w.gen(files)
    w.art("add", *files)
    w.git("add", "-A")
    w.git("commit", "-qm", message)


def _needs(w: Workspace) -> set:
    with w.repo() as repo:
        return closure(repo.store, workspace_roots(repo))


def _stored(w: Workspace) -> set:
    with w.repo() as repo:
        return {(o.oid, o.kind) for o in repo.store.iter_objects()}


@pytest.fixture
def pair(tmp_path):
    store = tmp_path / "shared-store"
    a = _workspace(tmp_path, "a", store)
    b = _workspace(tmp_path, "b", store)
    _commit(a, {"a.bin": random_bytes(300_000, seed=1)}, "a")
    _commit(b, {"b.bin": random_bytes(300_000, seed=2)}, "b")
    b.gen({"draft.bin": random_bytes(200_000, seed=3)})
    b.art("add", "draft.bin")  # not committed: only its pointer on disk says it is needed
    return a, b, store


def test_gc_keeps_what_another_workspace_sharing_the_store_needs(pair):
    a, b, store = pair
    needed_by_b = _needs(b)
    assert needed_by_b - _needs(a), "b needs objects a does not"
    report = json.loads(a.art("gc", "--grace", "0", "--json").stdout)
    assert needed_by_b <= _stored(b)
    assert report["workspaces"] == [str(b.root)]
    (b.root / "b.bin").unlink()
    (b.root / "draft.bin").unlink()
    b.art("checkout", "b.bin", "draft.bin")
    assert (b.root / "b.bin").read_bytes() == random_bytes(300_000, seed=2)
    b.art("fsck")
    # and the other way round
    b.art("gc", "--grace", "0")
    assert _needs(a) <= _stored(a)


def test_gc_refuses_while_a_registered_workspace_is_gone_until_it_is_forgotten(pair, tmp_path):
    a, b, store = pair
    before = _stored(a)
    moved = tmp_path / "b-moved"
    shutil.move(b.root, moved)
    r = a.art("gc", "--grace", "0", code=1)
    assert r.stderr.startswith(f"art: error: workspace {b.root}, which shares the store")
    assert f"hint: if it is gone for good: art gc --forget-workspace {b.root}" in r.stderr
    assert _stored(a) == before
    # it moved: used once in its new place, it registers again; the old path is forgotten
    b2 = Workspace(moved)
    b2.art("status")
    dry = json.loads(a.art("gc", "--grace", "0", "--forget-workspace", str(b.root), "--dry-run", "--json").stdout)
    assert dry["forgotten_workspaces"] == [str(b.root)] and dry["workspaces"] == [str(moved)]
    a.art("gc", "--grace", "0", code=1)  # a dry run forgets nothing
    r = a.art("gc", "--grace", "0", "--forget-workspace", str(b.root))
    assert f"forgot workspace {b.root}" in r.stdout and "1 other workspace sharing the store" in r.stdout
    assert _needs(b2) <= _stored(a)
    # deleted for good: forgotten, its objects may go
    shutil.rmtree(moved)
    a.art("gc", "--grace", "0", code=1)
    a.art("gc", "--grace", "0", "--forget-workspace", str(moved))
    assert _stored(a) == _needs(a) | {k for k in _stored(a) if k[1] == 3}  # runs of a's own adds may stay


def test_forgetting_a_workspace_that_still_uses_the_store_is_refused(pair):
    a, b, store = pair
    r = a.art("gc", "--forget-workspace", str(b.root), code=2)
    assert "still uses the store" in r.stderr
    r = a.art("gc", "--forget-workspace", "/no/such/workspace", code=2)
    assert r.stderr.startswith("art: error: no workspace /no/such/workspace is registered in the store")
    assert f"hint: registered: {a.root}, {b.root}" in r.stderr
    # a workspace repointed at a store that is not there cannot be read: gc refuses
    b.art("config", "core.store", str(store.parent / "elsewhere"))
    a.art("gc", "--grace", "0", code=1)
    # once that store exists, b needs nothing from this one: gc leaves it out (as it does for the original of a
    # copied workspace, whose registry entry came along with the copied store), and it may be forgotten
    b.art("status")
    assert json.loads(a.art("gc", "--grace", "0", "--json").stdout)["workspaces"] == []
    a.art("gc", "--grace", "0", "--forget-workspace", str(b.root))


def test_a_copied_workspace_gcs_without_its_original(tmp_path, ws):
    ws.gen({"a.bin": random_bytes(100_000, seed=4)})
    ws.art("add", "a.bin")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "a")
    copy = tmp_path / "copy"
    shutil.copytree(ws.root, copy, symlinks=True)
    other = Workspace(copy)
    report = json.loads(other.art("gc", "--grace", "0", "--json").stdout)
    assert report["workspaces"] == []
    (copy / "a.bin").unlink()
    other.art("checkout", "a.bin")
    other.art("fsck")


@pytest.mark.slow  # waits out a lock timeout / S3's whole-second times
def test_gc_waits_for_a_command_of_another_workspace_holding_the_store(pair):
    a, b, store = pair
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, os, sys, time\n"
                "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
                "fcntl.flock(fd, fcntl.LOCK_SH)\n"  # what 'art add' in b holds while it runs
                "print('locked', flush=True)\n"
                "time.sleep(60)\n"
            ),
            str(store / "lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _stored(a)
        (b.root / "b.bin.art").unlink()  # now only b's history keeps b.bin, but gc must not run at all
        r = a.art("gc", "--grace", "0", code=11)
        assert f"the store {store} is in use by another art command" in r.stderr
        assert _stored(a) == before
        a.gen({"more.bin": os.urandom(1000)})
        a.art("add", "more.bin")  # shared holders do not block each other
    finally:
        holder.kill()
        holder.wait()


def test_core_store_is_honoured_only_from_config_local(tmp_path, ws):
    elsewhere = tmp_path / "planted-store"
    (ws.root / ".art" / "config").write_text(f'[core]\nstore = "{elsewhere}"\n')
    ws.git("add", "-A")
    ws.git("commit", "-qm", "a committed core.store")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(ws.root), str(clone))
    other = Workspace(clone)
    r = other.art("status")
    assert "art: warning: core.store in .art/config is ignored" in r.stderr
    other.gen({"x.txt": "x\n"})
    other.art("add", "x.txt")
    assert not elsewhere.exists(), "a committed config chose where a clone keeps its store"
    assert (clone / ".art" / "store" / "packs").is_dir()
    # art config writes it where it is honoured, and --unset clears both files
    other.art("config", "core.store", "../mine")
    assert "mine" in (clone / ".art" / "config.local").read_text()
    other.art("add", "x.txt")
    assert (tmp_path / "mine" / "packs").is_dir()
    other.art("config", "--unset", "core.store")
    assert "store" not in (clone / ".art" / "config").read_text()
    assert "store" not in (clone / ".art" / "config.local").read_text()
    assert "warning" not in other.art("status").stderr


def test_a_committed_remote_name_cannot_place_the_index_cache_outside_the_workspace(tmp_path, ws):
    remote = tmp_path / "remote"
    ws.gen({"x.bin": random_bytes(50_000, seed=5)})
    ws.art("add", "x.bin")
    ws.art("remote", "add", "origin", str(remote), "--default")
    ws.art("push")
    evil = "../../../../escaped"  # .art/cache/remotes/NAME would be tmp_path/escaped
    (ws.root / ".art" / "config").write_text(f'[core]\nremote = "{evil}"\n[remotes."{evil}"]\nurl = "{remote}"\n')
    ws.git("add", "-A")
    ws.git("commit", "-qm", "a planted remote name")
    git(tmp_path, "clone", "-q", str(ws.root), str(tmp_path / "clone"))
    r = Workspace(tmp_path / "clone").art("pull", code=1)
    assert f"art: error: invalid remote name {evil!r} in .art/config" in r.stderr
    assert not (tmp_path / "escaped").exists()
