"""Large files back into place at the speed of the disk: copy, decompress and write in parallel, hash in order.

``materialize_file`` hands files of ``LARGE_FILE`` bytes or more here (from a local store); the file's chunks are
located with one batched query. Where the file system takes them (``DIRECT``), the writes go around the page cache
(``O_DIRECT``): the file is cut into windows of ``BATCH`` bytes at multiples of ``BATCH`` (``_windows``), a pool
thread fills one window's page-aligned buffer (raw runs read into place, zstd chunks decompressed into place, a
chunk across the window's edge decompressed aside and its part copied) and writes it with one direct write
(``OutFile.write_direct``; the file's last unaligned bytes through the ordinary descriptor), and the calling thread
hashes each window from its buffer, in file order. The file is allocated whole first (``fileio.preallocate``), so
each window is an overwrite, which the two pool threads write at once (two windows in the disk's queue, not one).
The lazy pull writes a directory remote's large files the same way (``write_windows``, ``remote_file``). Nothing is
copied into the page cache, whose fresh pages cost most of a ``cp`` on the reference VM (docs/design.md, "The way
back of a large file"), and nothing is left dirty.

Otherwise (a file system that refuses ``O_DIRECT`` or lives in memory, or ``core.direct_writes = false`` or
``ART_DIRECT_WRITES=0``), the page-cache path: the chunks are cut into batches of about ``BATCH`` bytes in file
order. Two pool threads each write one batch at its place in the file, every write under one lock (``OutFile``):

- a run of raw chunks stored back to back in one pack (incompressible data) is copied from the pack to the file
  by the kernel (``os.copy_file_range``: no trip through this process's memory, as ``cp`` does it); where the
  kernel cannot (another filesystem, an old kernel) it is read into the batch's buffer with one ``preadv`` and
  written from there;
- zstd chunks are read in one range and decompressed straight into their place in the batch's buffer
  (``store.pack.unzstd_into``: no new object per chunk, no page faults on fresh memory; zstd releases the GIL,
  so both threads decompress at once); raw chunks among them are copied in beside them. The buffer is written
  with ``pwritev`` every ``HOT`` bytes, while zstd's output is still in the core's cache (a whole batch
  written at once is copied into the page cache from RAM).

The calling thread then hashes each written batch, in file order: the bytes that passed through this process
*from the buffer they were written from* (once ``pwritev`` took all of them, so what is hashed is what the
file was given, with no mapping to set up and no page of the file faulted back), and the runs the kernel
copied, which never were in this process's memory, *from the file itself* (mapped read-only, so no copy).
The whole-file blake3 is the verification of what was written, which the caller compares with the file's id
before the file is renamed into place. At most ``IN_FLIGHT`` batches are in flight and at most one run is
mapped at a time, so memory stays bounded whatever the file's size. That hash is the only one: each byte is
hashed once (no per-chunk blake3; the whole-file hash proves every chunk's bytes as written). Hashed batches
are handed to the disk as they go, every ``WRITEBACK`` bytes (``Writeback``), so a multi-GiB file does not
pile up as dirty pages.

Objects stored with a codec other than raw and zstd (deltas) are rebuilt by ``LocalStore.get``, in the pool,
and copied into the batch's buffer.
"""

from __future__ import annotations

import errno
import mmap
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from ..errors import CorruptObjectError, FormatError, ObjectNotFoundError
from .faults import fault_point
from .fileio import (
    DIRECT,
    KERNEL_COPY,
    DirectFile,
    aligned_buffer,
    kernel_copy,
    preallocate,
    pwrite_all,
    start_writeback,
)
from .hashing import ContentHasher
from .objects import Kind
from .oid import Oid
from .store.local import LocalStore
from .store.pack import RAW, ZSTD, check_entry, unzstd_into
from .types import Location

if TYPE_CHECKING:
    from concurrent.futures import Future

Progress = Callable[[int], object]

LARGE_FILE = 16 << 20  # from this size on a file is written by ``write_large``
BATCH = 8 << 20  # bytes of file content per pool task (one buffer, hashed in one go)
IN_FLIGHT = 3  # buffers in use at once: two being filled, one being hashed
THREADS = 2
HOT = 256 << 10  # bytes put in a batch's buffer between two writes: still in the core's cache when written
WRITEBACK = 64 << 20  # verified bytes between two requests to start their writeback (docs/design.md: why 64 MiB)

