"""A folder's first add reads each file as the folder is listed (``listread.ReadAsListed``): the stat data it hands
on, the trees and the folder signatures are the ones the stat walk gives, byte for byte."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from artvc.objstore import listread, scan
from artvc.objstore.hashing import hash_bytes
from artvc.objstore.ingest import SMALL_FILE, Ingester
from artvc.objstore.listread import ReadAsListed, ReadStat
from artvc.objstore.scan import FileStat, walk_tree
from artvc.objstore.sigwalk import signed_walk
from artvc.objstore.store.local import LocalStore
from tests.objstore.test_direct_packs import chunks

READ_MAX = 3000  # files over this are handed on with their stat only (ingest's SMALL_FILE, lowered)


def _folder(root: Path) -> dict[str, bytes]:
    """4,200 files in one folder (over one batch of 4,096: the signature and the hand-over each cut it), a few in
    subfolders, an executable, files over ``READ_MAX``, an empty file and folder, a symlink, a fifo, .git."""
    files = {}
    for i in range(4200):
        files[f"big/f{(i * 7919) % 4200:05d}"] = b"%d" % i * (1 + i % 5)
    for i in range(30):
        files[f"s{i % 3}/inner/g{i}"] = random.Random(i).randbytes(i * 200)  # the same in every copy
    files["top.sh"] = b"#!/bin/sh\n"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "top.sh").chmod(0o755)
    (root / "empty-folder").mkdir()
    (root / "s1" / "link").symlink_to("inner/g1")
    os.mkfifo(root / "s2" / "pipe")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("not walked")
    for p in [root, *root.rglob("*")]:  # out of the racy window: every folder's signature is remembered
        st = p.lstat()
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - 3_000_000_000), follow_symlinks=False)
    return files


def _walk(root: Path, read: bool) -> tuple[list[tuple[str, tuple[int, ...]]], dict, object, list]:
    """Walk ``root`` the stat walk's way or reading as listed; return the (path, stat facts) handed on, in order,
    the signatures remembered, the tree's id and what was read (path, data)."""
    handed: list[tuple[str, tuple[int, ...]]] = []
    read_data: list[tuple[str, bytes | None]] = []
    seen: dict[str, tuple] = {}

    def file_oids(items):
        for path, st in items:
            handed.append((path, tuple(getattr(st, k) for k in FileStat.FIELDS)))
            if isinstance(st, ReadStat):
                read_data.append((path, st.data))
        return [hash_bytes(Path(p).read_bytes()) for p, _ in items]

    def remember(rel, sig, oid, size):
        seen[rel] = (sig, oid, size)

    opener = ReadAsListed(None, file_oids, READ_MAX) if read else None
    tree, _ = walk_tree(str(root), None, file_oids, remember=remember, opener=opener)
    return handed, seen, tree.oid, read_data


def test_files_read_as_listed_carry_the_stat_data_and_signatures_of_the_stat_walk(tmp_path):
    data = tmp_path / "data"
    files = _folder(data)
    handed, seen, oid, _ = _walk(data, read=False)
    read_handed, read_seen, read_oid, read_data = _walk(data, read=True)
    # the same files, in the same order, with the same inode, times, size and mode
    assert read_handed == handed and len(handed) == len(files)
    # the same signature for every folder, as status computes it, and the same trees
    assert read_seen == seen and read_oid == oid
    sigs: dict = {}
    top, _, complete = signed_walk(str(data), keep=sigs)
    assert complete and {rel: s[0] for rel, s in read_seen.items()} == {rel: s for rel, (s, _) in sigs.items()}
    assert read_seen[""][0] == top and {"", "big", "s1/inner", "empty-folder"} <= set(read_seen)
    # each file's content came with it, but that of a file over the limit, read later by its path
    prefix = str(data) + os.sep
    assert len(read_data) == len(files)
    for path, content in read_data:
        body = files[path[len(prefix) :]]
        assert content == (body if len(body) <= READ_MAX else None)


def test_a_folder_of_more_entries_than_read_at_most_is_read_as_listed_too(tmp_path, monkeypatch):
    """``READ_AT_MOST`` only bounds what is listed ahead: a larger folder is read as listed at its turn, with the
    stat data, signatures and tree of the stat walk."""
    data = tmp_path / "data"
    _folder(data)
    expected = _walk(data, read=False)
    monkeypatch.setattr(listread, "READ_AT_MOST", 100)  # "big" (4,200) over it, the small folders under
    handed, seen, oid, read_data = _walk(data, read=True)
    assert (handed, seen, oid) == expected[:3]
    read_in = {p.rpartition(os.sep)[0] for p, _ in read_data}
    assert read_in == {str(data), str(data / "big"), *(str(data / f"s{i}/inner") for i in range(3))}


