"""The large-file ingest pipeline (objstore/ingest_large.py): the same chunks and ids as ``Chunker.chunks``,
each byte read once, incompressible data spared the zstd attempts, failures in any thread reported cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from artvc.objstore.chunking import Chunker, ChunkerParams
from artvc.objstore.hashing import hash_bytes
from artvc.objstore.ingest import Ingester, IngestStats
from artvc.objstore.ingest_large import BATCH, RAW_RUN, REPROBE, ZSTD_RUN, stream_large
from artvc.objstore.objects import Kind
from artvc.objstore.store.local import LocalStore
from artvc.objstore.store.pack import RAW, ZSTD, Compressor
from artvc.objstore.verify import verify_store
from tests.builders import csv_bytes, random_bytes, write_random_file, writeback_ranges

ART = [sys.executable, "-m", "artvc"]
SMALL = ChunkerParams(min_size=1024, avg_size=4096, max_size=16384)  # many chunks per small buffer


class CountingCompressor(Compressor):
    """The store's compressor, counting the chunks it compresses (``calls``, and the types of what it was
    given), the sample tests it makes and the calls of ``pack`` (which may keep what it is given: a copy)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = self.probes = self.packs = 0
        self.given: set[type] = set()

    def compress(self, data):
        self.calls += 1
        self.given.add(type(data))
        return super().compress(data)

    def pack(self, data, oid=None, near=None, *, tested=False):
        self.packs += 1
        return super().pack(data, oid, near, tested=tested)

    def compressible(self, data):
        self.probes += 1
        return super().compressible(data)


def reference(path: Path, params: ChunkerParams) -> tuple[str, int, list[tuple[str, int]]]:
    """What ``Chunker.chunks`` (pyfastcdc's ``cut_stream``) cuts, and the file's blake3."""
    data = path.read_bytes()
    with open(path, "rb", buffering=0) as f:
        chunks = [(hash_bytes(v), len(v)) for v in Chunker(params).chunks(f)]
    return hash_bytes(data), len(data), chunks


def ingest(store, path, params, *, compressor=None, jobs=2, **kw):
    stats = IngestStats()
    with store.writer() as w, ThreadPoolExecutor(jobs) as pool:
        out = stream_large(str(path), w, params, compressor or store.compressor, pool, stats=stats, **kw)
    return out, stats


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "store", params=SMALL) as s:
        yield s


def check_stored(store, path, oid, chunks):
    data = path.read_bytes()
    got, offset = [], 0
    for c, n in chunks:
        got.append(store.get(c, Kind.CHUNK))
        assert len(got[-1]) == n and hash_bytes(got[-1]) == c
        offset += n
    assert b"".join(got) == data and hash_bytes(data) == oid


# buffers of 2 x max_size (the smallest the pipeline uses): sizes at and around buffer and chunk limits
BUF = 2 * SMALL.max_size
SIZES = [0, 1, SMALL.min_size - 1, SMALL.min_size, SMALL.min_size + 1, SMALL.max_size, SMALL.max_size + 1]
SIZES += [BUF - 1, BUF, BUF + 1, 2 * BUF - 7, 2 * BUF, 2 * BUF + SMALL.max_size, 7 * BUF + 12345]


@pytest.mark.parametrize("kind", ["random", "csv"])
def test_chunks_and_ids_are_those_of_the_stream_chunker_at_every_size(store, tmp_path, kind):
    make = random_bytes if kind == "random" else csv_bytes
    for size in SIZES:
        path = tmp_path / f"f{size}"
        path.write_bytes(make(size, seed=size))
        (oid, total, chunks), _ = ingest(store, path, SMALL, buffer_size=BUF, batch=3 * SMALL.avg_size)
        assert (oid, total, chunks) == reference(path, SMALL), size
        check_stored(store, path, oid, chunks)