# large files are written around the page cache (``fileio.DIRECT``: O_DIRECT; docs/design.md, "The way back of a
# large file"), unless ART_DIRECT_WRITES=0 asks for the page-cache path (copy_file_range, HOT writes, writeback
# requests)

# One batch: (file offset, [(chunk id, location)])
_Batch = tuple[int, list[tuple[Oid, Location]]]
# One window of a direct write: (its start, its end, the file offset of its first chunk, the chunks overlapping it)
_Window = tuple[int, int, int, list[tuple[Oid, Location]]]
# One written batch: (file offset, length, its buffer, the (start, end) offsets in it of the runs the kernel copied
# into the file, which the buffer does not hold)
_Filled = tuple[int, int, bytearray | mmap.mmap, list[tuple[int, int]]]


def write_large(store: LocalStore, oid: Oid, size: int, fd: int, progress: Progress | None = None) -> tuple[Oid, int]:
    """Write file ``oid`` (``size`` bytes by its pointer) to the open, empty file ``fd`` (opened for reading
    and writing); return the hash of what the file now holds and its length, for the caller to check against
    ``oid`` and ``size``.

    Raises:
        ObjectNotFoundError: when a chunk is not stored.
        CorruptObjectError: when the index or a pack is damaged (the content's hash is the caller's check).
        OSError: when reading a pack or writing ``fd`` fails.
    """
    chunks = store.file_chunks(oid, size)
    locs = _locate(store, chunks)
    hasher = ContentHasher()
    direct = DirectFile.open(fd) if DIRECT[0] and store.direct else None
    if direct is not None:
        written = write_windows(store, [(c, locs[c]) for c, _ in chunks], direct, hasher, progress)
        return hasher.oid(), written
    free: queue.SimpleQueue[bytearray | mmap.mmap] = queue.SimpleQueue()
    room = max(BATCH, *(loc.raw_length for loc in locs.values()))
    for _ in range(IN_FLIGHT):
        free.put(bytearray(room))
    written = _pipeline(_batches(chunks, locs), _fill, store, OutFile(fd), hasher, free, progress, Writeback(fd))
    return hasher.oid(), written


def write_windows(
    source: WindowSource,
    items: Sequence[tuple[Oid, Location]],
    direct: DirectFile,
    hasher: ContentHasher,
    progress: Progress | None,
    fault: str = "materialize.file-writing",
) -> int:
    """Write a file's chunks (``items``: each chunk's id and where ``source`` stores it, in file order) around the
    page cache through ``direct`` (closed here), in windows of ``BATCH`` bytes filled by the pool and hashed by
    ``hasher`` in file order from their buffers (module docstring); return the bytes written. The checkout's
    (``write_large``) and the lazy pull's (``remote_file``, whose ``source`` reads a directory remote's packs) way
    of writing a large file direct. ``fault`` names the fault point passed after each window's hash.

    Raises:
        CorruptObjectError: a pack shorter than its index says, a chunk that does not decompress to its length
            (or what ``source`` raises for them).
        OSError: when reading a pack or writing the file fails.
    """
    free: queue.SimpleQueue[bytearray | mmap.mmap] = queue.SimpleQueue()
    for _ in range(IN_FLIGHT):  # page-aligned, as direct writes want them
        free.put(aligned_buffer(BATCH))
    try:
        # allocated first, the windows are overwrites, which the two writers may make at once (``OutFile``)
        together = preallocate(direct.buffered, sum(loc.raw_length for _, loc in items))
        out = OutFile(direct.buffered, direct, together=together)
        return _pipeline(_windows(items), _fill_window, source, out, hasher, free, progress, None, fault)
    finally:
        direct.close()


def _pipeline(
    work: Iterator[_Batch] | Iterator[_Window],
    fill: Callable[..., _Filled],
    source: WindowSource,
    out: OutFile,
    hasher: ContentHasher,
    free: queue.SimpleQueue[bytearray | mmap.mmap],
    progress: Progress | None,
    disk: Writeback | None,
    fault: str = "materialize.file-writing",
) -> int:
    """The pool fills and writes ``work``'s batches or windows (``fill``, one buffer of ``free`` each, at most
    ``IN_FLIGHT`` at once) while this thread hashes each written one in file order (``_take``) and hands it to
    the disk (``disk``, on the page-cache path); return the bytes written."""
    from concurrent.futures import ThreadPoolExecutor  # here: a checkout of small files never loads it

    written = 0
    pending: deque[Future[_Filled]] = deque()
    with ThreadPoolExecutor(THREADS, thread_name_prefix="art-materialize") as pool:
        try:
            for batch in work:
                if len(pending) >= IN_FLIGHT:
                    written += _take(out.fd, pending.popleft(), hasher, free, progress, fault)
                    if disk:
                        disk.advance(written)
                pending.append(pool.submit(fill, source, out, batch, free.get()))
            while pending:
                written += _take(out.fd, pending.popleft(), hasher, free, progress, fault)
                if disk:
                    disk.advance(written)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
        finally:
            if disk:
                disk.close()
    return written


