"""A store writer indexes the chunk packs of a large file together: sealed packs wait in ``packs/`` until they
hold ``local_writer.INDEX_ROWS`` objects (or the writer commits), then ``LocalStore._index_packs`` indexes them
in one transaction, their rows in key order across the packs. Meanwhile the writer answers for their objects
(nothing is written twice), a delta may stand on a chunk of one of them, and a failed commit still indexes
what was sealed."""

from __future__ import annotations

import errno
import json

import pytest

from artvc.errors import ArtError
from artvc.objstore import faults
from artvc.objstore.hashing import hash_bytes
from artvc.objstore.ingest import Ingester
from artvc.objstore.objects import Kind
from artvc.objstore.store import local_writer
from artvc.objstore.store.local import LocalStore
from artvc.objstore.verify import verify_store
from tests.builders import random_bytes

MIB = 1 << 20


@pytest.fixture
def points(tmp_path, monkeypatch):
    """The fault points this process passes, in order (``ART_FAULT_LOG``), read by calling the fixture."""
    log = tmp_path / "points.log"
    monkeypatch.setenv("ART_FAULT_LOG", str(log))
    faults.reset()
    yield lambda: log.read_text().split() if log.exists() else []
    faults.reset()


def indexed(store: LocalStore) -> int:
    return store._db.execute("SELECT count(*) FROM objects").fetchone()[0]


def test_a_large_files_packs_are_indexed_a_batch_at_a_time_and_read_back(tmp_path, monkeypatch, points):
    """12 MiB of random data in packs of about 1.5 MiB (a pack is sealed after the batch that fills it), indexed 40
    objects at a time: each transaction takes the packs
    sealed since the last (several per batch), every object is indexed once the writer commits, and the file
    reads back whole."""
    monkeypatch.setattr(local_writer, "INDEX_ROWS", 40)
    data = random_bytes(12 * MIB, 7)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    with LocalStore(tmp_path / "store") as store:
        with store.writer() as w:
            w._builder.target = MIB
            with Ingester(w, store.params, store.compressor) as ing:
                oid, size = ing.add_file(src)
        seen = points()
        sealed, batches = seen.count("store.pack-renamed"), seen.count("store.pack-indexing")
        assert sealed >= 6 and 2 <= batches < sealed  # several packs to a transaction, more than one transaction
        rows = store._db.execute("SELECT count(*), count(DISTINCT pack) FROM objects").fetchone()
        assert rows[1] == sealed == store.stats()["packs"]
        assert b"".join(store.iter_file(oid, size)) == data
        assert list(verify_store(store)) == []


def test_chunks_in_sealed_unindexed_packs_are_not_written_again(tmp_path, monkeypatch):
    """The same 3 MiB of random data three times in one file: its chunks repeat across packs that are sealed
    but not indexed yet; each distinct chunk is stored once (the writer answers for the packs it holds back)."""
    monkeypatch.setattr(local_writer, "INDEX_ROWS", 10_000)  # nothing indexed before the commit
    block = random_bytes(3 * MIB, 8)
    src = tmp_path / "thrice.bin"
    src.write_bytes(block * 3)
    with LocalStore(tmp_path / "store") as store:
        with store.writer() as w:
            w._builder.target = MIB // 2
            with Ingester(w, store.params, store.compressor) as ing:
                oid, size = ing.add_file(src)
            assert indexed(store) == 0 and len(list((store.root / "packs").glob("*/*.pack"))) >= 2
        distinct = store._db.execute("SELECT count(DISTINCT oid), count(*) FROM objects WHERE kind=0").fetchone()
        assert distinct[0] == distinct[1]  # no chunk twice
        assert store.stats()["stored_bytes"] < 3.2 * MIB  # about one copy of the block (and its manifest)
        assert b"".join(store.iter_file(oid, size)) == block * 3


