"""Deltas (pack codec 2): the payload format, the store's read path, the deltas table and its APIs."""

import pytest

from artvc.errors import CorruptObjectError, FormatError
from artvc.objstore.gc import keep_bases, plan, rewrite_local
from artvc.objstore.hashing import hash_bytes
from artvc.objstore.objects import Kind
from artvc.objstore.store import pack as packmod
from artvc.objstore.store.delta import DELTA, MAX_CHAIN, decode_delta, delta_base, encode_delta
from artvc.objstore.store.local import LocalStore
from artvc.objstore.store.local_check import quarantine
from artvc.objstore.types import ObjectKey
from artvc.objstore.verify import verify_store
from tests.builders import csv_bytes


def revise(data: bytes, n: int) -> bytes:
    """``data`` with a few small edits (a revised release of the same rows)."""
    out = bytearray(data)
    for i in range(1, n + 1):
        at = (i * 7919) % (len(out) - 8)
        out[at : at + 4] = b"%04d" % (i * 31 % 10000)
    return bytes(out)


def versions(count: int, size: int = 60_000) -> list[bytes]:
    first = csv_bytes(size, seed=3)
    return [revise(first, 5 * i) if i else first for i in range(count)]


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "store") as s:
        yield s


def put_chain(store: LocalStore, blobs: list[bytes]) -> list[str]:
    """Store blobs[0] in full and each next one as a delta against the one before (a chain), one pack."""
    oids = [hash_bytes(b) for b in blobs]
    with store.writer() as w:
        w.put(oids[0], Kind.CHUNK, blobs[0])
        for i in range(1, len(blobs)):
            payload = encode_delta(blobs[i], oids[i - 1], blobs[i - 1], 3)
            w.put_stored(oids[i], Kind.CHUNK, DELTA, payload, len(blobs[i]))
    return oids


def test_delta_payload_round_trip_and_is_small():
    old, new = versions(2)
    payload = encode_delta(new, hash_bytes(old), old, 3)
    assert delta_base(payload) == hash_bytes(old)
    assert len(payload) < len(packmod.Compressor().pack(new)[1]) / 10
    assert decode_delta(payload, len(new), old) == new
    assert packmod.unpack_payload(DELTA, payload, len(new), 0, base_raw=old) == new


def test_delta_decode_refuses_a_wrong_base_a_wrong_size_and_a_short_payload():
    old, new = versions(2)
    payload = encode_delta(new, hash_bytes(old), old, 3)
    with pytest.raises(FormatError, match="does not decompress"):
        decode_delta(payload, len(new), old[:1000] + bytes(len(old) - 1000))
    with pytest.raises(FormatError, match="declares"):
        decode_delta(payload, len(new) - 1, old)
    with pytest.raises(FormatError, match="too short"):
        decode_delta(payload[:32], len(new), old)
    with pytest.raises(FormatError, match="base was not given"):
        packmod.unpack_payload(DELTA, payload, len(new), 0)


def test_check_entry_accepts_deltas_for_chunks_only_within_bounds():
    packmod.check_entry(0, DELTA, 8, 33, 1000)
    packmod.check_entry(0, DELTA, 8, 32 + packmod.max_stored_length(1000), 1000)
    with pytest.raises(FormatError, match="not a chunk"):
        packmod.check_entry(1, DELTA, 8, 100, 1000)
    with pytest.raises(FormatError, match="stored bytes"):
        packmod.check_entry(0, DELTA, 8, 32, 1000)
    with pytest.raises(FormatError, match="stored bytes"):
        packmod.check_entry(0, DELTA, 8, 33 + packmod.max_stored_length(1000), 1000)
    with pytest.raises(FormatError, match="unknown codec"):
        packmod.check_entry(0, 3, 8, 100, 1000)


def test_store_reads_a_chain_of_deltas_and_knows_the_relation(store):
    blobs = versions(4)
    oids = put_chain(store, blobs)
    for oid, blob in zip(oids, blobs, strict=True):
        assert store.get(oid, Kind.CHUNK) == blob
    assert store.delta_base(oids[0]) is None
    assert store.delta_base(oids[2]) == oids[1]
    assert store.delta_bases(oids) == {oids[1]: oids[0], oids[2]: oids[1], oids[3]: oids[2]}
    assert store.dependents([oids[0], oids[2], oids[3]]) == {oids[0]: oids[1:], oids[2]: [oids[3]]}
    assert dict(store._db.execute("SELECT oid, depth FROM deltas")) == {
        bytes.fromhex(o): i for i, o in enumerate(oids) if i
    }
    stored = store.stats()["stored_bytes"]
    assert stored < len(blobs[0]) * 0.7  # three deltas cost next to nothing beside the full chunk


def test_deltas_table_is_rebuilt_from_the_packs(tmp_path):
    root = tmp_path / "store"
    with LocalStore(root) as s:
        oids = put_chain(s, versions(3))
    for suffix in ("", "-wal", "-shm"):
        (root / f"index.db{suffix}").unlink(missing_ok=True)
    with LocalStore(root) as s:
        assert s.delta_bases(oids) == {oids[1]: oids[0], oids[2]: oids[1]}
        assert dict(s._db.execute("SELECT oid, depth FROM deltas")) == {
            bytes.fromhex(oids[1]): 1,
            bytes.fromhex(oids[2]): 2,
        }
        s._db.execute("DELETE FROM deltas")  # rows lost: reindex makes them again
        s.reindex()
        assert s.dependents([oids[0]]) == {oids[0]: oids[1:]}


def test_index_of_an_older_art_gets_its_deltas_table(tmp_path):
    root = tmp_path / "store"
    with LocalStore(root) as s:
        oids = put_chain(s, versions(2))
        s._db.execute("DROP TABLE deltas")
        s._db.execute("PRAGMA user_version=0")
    with LocalStore(root) as s:
        assert s.delta_bases(oids) == {oids[1]: oids[0]}


