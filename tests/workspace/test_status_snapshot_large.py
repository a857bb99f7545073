"""A folder too large for the walk to keep its listing (a million files, here a few thousand with the bounds
lowered) is patched from its snapshot after a change to one file: read once (the status walk compares its
listing with the stored facts as it goes), no folder rebuilt, nothing held in proportion to its size."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from artvc.objstore import scan, treecache, treepatch
from artvc.workspace.pointers import read_pointer
from artvc.workspace.status import current_oid
from tests.e2e.test_memory import peak_rss_mib
from tests.workspace.test_add_checkout import age
from tests.workspace.test_status_snapshot import age_new


def stored(ws) -> str:
    return str(read_pointer(ws.root / "data.art", where="data.art").oid)


@pytest.fixture
def points(monkeypatch) -> list[str]:
    """The fault points passed in this process: folders read by a walk, rebuilt, patched."""
    seen: list[str] = []
    for module in (scan, treecache):
        monkeypatch.setattr(module, "fault_point", seen.append)
    return seen


@pytest.mark.long
def test_one_change_in_a_folder_over_the_old_bound_reads_it_once_and_patches(ws, monkeypatch, points):
    monkeypatch.setattr(scan, "LISTED_ENTRIES_KEPT", 100)  # the walk keeps no listing of it, as at 1M files
    monkeypatch.setattr(treecache, "SNAPSHOT_AT_MOST", 1000, raising=False)  # round 31's bound, lowered
    monkeypatch.setattr(treecache, "ENCODED_AT_MOST", 1000, raising=False)
    ws.gen({"data": {**{f"f{i:05d}.txt": f"file {i}" for i in range(5000)}, "sub": {"deep": {"g.txt": "g"}}}})
    age(ws.root / "data")
    ws.art("add", "data")
    with ws.repo() as repo:
        assert current_oid(repo, "data", "dir") == stored(ws)  # leaves the snapshot: facts, the store's tree
        assert repo.state.snapshot("data") is not None
    for round_ in range(2):  # the first patch reads the store's tree, the second its own
        with open(ws.root / f"data/f{round_ + 7:05d}.txt", "ab") as f:
            f.write(b" changed")
        (ws.root / "data/sub/deep/g.txt").write_text(f"deep {round_}")
        age_new(ws.root / "data")
        points.clear()
        asked: list[int] = []
        with ws.repo() as repo:
            orig = repo.state.digests_of

            def counting(items, orig=orig, asked=asked):
                asked.append(len(items))
                return orig(items)

            monkeypatch.setattr(repo.state, "digests_of", counting)
            now = current_oid(repo, "data", "dir")
        assert points.count("scan.folder-read") == 3  # data, sub, deep: each once
        assert points.count("status.folder-patched") == 1
        assert sum(asked) == 1 + 1  # the changed file of data, and deep's one file (rebuilt: 1 entry)
        ws.art("add", "data")
        assert now == stored(ws)


def test_a_change_of_an_entry_s_length_rewrites_the_tree_and_stays_right(ws, monkeypatch):
    monkeypatch.setattr(treepatch, "SNAPSHOT_AT_LEAST", 8)
    ws.gen({"data": {f"f{i:03d}": "x" * 100 for i in range(50)}})
    age(ws.root / "data")
    ws.art("add", "data")
    with ws.repo() as repo:
        current_oid(repo, "data", "dir")
    for size in (200, 70_000, 5):  # the size's encoding grows (1, 2, 4 bytes), then shrinks
        (ws.root / "data/f007").write_text("y" * size)
        age_new(ws.root / "data")
        with ws.repo() as repo:
            now = current_oid(repo, "data", "dir")
            snap = repo.state.snapshot("data")
            assert snap is not None and snap.tree is not None and snap.oid == now
        ws.art("add", "data")
        assert now == stored(ws)


@pytest.mark.parametrize("files", [64, 70])  # a multiple of the chunk, and not
def test_a_listing_of_several_chunks_is_patched_chunk_by_chunk(ws, monkeypatch, files):
    monkeypatch.setattr(treepatch, "SNAPSHOT_AT_LEAST", 8)
    monkeypatch.setattr(treepatch, "FACTS_CHUNK", 16)
    monkeypatch.setattr(scan, "_STREAM_BATCH", 16)
    ws.gen({"data": {f"f{i:03d}": str(i) for i in range(files)}})
    age(ws.root / "data")
    ws.art("add", "data")
    with ws.repo() as repo:
        current_oid(repo, "data", "dir")
    for name in ("f001", "f040", "f063"):
        with open(ws.root / "data" / name, "ab") as f:
            f.write(b"+")
        age_new(ws.root / "data")
        seen: list[str] = []
        monkeypatch.setattr(treecache, "fault_point", seen.append)
        with ws.repo() as repo:
            now = current_oid(repo, "data", "dir")
        assert seen.count("status.folder-patched") == 1
        ws.art("add", "data")
        assert now == stored(ws)


def test_a_touched_subfolder_alone_keeps_the_tree(ws, monkeypatch):
    monkeypatch.setattr(treepatch, "SNAPSHOT_AT_LEAST", 8)
    ws.gen({"data": {**{f"f{i:03d}": str(i) for i in range(20)}, "sub": {"a": "a"}}})
    age(ws.root / "data")
    ws.art("add", "data")
    with ws.repo() as repo:
        current_oid(repo, "data", "dir")
    (ws.root / "data/sub/new").write_text("new")
    (ws.root / "data/sub/new").unlink()  # sub's mtime changed, its content did not
    age_new(ws.root / "data")
    with ws.repo() as repo:
        assert current_oid(repo, "data", "dir") == stored(ws)


@pytest.mark.slow
@pytest.mark.e2e
def test_status_after_one_change_in_150k_files_of_one_folder_stays_flat(process_repo):
    """The snapshot's facts and tree are read a window at a time: the status after one change peaks where a
    status with nothing changed does (round 31 held both, ~14 MB more at 100k files, and rebuilt past 250k)."""
    data = process_repo / "data"
    data.mkdir()
    for i in range(100_000):
        (data / f"f{i:06d}").write_bytes(b"%d" % i)
    old = time.time() - 10
    for entry in os.scandir(data):
        os.utime(entry.path, (old, old))
    os.utime(data, (old, old))
    subprocess.run([sys.executable, "-m", "artvc", "add", "-q", "data"], cwd=process_repo, check=True)
    still = peak_rss_mib(process_repo, "status")  # leaves the snapshot
    for name in ("f000007", "f000008"):  # the first patch reads the store's tree whole; the second, its own
        with open(data / name, "ab") as f:
            f.write(b" changed")
        time.sleep(0.2)
        changed = peak_rss_mib(process_repo, "status")
    assert changed < still + 4, f"status after one change: {changed:.1f} MiB, with nothing changed {still:.1f}"
