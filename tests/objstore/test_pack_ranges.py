"""Packs read in large ranges: a push reads neighbouring objects together; a whole pack fetched from a remote
is verified in windows (one pread and one pool task per few MiB, in offset order, a bounded number ahead),
every object checked and the bad ones singled out."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.objects import Kind
from artvc.objstore.pack_ranges import WINDOW, copy_rest, read_in_ranges, spans, verified_windows
from artvc.objstore.store.local import LocalStore
from artvc.objstore.store.pack import Compressor, PackEntry, PackWriter, read_trailer
from tests.builders import random_bytes

TEXT = ((b"0123456789" * 20 + b"," * 30 + b"\n" * 6) * 2)[:256]


def _write_pack(path, blobs: list[bytes]) -> list:
    """A sealed pack of ``blobs`` (compressed where zstd pays) at ``path``; its entries in pack order."""
    compressor = Compressor()
    with open(path, "wb") as f:
        writer = PackWriter(f)
        for b in blobs:
            writer.add(hash_bytes(b), int(Kind.CHUNK), *compressor.pack(b), len(b))
        writer.seal()
    with open(path, "rb") as f:
        return sorted(read_trailer(f, path.stat().st_size), key=lambda e: e.offset)


@pytest.mark.long
def test_every_object_of_a_pack_is_verified_in_order_and_a_damaged_one_is_singled_out(tmp_path):
    blobs = [
        random_bytes(40_000 + i * 997, i) if i % 3 else random_bytes(50_000, i).translate(TEXT) for i in range(400)
    ]
    path = tmp_path / "p.pack"
    entries = _write_pack(path, blobs)
    assert {e.codec for e in entries} == {0, 1} and sum(e.length for e in entries) > 2 * WINDOW
    victim = entries[250]
    data = bytearray(path.read_bytes())
    data[victim.offset + victim.length // 2] ^= 1
    path.write_bytes(data)
    with open(path, "rb") as f, ThreadPoolExecutor(2) as pool:
        got = list(verified_windows(pool, f.fileno(), entries))
    assert [e for e, _ in got] == entries
    assert [e.oid for e, d in got if d is None] == [victim.oid]
    by_oid = {hash_bytes(b): b for b in blobs}
    assert all(bytes(d) == by_oid[e.oid] for e, d in got if d is not None)


def test_an_entry_far_away_gets_a_window_of_its_own_not_a_huge_read():
    near = [PackEntry(hash_bytes(b"%d" % i), 0, 0, 8 + i * 1000, 1000, 1000) for i in range(5)]
    far = PackEntry(hash_bytes(b"far"), 0, 0, 1 << 40, 1000, 1000)
    assert list(spans([*near, far], WINDOW)) == [near, [far]]


def test_a_window_of_tiny_objects_is_bounded_by_their_count():
    """4 MiB of 16-64 byte objects is ~65,000 entries; a verification window holds at most ``WINDOW_OBJECTS`` of
    them (each is held as a record and a result while it is verified), whatever their bytes."""
    from artvc.objstore.pack_ranges import WINDOW_OBJECTS

    entries = [PackEntry(hash_bytes(b"%d" % i), 0, 0, 8 + i * 40, 40, 40) for i in range(2 * WINDOW_OBJECTS + 5)]
    windows = list(spans(entries, WINDOW, WINDOW_OBJECTS))
    assert [len(w) for w in windows] == [WINDOW_OBJECTS, WINDOW_OBJECTS, 5]
    assert [e for w in windows for e in w] == entries
    assert [len(w) for w in spans(entries, WINDOW)] == [len(entries)]  # the bytes alone would make one window


def test_a_push_reads_neighbouring_objects_together_and_each_gets_its_own_bytes(tmp_path):
    with LocalStore(tmp_path / "store") as store:
        blobs = [random_bytes(30_000 + i * 131, i) for i in range(300)]  # ~9.5 MiB: more than one window
        for part in (blobs[:200], blobs[200:]):  # two packs
            with store.writer() as w:
                for b in part:
                    w.put(hash_bytes(b), Kind.CHUNK, b)
        wanted = [b for i, b in enumerate(blobs) if i % 7 != 3]  # gaps where an object is already there
        wanted = wanted[:150] + wanted[150:][::-1]  # and a stretch in reverse order
        locs = [store.locate(hash_bytes(b), Kind.CHUNK) for b in wanted]
        got = [bytes(v) for v in read_in_ranges(store, locs)]
        assert got == [store.read_stored(loc.pack, loc.offset, loc.length) for loc in locs]
        assert [store.get(hash_bytes(b), Kind.CHUNK) for b in wanted] == wanted


def _rchar() -> int:
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar")).split()[1])


def test_a_chunk_that_arrives_before_its_turn_does_not_make_the_fetch_read_the_file_again(tmp_path):
    """The manifest is proved by hashing its chunks as they stream by; one that a pack brings early is kept
    for its turn, instead of hashing the whole file again from the store afterwards."""
    from artvc.objstore.chunking import Chunker
    from artvc.objstore.objects import FileManifest
    from artvc.objstore.store.remote import RemoteStore
    from artvc.objstore.transfer import download, upload

    data = random_bytes(12 << 20, 9)
    chunks = Chunker().split(data)
    oid = hash_bytes(data)
    manifest = FileManifest(oid, len(data), tuple((hash_bytes(c), len(c)) for c in chunks))
    with LocalStore(tmp_path / "src") as src:
        with src.writer() as w:
            for c in [chunks[-1], *chunks[:-1]]:  # the last chunk first in the pack
                w.put(hash_bytes(c), Kind.CHUNK, c)
        with src.writer() as w:
            w.put(oid, Kind.FILE, manifest.to_bytes())
        remote = RemoteStore.open(str(tmp_path / "remote"), name="origin", cache_dir=tmp_path / "cache")
        upload(src, remote, [(oid, Kind.FILE), *((c, Kind.CHUNK) for c, _ in manifest.chunks)])
    with LocalStore(tmp_path / "dest") as dest:
        before = _rchar()
        result = download(RemoteStore.open(str(tmp_path / "remote"), cache_dir=tmp_path / "cache2"), dest, [(oid, 1)])
        read = _rchar() - before
        assert not result.problems and dest.has(oid, Kind.FILE)
        assert len(data) <= read < len(data) * 1.5  # the pack once; not the file a second time


def test_a_window_of_well_compressed_objects_is_also_bounded_by_their_decompressed_size():
    entries = [
        PackEntry(hash_bytes(b"%d" % i), 0, 1, 8 + i * 1000, 1000, 1 << 20) for i in range(3 * WINDOW // (1 << 20))
    ]
    windows = list(spans(entries, WINDOW))
    assert [e for w in windows for e in w] == entries
    assert all(sum(e.raw_length for e in w) <= 2 * WINDOW for w in windows) and len(windows) >= 2


@pytest.mark.parametrize("path", ["copy_file_range", "splice", "read"])
def test_a_pack_copied_while_verified_is_the_same_file_and_its_bad_object_is_singled_out(tmp_path, monkeypatch, path):
    """``copy_to``: the kernel copies each window (copy_file_range) and the objects are verified from the copy,
    mapped; where copy_file_range refuses (``splice``: EXDEV, another file system) the kernel copies it by splice
    and the objects are still verified from the copy; where the kernel cannot copy at all (``read``) the window is
    read and written. Either way the copy (with ``copy_rest``) is the pack byte for byte, and a damaged object
    (one flipped byte) is refused."""
    import errno

    import artvc.objstore.fileio as fio

    spliced: list[int] = []
    if path != "copy_file_range":

        def exdev(*args, **kwargs):  # the OS's answer between two file systems
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", exdev)
        real_splice = os.splice

        def spy(src, dest, count, **kw):
            n = real_splice(src, dest, count, **kw)
            if "offset_dst" in kw:
                spliced.append(n)
            return n

        monkeypatch.setattr(os, "splice", spy)
    if path == "read":
        monkeypatch.setattr(fio, "SPLICE", [False])  # no splice either: read and write
    blobs = [
        random_bytes(60_000 + i * 577, i) if i % 2 else random_bytes(60_000, i).translate(TEXT) for i in range(200)
    ]
    src = tmp_path / "p.pack"
    entries = _write_pack(src, blobs)
    victim = entries[120]
    damaged = bytearray(src.read_bytes())
    damaged[victim.offset + victim.length // 2] ^= 1
    src.write_bytes(damaged)
    dest = tmp_path / "copy.tmp"
    with open(src, "rb") as s, open(dest, "w+b") as d, ThreadPoolExecutor(2) as pool:
        got = [(e, None if v is None else bytes(v)) for e, v in verified_windows(pool, s.fileno(), entries, d.fileno())]
        copy_rest(s.fileno(), d.fileno(), entries)
    assert dest.read_bytes() == bytes(damaged)
    assert [e for e, _ in got] == entries and [e.oid for e, v in got if v is None] == [victim.oid]
    by_oid = {hash_bytes(b): b for b in blobs}
    assert all(v == by_oid[e.oid] for e, v in got if v is not None)
    objects = sum(e.length for e in entries)
    assert sum(spliced) == (objects if path == "splice" else 0)  # every object's bytes copied by the kernel


def test_the_pool_takes_turns_copying_into_one_file_and_verifies_beside_the_copy(tmp_path, monkeypatch):
    """``copy_to``: two tasks never copy into the same file at once (the kernel takes its inode lock for each
    write, and the second one spun on it), but a window is verified while the next one is copied."""
    import threading
    import time

    from artvc.objstore import pack_ranges

    lock = threading.Lock()
    state = {"copying": 0, "most": 0, "beside": 0}
    real_copy, real_hash = pack_ranges.kernel_copy, pack_ranges.hashes_to

    def copy(*args, **kwargs):
        with lock:
            state["copying"] += 1
            state["most"] = max(state["most"], state["copying"])
        try:
            time.sleep(0.05)  # long enough for the other task to arrive while this one copies
            return real_copy(*args, **kwargs)
        finally:
            with lock:
                state["copying"] -= 1

    def check(data, oid):
        with lock:
            state["beside"] += state["copying"] > 0
        time.sleep(0.001)
        return real_hash(data, oid)

    monkeypatch.setattr(pack_ranges, "kernel_copy", copy)
    monkeypatch.setattr(pack_ranges, "hashes_to", check)
    blobs = [random_bytes(60_000 + i * 577, i) for i in range(300)]
    src = tmp_path / "p.pack"
    entries = _write_pack(src, blobs)
    assert sum(e.length for e in entries) > 3 * WINDOW and {e.codec for e in entries} == {0}
    dest = tmp_path / "copy.tmp"
    with open(src, "rb") as s, open(dest, "w+b") as d, ThreadPoolExecutor(2) as pool:
        got = [v is not None for _, v in verified_windows(pool, s.fileno(), entries, d.fileno())]
        copy_rest(s.fileno(), d.fileno(), entries)
    assert all(got) and dest.read_bytes() == src.read_bytes()
    assert state["most"] == 1, "two tasks copied into the same file at once"
    assert state["beside"] > 0, "no window was verified while another was copied"


def test_a_chunk_stored_raw_is_verified_by_one_hash_and_the_others_by_verify_payload(tmp_path, monkeypatch):
    """Most small files are stored raw: their window check is one blake3 each, not ``verify_payload``'s steps
    (the old code passed all 300 through it); a compressed one still goes through it, and a damaged raw one,
    or one whose entry claims another raw length, is refused either way."""
    import artvc.objstore.pack_ranges as pr

    blobs = [random_bytes(1000 + i, i) if i % 3 else random_bytes(3000, i).translate(TEXT) for i in range(300)]
    path = tmp_path / "p.pack"
    entries = _write_pack(path, blobs)
    raw = [e for e in entries if e.codec == 0]
    assert len(raw) == 200
    data = bytearray(path.read_bytes())
    data[raw[7].offset] ^= 1
    path.write_bytes(data)
    liar = raw[9]._replace(raw_length=raw[9].raw_length + 1)
    entries = [liar if e == raw[9] else e for e in entries]
    calls: list[int] = []
    real = pr.verify_payload

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pr, "verify_payload", counted)
    with open(path, "rb") as f, ThreadPoolExecutor(2) as pool:
        got = list(verified_windows(pool, f.fileno(), entries))
    assert len(calls) == 101  # the 100 compressed ones and the liar
    assert sorted(e.oid for e, d in got if d is None) == sorted([raw[7].oid, liar.oid])
    by_oid = {hash_bytes(b): b for b in blobs}
    assert all(bytes(d) == by_oid[e.oid] for e, d in got if d is not None)