class Writeback:
    """Hands the file's bytes to the disk as they are written and hashed, every ``WRITEBACK`` bytes
    (``fileio.start_writeback``, as the store's packs are): the disk writes while the rest is copied, instead of
    the file piling up as dirty pages that the kernel writes later in bursts, or, past its dirty limit (about
    3.4 GB on the reference machine), makes the checkout wait for. The requests go to a thread of their own (one
    waits while the disk's queue is full); while it is busy, a range waits for the next request, which covers it."""

    __slots__ = ("_fd", "_kicked", "_queue", "_thread")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._kicked = 0  # bytes whose writeback was requested
        self._queue: queue.Queue[tuple[int, int] | None] | None = None
        self._thread: threading.Thread | None = None

    def advance(self, end: int) -> None:
        """The file's first ``end`` bytes are written."""
        if end - self._kicked < WRITEBACK:
            return
        if self._queue is None:
            self._queue = queue.Queue(1)
            self._thread = threading.Thread(target=self._run, name="art-materialize-writeback", daemon=True)
            self._thread.start()
        try:
            self._queue.put_nowait((self._kicked, end - self._kicked))
        except queue.Full:
            return
        self._kicked = end

    def _run(self) -> None:
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            start_writeback(self._fd, *item)

    def close(self) -> None:
        """Wait for the request being made (the file is closed after this)."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()


def _take(
    fd: int,
    fut: Future[_Filled],
    hasher: ContentHasher,
    free: queue.SimpleQueue[bytearray | mmap.mmap],
    progress: Progress | None,
    fault: str,
) -> int:
    """Hash one written batch (batches are taken in file order) and give its buffer back: from the buffer it
    was written from, except the runs the kernel copied, which are hashed from the file."""
    at, n, buf, copied = fut.result()
    view = memoryview(buf)
    done = 0
    for start, end in copied:
        hasher.update(view[done:start])
        _hash_written(fd, at + start, hasher, view[start:end])
        done = end
    hasher.update(view[done:n])
    view.release()
    free.put(buf)
    fault_point(fault)
    if progress:
        progress(n)
    return n


def _hash_written(fd: int, at: int, hasher: ContentHasher, room: memoryview) -> None:
    """Feed ``len(room)`` bytes of the file ``fd`` from ``at`` to ``hasher``: mapped (no copy), or read into
    ``room`` (the part of the batch's buffer the kernel's copy left unused) where the file cannot be mapped."""
    n = len(room)
    if not n:
        return
    start = at - at % mmap.ALLOCATIONGRANULARITY
    try:
        mapped = mmap.mmap(fd, at + n - start, mmap.MAP_SHARED, mmap.PROT_READ, offset=start)
    except (OSError, ValueError):
        mapped = None
    if mapped is not None:
        with mapped, memoryview(mapped) as view:
            hasher.update(view[at - start :])
        return
    done = 0
    while done < n:
        got = os.preadv(fd, [room[done:]], at + done)
        if not got:
            raise OSError(errno.EIO, "the file being written came out short")
        done += got
    hasher.update(room)


def _locate(store: LocalStore, chunks: tuple[tuple[Oid, int], ...]) -> dict[Oid, Location]:
    """Where each distinct chunk is (``locate_chunks``: one index query per few hundred ids, in order, no key
    object per id; this runs before the first batch is written, so it is on the checkout's critical path: ~30 ->
    ~20 ms for a 512 MiB file of 6,700 chunks), every location checked once, as ``get`` checks it.

    Raises:
        ObjectNotFoundError: when a chunk is not stored (CorruptObjectError when fsck quarantined it).
        CorruptObjectError: when the index holds an impossible location.
    """
    locs: dict[Oid, Location] = {}
    for (chunk, _), row in zip(chunks, store.locate_chunks([c for c, _ in chunks]), strict=True):
        if chunk in locs:
            continue
        if row is None:
            store.raise_if_quarantined(chunk, Kind.CHUNK)
            raise ObjectNotFoundError(chunk, Kind.CHUNK.label)
        loc = locs[chunk] = Location._make(row)
        try:
            if loc.codec in (RAW, ZSTD):  # other codecs are read through ``LocalStore.get``, which checks them
                check_entry(int(Kind.CHUNK), loc.codec, loc.offset, loc.length, loc.raw_length)
        except FormatError as exc:
            raise CorruptObjectError(
                chunk, f"index.db: {exc}", hint="run 'art fsck' to rebuild the index from the packs"
            ) from exc
    return locs


def _batches(chunks: tuple[tuple[Oid, int], ...], locs: dict[Oid, Location]) -> Iterator[_Batch]:
    """The file's chunks cut into batches of at most ``BATCH`` bytes (or one larger chunk), in file order."""
    offset = filled = 0
    batch: list[tuple[Oid, Location]] = []
    for chunk, _ in chunks:
        loc = locs[chunk]
        if batch and filled + loc.raw_length > BATCH:
            yield offset, batch
            offset += filled
            batch, filled = [], 0
        batch.append((chunk, loc))
        filled += loc.raw_length
    if batch:
        yield offset, batch


