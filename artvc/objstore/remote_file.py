"""One large file written straight from a remote's packs into a temp file, proved by its whole-file hash.

``art pull --lazy`` (``workspace/lazy_pull.py``) writes each file with a manifest this way, and stores no chunk
of it. The pipeline is the checkout's (``materialize_large``), with the remote's packs as its source:

- the file's chunks, located on the remote in file order, are cut into *spans*: runs of chunks stored back to
  back in one pack, of at most ``SPAN`` bytes stored and decompressed;
- pool threads each take one span and write it at its place in the file: a span of raw chunks in a pack of a
  directory remote is copied by the kernel (``copy_file_range``, as ``cp`` does); any other span is read with
  one request (``pread`` into the thread's reused buffer for a directory remote, a ranged read otherwise), its
  entries checked, its compressed chunks decompressed one by one (bounded by their entries; zstd releases the
  GIL, so the threads decompress at once) and written with ``pwritev`` from where zstd put them
  (``materialize_large.unpack_run``, as the checkout does);
- the calling thread hashes each written span, in file order, and hands it to the disk (``start_writeback``,
  on a thread of its own, as the checkout does). A span that passed through this process's memory (decompressed,
  or read from a bucket) is hashed from the very buffer its bytes were written from, once ``pwrite`` took all
  of them: still in the cache shared by the cores, with no mapping to set up and tear down (its buffer is one of
  ``threads + 1``, handed back after the hash). A span the kernel copied (``copy_file_range``) never was in
  this process's memory: it is hashed from the file itself (mapped read-only: no copy).

A file of ``LARGE_FILE`` bytes or more from a directory remote is written around the page cache instead, as the
checkout writes one (``materialize_large.write_windows``, shared): where ``DIRECT`` is on, the repository's
``core.direct_writes`` allows it and the file system takes ``O_DIRECT`` (``DirectFile.open``: not tmpfs), the file is
cut into windows of 8 MiB at multiples of 8 MiB, each filled in a page-aligned buffer by a pool thread (raw runs
read from the pack straight into place, zstd chunks decompressed into place), written with one direct write (the
file's last unaligned bytes through the ordinary descriptor) and hashed from that buffer in file order. The
remote's packs are numbered for the file (``_Packs``) and read as the checkout reads the local store's. A bucket
keeps the spans: its reads are requests in flight, and a window of 8 MiB per request would double the memory.

The whole-file blake3 is the only hash: the chunks are not stored, so their ids need no proof, and a file that
does not hash to its id is removed. Either way the hash covers exactly the bytes the file was given, in file
order. At most ``threads + 1`` spans are in flight, so memory stays a few spans (a few tens of MB) whatever the
file's size, and each stored byte is read once.
"""

from __future__ import annotations

import mmap
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from ..errors import CorruptObjectError, FormatError
from .faults import fault_point
from .fileio import DIRECT, DirectFile, pread_full
from .hashing import ContentHasher
from .materialize_large import LARGE_FILE, OutFile, Writeback, unpack_run, write_windows
from .objects import FileManifest, Kind
from .pack_ranges import open_remote_pack
from .store.pack import RAW, ZSTD, PackEntry, check_entry
from .types import Location

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .oid import Oid
    from .stage import FileStage
    from .store.remote import RemoteStore
    from .store.remote_read import Span

SPAN = 4 << 20  # bytes of a pack read or copied at once (contiguous chunks of one file), and decompressed
LOCAL_THREADS = 2  # writers for a directory remote: the work is CPU (copy, zstd), 2 cores keep up with a disk
REMOTE_THREADS = 8  # at most this many spans requested at once from a bucket: its latency is hidden


