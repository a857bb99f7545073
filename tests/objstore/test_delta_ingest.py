"""Deltas written by ingest: the store's delta-aware compressor (core.delta, core.delta_depth) and the sketch."""

import random

import pytest

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.ingest import Ingester
from artvc.objstore.objects import Kind
from artvc.objstore.sketch import features
from artvc.objstore.store.delta import DELTA
from artvc.objstore.store.local import LocalStore
from artvc.objstore.verify import verify_store
from tests.builders import csv_bytes, random_bytes, rewritten


def releases(n: int, size: int = 600_000) -> list[bytes]:
    out = [csv_bytes(size, seed=5)]
    for i in range(1, n):
        out.append(rewritten(out[-1], 40, seed=i))
    return out


def add(store: LocalStore, path, data: bytes) -> tuple[str, int]:
    path.write_bytes(data)
    with store.writer() as w, Ingester(w, store.params, store.compressor) as ing:
        return ing.add_file(path)


def codecs(store: LocalStore) -> dict[int, int]:
    return dict(store._db.execute("SELECT codec, count(*) FROM objects WHERE kind=0 GROUP BY codec"))


def test_sketch_is_deterministic_and_finds_similar_chunks_only():
    a = csv_bytes(80_000, seed=1)
    assert features(a) == features(bytes(a)) and len(features(a)) == 6
    assert set(features(a)) & set(features(rewritten(a, 5, seed=2)))
    assert not set(features(a)) & set(features(csv_bytes(80_000, seed=2)))
    assert features(b"short") == ()


def catalog(strings: list[bytes]) -> bytes:
    """A compiled-message-catalog-like file: a table of (length, offset) of every string, then the strings."""
    import struct

    table, offset = [], 8 * len(strings)
    for text in strings:
        table.append(struct.pack("<II", len(text), offset))
        offset += len(text) + 1
    return b"".join(table) + b"".join(t + b"\0" for t in strings)


def test_sketch_finds_a_small_catalog_whose_every_offset_moved():
    r = random.Random(4)
    strings = [b"name %d: %s" % (i, r.randbytes(6).hex().encode()) for i in range(300)]
    old, new = catalog(strings), catalog([*strings[:10], b"a new entry", *strings[10:]])
    assert len(old) < 16 << 10
    assert set(features(old)) & set(features(new))


def test_revised_releases_are_stored_as_deltas_and_read_back(tmp_path):
    versions = releases(4)
    with LocalStore(tmp_path / "store") as store:
        sizes, ids = [], []
        for i, data in enumerate(versions):
            before = store.stats()["stored_bytes"]
            ids.append(add(store, tmp_path / f"v{i}.csv", data))
            sizes.append(store.stats()["stored_bytes"] - before)
        assert codecs(store).get(DELTA, 0) > 0
        assert max(sizes[1:]) < sizes[0] / 4  # a revision costs a fraction of the first release
        depth = dict(store._db.execute("SELECT depth, count(*) FROM deltas GROUP BY depth"))
        assert max(depth) <= 3
        store.base_cache = type(store.base_cache)()  # read from the packs, not from what ingest left cached
        for (oid, size), data in zip(ids, versions, strict=True):
            assert oid == hash_bytes(data)  # ids do not change
            assert b"".join(store.iter_file(oid, size)) == data
        assert list(verify_store(store)) == []


def test_delta_off_stores_no_delta_and_no_sketch(tmp_path):
    versions = releases(2)
    with LocalStore(tmp_path / "store", delta=False) as store:
        for i, data in enumerate(versions):
            add(store, tmp_path / f"v{i}.csv", data)
        assert DELTA not in codecs(store)
        assert store._db.execute("SELECT count(*) FROM sketch").fetchone()[0] == 0


def test_incompressible_chunks_are_not_sketched(tmp_path):
    with LocalStore(tmp_path / "store") as store:
        add(store, tmp_path / "noise.bin", random_bytes(800_000))
        add(store, tmp_path / "noise2.bin", rewritten(random_bytes(800_000), 20, seed=1))
        assert store._db.execute("SELECT count(*) FROM sketch").fetchone()[0] == 0
        assert DELTA not in codecs(store)


@pytest.mark.parametrize("depth", [1, 2])
def test_chains_stay_within_core_delta_depth(tmp_path, depth):
    versions = releases(5)
    with LocalStore(tmp_path / "store", delta_depth=depth) as store:
        for i, data in enumerate(versions):
            add(store, tmp_path / f"v{i}.csv", data)
        depths = dict(store._db.execute("SELECT depth, count(*) FROM deltas GROUP BY depth"))
        assert depths and max(depths) == depth


def test_similar_files_of_one_add_are_deltas_against_each_other(tmp_path):
    """The translations of one release share their strings: the second is a delta on the first before the
    first's pack is even indexed (same writer, same pack), and reads back after the commit. (Chunks written
    earlier count: files of one batch, small files of one directory, are compressed together.)"""
    first = csv_bytes(300_000, seed=8)
    second = rewritten(first, 30, seed=9)
    for sub, data in (("x", first), ("y", second)):
        (tmp_path / "d" / sub).mkdir(parents=True)
        (tmp_path / "d" / sub / "f.csv").write_bytes(data)
    with LocalStore(tmp_path / "store") as store:
        with store.writer() as w, Ingester(w, store.params, store.compressor, jobs=1) as ing:
            ing.add_tree(tmp_path / "d")
        assert codecs(store).get(DELTA, 0) > 0
        assert store.stats()["packs"] == 1
        store.base_cache = type(store.base_cache)()
        with LocalStore(tmp_path / "store") as fresh:  # another process: nothing cached
            for data in (first, second):
                oid = hash_bytes(data)
                assert b"".join(fresh.iter_file(oid, len(data))) == data
            assert list(verify_store(fresh)) == []


