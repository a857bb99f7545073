"""A checkout into an empty place signs the folders it built from its own writes' stat data (``signed_writes``):
no second stat walk, and the signatures are exactly those a walk computes, so the next status is one walk."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from artvc.objstore import signed_writes
from artvc.objstore.treecache import scan_folder
from artvc.workspace import status
from artvc.workspace.checkout import checkout
from tests.conftest import Workspace
from tests.workspace.test_checkout_many import _tracked

ART = [sys.executable, "-m", "artvc"]


def _points(ws: Workspace, tmp_path: Path, *args: str) -> list[str]:
    """Run art in a process of its own; the fault points it passed (``ART_FAULT_LOG``)."""
    log = tmp_path / f"faults-{len(list(tmp_path.glob('faults-*')))}.log"
    r = subprocess.run([*ART, *args], cwd=ws.root, env={**os.environ, "ART_FAULT_LOG": str(log)}, capture_output=True)
    assert r.returncode == 0, r.stderr
    return log.read_text().splitlines() if log.exists() else []


def _remembered(ws: Workspace) -> dict[str, str]:
    """The folder signatures in the stat cache, by path relative to ``d`` ("" for ``d``)."""
    with sqlite3.connect(ws.root / ".art/state.db") as db:
        rows = db.execute("SELECT path, sig FROM trees WHERE path = 'd' OR path LIKE 'd/%'").fetchall()
    return {path[2:]: sig for path, sig in rows}


def _walked(ws: Workspace) -> dict[str, str]:
    return {rel: sig.hex() for rel, (sig, _) in scan_folder(str(ws.root / "d")).sigs.items()}


@pytest.mark.long
def test_a_checkout_into_an_empty_place_signs_its_folders_without_a_walk_and_status_trusts_them(ws, tmp_path):
    _tracked(ws)  # 12 folders of 250 files, a subfolder, a symlink, executables, a file of several chunks
    shutil.rmtree(ws.root / "d")
    points = _points(ws, tmp_path, "checkout")
    assert points.count("scan.folder-read") == 0  # the old code walked every folder again after writing it
    assert _remembered(ws) == _walked(ws)  # 14 folders, each signed as a walk signs it
    assert len(_walked(ws)) == 14
    points = _points(ws, tmp_path, "status")
    assert points.count("scan.folder-read") == 14 and points.count("status.folder-rebuilt") == 0


@pytest.mark.long
def test_a_file_changed_after_the_checkout_is_seen_by_the_next_status(ws):
    _tracked(ws)
    shutil.rmtree(ws.root / "d")
    with ws.repo() as repo:
        checkout(repo, ["d"])
    f = ws.root / "d/s03/f0010.bin"
    data = f.read_bytes()
    f.write_bytes(bytes([data[0] ^ 1]) + data[1:])  # same size: only the stat data (ctime at least) differs
    with ws.repo() as repo:
        assert not status(repo).clean


@pytest.mark.long
def test_beyond_the_kept_stat_data_the_folder_is_walked_and_signed_the_same(ws, monkeypatch):
    _tracked(ws)
    shutil.rmtree(ws.root / "d")
    monkeypatch.setattr(signed_writes, "KEPT_AT_MOST", 100)  # fewer than the 3,002 files written
    with ws.repo() as repo:
        checkout(repo, ["d"])
    assert _remembered(ws) == _walked(ws)
    with ws.repo() as repo:
        assert status(repo).clean


@pytest.mark.long
@pytest.mark.parametrize("kept", [True, False])
def test_signed_written_equals_signed_walk(tmp_path, kept):
    top = tmp_path / "top"
    (top / "a/b").mkdir(parents=True)
    (top / ".git").mkdir()
    written = signed_writes.WrittenStats()
    for folder in ("", "a", "a/b"):
        landed = []
        for i in range(5000 if folder == "a" else 3):  # more than one hashed batch in "a"
            p = top / folder / f"f{i}"
            p.write_bytes(b"x" * (i % 7))
            landed.append((p.name, os.stat(p)))
        if kept:
            written.add(folder, landed)
    os.symlink("f1", top / "a/link")
    walked = scan_folder(str(top)).sigs
    assert signed_writes.signed_written(str(top), written) == walked
    assert set(walked) == {"", "a", "a/b"}


def test_a_large_folder_tree_is_read_twice_by_a_checkout_not_three_times(ws, monkeypatch):
    """A folder's tree too large to decode whole (``EncodedTree``) is read by the plan (which checks its names
    and links as it reads them) and by the write: the old code read it a third time for the safety check alone."""
    from artvc.objstore import objects
    from artvc.objstore.objects import EncodedTree

    ws.gen({"d": {f"f{i:03d}": f"{i}\n" for i in range(40)}})
    os.symlink("f001", ws.root / "d/link")
    ws.art("add", "d")
    shutil.rmtree(ws.root / "d")
    monkeypatch.setattr(objects, "DECODED_MAX", 10)  # the 41-entry tree is read an entry at a time
    reads = []
    real = EncodedTree.iter_entries
    monkeypatch.setattr(EncodedTree, "iter_entries", lambda self: reads.append(self.oid) or real(self))
    with ws.repo() as repo:
        checkout(repo, ["d"])
    assert len(reads) == 2
    assert sorted(os.listdir(ws.root / "d")) == sorted([f"f{i:03d}" for i in range(40)] + ["link"])
    assert os.readlink(ws.root / "d/link") == "f001"


@pytest.mark.parametrize("bad", ["name", "link"])
@pytest.mark.parametrize("there", [False, True], ids=["empty-place", "folder-there"])
def test_a_tree_checked_as_the_plan_reads_it_is_still_refused_whole_even_with_force(ws, bad, there):
    """The names and links of a tree are checked by the plan, before anything is written: an unsafe one deep in
    a subfolder refuses the whole artifact (exit 10), with --force too, and nothing of it is written."""
    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.objects import Kind, Tree, TreeEntry
    from artvc.workspace.pointers import Pointer, write_pointer

    payload = b"owned\n"
    oid = hash_bytes(payload)
    evil = (
        TreeEntry("../escaped", "file", oid, 6)
        if bad == "name"
        else TreeEntry("up", "symlink", hash_bytes(b"../../.."), 0, target="../../..")
    )
    sub = Tree.build([TreeEntry("ok.txt", "file", oid, 6), evil])
    top = Tree.build([TreeEntry("a.txt", "file", oid, 6), TreeEntry("sub", "dir", sub.oid, 6)])
    with ws.repo() as repo, repo.store.writer() as w:
        w.put(oid, Kind.CHUNK, payload)
        w.put(sub.oid, Kind.TREE, sub.to_bytes())
        w.put(top.oid, Kind.TREE, top.to_bytes())
    write_pointer(ws.root / "evil.art", Pointer(top.oid, "dir", 12, 3))
    if there:
        (ws.root / "evil").mkdir()
    for args in (["checkout"], ["checkout", "--force"]):
        r = subprocess.run([*ART, *args], cwd=ws.root, capture_output=True, text=True)
        assert r.returncode == 10, r.stderr
        assert os.listdir(ws.root / "evil") == [] if there else not (ws.root / "evil").exists()
        assert not (ws.root.parent / "escaped").exists() and not (ws.root / "escaped").exists()