_SCRATCH = threading.local()  # .buf: a pool thread's buffer for compressed runs, reused across batches


def _scratch(n: int) -> memoryview:
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or len(buf) < n:
        buf = _SCRATCH.buf = bytearray(max(n, BATCH))
    return memoryview(buf)[:n]


class OutFile:
    """The file being written and the lock its writes take turns on: one write (``copy_file_range`` or
    ``pwritev``) into the file at a time. The kernel holds the file's inode lock for each write anyway, and a
    second writer waiting for it spins on it while the first copies (``rwsem_spin_on_owner``: 17 % of a 4 GiB
    random checkout's CPU samples on a journaled ext4, on a 2-core machine whose other core hashes): waiting on
    this lock instead sleeps. Reads and decompression still run in both threads at once. The lazy pull's
    writers (``remote_file``) share it."""

    __slots__ = ("direct", "fd", "lock", "together")

    def __init__(self, fd: int, direct: DirectFile | None = None, *, together: bool = False) -> None:
        self.fd = fd
        self.direct = direct  # the file's direct writes (``write_direct``), where they are used
        self.lock = threading.Lock()
        self.together = together  # the file is preallocated: direct writes need not take turns

    def write_direct(self, view: memoryview, at: int) -> None:
        """``DirectFile.write`` of ``view`` (from a page-aligned buffer) at ``at`` (a multiple of ``ALIGN``): the
        aligned part around the page cache, the file's last bytes through ``fd``. Under the lock, unless the file
        was preallocated (``together``): direct writes into allocated blocks run at once under the inode's shared
        lock (ext4, XFS), so the disk has two windows in its queue instead of one (``fileio.preallocate``)."""
        assert self.direct is not None, "write_direct on a file opened without direct writes"
        if self.together:
            self.direct.write(view, at)
            return
        with self.lock:
            self.direct.write(view, at)

    def write(self, view: memoryview, at: int) -> None:
        """Write all of ``view`` at ``at`` in the file, under the lock."""
        with self.lock:
            pwrite_all(self.fd, view, at)

    def copy(self, src: int, length: int, src_at: int, at: int) -> int | None:
        """``fileio.kernel_copy`` of ``src``'s range into the file at ``at``, under the lock."""
        with self.lock:
            return kernel_copy(src, self.fd, length, src_at, at)