def test_a_delta_on_a_base_another_writer_has_not_committed_is_stored_in_full(tmp_path):
    base, new = csv_bytes(60_000, seed=1), rewritten(csv_bytes(60_000, seed=1), 5, seed=2)
    with LocalStore(tmp_path / "store") as store:
        w1 = store.writer()
        w1.put(hash_bytes(base), Kind.CHUNK, base)  # written by w1, a candidate base, not indexed
        codec, payload = store.compressor.pack(new, hash_bytes(new))
        assert codec == DELTA  # made against w1's chunk
        with store.writer() as w2:
            w2.put_new(hash_bytes(new), Kind.CHUNK, codec, payload, len(new))
        w1.abort()  # the base never lands
        assert store.locate(hash_bytes(new), Kind.CHUNK).codec != DELTA
        assert store.get(hash_bytes(new), Kind.CHUNK) == new


@pytest.mark.long
def test_chunks_waiting_for_a_writer_are_bounded_by_bytes(tmp_path):
    """Sketched chunks no writer took yet are kept (as candidates) up to a few MiB of content, whatever their
    number: 64 KiB chunks used to be kept by the thousand (hundreds of MiB)."""
    from artvc.objstore.store.delta_compressor import PENDING_BYTES

    with LocalStore(tmp_path / "store") as store:
        compressor = store.compressor
        for i in range(PENDING_BYTES // (64 << 10) * 3):
            data = csv_bytes(64 << 10, seed=100 + i)
            compressor.pack(data, hash_bytes(data))
        kept = sum(len(item[1]) for item in compressor._pending.values())
        assert 0 < kept <= PENDING_BYTES


def large_add(store: LocalStore, path, data: bytes, previous=None):
    """Add ``data`` as a large file, with ``previous`` as its previous version (what ``add`` reads from the
    artifact's pointer)."""

    path.write_bytes(data)
    with (
        store.writer() as w,
        Ingester(w, store.params, store.compressor, previous=lambda paths: [previous] * len(paths)) as ing,
    ):
        return ing.add_file(path)


def test_a_large_file_without_a_previous_version_is_never_sketched(tmp_path):
    """A first add of a large compressible file costs what it costs without deltas: no sketch, no delta tried
    (its chunks become candidates for its next version by position, not by sketch)."""
    with LocalStore(tmp_path / "store") as store:
        large_add(store, tmp_path / "a.csv", csv_bytes(3 << 20, seed=1))
        assert store.compressor.sketched == 0
        assert store._db.execute("SELECT count(*) FROM sketch").fetchone()[0] == 0
        assert codecs(store).get(1, 0) > 20


def test_a_revised_large_file_is_stored_as_deltas_on_its_previous_version(tmp_path):
    v1 = csv_bytes(3 << 20, seed=2)
    v2 = rewritten(v1, 60, seed=3)
    v2 = v2[:1000_000] + b"1,inserted,0.5,1,cat1\n" * 40 + v2[1000_000:]  # offsets drift after an insertion
    with LocalStore(tmp_path / "store") as store:
        old, size1 = large_add(store, tmp_path / "a.csv", v1)
        old_chunks = {c for c, _ in store.file_chunks(old, size1)}
        new, size2 = large_add(store, tmp_path / "a.csv", v2, previous=old)
        rows = list(store._db.execute("SELECT oid, base FROM deltas"))
        new_chunks = {c for c, _ in store.file_chunks(new, size2)} - old_chunks
        assert len(rows) >= len(new_chunks) * 0.8  # nearly every changed chunk is a delta ...
        assert {b.hex() for _, b in rows} <= old_chunks  # ... on a chunk of the previous version
        assert store.compressor.sketched == 0
        store.base_cache = type(store.base_cache)()
        assert b"".join(store.iter_file(new, size2)) == v2
        assert list(verify_store(store)) == []


def test_a_large_file_unlike_its_previous_version_stops_trying_deltas(tmp_path):
    """Replaced content at the same path: after a few chunks whose candidates gave no delta, a batch stops
    computing deltas (only every REPROBE-th chunk tries again)."""
    with LocalStore(tmp_path / "store") as store:
        old, _ = large_add(store, tmp_path / "a.csv", csv_bytes(4 << 20, seed=4))
        new, size = large_add(store, tmp_path / "a.csv", csv_bytes(4 << 20, seed=5), previous=old)
        chunks = len(store.file_chunks(new, size))
        assert codecs(store).get(DELTA, 0) == 0
        assert 0 < store.compressor.tried < chunks / 2


def test_a_delta_on_an_uncommitted_base_is_stored_in_full_even_after_many_other_chunks(tmp_path):
    """The content kept to store such a delta in full outlives the bound on chunks waiting for a writer."""
    from artvc.objstore.store.delta_compressor import PENDING_BYTES

    base, new = csv_bytes(60_000, seed=1), rewritten(csv_bytes(60_000, seed=1), 5, seed=2)
    with LocalStore(tmp_path / "store") as store:
        w1 = store.writer()
        w1.put(hash_bytes(base), Kind.CHUNK, base)
        codec, payload = store.compressor.pack(new, hash_bytes(new))
        assert codec == DELTA
        for i in range(PENDING_BYTES // 60_000 + 8):  # more than the bound: ``new`` leaves the waiting chunks
            other = csv_bytes(60_000, seed=200 + i)
            store.compressor.pack(other, hash_bytes(other))
        with store.writer() as w2:
            w2.put_new(hash_bytes(new), Kind.CHUNK, codec, payload, len(new))
        w1.abort()
        assert store.locate(hash_bytes(new), Kind.CHUNK).codec != DELTA
        assert store.get(hash_bytes(new), Kind.CHUNK) == new
