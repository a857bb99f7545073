"""Large files written back by materialize_large: batches read in large ranges, decompressed and written by a
pool, hashed in order; the result is byte-identical, verified, bounded in memory, and failures leave nothing."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

import pytest

from artvc.errors import CorruptObjectError, LocalStoreError, ObjectNotFoundError
from artvc.objstore import materialize_large
from artvc.objstore.hashing import hash_bytes
from artvc.objstore.ingest import Ingester
from artvc.objstore.materialize import materialize_file
from artvc.objstore.materialize_large import BATCH, LARGE_FILE
from artvc.objstore.objects import FileManifest, Kind
from artvc.objstore.store.local import LocalStore
from artvc.objstore.store.pack import RAW, ZSTD
from tests.builders import random_bytes, writeback_ranges
from tests.e2e.test_memory import PROBE

MIB = 1 << 20


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "store") as s:
        yield s


def add(store: LocalStore, path) -> tuple[str, int]:
    with store.writer() as w, Ingester(w, store.params, store.compressor) as ing:
        return ing.add_file(path)


TEXT = ((b"0123456789" * 20 + b"," * 30 + b"\n" * 6) * 2)[:256]  # random bytes onto it: zstd halves them


@functools.cache
def mixed(size: int) -> bytes:
    """Random and text-like stretches of uneven lengths: raw and zstd chunks alternate within batches."""
    parts, total, seed = [], 0, 0
    while total < size:
        n = (3 * MIB + seed * 77_777) % (5 * MIB) + 100_000
        parts.append(random_bytes(n, seed) if seed % 2 else random_bytes(n, seed).translate(TEXT))
        total += n
        seed += 1
    return b"".join(parts)[:size]


def codecs(store: LocalStore, oid: str, size: int) -> set[int]:
    chunks = store.file_chunks(oid, size)
    return {store.locate(c, Kind.CHUNK).codec for c, _ in chunks}


def test_a_large_mixed_file_comes_back_byte_for_byte(store, tmp_path):
    data = mixed(LARGE_FILE + BATCH + 12_345)  # three batches, the last one short
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    oid, size = add(store, src)
    assert codecs(store, oid, size) == {RAW, ZSTD}
    seen = []
    st = materialize_file(store, oid, size, tmp_path / "out.bin", progress=seen.append)
    assert (tmp_path / "out.bin").read_bytes() == data
    assert st.st_size == size and sum(seen) == size
    assert len(seen) <= size // BATCH + 2  # whole batches, not chunk by chunk
    assert not [p for p in os.listdir(tmp_path) if "art-tmp" in p]


def test_repeated_and_out_of_order_chunks_are_written_where_the_manifest_says(store, tmp_path):
    block, other = random_bytes(3 * MIB, 1), random_bytes(2 * MIB, 2).translate(TEXT)
    first = tmp_path / "first.bin"
    first.write_bytes(other + block)  # ``block``'s chunks are stored after ``other``'s
    add(store, first)
    data = block + other + block * 4 + other  # the same chunks again, backwards in the pack, repeated
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    oid, size = add(store, src)
    assert size >= LARGE_FILE
    materialize_file(store, oid, size, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data


def test_memory_stays_bounded_whatever_the_file_size(store, tmp_path):
    """Python allocations at the peak (every thread, tracemalloc) stay a few batches, below the file's size."""
    import tracemalloc

    src = tmp_path / "src.bin"
    src.write_bytes(random_bytes(LARGE_FILE + 4 * BATCH, 3))
    oid, size = add(store, src)
    tracemalloc.start()
    try:
        materialize_file(store, oid, size, tmp_path / "out.bin")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert hash_bytes((tmp_path / "out.bin").read_bytes()) == oid
    assert peak <= (materialize_large.IN_FLIGHT + 1) * BATCH < size


