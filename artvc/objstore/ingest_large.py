"""One large file into a store: a pipeline paced by its slowest stage, not by the sum of its stages.

blake3, zstd, FastCDC's cut loop and file reads release the GIL, so the stages run at once on every core:

- read and the whole-file hash (one thread): read the file in file order into the buffers of a small ring
  (``RING`` buffers of ``BUFFER`` bytes), ahead of the chunking, feeding the file hash each MiB as it arrives,
  while it is still in the CPU's cache. Each read (``_Reads``) first takes what the page cache holds without
  waiting (``preadv2`` with ``RWF_NOWAIT``): a file written or read lately costs its reads and nothing else.
  Only once a read misses is the kernel asked to read ``AHEAD`` buffers further ahead (``POSIX_FADV_WILLNEED``:
  a cold disk is read while the CPU works), before the read waits, and every later read moves that window on;
  where the file system cannot read without waiting (tmpfs), plain reads, each moving the window. The buffers
  are private anonymous mappings kept between files (``Spare``): the kernel zeroes only the pages a file fills,
  once, where a ``bytearray`` was zeroed whole for every file.
- chunk (the calling thread): FastCDC over each whole buffer (``Chunker.cut``). A chunk is cut only once
  ``max_size`` bytes follow its start, as ``Chunker.chunks`` would cut it, so boundaries and ids are the same;
  the unfinished tail (less than ``max_size`` bytes) is copied into the room left in front of the next buffer.
- per-chunk hash, presence and compression (the ingester's pool): one task per batch of chunks (``BATCH``
  bytes), one store query per batch, then zstd for each new chunk (from the ring buffer, no copy), unless the
  batch has shown that its data does not compress (``_Batch``: the incompressibility test). Delta candidates
  are the chunks of the previous version of the file at about the same offset (``near.Near``), none when there
  is no previous version: a large file is never sketched, so a first add costs what it costs without deltas.
  A batch whose candidates gave no delta ``MISS_RUN`` times in a row stops trying them (as for compression).
- pack writes (one thread): batches in file order, each chunk written once however often it occurs; a batch's
  new chunks go to the writer together (``StoreWriter.put_new_many``: one lock, and for the local store one
  ``writev`` of the batch), raw chunks straight from the ring buffer, without a copy. A buffer returns to the
  ring once its chunks are written. Where the store's file system takes it, the local store's pack is written
  around the page cache from the file's first chunks to its seal (``packer._PackFile.go_direct``: copied into
  page-aligned staging buffers, written with ``O_DIRECT``), instead: no copy into fresh page-cache pages.

Where the CPU goes (512 MiB of random data, ``perf record -e cpu-clock -g`` of whole adds, round 34, before the
direct pack writes of round 36, which took that copy's 56% on a fresh ext4 down to a ``memcpy``): the
kernel's copy into the pack 16-28% (the most variable part), FastCDC 14-17%, blake3 of the chunks 13-17% and of
the whole file 12-13%, the interpreter 11-14% and its start-up 5-8%, the kernel's copy out of the file 6-9%;
page faults, futexes, sqlite and zstd's sample tests a few percent each.

Memory in flight is bounded by the ring and the compressed copies of the batches in it, whatever the file's
size (the ring's buffers stay mapped for the next file: ``SPARE``, at most ``RING``); each byte of the file is
read once.
"""

from __future__ import annotations

import mmap
import os
import queue
import threading
from concurrent.futures import Executor, Future
from concurrent.futures import wait as wait_all
from io import FileIO
from typing import Protocol

from .chunking import Chunker, ChunkerParams
from .faults import fault_point
from .fileio import NOWAIT, NOWAIT_REFUSED, Spare, pread_cached, pread_into
from .hashing import ContentHasher, hash_bytes
from .near import Near
from .objects import Kind
from .oid import Oid
from .progress import SILENT, Progress
from .store.base import StoreWriter
from .store.delta import DELTA
from .store.pack import RAW, Compressor