def spans(located: list[tuple[str, PackEntry]]) -> Iterator[Span]:
    """Runs of chunks stored back to back in one pack, in file order, of at most ``SPAN`` bytes stored and
    decompressed (or one chunk, which its entry check bounds)."""
    run: list[PackEntry] = []
    pack = ""
    raw = 0
    for p, e in located:
        if run and (
            p != pack
            or e.offset != run[-1].offset + run[-1].length
            or e.offset + e.length - run[0].offset > SPAN
            or raw + e.raw_length > SPAN  # decompressed, a span stays within SPAN too
        ):
            yield pack, run[0].offset, run[-1].offset + run[-1].length, run
            run, raw = [], 0
        pack = p
        run.append(e)
        raw += e.raw_length
    if run:
        yield pack, run[0].offset, run[-1].offset + run[-1].length, run


def stream_file(
    store: RemoteStore,
    manifest: FileManifest,
    located: list[tuple[str, PackEntry]],
    stage: FileStage,
    jobs: int,
    advance: Callable[[int], object],
    *,
    direct: bool = True,
) -> str | None:
    """Write ``manifest``'s file to a temp file of ``stage`` from ``store`` (its chunks at ``located``, in file
    order) and hash it whole; None when it is proved (the file is then the stage's, ready), else why not (the
    temp file is removed). ``advance(n)`` is called as each span's ``n`` bytes are proved. ``direct``: the
    repository allows writes around the page cache (``Repo.direct_writes``). An OSError of the writes (disk
    full) returns None with nothing adopted: the ordinary fetch and checkout report it."""
    oid = manifest.oid
    path = stage.temp_path()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    # blake3's own threads pay off on the mapped spans of raw chunks; with the writers decompressing on both
    # cores they would only compete with them
    hasher = ContentHasher(threaded=all(e.codec == RAW for _, e in located))
    local: dict[str, BinaryIO | None] = {}
    disk: Writeback | None = None
    proved = False
    try:
        windows = _direct(store, fd, manifest, located, local, direct)
        if windows is not None:
            pos = _write_windows(store, windows, located, local, hasher, advance)
        else:
            disk = Writeback(fd)
            pos = _write_all(store, fd, located, local, jobs, hasher, disk, advance)
        if pos != manifest.size:
            return f"it has {pos} bytes, its manifest says {manifest.size}"
        got = hasher.oid()
        if got != oid:
            return f"content hashes to {got[:10]}"
        proved = True
        return None
    except FormatError as exc:
        return str(exc)
    except CorruptObjectError as exc:  # a chunk of a window that does not decompress to its length
        return f"chunk {exc.oid[:10]}: {exc.reason}"
    except OSError:
        return None
    finally:
        if disk is not None:
            disk.close()
        for f in local.values():
            if f is not None:
                f.close()
        try:
            os.close(fd)
        except OSError:
            proved = False
        if proved:
            stage.adopt(oid, path)
        else:
            from .fileio import remove_if_present

            remove_if_present(path)


def _direct(
    store: RemoteStore,
    fd: int,
    manifest: FileManifest,
    located: list[tuple[str, PackEntry]],
    local: dict[str, BinaryIO | None],
    allowed: bool,
) -> DirectFile | None:
    """The file's direct writes where it is written around the page cache (module docstring): a file of
    ``LARGE_FILE`` bytes or more, from a directory remote (its first pack opened in place, into ``local``),
    ``DIRECT`` on, ``allowed`` by the repository, and a file system that takes ``O_DIRECT``; else None."""
    if manifest.size < LARGE_FILE or not located or not DIRECT[0] or not allowed:
        return None
    first = located[0][0]
    local[first] = open_remote_pack(store, first)
    return DirectFile.open(fd) if local[first] is not None else None