class Stored(Protocol):
    """A stored object's entry as ``unpack_run`` reads it (an index ``Location``, a remote ``PackEntry``)."""

    @property
    def codec(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def length(self) -> int: ...
    @property
    def raw_length(self) -> int: ...


class WindowSource(Protocol):
    """Where ``_fill_window`` reads a file's chunks, by ``Location``: the local store, or a directory remote's
    packs numbered for one file (``remote_file``)."""

    def read_stored_into(self, pack: int, offset: int, into: memoryview) -> int: ...
    def pack_name(self, pack: int) -> str: ...
    def get(self, oid: Oid, kind: Kind) -> bytes: ...


class UnpackError(FormatError):
    """A chunk of a run that does not decompress to its length, or whose codec is neither raw nor zstd;
    ``index`` is its place in the run."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def unpack_run(
    stored: memoryview, first: int, run: Sequence[Stored], buf: memoryview, pos: int, held: int, out: OutFile, at: int
) -> tuple[int, int]:
    """Put the content of ``run`` (chunks stored back to back from pack offset ``first``, its bytes in
    ``stored``; raw ones copied, zstd ones decompressed in place) in ``buf`` from ``pos`` on, and write what is
    gathered (``buf[held:]``) at ``at`` + its offset in ``out`` every ``HOT`` bytes, while still in the core's
    cache (a whole batch written at once would be copied from RAM). Return the new ``pos`` and ``held``: the
    caller writes the rest. The checkout (``_fill``) and the lazy pull (``remote_file``) both unpack this way.

    Raises:
        UnpackError: a chunk does not decompress to its length, or has another codec.
    """
    for i, loc in enumerate(run):
        piece = stored[loc.offset - first : loc.offset - first + loc.length]
        if loc.codec == RAW:
            buf[pos : pos + loc.raw_length] = piece
        elif loc.codec == ZSTD:
            try:
                unzstd_into(piece, buf[pos : pos + loc.raw_length])
            except FormatError as exc:
                raise UnpackError(i, str(exc)) from exc
        else:
            raise UnpackError(i, f"codec {loc.codec} is neither raw nor zstd")
        pos += loc.raw_length
        if pos - held >= HOT:
            out.write(buf[held:pos], at + held)
            held = pos
    return pos, held


def _windows(items: Sequence[tuple[Oid, Location]]) -> Iterator[_Window]:
    """The file (its chunks ``items``, in file order) cut into windows of ``BATCH`` bytes at multiples of
    ``BATCH`` (the last one shorter), each with the chunks that overlap it: a chunk across a boundary is in both
    windows."""
    at = start = first = 0  # the next chunk's file offset; the window's start; its first chunk's offset
    window: list[tuple[Oid, Location]] = []
    for chunk, loc in items:
        if not window:
            first = at
        window.append((chunk, loc))
        end = at + loc.raw_length
        while end >= start + BATCH:
            yield start, start + BATCH, first, window
            start += BATCH
            window, first = ([(chunk, loc)], at) if end > start else ([], end)
        at = end
    if window:
        yield start, at, first, window


def _fill_window(store: WindowSource, out: OutFile, window: _Window, buf: mmap.mmap) -> _Filled:
    """Put one window's content in ``buf`` (raw runs read straight into place, zstd chunks decompressed into
    place; a chunk across the window's edge is decompressed into a scratch buffer and its part copied) and write
    it with one direct write (``OutFile.write_direct``); return what ``_take`` hashes."""
    start, end, at, items = window
    view = memoryview(buf)[: end - start]
    for run in _runs(items):
        chunk, loc = run[0]
        n = sum(loc.raw_length for _, loc in run)
        lo, hi = max(at, start), min(at + n, end)  # the part of the run in this window
        if loc.codec not in (RAW, ZSTD):  # a delta: rebuilt by the store
            data = store.get(chunk, Kind.CHUNK)
            if len(data) != loc.raw_length:
                raise CorruptObjectError(chunk, f"has {len(data)} bytes, index says {loc.raw_length}")
            view[lo - start : hi - start] = memoryview(data)[lo - at : hi - at]
        elif all(loc.codec == RAW for _, loc in run):  # stored as it is: read straight into place
            _read_exact(store, loc.pack, loc.offset + lo - at, view[lo - start : hi - start], chunk)
        else:
            first = loc.offset
            stored = _scratch(run[-1][1].offset + run[-1][1].length - first)
            _read_exact(store, loc.pack, first, stored, chunk)
            pos = at
            for chunk, loc in run:
                piece = stored[loc.offset - first : loc.offset - first + loc.length]
                a, b = max(pos, start), min(pos + loc.raw_length, end)
                if a == pos and b == pos + loc.raw_length:
                    _unpack(chunk, loc, piece, view[a - start : b - start])
                else:  # across the window's edge
                    whole = _edge(loc.raw_length)
                    _unpack(chunk, loc, piece, whole)
                    view[a - start : b - start] = whole[a - pos : b - pos]
                pos += loc.raw_length
        at += n
    out.write_direct(view, start)
    return start, end - start, buf, []


def _unpack(chunk: Oid, loc: Location, piece: memoryview, into: memoryview) -> None:
    if loc.codec == RAW:
        into[:] = piece
        return
    try:
        unzstd_into(piece, into)
    except FormatError as exc:
        raise CorruptObjectError(chunk, str(exc)) from exc


def _edge(n: int) -> memoryview:
    """A pool thread's buffer for a chunk across a window's edge, reused."""
    buf = getattr(_SCRATCH, "edge", None)
    if buf is None or len(buf) < n:
        buf = _SCRATCH.edge = bytearray(n)
    return memoryview(buf)[:n]


def _fill(store: LocalStore, out_: OutFile, batch: _Batch, buf: bytearray) -> _Filled:
    """Write one batch's content at its offset in the file: raw runs copied by the kernel where it can, every
    other byte put in place in ``buf`` (zstd chunks decompressed straight into it, raw ones read or copied in,
    deltas rebuilt by the store) and written from there every ``HOT`` bytes, each write under the file's lock;
    return what ``_take`` hashes (``_Filled``)."""
    at, items = batch
    out = memoryview(buf)
    pos = held = 0  # content so far; where the part of ``buf`` not yet written starts
    copied: list[tuple[int, int]] = []  # runs the kernel copied (offsets in the batch)
    for run in _runs(items):
        chunk, loc = run[0]
        if loc.codec not in (RAW, ZSTD):  # a delta: rebuilt by the store
            data = store.get(chunk, Kind.CHUNK)
            if len(data) != loc.raw_length:
                raise CorruptObjectError(chunk, f"has {len(data)} bytes, index says {loc.raw_length}")
            out[pos : pos + len(data)] = data
            pos += len(data)
            continue
        pack, first = loc.pack, loc.offset
        span = run[-1][1].offset + run[-1][1].length - first
        if all(loc.codec == RAW for _, loc in run):  # straight into place: by the kernel, else via the buffer
            out_.write(out[held:pos], at + held)  # what was gathered before it: the writes stay in file order
            if _copy(store, pack, first, span, out_, at + pos, chunk):
                if copied and copied[-1][1] == pos:
                    copied[-1] = (copied[-1][0], pos + span)
                else:
                    copied.append((pos, pos + span))
            else:
                _read_exact(store, pack, first, out[pos : pos + span], chunk)
                out_.write(out[pos : pos + span], at + pos)
            held = pos = pos + span
            continue
        stored = _scratch(span)
        _read_exact(store, pack, first, stored, chunk)
        try:
            pos, held = unpack_run(stored, first, [loc for _, loc in run], out, pos, held, out_, at)
        except UnpackError as exc:
            raise CorruptObjectError(run[exc.index][0], str(exc)) from exc
    out_.write(out[held:pos], at + held)
    return at, pos, buf, copied


def _copy(store: LocalStore, pack: int, offset: int, length: int, out: OutFile, at: int, chunk: Oid) -> bool:
    """Copy ``length`` stored bytes of ``pack`` from ``offset`` to the file at ``at`` in the kernel, under the
    file's lock; False when it cannot (nothing was written then: the caller reads and writes them itself).

    Raises:
        CorruptObjectError: when the pack ends before the range does.
        OSError: when the copy fails otherwise (disk full, I/O error).
    """
    if not KERNEL_COPY[0]:
        return False
    done = out.copy(store.pack_fd(pack), length, offset, at)
    if done is None:
        return False
    if done < length:
        raise CorruptObjectError(chunk, f"pack {store.pack_name(pack)[:10]} is truncated")
    fault_point("materialize.raw-copied")
    return True


def _runs(items: list[tuple[Oid, Location]]) -> Iterator[list[tuple[Oid, Location]]]:
    """Split a batch into runs of chunks stored back to back in one pack with raw or zstd codecs (one read
    each); a chunk with another codec is a run of its own."""
    run: list[tuple[Oid, Location]] = []
    for item in items:
        loc = item[1]
        prev = run[-1][1] if run else None
        if prev and (
            loc.pack != prev.pack
            or loc.offset != prev.offset + prev.length
            or loc.codec not in (RAW, ZSTD)
            or prev.codec not in (RAW, ZSTD)
        ):
            yield run
            run = []
        run.append(item)
    if run:
        yield run


def _read_exact(store: WindowSource, pack: int, offset: int, into: memoryview, chunk: Oid) -> None:
    got = store.read_stored_into(pack, offset, into)
    if got != len(into):
        raise CorruptObjectError(chunk, f"pack {store.pack_name(pack)[:10]} is truncated")