def test_a_base_indexed_after_its_delta_passes_its_depth_down(tmp_path):
    blobs = versions(3)
    oids = [hash_bytes(b) for b in blobs]
    with LocalStore(tmp_path / "store") as s:
        with s.writer() as w:  # the newest first (a pull may bring packs in any order)
            w.put_stored(oids[2], Kind.CHUNK, DELTA, encode_delta(blobs[2], oids[1], blobs[1], 3), len(blobs[2]))
        with s.writer() as w:
            w.put_stored(oids[1], Kind.CHUNK, DELTA, encode_delta(blobs[1], oids[0], blobs[0], 3), len(blobs[1]))
            w.put(oids[0], Kind.CHUNK, blobs[0])
        assert dict(s._db.execute("SELECT oid, depth FROM deltas")) == {
            bytes.fromhex(oids[1]): 1,
            bytes.fromhex(oids[2]): 2,
        }
        assert s.get(oids[2], Kind.CHUNK) == blobs[2]


def test_a_missing_base_a_loop_and_an_overlong_chain_are_refused(store):
    a, b = versions(2)
    oa, ob = hash_bytes(a), hash_bytes(b)
    with store.writer() as w:  # a and b each a delta against the other: a loop
        w.put_stored(oa, Kind.CHUNK, DELTA, encode_delta(a, ob, b, 3), len(a))
        w.put_stored(ob, Kind.CHUNK, DELTA, encode_delta(b, oa, a, 3), len(b))
    with pytest.raises(CorruptObjectError, match="loops back"):
        store.get(oa, Kind.CHUNK)
    assert dict(store._db.execute("SELECT depth, count(*) FROM deltas GROUP BY depth")) == {MAX_CHAIN + 1: 2}

    lone = versions(3)[2]
    with store.writer() as w:  # built on a chunk this store never had
        w.put_stored(
            hash_bytes(lone), Kind.CHUNK, DELTA, encode_delta(lone, hash_bytes(b"x"), b"x" * 200, 3), len(lone)
        )
    with pytest.raises(CorruptObjectError, match="is missing"):
        store.get(hash_bytes(lone), Kind.CHUNK)

    many = [csv_bytes(20_000, seed=9)]
    for i in range(MAX_CHAIN + 1):
        many.append(revise(many[-1], 2 + i))
    oids = put_chain(store, many)
    assert store.get(oids[MAX_CHAIN], Kind.CHUNK) == many[MAX_CHAIN]  # depth MAX_CHAIN: still read
    store.base_cache = type(store.base_cache)()
    with pytest.raises(CorruptObjectError, match="longer than"):
        store.get(oids[MAX_CHAIN + 1], Kind.CHUNK)


def flip(store: LocalStore, oid: str) -> None:
    """Flip one byte in the middle of ``oid``'s stored payload."""
    loc = store.locate(oid, Kind.CHUNK)
    path = store.pack_path(store.pack_name(loc.pack))
    with open(path, "r+b") as f:
        f.seek(loc.offset + loc.length // 2)
        byte = f.read(1)
        f.seek(loc.offset + loc.length // 2)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_a_flipped_byte_in_a_base_is_reported_for_every_dependent(store):
    blobs = versions(4)
    oids = put_chain(store, blobs)
    flip(store, oids[1])  # the middle of the chain: its delta, and the two built on it
    problems = {p.oid: p for p in verify_store(store)}
    assert set(problems) == set(oids[1:])
    assert all(p.damaged for p in problems.values())
    assert f"delta base {oids[1][:10]} is damaged" in problems[oids[2]].detail
    assert f"delta base {oids[1][:10]} is damaged" in problems[oids[3]].detail
    assert store.get(oids[0], Kind.CHUNK) == blobs[0]
    quarantine(store, {ObjectKey(o, Kind.CHUNK): "damaged" for o in oids[1:]})
    assert store.delta_bases(oids) == {}


def test_gc_keeps_the_bases_of_live_deltas_and_copies_deltas_as_they_are(store):
    blobs = versions(3)
    oids = put_chain(store, blobs)
    extra = csv_bytes(5000, seed=11)
    live = {ObjectKey(oids[2], Kind.CHUNK)}
    assert keep_bases(store, live) == {ObjectKey(o, Kind.CHUNK) for o in oids}
    (name,) = store.pack_names()
    gc_plan = plan(store.iter_objects(), keep_bases(store, live), {name: 0}, 1)
    assert gc_plan.doomed == [] and gc_plan.drop == []  # nothing dead: the pack stays as it is
    gc_plan = plan(store.iter_objects(), live, {name: 0}, 1)  # without the bases: they would go
    assert {o.oid for o in gc_plan.doomed} == set(oids[:2])

    with store.writer(rewrite=True) as w:  # the chain again, with a dead object: that pack is rewritten
        for o in oids:
            w.put_stored(o, Kind.CHUNK, *store.get_stored(o, Kind.CHUNK))
        w.put(hash_bytes(extra), Kind.CHUNK, extra)
    store.drop_packs([name])
    names = store.pack_names()
    gc_plan = plan(store.iter_objects(), keep_bases(store, live), {n: 0 for n in names}, 1)
    assert gc_plan.copies == 3
    rewrite_local(store, gc_plan)
    assert [o.oid for o in gc_plan.doomed] == [hash_bytes(extra)]
    assert store.get(oids[2], Kind.CHUNK) == blobs[2]
    assert store.delta_bases(oids) == {oids[1]: oids[0], oids[2]: oids[1]}
    assert store.locate(oids[2], Kind.CHUNK).codec == DELTA
    assert list(verify_store(store)) == []