class _Packs:
    """A directory remote's packs, numbered for one file, read as ``materialize_large`` reads the local store's
    (``WindowSource``): ``Location.pack`` is the pack's place in ``names``."""

    __slots__ = ("files", "names")

    def __init__(self, names: list[str], files: list[BinaryIO]) -> None:
        self.names = names
        self.files = files

    def read_stored_into(self, pack: int, offset: int, into: memoryview) -> int:
        """Fill ``into`` from ``offset`` of the pack (FormatError when the pack ends first)."""
        n = pread_full(self.files[pack].fileno(), into, offset)
        if n != len(into):
            raise FormatError(_short(self.names[pack], n, offset, offset + len(into)))
        return n

    def pack_name(self, pack: int) -> str:
        return self.names[pack]

    def get(self, oid: Oid, kind: Kind) -> bytes:
        """Never called: a delta is never located here (``lazy_pull._locate``; ``_check_entries`` refuses one)."""
        raise FormatError(f"remote chunk {oid[:10]} is a delta, which a lazy pull does not read")


def _write_windows(
    store: RemoteStore,
    direct: DirectFile,
    located: list[tuple[str, PackEntry]],
    local: dict[str, BinaryIO | None],
    hasher: ContentHasher,
    advance: Callable[[int], object],
) -> int:
    """The file written around the page cache (module docstring) through ``direct`` (closed here); the bytes
    written and hashed (FormatError on a hostile index or a short pack)."""
    numbers: dict[str, int] = {}
    files: list[BinaryIO] = []
    items: list[tuple[Oid, Location]] = []
    try:
        _check_entries([e for _, e in located])
        for pack, e in located:
            number = numbers.get(pack)
            if number is None:
                if pack not in local:
                    local[pack] = open_remote_pack(store, pack)
                f = local[pack]
                if f is None:  # not in place after all: no other pack of a directory remote is
                    raise FormatError(f"remote pack {pack[:10]} cannot be read in place")
                number = numbers[pack] = len(files)
                files.append(f)
            items.append((e.oid, Location(number, e.codec, e.offset, e.length, e.raw_length)))
    except BaseException:
        direct.close()
        raise
    return write_windows(_Packs(list(numbers), files), items, direct, hasher, advance, "lazy.file-writing")


def _write_all(
    store: RemoteStore,
    fd: int,
    located: list[tuple[str, PackEntry]],
    local: dict[str, BinaryIO | None],
    jobs: int,
    hasher: ContentHasher,
    disk: Writeback,
    advance: Callable[[int], object],
) -> int:
    """The pipeline of the module docstring; the bytes written and hashed (FormatError on a hostile index or a
    short pack)."""
    from concurrent.futures import ThreadPoolExecutor

    pending: deque[tuple[int, int, Future[_Written]]] = deque()
    pos = 0
    free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()  # decompression buffers, back from the hash

    def take() -> None:
        at, n, fut = pending.popleft()
        written = fut.result()
        fault_point("lazy.file-writing")
        if written is None:  # copied by the kernel: read back from the file
            _hash_written(hasher, fd, at, n)
        else:
            view, buf = written
            if len(view) != n:
                raise FormatError(f"a span of {len(view)} bytes was written where {n} were due")
            hasher.update(view)
            view.release()
            if buf is not None:
                free.put(buf)
        disk.advance(at + n)
        advance(n)

    if not located:
        return 0
    first = located[0][0]
    if first not in local:
        local[first] = open_remote_pack(store, first)
    # a directory remote: CPU-bound (copy, zstd), 2 writers; a bucket: latency-bound, a few requests in flight
    # (raw chunks only: one thread copies, the kernel's copy and the hash overlap; a second copier only spins on
    # the file's inode lock)
    threads = (
        max(LOCAL_THREADS, min(jobs, REMOTE_THREADS))
        if local[first] is None
        else 1
        if all(e.codec == RAW for _, e in located)
        else LOCAL_THREADS
    )
    out = OutFile(fd)  # one write into the file at a time (``_fill``)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="art-lazy") as pool:
        try:
            for span in spans(located):
                pack = span[0]
                if pack not in local:
                    local[pack] = open_remote_pack(store, pack)
                n = sum(e.raw_length for e in span[3])
                if len(pending) > threads:  # one span waits for a writer while the others are written
                    take()
                pending.append((pos, n, pool.submit(_fill, store, local[pack], out, span, pos, free)))
                pos += n
            while pending:
                take()
        finally:
            for _, _, fut in pending:
                fut.cancel()
    return pos


