import json
import os
import socket
import subprocess
import sys
import time

import pytest

from artvc.objstore.objects import Kind
from artvc.objstore.reachability import closure
from artvc.objstore.store.remote import RemoteStore
from artvc.workspace.ls import artifacts_at
from artvc.workspace.roots import pointer_key
from tests.builders import random_bytes

KILLER = r"""
import os, signal, sys
from artvc.workspace.gc import Retention, gc
from artvc.workspace.repo import Repo

point = sys.argv[1]
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
copied = [0]

def progress(n):
    copied[0] += n
    if point == "copying" and copied[0] >= 2:
        die()

def phase(name):
    if name == point:
        die()

with Repo.find() as repo:
    gc(repo, Retention(keep_last=1), remote="origin", grace=0, phase=phase, progress=progress)
print("finished")
"""


@pytest.fixture
def pushed(ws, tmp_path):
    remote = tmp_path / "remote"
    ws.art("remote", "add", "origin", str(remote), "--default")
    shared = random_bytes(600_000, seed=7)
    for i in range(3):
        ws.gen({"f.bin": shared + random_bytes(250_000, seed=i), f"small{i}.txt": f"small {i}\n"})
        ws.art("add", "f.bin", f"small{i}.txt")
        ws.git("add", "-A")
        ws.git("commit", "-qm", f"v{i}")
        ws.art("push")
    return ws, remote


def remote_keys(remote) -> set:
    store = RemoteStore.open(str(remote))
    store.refresh()
    return {(o.oid, o.kind) for o in store.iter_objects()}


def live_keys(ws) -> set:
    with ws.repo() as repo:
        roots = {pointer_key(item.pointer) for item in artifacts_at(repo, "HEAD").values()}
        return closure(repo.store, roots)


# named fault points for the places between the phases: the copy's first pack published without its index
# (the 2nd publish: pack, then index), and one old index deleted (the 2nd removal starts after the 1st)
FAULTS = {"pack-published": "remote.publishing@2", "one-index-deleted": "remote-gc.removing@2"}


@pytest.mark.parametrize("point", ["copying", "pack-published", "copied", "one-index-deleted", "indexes-deleted"])
def test_remote_gc_killed_midway_leaves_a_valid_remote_and_a_second_gc_completes(pushed, tmp_path, point):
    ws, remote = pushed
    before = remote_keys(remote)
    live = live_keys(ws)
    assert live < before
    env = dict(os.environ, ART_FAULT=FAULTS[point]) if point in FAULTS else None
    proc = subprocess.run([sys.executable, "-c", KILLER, point], cwd=ws.root, capture_output=True, text=True, env=env)
    assert proc.returncode == -9, proc.stderr
    assert list((remote / "locks").iterdir()), "the killed gc leaves its lock behind"

    ws.art("fsck", "--remote", "origin", "--read-data")
    assert live <= remote_keys(remote)

    report = json.loads(ws.art("gc", "--remote", "origin", "--keep-last", "1", "--grace", "0", "--json").stdout)
    assert report["broken_locks"], "the dead holder's lock was broken"
    ws.art("fsck", "--remote", "origin", "--read-data")
    assert live <= remote_keys(remote)
    assert not {k for k in remote_keys(remote) - live if k[1] != Kind.RUN}
    assert not list((remote / "locks").iterdir())
    packs = [p for p in (remote / "packs").rglob("*.pack")]
    assert {p.stem for p in packs} == {p.stem for p in (remote / "index").rglob("*.idx")}

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ws.root), str(clone)], check=True)
    from tests.conftest import Workspace

    other = Workspace(clone)
    other.art("pull")
    assert (clone / "f.bin").read_bytes() == (ws.root / "f.bin").read_bytes()


def test_remote_gc_refuses_a_live_lock_and_breaks_a_stale_one(pushed):
    ws, remote = pushed
    (remote / "locks").mkdir(exist_ok=True)
    lock = remote / "locks" / "someone.json"
    lock.write_text(
        json.dumps({"token": "someone", "host": socket.gethostname(), "pid": os.getppid(), "time": time.time()})
    )
    r = ws.art("gc", "--remote", "origin", "--grace", "0", code=11)
    assert "locked by art gc (pid" in r.stderr and "hint:" in r.stderr
    assert lock.exists() and len(list((remote / "locks").iterdir())) == 1
    lock.write_text(json.dumps({"token": "someone", "host": "elsewhere", "pid": 1, "time": time.time() - 3600}))
    ws.art("gc", "--remote", "origin", "--grace", "0")
    assert not lock.exists()


def test_remote_gc_dry_run_and_grace_remove_nothing(pushed):
    ws, remote = pushed
    before = remote_keys(remote)
    r = ws.art("gc", "--remote", "origin", "--keep-last", "1", "--grace", "0", "--dry-run")
    assert "would remove" in r.stdout
    ws.art("gc", "--remote", "origin", "--keep-last", "1")  # everything is younger than the 1h default
    assert remote_keys(remote) == before


def test_push_and_remote_gc_exclude_each_other_but_pushes_share(pushed):
    ws, remote = pushed
    (remote / "locks").mkdir(exist_ok=True)
    push_lock = remote / "locks" / "pusher.json"
    push_lock.write_text(
        json.dumps(
            {
                "token": "pusher",
                "host": socket.gethostname(),
                "pid": os.getppid(),
                "time": time.time(),
                "exclusive": False,
                "holder": "art push",
            }
        )
    )
    r = ws.art("gc", "--remote", "origin", "--grace", "0", code=11)
    assert "locked by art push" in r.stderr
    ws.gen({"new.bin": os.urandom(5000)})
    ws.art("add", "new.bin")
    ws.art("push")  # another push's shared lock does not block this one
    push_lock.write_text(
        json.dumps(
            {
                "token": "gc",
                "host": socket.gethostname(),
                "pid": os.getppid(),
                "time": time.time(),
                "exclusive": True,
                "holder": "art gc",
            }
        )
    )
    ws.gen({"newer.bin": os.urandom(5000)})
    ws.art("add", "newer.bin")
    r = ws.art("push", code=11)
    assert "locked by art gc" in r.stderr
    push_lock.unlink()
    ws.art("push")
    assert not list((remote / "locks").iterdir())
