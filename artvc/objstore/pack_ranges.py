"""Packs read in large ranges: a push reads the stored bytes of neighbouring objects with one pread, a fetch
verifies a downloaded pack window by window in a pool (one pread and one task per few MiB, not per object); a
pack fetched whole from a directory remote is copied into the store by the kernel, window by window, and
verified from that copy (mapped), so its bytes never pass through a buffer of art's."""

from __future__ import annotations

import mmap
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from typing import Any, BinaryIO, TypeVar, cast

from ..errors import CorruptObjectError, PackMissingError
from .codec import MAX_CHUNK_SIZE
from .fileio import kernel_copy, pwrite_all, reflink, remove_if_present
from .hashing import digest_is, hashes_to
from .objects import Kind
from .oid import Oid
from .store.local import LocalStore
from .store.pack import ENTRY, PACK_MAGIC, RAW, EntryTable, PackEntry
from .store.remote import RemoteStore, pack_path
from .store.remote_read import MERGE_GAP, verify_payload
from .tmpowner import token
from .types import Location

WINDOW = 4 << 20  # at most this many bytes of a pack in one read (gaps included), and twice that decompressed
WINDOW_OBJECTS = 4096  # and at most this many objects: a window's entries and results cost ~450 bytes an object
_CHUNK, _HEADER = int(Kind.CHUNK), len(PACK_MAGIC)  # no object starts inside a pack's header
_E = TypeVar("_E", PackEntry, tuple[bytes, int, int, int, int, int])
AHEAD = 2  # windows read and being verified while one is consumed: memory stays a few windows, whatever the pack


def read_in_ranges(src: LocalStore, locs: list[Location]) -> Iterator[memoryview]:
    """The stored bytes at each of ``locs``, in order (shorter than its ``length`` when the pack is).

    Locations close together in one pack (gaps of at most ``MERGE_GAP``) are read with one pread of at most
    ``WINDOW`` bytes; each view is valid until the next is produced.
    """
    run: list[Location] = []
    for loc in locs:
        if run:
            first, last = run[0], run[-1]
            gap = loc.offset - (last.offset + last.length)
            if loc.pack != first.pack or not 0 <= gap <= MERGE_GAP or loc.offset + loc.length - first.offset > WINDOW:
                yield from _read_run(src, run)
                run = []
        run.append(loc)
    if run:
        yield from _read_run(src, run)


def _read_run(src: LocalStore, run: list[Location]) -> Iterator[memoryview]:
    start = run[0].offset
    span = memoryview(src.read_stored(run[0].pack, start, run[-1].offset + run[-1].length - start))
    for loc in run:
        yield span[loc.offset - start : loc.offset - start + loc.length]


def verified_windows(
    pool: Executor, fd: int, entries: Sequence[PackEntry], copy_to: int | None = None
) -> Iterator[tuple[PackEntry, bytes | None]]:
    """Verify the objects of the pack file ``fd`` (``entries`` sorted by offset), each window of about
    ``WINDOW`` bytes read with one pread and checked by one pool task, ``AHEAD`` windows at a time; yield each
    entry, in order, with its verified bytes, or None when it failed verification.

    ``copy_to``: also copy each window to the same offsets of that file (``copy_rest`` then fills in what lies
    outside the objects), so the copy holds exactly the bytes that were verified: the kernel copies the window
    and the objects are verified from the copy, mapped (``_kernel_copied``), else the window is read and the
    same bytes written. Yielded raw objects may be views of such a mapping, valid as long as they are held."""
    for window, results, _ in verified_batches(pool, fd, entries, copy_to):
        for e, data in zip(window, results, strict=True):
            yield as_entry(e), data


Record = tuple[bytes, int, int, int, int, int]  # an ``ENTRY`` record unpacked: id's digest, kind, codec, offset, ...


def as_entry(e: PackEntry | Record | tuple[Any, ...]) -> PackEntry:
    """A window's item as a ``PackEntry`` (an ``EntryTable``'s windows hold its records as unpacked)."""
    return e if isinstance(e, PackEntry) else PackEntry(Oid(e[0].hex()), *e[1:])