def flip_byte_of_chunk(store: LocalStore, chunk: str) -> None:
    loc = store.locate(chunk, Kind.CHUNK)
    path = store.pack_path(store.pack_name(loc.pack))
    with open(path, "r+b") as f:
        f.seek(loc.offset + loc.length // 2)
        b = f.read(1)
        f.seek(loc.offset + loc.length // 2)
        f.write(bytes([b[0] ^ 0x40]))


@pytest.mark.parametrize("codec", [RAW, ZSTD])
def test_a_damaged_chunk_fails_the_checkout_and_leaves_the_old_file(store, tmp_path, codec):
    src = tmp_path / "src.bin"
    src.write_bytes(mixed(LARGE_FILE + MIB))
    oid, size = add(store, src)
    chunks = [c for c, _ in store.file_chunks(oid, size)]
    victim = next(c for c in chunks[len(chunks) // 2 :] if store.locate(c, Kind.CHUNK).codec == codec)
    store.close()
    flip_byte_of_chunk(LocalStore(store.root), victim)
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"the old content")
    with LocalStore(store.root) as again, pytest.raises(CorruptObjectError):
        materialize_file(again, oid, size, dest)
    assert dest.read_bytes() == b"the old content"
    assert not [p for p in os.listdir(tmp_path) if "art-tmp" in p]


def test_a_truncated_pack_is_reported_as_corrupt(store, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(random_bytes(LARGE_FILE + MIB, 4))
    oid, size = add(store, src)
    last = store.file_chunks(oid, size)[-1][0]
    loc = store.locate(last, Kind.CHUNK)
    os.truncate(store.pack_path(store.pack_name(loc.pack)), loc.offset + 10)
    with pytest.raises(CorruptObjectError, match="truncated"):
        materialize_file(store, oid, size, tmp_path / "out.bin")
    assert not os.listdir(tmp_path / "store" / "tmp") and not (tmp_path / "out.bin").exists()


def test_a_missing_chunk_or_pack_names_what_is_missing(store, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(random_bytes(LARGE_FILE + MIB, 5))
    oid, size = add(store, src)
    chunks = store.file_chunks(oid, size)
    manifest = FileManifest(hash_bytes(b"x"), size + 1000, (*chunks, (hash_bytes(b"not stored"), 1000)))
    with store.writer() as w:
        w.put(manifest.oid, Kind.FILE, manifest.to_bytes())
    with pytest.raises(ObjectNotFoundError, match=hash_bytes(b"not stored")[:10]):
        materialize_file(store, manifest.oid, manifest.size, tmp_path / "a.bin")
    pack = store.pack_path(store.pack_name(store.locate(chunks[0][0], Kind.CHUNK).pack))
    store.close()
    pack.unlink()
    with LocalStore(store.root) as again, pytest.raises(LocalStoreError, match="missing from the store"):
        materialize_file(again, oid, size, tmp_path / "b.bin")
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".bin") and p != "src.bin"]


@pytest.mark.slow
def test_checkout_of_a_512_mib_file_stays_under_150_mb(tmp_path):
    """Peak RSS of the whole art process, with a file far larger than every buffer."""
    from tests.builders import write_random_file
    from tests.e2e.faultfs import art, make_repo, ok

    repo = make_repo(tmp_path / "repo")
    write_random_file(repo / "big.bin", 512 * MIB, seed=6)
    ok(art(repo, "add", "big.bin"))
    (repo / "big.bin").unlink()
    # a fresh parent whose only child is art: a child forked from this (large) test process would report the
    # parent's pages as its own peak, since Linux keeps the peak across exec
    peak_kib = int(
        subprocess.run(
            [sys.executable, "-c", PROBE, sys.executable, "-m", "artvc", "checkout", "big.bin"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert (repo / "big.bin").stat().st_size == 512 * MIB
    assert peak_kib * 1024 <= 150_000_000


@pytest.mark.parametrize("kind", ["text", "random"])  # zstd chunks written by pwrite, raw ones copied by the kernel
def test_a_full_disk_during_a_large_checkout_exits_13_and_leaves_nothing(tmp_path, kind):
    """The pool's pwrite or copy fails with ENOSPC (a real full tmpfs as root): one error line, no temp file."""
    from tests.e2e.faultfs import ROOT, art, make_repo, ok, one_error, tmpfs

    def run(repo, env):
        data = random_bytes(LARGE_FILE + 2 * MIB, 7)
        (repo / "t.txt").write_bytes(data.translate(TEXT) if kind == "text" else data)
        ok(art(repo, "add", "t.txt"))
        (repo / "t.txt").unlink()
        if ROOT:  # leave room for part of the file only
            free = os.statvfs(repo).f_bavail * os.statvfs(repo).f_frsize
            (repo / "filler").write_bytes(bytes(max(0, free - 6 * MIB)))
        r = art(repo, "checkout", env=env)
        one_error(r, 13, "no space left on device")
        assert not [p for p in os.listdir(repo) if "art-tmp" in p or p == "t.txt"]

    if ROOT:
        with tmpfs(tmp_path / "mnt", "48m") as mnt:
            run(make_repo(mnt / "repo"), {})
    else:
        run(make_repo(tmp_path / "repo"), {"ART_FAULT": "materialize.file-writing@2:enospc"})


def test_raw_runs_are_copied_by_the_kernel_and_verified_as_written(tmp_path):
    """Incompressible chunks go from the pack to the file without passing through art (copy_file_range); the
    whole-file hash is taken from the file itself, so a damaged raw chunk is still refused."""
    from tests.e2e.faultfs import art, make_repo, ok

    repo = make_repo(tmp_path / "repo")
    data = random_bytes(LARGE_FILE + BATCH + 5_000, 8)
    (repo / "r.bin").write_bytes(data)
    ok(art(repo, "add", "r.bin"))
    (repo / "r.bin").unlink()
    log = tmp_path / "faults.log"
    ok(art(repo, "checkout", env={"ART_FAULT_LOG": str(log), "ART_DIRECT_WRITES": "0"}))  # the page-cache path
    assert (repo / "r.bin").read_bytes() == data
    assert "materialize.raw-copied" in log.read_text().split()
    (repo / "r.bin").unlink()
    pack = max((repo / ".art" / "store" / "packs").rglob("*.pack"), key=lambda p: p.stat().st_size)
    damaged = bytearray(pack.read_bytes())
    damaged[len(data) // 2] ^= 1  # inside a raw chunk's stored bytes
    pack.write_bytes(bytes(damaged))
    r = art(repo, "checkout")
    assert r.returncode == 3 and r.stderr.startswith("art: error: "), r.stderr
    assert not [p for p in os.listdir(repo) if "art-tmp" in p or p == "r.bin"]


def test_a_store_on_another_file_system_is_read_and_written_instead(tmp_path, monkeypatch):
    """copy_file_range refuses between file systems (EXDEV): the raw runs are spliced by the kernel instead (on
    the page-cache path; direct writes read the packs anyway)."""
    from artvc.objstore import materialize_large
    from tests.e2e.faultfs import ROOT, tmpfs

    monkeypatch.setattr(materialize_large, "DIRECT", [False])

    data = random_bytes(LARGE_FILE + 3 * MIB, 9)

    def run(where):
        with LocalStore(where / "store") as s:
            src = tmp_path / "src.bin"
            src.write_bytes(data)
            oid, size = add(s, src)
            assert codecs(s, oid, size) == {RAW}
            st = materialize_file(s, oid, size, tmp_path / "out.bin")
            assert st.st_size == size and (tmp_path / "out.bin").read_bytes() == data

    if ROOT:
        with tmpfs(tmp_path / "mnt", "64m") as mnt:
            assert os.stat(mnt).st_dev != os.stat(tmp_path).st_dev
            run(mnt)
    else:
        run(tmp_path)


@pytest.mark.long
@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_a_large_file_is_handed_to_the_disk_as_it_is_written(tmp_path):
    """Checkout starts the writeback of a large file as it goes (``sync_file_range(SYNC_FILE_RANGE_WRITE)``, seen
    with strace), in order from its start, instead of leaving the whole file dirty in the page cache (before
    round 29: no such call), in requests of at least 64 MiB each (docs/design.md: an eighth of the calls of the
    8 MiB ones before round 34, the same bound on what is left dirty)."""
    from tests.e2e.faultfs import ART, art, make_repo, ok

    least = 64 * MIB
    repo = make_repo(tmp_path / "repo")
    size = least + 2 * BATCH + 12_345  # past the first request
    data = random_bytes(size, 21)
    (repo / "w.bin").write_bytes(data)
    ok(art(repo, "add", "w.bin"))
    (repo / "w.bin").unlink()
    at, calls = writeback_ranges(
        ["env", "ART_DIRECT_WRITES=0", *ART, "checkout", "w.bin"], repo, tmp_path / "strace.log", least
    )
    assert (repo / "w.bin").read_bytes() == data
    assert least <= at <= size, calls


def test_a_large_checkout_hashes_each_byte_once(store, tmp_path, monkeypatch):
    """The whole-file hash (from the written file) is the checkout's only hash: every byte goes through blake3
    once, not once per chunk and again for the file (blake3 lives in ``hashing`` only; it is wrapped here to
    count the bytes it is fed)."""
    import types

    from artvc.objstore import hashing

    real = hashing.blake3.blake3
    fed = [0]

    class Counting:
        AUTO = real.AUTO

        def __init__(self, data=b"", **kwargs):
            self._h = real(**kwargs)
            self.update(data)

        def update(self, data):
            fed[0] += memoryview(data).nbytes
            self._h.update(data)

        def hexdigest(self):
            return self._h.hexdigest()

        def digest(self):
            return self._h.digest()

    data = mixed(LARGE_FILE + 2 * BATCH + 777)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    oid, size = add(store, src)
    assert codecs(store, oid, size) == {RAW, ZSTD}
    monkeypatch.setattr(hashing, "blake3", types.SimpleNamespace(blake3=Counting))
    materialize_file(store, oid, size, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data
    assert fed[0] == size


@pytest.mark.long
def test_the_pool_never_writes_the_file_from_two_threads_at_once_through_the_page_cache(store, tmp_path, monkeypatch):
    """On the page-cache path the two pool threads decompress at once but take turns writing the file: the kernel
    serialises buffered writes to one file on its inode lock anyway, and a thread waiting there spins on the CPU
    (``rwsem_spin_on_owner``, 17 % of a 4 GiB checkout's CPU samples before). Every ``copy_file_range`` and
    ``pwritev`` is watched here, and made slow enough that two would overlap without the lock (they did
    before)."""
    import threading
    import time

    data = mixed(LARGE_FILE + 3 * BATCH + 4_321)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    oid, size = add(store, src)
    assert codecs(store, oid, size) == {RAW, ZSTD}
    guard, busy, most, calls = threading.Lock(), [0], [0], [0]
    from artvc.objstore import materialize_large

    monkeypatch.setattr(materialize_large, "DIRECT", [False])

    def watched(real):
        def call(*args):
            with guard:
                busy[0] += 1
                most[0], calls[0] = max(most[0], busy[0]), calls[0] + 1
            try:
                time.sleep(0.01)
                return real(*args)
            finally:
                with guard:
                    busy[0] -= 1

        return call

    monkeypatch.setattr(os, "copy_file_range", watched(os.copy_file_range))
    monkeypatch.setattr(os, "pwritev", watched(os.pwritev))
    materialize_file(store, oid, size, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data
    assert calls[0] > size // BATCH and most[0] == 1


@pytest.mark.parametrize("preallocated", [True, False])
def test_direct_writes_into_a_preallocated_file_run_at_once(store, tmp_path, monkeypatch, preallocated):
    """Around the page cache the file is preallocated first (``fileio.preallocate``), so its windows are
    overwrites, which ext4 lets two direct writes make at once (the disk gets two windows in its queue): the first
    window's direct ``pwritev`` here waits (up to 2 s) for a second one to start, which it does only when the
    writers do not take turns. Where the file could not be preallocated (``fallocate`` asked with an invalid mode,
    which the kernel refuses), they take turns as on the page-cache path, and the file is the same."""
    import ctypes
    import threading

    from artvc.objstore import fileio

    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        if fileio.in_memory(fd):
            pytest.skip("the test's folder is kept in memory: direct writes are off there by design")
    finally:
        os.close(fd)
    data = mixed(LARGE_FILE + 2 * BATCH + 4_321)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    oid, size = add(store, src)
    if not preallocated:  # libc's fallocate asked with an invalid mode: EINVAL, nothing allocated
        libc = ctypes.CDLL(None, use_errno=True)
        refused = libc.fallocate64
        refused.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        refused.restype = ctypes.c_int
        monkeypatch.setattr(fileio, "_fallocate", lambda fd, mode, at, n: refused(fd, -1, at, n))
    both = threading.Condition()
    busy, most, direct_calls = [0], [0], [0]
    real = os.pwritev

    def watched(fd, buffers, at, *flags):
        direct = len(buffers) == 1 and len(buffers[0]) == BATCH  # a whole window: the direct descriptor
        with both:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
            both.notify_all()
            if direct:
                direct_calls[0] += 1
                if direct_calls[0] == 1:  # the first window's write waits for the second's to start
                    both.wait_for(lambda: busy[0] >= 2, timeout=2.0)
        try:
            return real(fd, buffers, at, *flags)
        finally:
            with both:
                busy[0] -= 1

    monkeypatch.setattr(os, "pwritev", watched)
    materialize_file(store, oid, size, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data
    assert direct_calls[0] >= size // BATCH
    assert most[0] == (2 if preallocated else 1), most


@pytest.mark.long
@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("kind", ["text", "random"])
def test_a_large_file_is_hashed_from_the_buffers_it_was_written_from(tmp_path, kind, direct):
    """Direct writes (the default): every window is filled in a buffer, written from it around the page cache
    (``O_DIRECT``, a second descriptor of the temp file) and hashed from it; the file is never mapped back and
    nothing asks for its writeback. The page-cache path (``ART_DIRECT_WRITES=0``): zstd chunks are decompressed
    into the batch's buffer, written from it and hashed from it (no ``mmap`` of the temp file); raw runs the
    kernel copies (random data) never pass through art's memory and are hashed from the file, mapped: the
    control that the trace sees those maps."""
    from tests.e2e.faultfs import ART, art, make_repo, ok

    repo = make_repo(tmp_path / "repo")
    data = random_bytes(LARGE_FILE + 2 * BATCH + 5_000, 22)
    if kind == "text":
        data = data.translate(TEXT)
    (repo / "f.bin").write_bytes(data)
    ok(art(repo, "add", "f.bin"))
    with LocalStore(repo / ".art" / "store") as s:
        oid, size = hash_bytes(data), len(data)
        assert codecs(s, oid, size) == ({ZSTD} if kind == "text" else {RAW})
    (repo / "f.bin").unlink()
    log = tmp_path / "strace.log"
    env = ["env", f"ART_DIRECT_WRITES={int(direct)}"]
    trace = "trace=mmap,openat,sync_file_range"
    traced = ["strace", "-f", "-qq", "-y", "-e", trace, "-o", str(log), *env, *ART, "checkout", "f.bin"]
    r = subprocess.run(traced, cwd=repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (repo / "f.bin").read_bytes() == data
    lines = log.read_text().splitlines()
    maps = [line for line in lines if "mmap(" in line and "/.f.bin." in line]
    opened = [line for line in lines if "openat(" in line and "O_DIRECT" in line and "/.f.bin." in line]
    handed = [line for line in lines if "sync_file_range(" in line]
    if direct:
        assert not maps and len(opened) == 1 and not handed, (maps, opened, handed)
    elif kind == "text":
        assert not maps and not opened
    else:
        assert len(maps) >= size // BATCH and not opened, maps


@pytest.mark.parametrize("seed", range(4))
def test_windows_cover_the_file_once_at_aligned_offsets(seed):
    """Direct writes cut the file into ``BATCH``-byte windows at multiples of ``BATCH``: each lists exactly the
    chunks that overlap it, in order (a chunk across an edge in both; one larger than a window in all it
    spans), so the windows' bytes are the file's, each once."""
    import random

    from artvc.objstore.materialize_large import _windows
    from artvc.objstore.types import Location

    rng = random.Random(seed)
    sizes = [rng.choice([1, 4095, 4096, 70_000, BATCH - 1, BATCH, BATCH + 1, 2 * BATCH + 3]) for _ in range(60)]
    chunks = tuple((f"{i:064x}", n) for i, n in enumerate(sizes))
    locs = {c: Location(0, RAW, 0, n, n) for c, n in chunks}
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    total = sum(sizes)
    windows = list(_windows([(c, locs[c]) for c, _ in chunks]))
    assert [w[0] for w in windows] == list(range(0, total, BATCH))
    assert [w[1] for w in windows] == [min(total, w[0] + BATCH) for w in windows]
    for start, end, first, items in windows:
        want = [i for i, (at, n) in enumerate(zip(starts, sizes, strict=True)) if at < end and at + n > start]
        assert [c for c, _ in items] == [chunks[i][0] for i in want]
        assert first == starts[want[0]]


def test_delta_chunks_are_rebuilt_into_the_batch_and_hashed_with_it(store, tmp_path):
    """A large file may share chunks another file's add stored as deltas (codec 2): the store rebuilds them in
    the pool, they are copied into the batch's buffer between raw and zstd ones, and the file comes back whole
    and proved."""
    from artvc.objstore.store.delta import DELTA, encode_delta
    from tests.builders import csv_bytes

    first = csv_bytes(60_000, seed=3)
    blobs = [first, first[:30_000] + b"9999" + first[30_004:], first[:50_000] + b"1234" + first[50_004:]]
    oids = [hash_bytes(b) for b in blobs]
    with store.writer() as w:
        w.put(oids[0], Kind.CHUNK, blobs[0])
        for i in (1, 2):
            w.put_stored(
                oids[i], Kind.CHUNK, DELTA, encode_delta(blobs[i], oids[i - 1], blobs[i - 1], 3), len(blobs[i])
            )
    src = tmp_path / "src.bin"
    src.write_bytes(mixed(LARGE_FILE + MIB))
    big, size = add(store, src)
    chunks = store.file_chunks(big, size)
    cut = len(chunks) // 2
    deltas = tuple((o, len(b)) for o, b in zip(oids[1:], blobs[1:], strict=True))
    parts = (*chunks[:cut], *deltas, *chunks[cut:], deltas[0])
    data = src.read_bytes()
    at = sum(n for _, n in chunks[:cut])
    content = data[:at] + blobs[1] + blobs[2] + data[at:] + blobs[1]
    assert {store.locate(c, Kind.CHUNK).codec for c, _ in parts} == {RAW, ZSTD, DELTA}
    manifest = FileManifest(hash_bytes(content), len(content), parts)
    with store.writer() as w:
        w.put(manifest.oid, Kind.FILE, manifest.to_bytes())
    st = materialize_file(store, manifest.oid, manifest.size, tmp_path / "out.bin")
    assert st.st_size == len(content) and (tmp_path / "out.bin").read_bytes() == content


def test_a_file_on_tmpfs_is_written_through_the_page_cache_and_one_on_disk_around_it(store, tmp_path, monkeypatch):
    """tmpfs takes ``O_DIRECT`` but keeps its files in memory all the same: a checkout there takes the page-cache
    path (no ``O_DIRECT`` open; the kernel copies raw runs). On the disk's file system (the control) the file is
    opened ``O_DIRECT`` once. A tmpfs mounted for the test as root, else ``/dev/shm``."""
    import contextlib
    from pathlib import Path

    from artvc.objstore.fileio import in_memory
    from tests.e2e.faultfs import ROOT, tmpfs

    data = random_bytes(LARGE_FILE + BATCH + 777, 31)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    oid, size = add(store, src)
    direct = []
    real = os.open

    def watched(path, flags, *args, **kwargs):
        if flags & os.O_DIRECT:
            direct.append(path)
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", watched)
    mounted = tmpfs(tmp_path / "mnt", "64m") if ROOT else contextlib.nullcontext(Path("/dev/shm"))
    with mounted as mnt:
        out = mnt / f"art-test-{os.getpid()}.bin"
        try:
            fd = real(out, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                assert in_memory(fd)
            finally:
                os.close(fd)
                out.unlink()
            materialize_file(store, oid, size, out)
            assert out.read_bytes() == data
            assert not direct
        finally:
            out.unlink(missing_ok=True)
    fd = real(tmp_path / "probe", os.O_RDWR | os.O_CREAT, 0o600)
    on_disk = not in_memory(fd)
    os.close(fd)
    materialize_file(store, oid, size, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data
    assert len(direct) == (1 if on_disk else 0)