def _small_limits(monkeypatch) -> None:
    """Lower the limits (parameters, not behaviour): "big" (4,200 files) is over ``READ_AT_MOST`` and
    ``SPILL_FILES``, and handed on in 15 batches, so its tree is encoded as its files are done (``TreeRun``)."""
    monkeypatch.setattr(listread, "READ_AT_MOST", 100)
    monkeypatch.setattr(scan, "SPILL_FILES", 1000)
    monkeypatch.setattr(scan, "FILE_BATCH", 300)
    monkeypatch.setattr(listread, "FILE_BATCH", 300)


@pytest.mark.parametrize("cold", [True, False], ids=["read-as-listed", "stat-walk"])
def test_a_large_folder_of_files_encodes_its_tree_as_it_goes(tmp_path, monkeypatch, cold):
    """Through ingest with a real store and stat cache: a folder of only files over ``SPILL_FILES`` (lowered) gets
    the tree, the chunks and the stat rows of an add at the default limits, read as listed or by the stat walk,
    and its tree went through a ``TreeRun`` (each batch encoded once its ids were done)."""
    from artvc.objstore import objects
    from artvc.workspace.state import StateDB

    def add(where: Path, small: bool) -> tuple[object, set, dict]:
        root = where / "ws"
        data = root / "data"
        files = _folder(data)
        store = LocalStore(where / "store")
        cache = StateDB(where / "state.db", root)
        with monkeypatch.context() as m:
            if small:
                _small_limits(m)
            with store.writer() as w, Ingester(w, store.params, store.compressor, cache=cache) as ing:
                if not cold:  # the cache knows a file under the folder now: the stat walk reads every folder
                    ing.add_tree(data / "s0")
                tree, count = ing.add_tree(data)
        assert count == len(files)
        cache.flush()
        rows = {r[0]: r[1:] for r in cache.db.execute("SELECT path, ino, mtime, size, ctime FROM stat")}
        for rel in files:  # every file's row holds its stat data, as lstat gives it
            st = os.lstat(data / rel)
            assert rows.pop(os.path.relpath(data / rel, root)) == (
                st.st_ino,
                st.st_mtime_ns,
                st.st_size,
                st.st_ctime_ns,
            )
        assert not rows
        cache.close()
        store.close()
        return tree.oid, chunks(where / "store"), files

    added: list = []
    real_add = objects.TreeRun.add
    monkeypatch.setattr(objects.TreeRun, "add", lambda self, entries: added.append(1) or real_add(self, entries))
    small_oid, small_chunks, files = add(tmp_path / "small", True)
    assert len(added) >= 10  # the batches of "big", encoded as they were done, and the rest as it closed
    added.clear()
    oid, default_chunks, _ = add(tmp_path / "default", False)
    assert not added and small_oid == oid and small_chunks == default_chunks and len(files) > 4200


def test_a_first_add_records_the_stat_rows_of_the_stat_walk(tmp_path):
    """Through ingest with a real stat cache that knows nothing yet: every row holds the file's inode, mtime,
    size and ctime as ``lstat`` gives them, and a second add finds every file in it (reads nothing)."""
    from artvc.workspace.state import StateDB

    root = tmp_path / "ws"
    data = root / "data"
    files = _folder(data)
    store = LocalStore(tmp_path / "store")
    cache = StateDB(tmp_path / "state.db", root)
    with store.writer() as w, Ingester(w, store.params, store.compressor, cache=cache) as ing:
        tree, count = ing.add_tree(data)
        assert ing.stats.hashed == len(files)
    assert count == len(files) and tree.oid == _walk(data, read=False)[2]
    cache.flush()
    rows = {r[0]: r[1:] for r in cache.db.execute("SELECT path, ino, mtime, size, ctime FROM stat")}
    expected = {}
    for rel in files:
        st = os.lstat(data / rel)
        expected[os.path.relpath(data / rel, root)] = (st.st_ino, st.st_mtime_ns, st.st_size, st.st_ctime_ns)
    assert rows == expected
    with store.writer() as w, Ingester(w, store.params, store.compressor, cache=cache) as ing:
        assert ing.add_tree(data)[0].oid == tree.oid and ing.stats.hashed == 0
    cache.close()
    store.close()


@pytest.mark.parametrize("size", [0, 100, SMALL_FILE + 1])
def test_read_at_takes_a_regular_file_whole_and_nothing_else(tmp_path, size):
    d = tmp_path / "d"
    d.mkdir()
    (d / "f").write_bytes(b"x" * size)
    (d / "link").symlink_to("f")
    os.mkfifo(d / "pipe")  # not waited on (O_NONBLOCK)
    (d / "sub").mkdir()
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        st = listread.read_at(dfd, "f", SMALL_FILE)
        assert st is not None and st.st_size == size and st.st_ino == os.lstat(d / "f").st_ino
        assert st.data == (b"x" * size if size <= SMALL_FILE else None)
        assert [listread.read_at(dfd, n, SMALL_FILE) for n in ("link", "pipe", "sub", "gone")] == [None] * 4
    finally:
        os.close(dfd)