def test_a_commit_whose_indexing_fails_still_indexes_the_sealed_packs_as_it_aborts(tmp_path, monkeypatch, points):
    """The first indexing of a writer fails (an I/O error there): the commit fails with a clear store error,
    its abort indexes the sealed packs after all, and nothing is left in ``tmp/``; the store verifies clean."""
    monkeypatch.setattr(local_writer, "INDEX_ROWS", 10_000)
    monkeypatch.setenv("ART_FAULT", "store.pack-indexing:eio")
    faults.reset()
    chunks = [random_bytes(200_000, seed) for seed in range(12)]
    with LocalStore(tmp_path / "store") as store:
        w = store.writer()
        w._builder.target = 600_000
        for c in chunks:
            w.put(hash_bytes(c), Kind.CHUNK, c)
        with pytest.raises(ArtError) as raised:
            w.commit()
        assert raised.value.__cause__ is not None and raised.value.__cause__.errno == errno.EIO
        assert points().count("store.pack-indexing") == 2  # the commit's, then the abort's
        assert all(store.has(hash_bytes(c), Kind.CHUNK) for c in chunks)
        assert [c == store.get(hash_bytes(c), Kind.CHUNK) for c in chunks] == [True] * 12
        assert not list((store.root / "tmp").glob("pack-*"))
        assert list(verify_store(store)) == []


def test_an_add_killed_before_its_packs_are_indexed_leaves_them_for_fsck_and_a_rerun(tmp_path):
    """``art add`` killed at its indexing (its packs sealed and in ``packs/``): no pointer, the index as it was;
    ``art fsck`` indexes the pack it left, and the add run again finds its objects stored (none written again)."""
    from tests.e2e.faultfs import art, make_repo, ok

    repo = make_repo(tmp_path / "repo")
    (repo / "a.txt").write_text("first\n")
    ok(art(repo, "add", "a.txt"))
    (repo / "b.bin").write_bytes(random_bytes(300_000, 9))
    killed = art(repo, "add", "b.bin", env={"ART_FAULT": "store.pack-indexing:kill"})
    assert killed.returncode == -9, killed.stderr
    assert not (repo / "b.bin.art").exists()
    store = repo / ".art" / "store"
    on_disk = sorted(p.name for p in (store / "packs").glob("*/*.pack"))
    assert len(on_disk) == 2
    checked = json.loads(ok(art(repo, "fsck", "--json")).stdout)
    assert len(checked["reindexed"]) == 1 and checked["problems"] == []  # the killed add's pack, indexed now
    ok(art(repo, "add", "b.bin"))
    new = [p for p in (store / "packs").glob("*/*.pack") if p.name not in on_disk]
    assert sum(p.stat().st_size for p in new) < 4096  # the add's record, not the 300 KB of chunks again
    assert (repo / "b.bin.art").exists()
    ok(art(repo, "fsck"))


def test_a_commit_the_index_refuses_leaves_its_packs_whole_for_a_reindex(tmp_path, monkeypatch):
    """Another connection holds the index's write lock through the commit and its abort (sqlite's "database is
    locked", as a full disk would be refused too): the commit raises sqlite's error, nothing is left in
    ``tmp/``, the sealed packs stay in ``packs/`` unindexed, and a reindex once the lock is gone makes every
    object readable."""
    import sqlite3

    monkeypatch.setattr(local_writer, "INDEX_ROWS", 10_000)
    chunks = [random_bytes(200_000, 100 + seed) for seed in range(6)]
    with LocalStore(tmp_path / "store") as store:
        w = store.writer()
        w._builder.target = 400_000
        for c in chunks:
            w.put(hash_bytes(c), Kind.CHUNK, c)
        store._db.execute("PRAGMA busy_timeout=50")
        other = sqlite3.connect(store.root / "index.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                w.commit()
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert not list((store.root / "tmp").glob("pack-*"))
        on_disk = {p.stem for p in (store.root / "packs").glob("*/*.pack")}
        assert len(on_disk) >= 2 and not any(store.has(hash_bytes(c), Kind.CHUNK) for c in chunks)
        assert set(store.reindex()) == on_disk
        assert [store.get(hash_bytes(c), Kind.CHUNK) == c for c in chunks] == [True] * 6