@pytest.mark.long
def test_default_parameters_and_buffers_give_the_same_chunks_with_one_or_two_workers(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(random_bytes(9 << 20, seed=1) + csv_bytes(10 << 20, seed=2) + random_bytes(3 << 20, seed=3))
    params = ChunkerParams()
    expected = reference(path, params)
    for jobs, buffer_size in [(2, 8 << 20), (1, 1 << 20), (2, 3 << 20)]:
        with LocalStore(tmp_path / f"s{jobs}-{buffer_size}") as s:
            got, stats = ingest(s, path, params, jobs=jobs, buffer_size=buffer_size)
            assert got == expected
            check_stored(s, path, got[0], got[2])
            assert stats.new_objects == len({c for c, _ in got[2]})
            assert list(verify_store(s)) == []


def test_a_chunk_repeated_in_a_file_is_stored_once(store, tmp_path):
    block = random_bytes(200_000, seed=5)
    path = tmp_path / "rep"
    path.write_bytes(block * 12)
    (oid, size, chunks), stats = ingest(store, path, SMALL, buffer_size=BUF)
    assert len(chunks) > len({c for c, _ in chunks})  # the content repeats, so chunks do
    assert stats.new_objects == len({c for c, _ in chunks}) == store.stats()["objects"]
    check_stored(store, path, oid, chunks)
    # again: everything is stored already, nothing is written or compressed
    counting = CountingCompressor()
    (_, _, again), stats = ingest(store, path, SMALL, buffer_size=BUF, compressor=counting)
    assert again == chunks and stats.new_objects == 0 and counting.calls == counting.probes == 0


def codecs(store, chunks):
    return [store.get_stored(c, Kind.CHUNK)[0] for c, _ in chunks]


def codecs_from(stored, chunks, start: int) -> list:
    """Of the chunks' ``stored`` codecs, those of the chunks that begin at byte ``start`` of the file or later."""
    offsets = [sum(n for _, n in chunks[:i]) for i in range(len(chunks))]
    return [codec for codec, at in zip(stored, offsets, strict=True) if at >= start]


def test_incompressible_data_skips_most_zstd_attempts(tmp_path):
    path = tmp_path / "noise"
    path.write_bytes(random_bytes(4 << 20, seed=7))
    counting = CountingCompressor()
    params = ChunkerParams(min_size=9 << 10, avg_size=16 << 10, max_size=64 << 10)  # chunks big enough to sample
    with LocalStore(tmp_path / "store", params=params) as store:
        with store.writer() as w, Ingester(w, params, counting) as ing:
            oid, size = ing.add_file(path)
        chunks = list(store.file_chunks(oid, size))
        assert set(codecs(store, chunks)) == {RAW}
        check_stored(store, path, oid, chunks)
    batches = -(-size // BATCH) + 1  # and one more per buffer: a batch ends at its buffer's end
    tried = (RAW_RUN + 1) * batches + len(chunks) // REPROBE
    assert counting.calls <= 1  # no chunk but the last passed the sample test: none was copied and compressed
    assert counting.probes <= tried < len(chunks) / 4, (counting.probes, len(chunks))


def test_compressible_data_is_compressed_chunk_by_chunk_even_after_noise(store, tmp_path):
    path = tmp_path / "mixed"
    noise, text = random_bytes(1 << 20, seed=8), csv_bytes(1 << 20, seed=9)
    path.write_bytes(noise + text)
    counting = CountingCompressor()
    (oid, _, chunks), _ = ingest(store, path, SMALL, compressor=counting, buffer_size=BUF * 8, batch=BATCH)
    stored = codecs(store, chunks)
    text_chunks = codecs_from(stored, chunks, len(noise))
    # the batch that turned from noise to text tried again within REPROBE chunks and kept compressing
    assert text_chunks.count(ZSTD) >= len(text_chunks) - REPROBE
    assert text_chunks[-50:] == [ZSTD] * 50
    check_stored(store, path, oid, chunks)


def test_a_compressible_chunk_is_compressed_from_the_read_buffer_and_a_run_of_them_skips_the_sample(store, tmp_path):
    """With no delta candidate (a first add), a new chunk goes to zstd as a view of the ring buffer (no copy);
    the sample test is made only until ``ZSTD_RUN`` chunks in a row of a batch compressed."""
    path = tmp_path / "table.csv"
    path.write_bytes(csv_bytes(2 << 20, seed=10))
    counting = CountingCompressor()
    (oid, _, chunks), stats = ingest(store, path, SMALL, compressor=counting, buffer_size=BUF * 16, batch=BATCH)
    stored = codecs(store, chunks)
    assert stored.count(ZSTD) == stats.new_objects == len(chunks)  # every chunk is new and compresses
    assert counting.calls == len(chunks)
    batches = -(-(2 << 20) // (BUF * 16)) * 2  # at most two batches per buffer (a batch ends at its buffer's end)
    assert counting.probes <= ZSTD_RUN * batches < len(chunks) / 10, (counting.probes, len(chunks))
    assert counting.packs == 0 and counting.given == {memoryview}
    check_stored(store, path, oid, chunks)


def test_a_run_of_compressed_chunks_that_turns_to_noise_is_stored_raw(store, tmp_path):
    """Text, then noise in the same batch: the noise is found by zstd itself (the sample test was skipped), stored
    raw, and the batch goes back to sampling, so most of the noise is not compressed whole."""
    path = tmp_path / "mixed"
    text, noise = csv_bytes(256 << 10, seed=12), random_bytes(1 << 20, seed=13)
    path.write_bytes(text + noise)
    counting = CountingCompressor()
    (oid, _, chunks), _ = ingest(store, path, SMALL, compressor=counting, buffer_size=BUF * 8, batch=BATCH)
    stored = codecs(store, chunks)
    noise_chunks = codecs_from(stored, chunks, len(text))
    assert noise_chunks == [RAW] * len(noise_chunks)
    assert counting.calls < len(chunks) - len(noise_chunks) / 2  # the noise was not compressed chunk by chunk
    check_stored(store, path, oid, chunks)


def read_chars() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


def test_each_byte_of_a_large_file_is_read_once(tmp_path):
    path = tmp_path / "big"
    write_random_file(path, 64 << 20, seed=11)
    with LocalStore(tmp_path / "store") as s, s.writer() as w, Ingester(w, s.params, s.compressor) as ing:
        s.has_many([])  # the index is open before counting
        before = read_chars()
        oid, size = ing.add_file(path)
        read = read_chars() - before
    assert size == 64 << 20
    assert size <= read <= size + (1 << 20), read


@pytest.fixture
def repo(process_repo):
    return process_repo


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in (root / ".art" / "store" / "tmp").iterdir())


@pytest.mark.parametrize(
    "fault",
    ["ingest.large-read@3:eio", "store.pack-writing@40:enospc", "ingest.large-read@2:interrupt"],
    ids=["read-eio", "write-enospc", "interrupt"],
)
def test_a_failure_in_any_stage_is_one_error_and_leaves_nothing(repo, fault):
    write_random_file(repo / "big.bin", 40 << 20, seed=12)
    env = {**os.environ, "ART_FAULT": fault}
    r = subprocess.run([*ART, "add", "big.bin"], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    expected = 130 if "interrupt" in fault else 13
    assert r.returncode == expected, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines and lines[0].startswith("art: error:" if expected == 13 else "art:"), r.stderr
    assert "Traceback" not in r.stderr and len(lines) <= 2
    assert not (repo / "big.bin.art").exists()
    assert leftovers(repo) == []
    r = subprocess.run([*ART, "add", "big.bin"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*ART, "fsck"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def resident(path: Path, start: int, end: int) -> int:
    """How many pages of ``path`` in [start, end) are in the page cache (``mincore`` of a mapping, which reads
    nothing)."""
    import ctypes
    import mmap

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    length, pages = end - start, (end - start) // mmap.PAGESIZE
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, length, mmap.PROT_READ, mmap.MAP_SHARED, fd, start)
        assert addr not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()
        try:
            vec = (ctypes.c_ubyte * pages)()
            assert libc.mincore(addr, length, vec) == 0, ctypes.get_errno()
            return sum(v & 1 for v in vec)
        finally:
            libc.munmap(addr, length)
    finally:
        os.close(fd)


def test_a_file_that_is_not_in_the_page_cache_is_read_ahead_of_the_reader(repo):
    """A large file on disk, out of the page cache: the kernel is asked to read several buffers ahead of the
    reader (``POSIX_FADV_WILLNEED``), so a cold disk has many requests in flight while the CPU works. Seen in the
    page cache: an add killed right after its first 8 MiB were read leaves the file read up to 40 MiB."""
    import mmap
    import time

    path = repo / "big.bin"
    write_random_file(path, 64 << 20, seed=14)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # clean pages leave the page cache
    finally:
        os.close(fd)
    window = (32 << 20, 40 << 20)  # beyond the first buffer and the kernel's own read-ahead (up to 2 x 8 MiB)
    assert resident(path, *window) == 0, "the test needs a disk file system (tmpfs keeps every page)"
    env = {**os.environ, "ART_FAULT": "ingest.large-read@1:kill"}  # killed once the first buffer is read
    r = subprocess.run([*ART, "add", "big.bin"], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr
    wanted = (window[1] - window[0]) // mmap.PAGESIZE
    deadline = time.monotonic() + 30  # the read-ahead was started before the kill; its reads finish after it
    while resident(path, *window) < wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert resident(path, *window) == wanted


PROBE = (
    "import resource, subprocess, sys\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
    "assert r.returncode == 0, r.stderr\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


@pytest.mark.slow
def test_adding_a_1_gib_file_stays_under_150_mb_rss(repo):
    write_random_file(repo / "big.bin", 1 << 30, seed=13)
    try:
        out = subprocess.run(
            [sys.executable, "-c", PROBE, *ART, "add", "big.bin"], cwd=repo, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        peak = int(out.stdout) / 1024
        assert 10 < peak < 150, f"peak RSS {peak:.0f} MiB"
    finally:
        (repo / "big.bin").unlink()


def test_ids_chunk_boundaries_and_manifest_of_a_seeded_file_are_pinned(tmp_path):
    """The store format pinned: file id, chunk boundaries and ids, and the manifest's id and bytes of a seeded
    24 MiB file (random, then CSV: raw and compressed chunks), with the default parameters and buffers."""
    import blake3

    from artvc.objstore.objects import FileManifest

    path = tmp_path / "seeded"
    path.write_bytes(random_bytes(9 << 20, seed=21) + csv_bytes(15 << 20, seed=22))
    with LocalStore(tmp_path / "store") as s:
        with s.writer() as w, Ingester(w, s.params, s.compressor) as ing:
            oid, size = ing.add_file(path)
        chunks = list(s.file_chunks(oid, size))
        manifest = s.get(oid, Kind.FILE)
        check_stored(s, path, oid, chunks)
    assert size == 24 << 20
    assert oid == hash_bytes(path.read_bytes())
    assert manifest == FileManifest(oid, size, tuple(chunks)).to_bytes()
    lengths = blake3.blake3(b"".join(n.to_bytes(4, "little") for _, n in chunks)).hexdigest()
    ids = blake3.blake3("".join(c for c, _ in chunks).encode()).hexdigest()
    got = (len(chunks), oid[:16], lengths[:16], ids[:16], hash_bytes(manifest)[:16])
    assert got == PINNED, got


PINNED = (323, "79a8d0191256e47a", "5cb7b86c723695d0", "a770f0156a826778", "ea42c2102a0d16c1")


def test_a_pack_is_handed_to_the_disk_as_it_grows(repo, tmp_path):
    """On the page-cache path (``ART_DIRECT_WRITES=0``; direct writes leave nothing dirty, test_direct_packs.py),
    the local store's pack is written back as it is written, every ``WRITEBACK`` bytes
    (``sync_file_range(SYNC_FILE_RANGE_WRITE)``, seen with strace), not left to pile up as dirty pages that the
    kernel writes in bursts or that an fsync must wait for; the ranges follow each other from the pack's start
    (one may cover several ``WRITEBACK`` when the disk kept the writeback thread busy)."""
    from artvc.objstore.store.packer import WRITEBACK

    write_random_file(repo / "big.bin", 40 << 20, seed=15)
    cmd = ["env", "ART_DIRECT_WRITES=0", *ART, "add", "big.bin"]
    at, calls = writeback_ranges(cmd, repo, tmp_path / "strace.log", WRITEBACK)
    assert at <= (40 << 20) + (1 << 20), calls
    r = subprocess.run([*ART, "fsck"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def nowait_reads(path: Path) -> bool:
    """Whether the file system of ``path`` reads from the page cache without waiting (``RWF_NOWAIT``; tmpfs
    refuses)."""
    import errno

    fd = os.open(path, os.O_RDONLY)
    try:
        os.preadv(fd, [bytearray(1)], 0, os.RWF_NOWAIT)
    except BlockingIOError:
        return True
    except OSError as exc:
        assert exc.errno == errno.EOPNOTSUPP, exc
        return False
    finally:
        os.close(fd)
    return True


def test_a_cached_file_is_read_without_waiting_and_without_read_ahead_requests(repo, tmp_path):
    """A file in the page cache (written just now) is read with ``preadv2(RWF_NOWAIT)`` alone, seen with strace:
    the reads cover the file and the kernel is never asked to read ahead (``POSIX_FADV_WILLNEED``: 88 calls for
    these 40 MiB when every read asked), only told once that the file is read in order."""
    size = 40 << 20
    write_random_file(repo / "big.bin", size, seed=16)
    assert nowait_reads(repo / "big.bin"), "the test needs a disk file system (tmpfs refuses RWF_NOWAIT)"
    log = tmp_path / "strace.log"
    traced = ["strace", "-f", "-qq", "-e", "trace=fadvise64,preadv2", "-o", str(log), *ART, "add", "big.bin"]
    r = subprocess.run(traced, cwd=repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    calls = log.read_text().splitlines()
    advice = [line for line in calls if "fadvise64(" in line]
    reads = [line for line in calls if "preadv2(" in line and "RWF_NOWAIT" in line]
    assert len(advice) == 1 and "POSIX_FADV_SEQUENTIAL" in advice[0], advice
    assert sum(int(line.rsplit("=", 1)[1]) for line in reads) == size, reads
    assert len(reads) == size // (1 << 20) + 1  # a MiB a read, and the one that finds the end
    r = subprocess.run([*ART, "fsck"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("answer", ["EOPNOTSUPP", "EINVAL", "EAGAIN", "EAGAIN-once"])
def test_where_reads_cannot_skip_the_wait_the_file_is_read_plainly_and_asked_ahead(
    store, tmp_path, monkeypatch, answer
):
    """The kernel's answers to ``RWF_NOWAIT`` (``os.preadv`` with flags; the OS, not our code, is stood in for):
    a refusal (``EOPNOTSUPP``: tmpfs; ``EINVAL``: a kernel without the flag) is met once per file, the rest is read
    with plain reads, each asking the kernel to read ahead; a miss (``EAGAIN``: not in the page cache) asks the
    kernel to read ahead from there and waits for the bytes, and the next read tries without waiting again; after
    one miss (the first read of a file out of the page cache) the reads that find their bytes cached keep
    asking ahead of themselves, so the window follows the reader to the file's end. The chunks and ids are those
    of the stream chunker either way."""
    import errno

    path = tmp_path / "f"
    size = 5 * BUF + 777
    path.write_bytes(random_bytes(size, seed=17))
    real, calls, advised = os.preadv, {"nowait": 0, "plain": 0}, []

    def preadv(fd, buffers, offset, flags=0):
        if not flags:
            calls["plain"] += 1
            return real(fd, buffers, offset)
        calls["nowait"] += 1
        if answer == "EAGAIN-once" and calls["nowait"] > 1:
            return real(fd, buffers, offset, flags)
        raise OSError(getattr(errno, answer.split("-")[0]), answer)

    monkeypatch.setattr(os, "preadv", preadv)
    fadvise = os.posix_fadvise
    monkeypatch.setattr(
        os, "posix_fadvise", lambda fd, at, n, advice: (advised.append((at, advice)), fadvise(fd, at, n, advice))
    )
    (oid, total, chunks), _ = ingest(store, path, SMALL, buffer_size=BUF, batch=3 * SMALL.avg_size)
    assert (oid, total, chunks) == reference(path, SMALL)
    check_stored(store, path, oid, chunks)
    buffers = -(-size // BUF) + 1  # the last read of each buffer fills it; the end is found by one more read
    assert calls["plain"] == (1 if answer == "EAGAIN-once" else buffers)
    assert calls["nowait"] == (1 if answer in ("EOPNOTSUPP", "EINVAL") else buffers)
    will_need = [at for at, advice in advised if advice == os.POSIX_FADV_WILLNEED]
    assert will_need and will_need == sorted(set(will_need)) and will_need[0] == 0  # each range asked once
    assert len(will_need) == buffers  # the window moved with every read (the first one asked 0-160 KiB at once)


@pytest.mark.parametrize("keep", [4, 0])
def test_read_buffers_are_mappings_kept_from_one_file_to_the_next(store, tmp_path, monkeypatch, keep):
    """The ring's buffers are anonymous mappings kept between files (``SPARE``): a second file is read into the
    same ones, which the kernel does not fault in and zero again (a new ``bytearray`` per file did both for all
    of it). Observed by the page faults of the second file's ingest; the control keeps no buffer (a ``Spare``
    of limit 0), and its second file faults in at least every page it reads."""
    import mmap
    import resource

    from artvc.objstore import ingest_large

    monkeypatch.setattr(ingest_large, "SPARE", ingest_large.Spare(keep))
    paths = [tmp_path / "a", tmp_path / "b"]
    for seed, path in enumerate(paths):
        path.write_bytes(random_bytes(2 << 20, seed=30 + seed))
    params = ChunkerParams()
    ingest(store, paths[0], params)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    got, _ = ingest(store, paths[1], params)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert got == reference(paths[1], params)
    pages = (2 << 20) // mmap.PAGESIZE
    if keep:
        assert faults < pages, faults  # fewer than the file's pages: the buffer was not faulted in again
    else:
        assert faults >= pages, faults
