"""A whole pack fetched from a remote is verified in windows: one pread and one pool task per few MiB, in
offset order, a bounded number ahead, every object checked and the bad ones singled out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.objects import Kind
from artvc.objstore.store.pack import Compressor, PackEntry, PackWriter, read_trailer
from artvc.objstore.transfer import WINDOW, _spans, _verified
from tests.builders import random_bytes

TEXT = ((b"0123456789" * 20 + b"," * 30 + b"\n" * 6) * 2)[:256]


def test_every_object_of_a_pack_is_verified_in_order_and_a_damaged_one_is_singled_out(tmp_path):
    compressor = Compressor()
    blobs = [
        random_bytes(40_000 + i * 997, i) if i % 3 else random_bytes(50_000, i).translate(TEXT) for i in range(400)
    ]
    path = tmp_path / "p.pack"
    with open(path, "wb") as f:
        writer = PackWriter(f)
        for b in blobs:
            writer.add(hash_bytes(b), int(Kind.CHUNK), *compressor.pack(b), len(b))
        writer.seal()
    with open(path, "rb") as f:
        entries = sorted(read_trailer(f, path.stat().st_size), key=lambda e: e.offset)
    assert {e.codec for e in entries} == {0, 1} and sum(e.length for e in entries) > 2 * WINDOW
    victim = entries[250]
    data = bytearray(path.read_bytes())
    data[victim.offset + victim.length // 2] ^= 1
    path.write_bytes(data)
    with open(path, "rb") as f, ThreadPoolExecutor(2) as pool:
        got = list(_verified(pool, f.fileno(), entries))
    assert [e for e, _ in got] == entries
    assert [e.oid for e, d in got if d is None] == [victim.oid]
    by_oid = {hash_bytes(b): b for b in blobs}
    assert all(bytes(d) == by_oid[e.oid] for e, d in got if d is not None)


def test_an_entry_far_away_gets_a_window_of_its_own_not_a_huge_read():
    near = [PackEntry(hash_bytes(b"%d" % i), 0, 0, 8 + i * 1000, 1000, 1000) for i in range(5)]
    far = PackEntry(hash_bytes(b"far"), 0, 0, 1 << 40, 1000, 1000)
    assert list(_spans([*near, far], WINDOW)) == [near, [far]]