BUFFER = 8 << 20  # bytes per buffer of the ring (at least twice the largest chunk)
_READ = 1 << 20  # bytes per read (hashed at once, while in the CPU's cache)
RING = 4  # buffers in flight: being read, chunked, hashed and compressed, written
AHEAD = 4  # buffers' worth of the file the kernel is asked to read ahead of the reader (``POSIX_FADV_WILLNEED``)
BATCH = 2 << 20  # chunk bytes per pool task
RAW_RUN = 4  # new chunks in a row that did not compress before a batch stops trying ...
REPROBE = 16  # ... except on every REPROBE-th new chunk, so data that turns compressible is compressed again
ZSTD_RUN = 4  # new chunks in a row that compressed before a batch compresses the next ones without the sample test
MISS_RUN = 4  # new chunks in a row whose delta candidates gave no delta before a batch stops trying them

# what a batch task returns per chunk: id, length, codec, payload to store (None: already stored)
Prepared = tuple[Oid, int, int, bytes | memoryview | None]
_CHUNK = int(Kind.CHUNK)


class IngestCounts(Protocol):
    """The counters ``stream_large`` adds to (``ingest.IngestStats``)."""

    new_objects: int
    new_bytes: int


def stream_large(
    path: str,
    writer: StoreWriter,
    params: ChunkerParams,
    compressor: Compressor,
    pool: Executor,
    *,
    progress: Progress = SILENT,
    stats: IngestCounts | None = None,
    buffer_size: int = BUFFER,
    ring: int = RING,
    batch: int = BATCH,
    previous: Near | None = None,
) -> tuple[Oid, int, list[tuple[Oid, int]]]:
    """Store the file at ``path`` through ``writer``; return (file id, size, [(chunk id, length), ...]).

    ``pool`` runs the batch tasks (its size is the ingest's ``jobs``). The manifest is the caller's to store.
    ``previous``: the chunks of the previous version of this file (delta candidates by position).

    Raises:
        OSError: when the file cannot be read (the caller names the file).
        ArtError: when the store cannot be written (as the writer raises it).
    """
    chunker = Chunker(params)
    room = params.max_size  # in front of the bytes read: where the tail of the previous buffer is carried
    size = max(buffer_size, 2 * params.max_size)
    with open(path, "rb", buffering=0) as f, _Pipeline(f, writer, compressor, pool, stats, ring, room, size) as pipe:
        pipe.previous, pipe.file_size = previous or None, os.fstat(f.fileno()).st_size
        carry = b""
        total = 0
        eof = False
        while not eof:
            buf, n, eof = pipe.next_read()
            start = room - len(carry)
            buf[start:room] = carry
            region = memoryview(buf)[start : room + n]
            lengths = chunker.cut(region, final=eof)
            end = sum(lengths)
            carry = bytes(region[end:])
            pipe.submit(buf, region[:end], lengths, batch, total)
            total += end
            progress.advance(bytes=end)
        chunks = pipe.finish()
    return pipe.oid(), total, chunks


def _advise(fd: int, offset: int, length: int, advice: int) -> None:
    """``posix_fadvise`` where the system has it and the file takes it (advice only: errors are ignored)."""
    if hasattr(os, "posix_fadvise"):
        try:
            os.posix_fadvise(fd, offset, length, advice)
        except OSError:
            pass


def _sequential(fd: int) -> None:
    """Tell the kernel the file is read once from start to end (a larger read-ahead), where it listens."""
    if hasattr(os, "POSIX_FADV_SEQUENTIAL"):
        _advise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)


