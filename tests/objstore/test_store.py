import os

import pytest

from artvc.errors import CorruptObjectError, ObjectNotFoundError
from artvc.objstore.hashing import hash_bytes
from artvc.objstore.ingest import Ingester
from artvc.objstore.objects import Kind
from artvc.objstore.store import pack as packmod
from artvc.objstore.store.local import LocalStore
from artvc.objstore.store.pack import RAW, ZSTD, Compressor, unpack_payload
from artvc.objstore.verify import verify_store
from tests.builders import csv_bytes, random_bytes


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "store") as s:
        yield s


def put(store, *blobs):
    with store.writer() as w:
        for b in blobs:
            w.put(hash_bytes(b), Kind.CHUNK, b)


def test_put_get_round_trip_and_dedup(store):
    a, b = random_bytes(70_000), csv_bytes(70_000)
    put(store, a, b)
    put(store, a)
    assert store.get(hash_bytes(a), Kind.CHUNK) == a
    assert store.get(hash_bytes(b), Kind.CHUNK) == b
    assert store.stats()["objects"] == 2 and store.stats()["packs"] == 1


def test_compressible_chunks_are_stored_compressed(store):
    text, noise = csv_bytes(200_000), random_bytes(200_000)
    put(store, text, noise)
    stats = store.stats()
    assert stats["raw_bytes"] == 400_000
    assert stats["stored_bytes"] < 200_000 + 200_000 * 0.6


def test_missing_object_raises_not_found(store):
    with pytest.raises(ObjectNotFoundError):
        store.get(hash_bytes(b"nope"), Kind.CHUNK)


def test_aborted_writer_leaves_nothing(store):
    w = store.writer()
    w.put(hash_bytes(b"x" * 1000), Kind.CHUNK, b"x" * 1000)
    w.abort()
    assert not store.has(hash_bytes(b"x" * 1000), Kind.CHUNK)
    assert not list((store.root / "tmp").glob("pack-*"))


def test_reindex_recovers_a_pack_sealed_but_not_indexed(tmp_path):
    import shutil

    root = tmp_path / "store"
    with LocalStore(root) as s:
        put(s, b"first" * 100)
    shutil.copy(root / "index.db", tmp_path / "index.before")  # (WAL checkpointed at close)
    with LocalStore(root) as s:
        put(s, b"survivor" * 100)
        (name,) = s.pack_names() - {s.pack_name(1)}
    shutil.copy(tmp_path / "index.before", root / "index.db")  # as if killed between rename and index
    with LocalStore(root) as s:
        assert not s.has(hash_bytes(b"survivor" * 100), Kind.CHUNK)
        assert s.reindex() == [name]
        assert s.get(hash_bytes(b"survivor" * 100), Kind.CHUNK) == b"survivor" * 100


def test_a_lost_index_db_is_rebuilt_on_open(tmp_path):
    root = tmp_path / "store"
    with LocalStore(root) as s:
        put(s, b"survivor" * 100)
        (name,) = s.pack_names()
    (root / "index.db").unlink()
    notes = []
    with LocalStore(root, notice=notes.append) as s:
        assert s.rebuilt == [name] and len(notes) == 1 and "was missing" in notes[0]
        assert s.get(hash_bytes(b"survivor" * 100), Kind.CHUNK) == b"survivor" * 100


def test_pack_trailer_describes_the_pack(store):
    blobs = [random_bytes(50_000, seed=i) for i in range(5)]
    put(store, *blobs)
    (path,) = store.pack_files().values()
    with open(path, "rb") as f:
        entries = packmod.read_trailer(f, path.stat().st_size)
    assert sorted(e.oid for e in entries) == sorted(hash_bytes(b) for b in blobs)
    assert path.stem == packmod.pack_name(packmod.encode_entries(entries))


def test_flipped_byte_is_reported_by_verify(store, tmp_path):
    data = random_bytes(100_000)
    put(store, data)
    (path,) = store.pack_files().values()
    with open(path, "r+b") as f:
        f.seek(5000)
        byte = f.read(1)
        f.seek(5000)
        f.write(bytes([byte[0] ^ 0xFF]))
    problems = list(verify_store(store))
    assert [p.oid for p in problems] == [hash_bytes(data)]


def test_corrupt_compressed_payload_raises_corrupt(store):
    text = csv_bytes(100_000)
    put(store, text)
    (path,) = store.pack_files().values()
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"\0" * 64)
    with pytest.raises(CorruptObjectError):
        store.get(hash_bytes(text), Kind.CHUNK)


def test_ingest_large_file_matches_content_hash(store, tmp_path):
    data = random_bytes(3 << 20) + csv_bytes(2 << 20)
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    with store.writer() as w, Ingester(w, store.params, store.compressor) as ing:
        oid, size = ing.add_file(f)
    assert oid == hash_bytes(data) and size == len(data)
    assert b"".join(store.iter_file(oid, size)) == data
    assert list(verify_store(store)) == []
    assert os.path.getsize(f) == size


def test_small_random_chunks_are_refused_by_a_probe_and_small_text_is_compressed():
    import random

    from artvc.objstore.store.pack import RAW, ZSTD, Compressor

    rng = random.Random(18)
    c = Compressor()
    for size in (1025, 2048, 3000, 8192):
        noise = rng.randbytes(size)
        text = (b"id,name,value\n" + b"".join(b"%d,item-%d,%d\n" % (i, i % 17, i * 7) for i in range(900)))[:size]
        # random data of 1 to 8 KiB: a 512-byte probe says no, zstd never runs over the whole of it
        assert not c.compressible(noise) and c.pack(noise) == (RAW, noise)
        assert c.compressible(text) and c.pack(text)[0] == ZSTD
    small = rng.randbytes(1024)
    assert c.compressible(small) and c.pack(small) == (RAW, small)  # up to 1 KiB: tried whole, kept raw


class _CountingZstd(Compressor):
    """The plain compressor, counting the zstd calls it makes: probes (a sample) and frames (all of a chunk)."""

    def __init__(self) -> None:
        super().__init__()
        self.zstd = {"probe": 0, "frame": 0}

    def _ctx(self, probe=False):
        self.zstd["probe" if probe else "frame"] += 1
        return super()._ctx(probe)


def test_a_small_file_costs_one_zstd_call_random_or_text_and_two_only_when_a_binary_probe_passes():
    """Random 1-8 KiB chunks (images, archives) cost one 512-byte probe and are kept raw; ASCII text is compressed
    whole without a probe (it always saves the 3%); only non-ASCII data that compresses pays both. Before: text
    and binary both paid a 1 KiB probe first (text made 2 calls each, failing the frame count)."""
    import random

    rng = random.Random(7)
    c = _CountingZstd()
    noise = [rng.randbytes(rng.randint(1025, 8192)) for _ in range(50)]
    assert all(c.pack(d) == (RAW, d) for d in noise)
    assert c.zstd == {"probe": 50, "frame": 0}
    text = [
        b"".join(b"%d,label-%d\n" % (i, rng.randint(0, 9)) for i in range(rng.randint(200, 700))) for _ in range(50)
    ]
    c.zstd = {"probe": 0, "frame": 0}
    assert all(c.pack(d)[0] == ZSTD for d in text)
    assert c.zstd == {"probe": 0, "frame": 50}
    utf8 = "Привет, мир: сжатие текста на русском языке. ".encode() * 40  # not ASCII, compresses
    c.zstd = {"probe": 0, "frame": 0}
    codec, stored = c.pack(utf8)
    assert codec == ZSTD and unpack_payload(codec, stored, len(utf8)) == utf8
    assert c.zstd == {"probe": 1, "frame": 1}