def verified_batches(
    pool: Executor, fd: int, entries: Sequence[PackEntry], copy_to: int | None = None
) -> Iterator[tuple[list[PackEntry] | list[Record], list[bytes | None], int]]:
    """``verified_windows`` a window at a time: (its entries, their verified bytes or None, how many failed), for
    a caller that has nothing to do per object when all passed (a fetch of small files: no manifest waits for
    them; ``None in results`` would compare each memoryview with None, an exception raised and cleared each). The
    windows of an ``EntryTable`` hold its records as unpacked (``Record``: the id's 32 bytes first, no
    ``PackEntry`` nor hex id made per object; ``as_entry`` makes one), and raw chunks are checked against the
    digest as bytes."""
    pending: deque[tuple[list[PackEntry] | list[Record], Future[tuple[list[bytes | None], int]]]] = deque()
    items: Iterable[Any] = ENTRY.iter_unpack(entries.data) if isinstance(entries, EntryTable) else entries
    turn = threading.Lock()  # one window written into ``copy_to`` at a time
    for window in spans(items, WINDOW, WINDOW_OBJECTS):
        if len(pending) >= AHEAD:
            done, fut = pending.popleft()
            yield done, *fut.result()
        pending.append((window, pool.submit(_verify_window, fd, window, copy_to, turn)))
    while pending:
        done, fut = pending.popleft()
        yield done, *fut.result()


def spans(entries: Iterable[_E], limit: int, most: int = 1 << 62) -> Iterator[list[_E]]:
    """Cut entries (``PackEntry`` or unpacked records: the same fields in the same places) sorted by offset into
    runs whose byte range (gaps included) stays within ``limit``, whose objects hold at most twice that
    decompressed and which have at most ``most`` entries, or one entry (whose lengths its entry check bounds).

    ``most``: a window of tiny objects is bounded by their count, not their bytes (4 MiB of 16-64 byte files is
    ~65,000 entries, each held as a record and a result while verified: ~30 MB a window, ``AHEAD`` + 1 alive)."""
    window: list[_E] = []
    raw = first = 0
    for e in entries:
        if window and (e[3] + e[4] - first > limit or raw + e[5] > 2 * limit or len(window) >= most):
            yield window
            window, raw = [], 0
        if not window:
            first = e[3]
        window.append(e)
        raw += e[5]
    if window:
        yield window


def distinct(offsets: Sequence[int], lengths: Sequence[int], *, small: int = 1 << 16) -> tuple[int, int]:
    """(how many, stored bytes) of the distinct objects of one pack a fetch needs (by offset: a chunk met twice
    is noted twice). Up to ``small`` of them through a dictionary; beyond, a bitmap of the pack's offsets (a
    bit a byte of pack): a pack of a million tiny chunks made a dictionary of ~85 MB (an int each way), where
    its bitmap is ~11 MB (and ~0.15 CPU s more). Offsets spread wider than 64 bytes of pack an object (no
    pack sealed by art; a hostile index) go through the dictionary."""
    if len(offsets) <= small or max(offsets) >> 3 > 64 * len(offsets):
        unique = dict(zip(offsets, lengths, strict=True))
        return len(unique), sum(unique.values())
    seen = bytearray((max(offsets) >> 3) + 1)
    n = size = 0
    for at, length in zip(offsets, lengths, strict=True):
        byte, bit = at >> 3, 1 << (at & 7)
        if not seen[byte] & bit:
            seen[byte] |= bit
            n += 1
            size += length
    return n, size


def open_remote_pack(src: RemoteStore, name: str) -> BinaryIO | None:
    """Pack ``name`` of ``src`` opened for reading in place (a local directory remote), else None.

    Raises:
        PackMissingError: when the pack file is gone.
    """
    try:
        return src.transport.open_local(pack_path(name))
    except FileNotFoundError as exc:
        raise PackMissingError(src.name, name) from exc


