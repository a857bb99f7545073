"""``art status`` after a change to a few files of a large folder patches the folder's tree from its snapshot
(``objstore/treepatch.py``): it asks for the ids of the changed files only, and the id it gives is the one
``art add`` stores, whatever the change."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from artvc.objstore import treepatch
from artvc.objstore.treepatch import differing
from artvc.workspace.pointers import read_pointer
from artvc.workspace.state import StateDB
from artvc.workspace.status import current_oid
from tests.workspace.test_add_checkout import age
from tests.workspace.test_status_scale import status_run


def stored(ws) -> str:
    return str(read_pointer(ws.root / "data.art", where="data.art").oid)


def snapshot_paths(ws) -> list[str]:
    db = sqlite3.connect(ws.root / ".art/state.db")
    try:
        return sorted(r[0] for r in db.execute("SELECT path FROM folder_snaps"))
    finally:
        db.close()


def blob_keys(ws) -> tuple:
    db = sqlite3.connect(ws.root / ".art/state.db")
    try:
        return db.execute("SELECT tree FROM folder_snaps WHERE path='data'").fetchone()
    finally:
        db.close()


@pytest.fixture
def small_snapshots(monkeypatch):
    """Snapshots from 8 entries up, so a folder of a few dozen files shows what one of thousands does."""
    monkeypatch.setattr(treepatch, "SNAPSHOT_AT_LEAST", 8)


def age_new(folder: Path) -> None:
    """Date back only what changed in the last second (``age`` of everything would change every entry's facts)."""
    now = time.time_ns()
    for p in [folder, *folder.rglob("*")]:
        st = p.lstat()
        if st.st_mtime_ns > now - 1_000_000_000 and not p.is_symlink():
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - 2_000_000_000))


def wide(ws, files: int = 40) -> None:
    ws.gen(
        {
            "data": {
                **{f"f{i:04d}.txt": f"file {i}" for i in range(files)},
                "sub": {"deep": {f"g{i:03d}.txt": f"deep {i}" for i in range(files)}, "one.txt": "1"},
            }
        }
    )
    age(ws.root / "data")


def test_a_change_to_one_file_of_1100_is_patched_not_rebuilt(ws, tmp_path):
    ws.gen({"data": {f"f{i:04d}.txt": f"file {i}" for i in range(1100)}})
    age(ws.root / "data")
    ws.art("add", "data")
    assert snapshot_paths(ws) == []
    assert status_run(ws, tmp_path) == ({"data": "unchanged"}, 0)
    assert snapshot_paths(ws) == ["data"]  # the no-change status left it: its listing, the tree left out
    with ws.repo() as repo:
        left = repo.state.snapshot("data")
        assert left is not None and left.tree is None and left.entries == 1100
    with open(ws.root / "data/f0007.txt", "ab") as f:
        f.write(b"one change")
    age_new(ws.root / "data")
    log = tmp_path / "patched.log"
    env = {**os.environ, "ART_FAULT_LOG": str(log)}
    r = subprocess.run([sys.executable, "-m", "artvc", "status"], cwd=ws.root, env=env, capture_output=True, text=True)
    assert "modified  data" in r.stdout
    assert log.read_text().splitlines().count("status.folder-patched") == 1
    keys = blob_keys(ws)
    with ws.repo() as repo:
        patched = repo.state.snapshot("data")  # the tree read from the store, patched, kept
        assert patched is not None and patched.tree is not None and patched.oid != left.oid
    (ws.root / "data/f0008.txt").write_text("another")
    age_new(ws.root / "data")
    with ws.repo() as repo:
        now = current_oid(repo, "data", "dir")
        assert repo.state.snapshot("data").oid == now  # type: ignore[union-attr]
    assert blob_keys(ws) == keys  # the blobs were written in place, not replaced
    ws.art("add", "data")
    assert now == stored(ws)


def test_a_patch_asks_the_ids_of_the_changed_files_only(ws, small_snapshots, monkeypatch):
    wide(ws)
    ws.art("add", "data")
    with ws.repo() as repo:
        assert current_oid(repo, "data", "dir") == stored(ws)  # leaves the snapshots
    asked: list[str] = []
    real = StateDB.digests_of

    def counting(self, items):
        asked.extend(p for p, _ in items)
        return real(self, items)

    monkeypatch.setattr(StateDB, "digests_of", counting)
    (ws.root / "data/f0003.txt").write_text("changed, longer")
    (ws.root / "data/sub/deep/g017.txt").write_text("deep, changed")
    age_new(ws.root / "data")
    with ws.repo() as repo:
        now = current_oid(repo, "data", "dir")
    # data and data/sub/deep patched (one file each); data/sub (2 entries) rebuilt: its one file asked
    assert sorted(Path(p).name for p in asked) == ["f0003.txt", "g017.txt", "one.txt"]
    ws.art("add", "data")
    assert now == stored(ws)


def _mutate(d: Path, how: str) -> None:
    if how == "append":
        with open(d / "f0001.txt", "ab") as f:
            f.write(b"+")
    elif how == "sub-sub-folder":
        (d / "sub/deep/g002.txt").write_text("changed deep")
    elif how == "file-replaced-by-folder":
        (d / "f0002.txt").unlink()
        (d / "f0002.txt").mkdir()
        (d / "f0002.txt/inside.txt").write_text("now a folder")
    elif how == "folder-replaced-by-file":
        shutil.rmtree(d / "sub")
        (d / "sub").write_text("now a file")
    elif how == "new-file":
        (d / "zz-new.txt").write_text("new")
    elif how == "removed":
        (d / "f0004.txt").unlink()
    elif how == "executable":
        os.chmod(d / "f0005.txt", 0o755)
    elif how == "symlink":
        (d / "f0006.txt").unlink()
        os.symlink("f0007.txt", d / "f0006.txt")
    elif how == "same-size":
        (d / "f0008.txt").write_text("FILE 8")
    elif how == "many":
        for i in range(0, 40, 1):
            (d / f"f{i:04d}.txt").write_text(f"changed {i}")