def _will_need(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start reading ``length`` bytes at ``offset`` now, without waiting for them, a MiB per call
    (Linux reads at most one read-ahead window per call). A file that is not in the page cache (a large file on
    disk, written long ago) is then read with requests in flight well ahead of the reader, beyond the kernel's own
    read-ahead: measured in paired runs on this project's 2-core VM under heavy load, 512 MiB read cold from disk
    in 0.8-2.5 s against 1.6-4.7 s with plain reads, with less CPU (0.25-0.5 s against 0.35-1.0 s). Asked only
    where a read missed the page cache (``_Reads``): a cached file costs no call."""
    if hasattr(os, "POSIX_FADV_WILLNEED"):
        for at in range(offset, offset + length, _READ):
            _advise(fd, at, _READ, os.POSIX_FADV_WILLNEED)


class _Reads:
    """The reads of one file, at explicit offsets into the ring's buffers. Each first takes what the page cache
    holds without waiting (``fileio.pread_cached``: ``preadv2`` with ``RWF_NOWAIT``), which is all of a file
    written or read lately: no other call is made. Only once a read finds its first byte missing (a file on a
    disk, out of the cache) is the kernel asked to read the ``span`` bytes from there (``_will_need``), before
    the read waits for its bytes; from then on every read moves that window ahead of it (from where the last
    request ended: a ``posix_fadvise`` per MiB read, as every read made before round 34), so a cold file keeps
    its requests in flight instead of stalling again at the window's end. Where the kernel or the file system
    refuses such reads (``NOWAIT_REFUSED``: tmpfs, kernels before 4.14), the first refusal turns the rest of the
    file to plain reads, which move the window the same way."""

    __slots__ = ("fd", "span", "nowait", "missed", "advised")

    def __init__(self, fd: int, span: int) -> None:
        self.fd = fd
        self.span = span
        self.nowait = NOWAIT
        self.missed = False  # a read found the page cache without its bytes: the window follows the reads
        self.advised = 0  # the kernel was asked to read the file up to here

    def read(self, view: memoryview, at: int) -> int:
        """Read into ``view`` from offset ``at``: the bytes read (fewer when only some were cached), 0 at the end."""
        if self.nowait:
            try:
                got = pread_cached(self.fd, view, at)
            except OSError as exc:
                if exc.errno not in NOWAIT_REFUSED:
                    raise
                self.nowait = False  # this file cannot be read without waiting: plain reads from now on
                got = None
            if got is not None:
                if self.missed:
                    self._ahead(at)
                return got
        self.missed = True
        self._ahead(at)
        return pread_into(self.fd, view, at)

    def _ahead(self, at: int) -> None:
        start, end = max(at, self.advised), at + self.span
        if start < end:
            _will_need(self.fd, start, end - start)
            self.advised = end


SPARE = Spare(RING)


class _Pipeline:
    """The threads behind ``stream_large``: the reader (and file hasher) with its ring of buffers, and the pack
    writer."""

    def __init__(
        self,
        f: FileIO,
        writer: StoreWriter,
        compressor: Compressor,
        pool: Executor,
        stats: IngestCounts | None,
        ring: int,
        room: int,
        size: int,
    ) -> None:
        self.file = f
        self.writer = writer
        self.compressor = compressor
        self.pool = pool
        self.stats = stats
        self.room = room
        self.size = size
        self._spare = max(2, ring)  # buffers not taken yet
        self._owned: list[mmap.mmap] = []  # the buffers taken (from ``SPARE``), given back there at the end
        self._free: queue.Queue[mmap.mmap | None] = queue.Queue()
        self._read: queue.Queue[tuple[mmap.mmap, int, bool] | BaseException] = queue.Queue()
        self._queue: queue.Queue[tuple[mmap.mmap, list[Future[list[Prepared]]]] | None] = queue.Queue()
        self._hasher = ContentHasher()
        self._reader = threading.Thread(target=self._read_loop, name="art-file-reader", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="art-pack-writer", daemon=True)
        self._chunks: list[tuple[Oid, int]] = []
        self._written: set[Oid] = set()
        self._error: BaseException | None = None
        self._done = False
        self.previous: Near | None = None
        self.file_size = 0

    def __enter__(self) -> _Pipeline:
        self._writer.start()
        self._reader.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if not self._done:  # stopped early: stop the reader and the writer, wait for the tasks reading buffers
            self._error = self._error or RuntimeError("ingest stopped")
            self._free.put(None)
            self._reader.join()
            self._queue.put(None)
            self._writer.join()

    # -- the reader thread ---------------------------------------------------------------------------

    def _read_loop(self) -> None:
        """Fill buffers (after their first ``room`` bytes) with the file, in order, until its end."""
        try:
            fd = self.file.fileno()
            _sequential(fd)
            reads = _Reads(fd, (AHEAD + 1) * self.size)
            at = 0  # the file's offset of the next read
            eof = False
            while not eof:
                buf = self._take()
                if buf is None:
                    return
                view = memoryview(buf)[self.room :]
                n = 0
                while n < len(view):
                    got = reads.read(view[n : n + _READ], at)
                    if not got:
                        eof = True
                        break
                    self._hasher.update(view[n : n + got])  # while the bytes are still in the CPU's cache
                    n += got
                    at += got
                del view
                fault_point("ingest.large-read")
                self._read.put((buf, n, eof))
        except BaseException as exc:  # re-raised in the chunking thread
            self._read.put(exc)

    def _take(self) -> mmap.mmap | None:
        """A free buffer: one more (kept from an earlier file, or new) while the ring is not full, else the next
        one the writer gives back (None: stop)."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            if self._spare:
                self._spare -= 1
                self._owned.append(SPARE.take(self.room + self.size))
                return self._owned[-1]
        return self._free.get()

    # -- the chunking thread -------------------------------------------------------------------------

    def next_read(self) -> tuple[mmap.mmap, int, bool]:
        """The next buffer read: (buffer, bytes read after its first ``room`` bytes, end of file reached)."""
        self._check()
        item = self._read.get()
        if isinstance(item, BaseException):
            raise item
        self._check()
        return item

    def submit(self, buf: mmap.mmap, region: memoryview, lengths: list[int], batch: int, at: int) -> None:
        """Hand ``region`` (in ``buf``, at offset ``at`` of the file), cut into chunks of ``lengths``, to the
        pool."""
        tasks: list[Future[list[Prepared]]] = []
        start = offset = 0
        first = 0
        for i, length in enumerate(lengths):
            offset += length
            if offset - start >= batch or i == len(lengths) - 1:
                view, part = region[start:offset], lengths[first : i + 1]
                tasks.append(self.pool.submit(self._prepare, view, part, at + start))
                start, first = offset, i + 1
        self._queue.put((buf, tasks))

    def finish(self) -> list[tuple[Oid, int]]:
        """Wait for the reader and the writer; return the file's chunk list. The buffers, read by no one now, are
        kept for the next file."""
        self._done = True
        self._reader.join()
        self._queue.put(None)
        self._writer.join()
        self._check()
        SPARE.keep(self._owned)
        return self._chunks

    def oid(self) -> Oid:
        return self._hasher.oid()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    # -- the pool ------------------------------------------------------------------------------------

    def _prepare(self, view: memoryview, lengths: list[int], at: int) -> list[Prepared]:
        """Hash a batch of consecutive chunks (at offset ``at`` of the file), ask the store once which are new,
        and compress those."""
        pieces: list[memoryview] = []
        offset = 0
        for length in lengths:
            pieces.append(view[offset : offset + length])
            offset += length
        oids = [hash_bytes(piece) for piece in pieces]
        present = self.writer.present([(oid, Kind.CHUNK) for oid in oids])
        test = _Batch(self.compressor)
        walk = self.previous.walk(at, self.file_size) if self.previous is not None else None
        out: list[Prepared] = []
        for oid, piece in zip(oids, pieces, strict=True):
            near = walk.next(oid, len(piece)) if walk is not None else []
            if (oid, Kind.CHUNK) in present:
                out.append((oid, len(piece), 0, None))
            else:
                out.append((oid, len(piece), *test.pack(piece, oid, near)))
        return out

    # -- the writer thread ---------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while (item := self._queue.get()) is not None:
            buf, tasks = item
            try:
                if self._error is None:
                    for task in tasks:
                        self._store(task.result())
            except BaseException as exc:  # re-raised in the chunking thread
                self._error = exc
            finally:
                wait_all(tasks)  # nothing reads the buffer any more
                self._free.put(buf)

    def _store(self, prepared: list[Prepared]) -> None:
        """Record a batch's chunks in the file's list and write its new ones together (``put_new_many``)."""
        written = self._written
        new: list[tuple[Oid, int, int, bytes | memoryview, int]] = []
        for oid, length, codec, stored in prepared:
            if stored is not None and oid not in written:
                written.add(oid)
                new.append((oid, _CHUNK, codec, stored, length))
        self._chunks += [(oid, length) for oid, length, _, _ in prepared]
        if new:
            done = self.writer.put_new_many(new)
            if self.stats is not None:
                self.stats.new_objects += len(done)
                self.stats.new_bytes += sum(len(new[i][3]) for i in done)


class _Batch:
    """The incompressibility test of one batch. Each new chunk is first given the compressor's sample test
    (``Compressor.compressible``: zstd over 4 KiB of it), and only a chunk that passes is compressed: straight
    from the ring buffer (``Compressor.compress``), or from a copy when it has delta candidates
    (``Compressor.pack`` may keep what it is given). After ``RAW_RUN`` new chunks in a row were stored raw (the
    sample did not compress, or the whole chunk did not gain enough), the next ones are stored raw untried,
    except every ``REPROBE``-th one (when that one compresses, the batch goes back to trying every chunk).
    The other way round, after ``ZSTD_RUN`` new chunks in a row compressed, the next ones skip the sample test
    (zstd of the whole chunk decides: it stores the chunk raw when it does not gain 3%), until one is stored raw:
    text and tables pay no sample test beyond the first chunks of each batch.

    Delta candidates (``near``) are tried the same way: after ``MISS_RUN`` chunks in a row whose candidates gave
    no delta, the next ones are compressed without them, except every ``REPROBE``-th one.

    The decision is the batch's own, so the stored bytes do not depend on how the threads were scheduled.
    """

    __slots__ = ("_compressor", "_raw_run", "_zstd_run", "_skipped", "_misses", "_unmatched")

    def __init__(self, compressor: Compressor) -> None:
        self._compressor = compressor
        self._raw_run = 0
        self._zstd_run = 0
        self._skipped = 0
        self._misses = 0
        self._unmatched = 0

    def pack(self, piece: memoryview, oid: Oid, near: list[Oid]) -> tuple[int, bytes | memoryview]:
        if self._raw_run >= RAW_RUN:
            self._skipped += 1
            if self._skipped % REPROBE:
                return RAW, piece
        if self._zstd_run < ZSTD_RUN and not self._compressor.compressible(piece):  # the sample test, before a copy
            self._raw_run += 1
            return RAW, piece
        if near and self._misses >= MISS_RUN:
            self._unmatched += 1
            if self._unmatched % REPROBE:
                near = []
        stored: bytes | memoryview
        if near:  # a copy: a delta-aware compressor keeps what it is given (as a base for the chunks that follow)
            codec, stored = self._compressor.pack(bytes(piece), oid, near, tested=True)
        else:  # no delta to try: zstd straight from the ring buffer, no copy and no second sample test
            codec, stored = self._compressor.compress(piece)
        if near:
            self._misses = 0 if codec == DELTA else self._misses + 1
            if codec == DELTA:
                self._unmatched = 0
        if codec == RAW:
            self._raw_run += 1
            self._zstd_run = 0
            return RAW, piece
        self._raw_run = self._skipped = 0
        self._zstd_run += 1
        return codec, stored
