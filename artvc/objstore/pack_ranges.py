"""Packs read in large ranges: a push reads the stored bytes of neighbouring objects with one pread, a fetch
verifies a downloaded pack window by window in a pool (one pread and one task per few MiB, not per object)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from typing import BinaryIO, cast

from ..errors import CorruptObjectError, PackMissingError
from .store.local import LocalStore
from .store.pack import PackEntry
from .store.remote import RemoteStore, pack_path
from .store.remote_read import MERGE_GAP, verify_payload
from .types import Location

WINDOW = 4 << 20  # at most this many bytes of a pack in one read (gaps included), and twice that decompressed
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
    pool: Executor, fd: int, entries: list[PackEntry], copy_to: int | None = None
) -> Iterator[tuple[PackEntry, bytes | None]]:
    """Verify the objects of the pack file ``fd`` (``entries`` sorted by offset), each window of about
    ``WINDOW`` bytes read with one pread and checked by one pool task, ``AHEAD`` windows at a time; yield each
    entry, in order, with its verified bytes, or None when it failed verification.

    ``copy_to``: also write each window's bytes, as read, at the same offset of that file (``copy_rest`` then
    fills in what lies outside the objects), so a pack is copied from the same bytes that were verified."""
    pending: deque[tuple[list[PackEntry], Future[list[bytes | None]]]] = deque()
    for window in spans(entries, WINDOW):
        if len(pending) >= AHEAD:
            done, fut = pending.popleft()
            yield from zip(done, fut.result(), strict=True)
        pending.append((window, pool.submit(_verify_window, fd, window, copy_to)))
    while pending:
        done, fut = pending.popleft()
        yield from zip(done, fut.result(), strict=True)


def spans(entries: list[PackEntry], limit: int) -> Iterator[list[PackEntry]]:
    """Cut entries sorted by offset into runs whose byte range (gaps included) stays within ``limit`` and whose
    objects hold at most twice that decompressed, or one entry (whose lengths its entry check bounds)."""
    window: list[PackEntry] = []
    raw = 0
    for e in entries:
        if window and (e.offset + e.length - window[0].offset > limit or raw + e.raw_length > 2 * limit):
            yield window
            window, raw = [], 0
        window.append(e)
        raw += e.raw_length
    if window:
        yield window


def open_remote_pack(src: RemoteStore, name: str) -> BinaryIO | None:
    """Pack ``name`` of ``src`` opened for reading in place (a local directory remote), else None.

    Raises:
        PackMissingError: when the pack file is gone.
    """
    try:
        return src.transport.open_local(pack_path(name))
    except FileNotFoundError as exc:
        raise PackMissingError(src.name, name) from exc


def copy_rest(src: int, dest: int, entries: list[PackEntry]) -> None:
    """Copy the bytes of pack file ``src`` that no entry covers (header, gaps, trailer) to ``dest`` at the same
    offsets: with ``verified_windows(..., copy_to=dest)``, ``dest`` becomes a copy of ``src``."""
    pos = 0
    for e in sorted(entries, key=lambda e: e.offset):
        if e.offset > pos:
            _copy_range(src, dest, pos, e.offset)
        pos = max(pos, e.offset + e.length)
    _copy_range(src, dest, pos, os.fstat(src).st_size)


def _copy_range(src: int, dest: int, start: int, end: int) -> None:
    while start < end and (data := os.pread(src, min(end - start, WINDOW), start)):
        _pwrite_all(dest, memoryview(data), start)
        start += len(data)


def _pwrite_all(fd: int, view: memoryview, at: int) -> None:
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], at + done)


def _verify_window(fd: int, window: list[PackEntry], copy_to: int | None = None) -> list[bytes | None]:
    """One pool task: read a window of a pack at once (and copy it to ``copy_to``), verify each object in it
    (None for a bad one)."""
    start = window[0].offset
    span = memoryview(os.pread(fd, max(e.offset + e.length for e in window) - start, start))
    if copy_to is not None:
        _pwrite_all(copy_to, span, start)
    out: list[bytes | None] = []
    for e in window:
        piece = span[e.offset - start : e.offset - start + e.length]
        try:
            out.append(verify_payload(e, cast(bytes, piece)))  # any buffer does: a raw object comes back as a view
        except CorruptObjectError:
            out.append(None)
    return out


def windows(entries: list[PackEntry], limit: int) -> Iterator[list[PackEntry]]:
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