_Written = tuple[memoryview, bytearray | None] | None  # what a span was written from: a view, and its buffer
# to hand back to the pool (None: not the pool's), for the hash; None: copied by the kernel or from a thread's
# scratch buffer (hashed from the file)


def _fill(
    store: RemoteStore,
    src: BinaryIO | None,
    out: OutFile,
    span: Span,
    at: int,
    free: queue.SimpleQueue[bytearray],
) -> _Written:
    """One pool task: write ``span``'s chunks at ``at`` in ``out`` (module docstring), each entry checked first,
    every write under ``out``'s lock (the pool's writers take turns, as the checkout's do: a writer waiting on the
    kernel's inode lock spins); return what the bytes were written from, for the hash (``_Written``).

    Raises:
        FormatError: an entry the format forbids, a span the pack is too short for, a chunk that does not
            decompress to its length.
    """
    pack, start, end, entries = span
    _check_entries(entries)
    raw = all(e.codec == RAW for e in entries)
    if raw and src is not None:
        n = out.copy(src.fileno(), end - start, start, at)
        if n is not None:
            if n != end - start:
                raise FormatError(_short(pack, n, start, end))
            return None
    if src is not None:
        scratch = _scratch(end - start)
        n = os.preadv(src.fileno(), [scratch], start)
        stored: memoryview = scratch[:n]
    else:
        stored = memoryview(store.read_range(pack, start, end))
    if len(stored) != end - start:
        raise FormatError(_short(pack, len(stored), start, end))
    if raw:
        out.write(stored, at)
        return None if src is not None else (stored, None)  # a bucket's bytes are this span's own
    size = sum(e.raw_length for e in entries)
    try:
        buf = free.get_nowait()
    except queue.Empty:
        buf = bytearray(SPAN)
    if len(buf) < size:  # one chunk larger than a span (its entry check bounds it)
        buf = bytearray(size)
    try:
        view = memoryview(buf)[:size]
        pos, held = unpack_run(stored, start, entries, view, 0, 0, out, at)
        out.write(view[held:pos], at + held)
    except BaseException:
        free.put(buf)
        raise
    return memoryview(buf)[:size], buf


def _short(pack: str, n: int, start: int, end: int) -> str:
    return f"remote pack {pack[:10]} is truncated ({n} of {end - start} bytes at offset {start})"


def _check_entries(entries: list[PackEntry]) -> None:
    """Raise FormatError for an entry the format forbids or that is not a chunk (the remote index is hostile)."""
    for e in entries:
        check_entry(e.kind, e.codec, e.offset, e.length, e.raw_length)
        if e.kind != Kind.CHUNK:
            raise FormatError(f"the remote index lists {e.oid[:10]} as another kind than a chunk")
        if e.codec not in (RAW, ZSTD):  # a delta is never located here (``lazy_pull._locate``)
            raise FormatError(f"remote chunk {e.oid[:10]} has codec {e.codec}, which a lazy pull does not read")


_SCRATCH = threading.local()  # .stored: a pool thread's buffer for stored bytes, reused across spans


def _scratch(n: int) -> memoryview:
    buf = getattr(_SCRATCH, "stored", None)
    if buf is None or len(buf) < n:
        buf = _SCRATCH.stored = bytearray(max(n, SPAN))
    return memoryview(buf)[:n]


def _hash_written(hasher: ContentHasher, fd: int, at: int, n: int) -> None:
    """Hash ``n`` bytes of ``fd`` from ``at`` (just written: read from the page cache, mapped, no copy)."""
    if not n:
        return
    base = at - at % mmap.ALLOCATIONGRANULARITY
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)  # the pages mapped at once, not faulted in
    with mmap.mmap(fd, at + n - base, flags, mmap.PROT_READ, offset=base) as mapped:
        view = memoryview(mapped)
        try:
            hasher.update(view[at - base :])
        finally:
            view.release()