def download_whole(
    src: RemoteStore, name: str, tmp_dir: str | os.PathLike[str], progress: Callable[[int], None] | None = None
) -> tuple[str, BinaryIO | None]:
    """A temp file in ``tmp_dir`` (the store's) for pack ``name`` of ``src``, with the pack downloaded into it (or,
    from a local directory, reflinked where the filesystem can), or empty with the remote's pack file open for
    the fetch to copy as it verifies it (``verified_batches(..., copy_to=...)``: read once)."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f"import-{token()}-", suffix=".tmp", dir=tmp_dir)
    try:
        pack = open_remote_pack(src, name)
        if pack is not None and reflink(pack.fileno(), fd):  # an independent copy that shares blocks
            pack.close()
            pack = None
        elif pack is None:
            src.download_pack(name, tmp)
        if pack is None and progress:
            progress(os.path.getsize(tmp))
    except BaseException:
        remove_if_present(tmp)
        raise
    finally:
        os.close(fd)
    return tmp, pack


def copy_rest(src: int, dest: int, entries: Sequence[PackEntry]) -> None:
    """Copy the bytes of pack file ``src`` that no entry covers (header, gaps, trailer) to ``dest`` at the same
    offsets: with ``verified_windows(..., copy_to=dest)``, ``dest`` becomes a copy of ``src``. ``entries`` sorted
    by offset (as ``verified_windows`` takes them): read one at a time, no sorted copy. A dense table (a sealed
    pack's: no gap between its objects, ``EntryTable.dense``) is not walked: only its header and trailer are
    copied."""
    if isinstance(entries, EntryTable) and entries.dense and len(entries):
        _copy_range(src, dest, 0, _HEADER)
        _copy_range(src, dest, entries.end, os.fstat(src).st_size)
        return
    pos = last = 0
    for e in entries:
        if e.offset < last:  # a gap would be copied over verified bytes
            raise ValueError("copy_rest needs entries in offset order")
        last = e.offset
        if e.offset > pos:
            _copy_range(src, dest, pos, e.offset)
        pos = max(pos, e.offset + e.length)
    _copy_range(src, dest, pos, os.fstat(src).st_size)


def _copy_range(src: int, dest: int, start: int, end: int) -> None:
    while start < end and (data := os.pread(src, min(end - start, WINDOW), start)):
        pwrite_all(dest, memoryview(data), start)
        start += len(data)


def _verify_window(
    fd: int, window: list[PackEntry] | list[Record], copy_to: int | None, turn: threading.Lock
) -> tuple[list[bytes | None], int]:
    """One pool task: read a window of a pack at once (and copy it to ``copy_to``), verify each object in it
    (None for a bad one): a chunk stored raw by one blake3 of its bytes, any other by ``verify_payload``; return
    the results and how many failed.

    With ``copy_to`` the window is copied by the kernel (``copy_file_range``: no trip through this process's
    memory) and verified from the copy itself, mapped read-only: what is checked is what will be stored, and the
    bytes reach this process without a copy (raw objects come back as views of the mapping, which lives as long
    as they do). Where the kernel cannot copy, the window is read and written as before.

    ``turn``: the pool's tasks copying into the same ``copy_to`` take turns (the copy holds the file's inode lock
    in the kernel for each write, and a second task spun on it: 2.6% of a 100k pull's samples), while the
    verification of one window runs beside the copy of the next."""
    start = window[0][3]
    end = max(e[3] + e[4] for e in window)
    span = None
    if copy_to is not None:
        with turn:
            span = _kernel_copied(fd, copy_to, start, end)
    if span is None:
        span = memoryview(os.pread(fd, end - start, start))
        if copy_to is not None:
            with turn:
                pwrite_all(copy_to, span, start)
    out: list[bytes | None] = []
    bad = 0
    for e in window:
        oid, kind, codec, offset, length, raw = e
        piece = span[offset - start : offset - start + length]
        if codec == RAW and kind == _CHUNK and len(piece) == length == raw <= MAX_CHUNK_SIZE:
            # a stored-raw chunk (most small files) is its content: one blake3, none of ``verify_payload``'s steps
            if offset >= _HEADER and (digest_is(piece, oid) if isinstance(oid, bytes) else hashes_to(piece, oid)):
                out.append(cast(bytes, piece))
            else:
                out.append(None)
                bad += 1
            continue
        try:  # any buffer does: a raw object comes back as a view
            out.append(verify_payload(as_entry(e), cast(bytes, piece)))
        except CorruptObjectError:
            out.append(None)
            bad += 1
    return out, bad


def _kernel_copied(src: int, dest: int, start: int, end: int) -> memoryview | None:
    """Copy bytes ``start``..``end`` of ``src`` to the same offsets of ``dest`` in the kernel and return them as
    a read-only mapping of ``dest`` (shorter when ``src`` ends first); None when the kernel cannot copy (nothing
    was written: the caller reads and writes). ``dest`` is a private temp file of the store, which nothing else
    truncates, so the mapping of what was just written stays valid.

    Raises:
        OSError: when the copy fails otherwise (disk full, I/O error).
    """
    done = kernel_copy(src, dest, end - start, start, start)  # shorter when the remote's pack is: the objects
    if done is None:  # past its end fail verification
        return None
    if not done:
        return memoryview(b"")
    base = start - start % mmap.ALLOCATIONGRANULARITY
    mapped = mmap.mmap(dest, start + done - base, mmap.MAP_SHARED, mmap.PROT_READ, offset=base)
    return memoryview(mapped)[start - base :]


def windows(entries: Sequence[PackEntry], limit: int) -> Iterator[list[PackEntry]]:
    """``entries`` in consecutive groups of at least ``limit`` stored bytes (the last one may be smaller)."""
    window, size = [], 0
    for e in entries:
        window.append(e)
        size += e.length
        if size >= limit:
            yield window
            window, size = [], 0
    if window:
        yield window
