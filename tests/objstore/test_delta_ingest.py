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
from tests.builders import csv_bytes, random_bytes


def revise(data: bytes, edits: int, seed: int) -> bytes:
    """A revised release: ``edits`` values rewritten in place, here and there."""
    r = random.Random(seed)
    out = bytearray(data)
    for _ in range(edits):
        at = r.randrange(len(out) - 8)
        out[at : at + 4] = b"%04d" % r.randrange(10000)
    return bytes(out)


def releases(n: int, size: int = 600_000) -> list[bytes]:
    out = [csv_bytes(size, seed=5)]
    for i in range(1, n):
        out.append(revise(out[-1], 40, seed=i))
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
    assert set(features(a)) & set(features(revise(a, 5, seed=2)))
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
        add(store, tmp_path / "noise2.bin", revise(random_bytes(800_000), 20, seed=1))
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
    second = revise(first, 30, seed=9)
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
    base, new = csv_bytes(60_000, seed=1), revise(csv_bytes(60_000, seed=1), 5, seed=2)
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