CHANGES = [
    "append",
    "sub-sub-folder",
    "file-replaced-by-folder",
    "folder-replaced-by-file",
    "new-file",
    "removed",
    "executable",
    "symlink",
    "same-size",
    "many",
]


@pytest.mark.parametrize("how", CHANGES)
def test_a_patched_or_rebuilt_tree_is_the_tree_add_stores(ws, small_snapshots, how):
    wide(ws)
    ws.art("add", "data")
    with ws.repo() as repo:
        assert current_oid(repo, "data", "dir") == stored(ws)
    assert snapshot_paths(ws) == ["data", "data/sub/deep"]
    _mutate(ws.root / "data", how)
    age_new(ws.root / "data")
    with ws.repo() as repo:
        now = current_oid(repo, "data", "dir")
    with ws.repo() as repo:  # the second status answers from what the first left: the same id
        assert current_oid(repo, "data", "dir") == now
    ws.art("add", "data")
    assert now == stored(ws)


def test_a_same_size_rewrite_in_the_racy_window_is_modified(ws, small_snapshots):
    wide(ws)
    ws.art("add", "data")
    with ws.repo() as repo:
        current_oid(repo, "data", "dir")
    (ws.root / "data/f0009.txt").write_text("FILE 9")  # same size, just now
    with ws.repo() as repo:  # not aged: the listing is racy, so no new snapshot is kept from it
        now = current_oid(repo, "data", "dir")
        assert now != stored(ws)
        top = repo.state.snapshot("data")
        assert top is not None and top.oid == stored(ws)
    (ws.root / "data/f0009.txt").write_text("file 9")  # back, same size, within the window again
    with ws.repo() as repo:
        assert current_oid(repo, "data", "dir") == stored(ws)
    (ws.root / "data/f0009.txt").write_text("FILE 9")
    ws.art("add", "data")
    assert now == stored(ws)


def test_names_that_hold_another_entry_s_head_are_rebuilt_right(ws, small_snapshots):
    # "\u2561x" is e2 95 a1 78 in UTF-8: it holds the head of the entry of "x" (95 a1 78), so "x" is found twice
    ws.gen({"data": {"x": "plain", "\u2561x": "boxed", **{f"f{i}": str(i) for i in range(10)}}})
    age(ws.root / "data")
    ws.art("add", "data")
    with ws.repo() as repo:
        current_oid(repo, "data", "dir")
    (ws.root / "data/x").write_text("changed")
    age_new(ws.root / "data")
    with ws.repo() as repo:
        now = current_oid(repo, "data", "dir")
    ws.art("add", "data")
    assert now == stored(ws)


@pytest.mark.parametrize("part", ["tree", "facts"])
def test_a_damaged_snapshot_is_not_used(ws, small_snapshots, part):
    wide(ws)
    ws.art("add", "data")
    with ws.repo() as repo:
        current_oid(repo, "data", "dir")
    (ws.root / "data/f0001.txt").write_text("changed")
    age_new(ws.root / "data")
    with ws.repo() as repo:
        current_oid(repo, "data", "dir")  # patched: the snapshot holds its tree now
    db = sqlite3.connect(ws.root / ".art/state.db")
    if part == "tree":
        key = db.execute("SELECT tree FROM folder_snaps WHERE path='data'").fetchone()[0]
        data = db.execute("SELECT data FROM folder_snap_trees WHERE id=?", (key,)).fetchone()[0]
        db.execute("UPDATE folder_snap_trees SET data=? WHERE id=?", (data[:-1] + bytes([data[-1] ^ 1]), key))
    else:  # a stat fact of the changed file made to match it now: only the digest of the facts tells
        data = bytearray(db.execute("SELECT data FROM folder_snap_facts WHERE path='data' AND k=0").fetchone()[0])
        data[-1] ^= 1
        db.execute("UPDATE folder_snap_facts SET data=? WHERE path='data' AND k=0", (bytes(data),))
    db.commit()
    db.close()
    (ws.root / "data/f0002.txt").write_text("changed too")
    age_new(ws.root / "data")
    with ws.repo() as repo:
        now = current_oid(repo, "data", "dir")
    ws.art("add", "data")
    assert now == stored(ws)


def test_a_state_db_from_before_snapshots_gets_them(ws, small_snapshots):
    wide(ws)
    ws.art("add", "data")
    db = sqlite3.connect(ws.root / ".art/state.db")
    db.execute("DROP TABLE folder_snaps")
    db.execute("DROP TABLE folder_snap_facts")
    db.execute("DROP TABLE folder_snap_trees")
    db.execute("CREATE TABLE snapshots (path TEXT PRIMARY KEY, sig TEXT)")  # round 31's: dropped when opened
    db.commit()
    db.close()
    view = StateDB.view_of(ws.root / ".art/state.db", ws.root)  # read in place: no table, no snapshot
    assert view.snapshot("data") is None
    view.db.close()
    with ws.repo() as repo:
        assert current_oid(repo, "data", "dir") == stored(ws)
    assert snapshot_paths(ws) == ["data", "data/sub/deep"]


def test_differing_finds_the_changed_records():
    old = bytes(range(40)) * 100
    new = bytearray(old)
    for i in (0, 37, 99):
        new[40 * i + 5] ^= 1
    assert differing(old, bytes(new), 40, 10) == [0, 37, 99]
    assert differing(old, old, 40, 10) == []
    assert differing(old, bytes(new), 40, 2) is None
