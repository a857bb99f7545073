"""PackBuilder: one pack being written to a temporary file; shared by the local store's and the remote's writers.

The caller adds already-encoded objects, asks ``full()`` after each, and ``seal()`` returns the sealed temp
file with its name and entries: the local writer renames it into ``packs/`` and indexes it, the remote
writer uploads it (pack, then index). ``abort()`` removes an unsealed temp file however the write ended.
Restic's packer manager plays the same part for its backends.
"""

from __future__ import annotations

import errno
import mmap
import os
import queue
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, cast

from ..codec import MAX_PACK_ENTRIES
from ..fileio import ALIGN, DIRECT, DirectFile, Spare, new_temp, pwrite_all, remove_if_present, start_writeback
from ..oid import Oid
from ..tmpowner import token
from .pack import ENTRY, PackEntry, PackWriter

# Packs of "tens of MiB": few files on disk, and one PUT each on a bucket (s3fs sends a single PUT below
# 2 x its 50 MiB chunk size), so a pushed GiB costs about 2 x 16 requests.
PACK_TARGET = 64 << 20
# the local store also seals after this many objects: a writer's per-object bookkeeping stays bounded
PACK_MAX_OBJECTS = 16384


@dataclass(frozen=True, slots=True)
class SealedPack:
    """A sealed pack in a temporary file: its ``path``, ``name`` (blake3 of its entry table), the encoded entry
    ``table`` (``pack.ENTRY`` records, in pack order), size; ``entries`` decodes the table."""

    path: str
    name: Oid
    table: bytes
    size: int

    @property
    def entries(self) -> list[PackEntry]:
        return [PackEntry(Oid(d.hex()), *rest) for d, *rest in ENTRY.iter_unpack(self.table)]


class PackBuilder:
    """Builds one pack at a time in a temporary file ``pack-<owner>-*.tmp`` under ``folder``.

    Args:
        folder: where the temporary file is created (it must exist).
        max_objects: seal after this many objects too (None: only the size target and the format's limit).
        target: seal once the pack has this many bytes.
        writeback: start writing the pack to the disk as it grows, every ``WRITEBACK`` bytes (``start_writeback``),
            for a pack that stays (the local store's), not for one about to be uploaded and deleted.
        direct_after: once the open pack holds this many bytes, ``add_many`` writes the rest of it around the page
            cache (``_PackFile.go_direct``), as ``direct=True`` does from the start; None: only when asked. For a
            pack that stays: on this machine kind, every fresh page-cache page a write fills costs a fault in the
            host (a 100k-file add on tmpfs spent 24% of its CPU in ``copy_folio_from_iter_atomic``), and the pages
            of a pack just written are rarely read again soon. An add under the threshold (most) never allocates
            the staging buffers.
        direct: False keeps every pack of this builder in the page cache (``core.direct_writes = false``), whatever
            ``direct_after`` and ``add_many`` ask.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        max_objects: int | None = None,
        target: int = PACK_TARGET,
        writeback: bool = False,
        direct_after: int | None = None,
        direct: bool = True,
    ):
        self.folder = str(folder)
        self.direct = direct
        self.direct_after = direct_after
        self.max_objects = max_objects
        self.target = target
        self.writeback = writeback
        self._file: _PackFile | None = None
        self._pack: PackWriter | None = None
        self.temp: str | None = None  # the temporary file of the open pack

    @property
    def open(self) -> bool:
        """True while a pack has objects that are not sealed yet."""
        return self._pack is not None

    def add(self, oid: Oid, kind: int, codec: int, stored: bytes | memoryview, raw_length: int) -> PackEntry:
        """Append one object (starting a new temporary file when none is open).

        Raises:
            OSError: when the file cannot be created or written.
        """
        return self._open().add(oid, kind, codec, stored, raw_length)

    def add_many(
        self, objects: Sequence[tuple[Oid, int, int, bytes | memoryview, int]], *, direct: bool = False
    ) -> None:
        """Append (oid, kind, codec, stored, raw length) objects with one system call; at most ``room()`` of them.
        ``direct`` (a large file's chunks), or a pack already ``direct_after`` bytes long (many small files): from
        here to its seal, the pack is written around the page cache (``_PackFile.go_direct``), where ``DIRECT`` is
        on and the file system takes it.

        Raises:
            OSError: when the file cannot be created or written.
        """
        pack = self._open()
        after = self.direct_after
        if self._file is not None and self.direct and (direct or (after is not None and pack.size >= after)):
            self._file.go_direct()
        pack.add_many(objects)

    def add_pieces(
        self, oid: Oid, kind: int, codec: int, pieces: Iterable[bytes], length: int, raw_length: int
    ) -> None:
        """``PackWriter.add_pieces`` on the open (or a new) pack.

        Raises:
            OSError: when the file cannot be created or written.
        """
        self._open().add_pieces(oid, kind, codec, pieces, length, raw_length)

    def room(self) -> int:
        """How many more objects the open (or next) pack takes before ``max_objects``."""
        limit = self.max_objects or MAX_PACK_ENTRIES
        return limit - (self._pack.count if self._pack is not None else 0)

    def _open(self) -> PackWriter:
        if self._pack is None:
            fd, self.temp = new_temp(self.folder, f"pack-{token()}-", ".tmp")
            self._file = _PackFile(fd, writeback=self.writeback)
            self._pack = PackWriter(cast(BinaryIO, self._file))  # write and writelines are all it uses
        return self._pack

    def full(self) -> bool:
        """True once the open pack should be sealed (size target, object count, or the format's limit)."""
        pack = self._pack
        if pack is None:
            return False
        return pack.full(self.target) or (self.max_objects is not None and pack.count >= self.max_objects)

    def seal(self, *, fsync: bool = False) -> SealedPack:
        """Write the trailer, flush (and fsync) and close the file; the caller owns the returned file.

        Raises:
            OSError: when the file cannot be written (the temporary file stays for ``abort``).
        """
        pack, f, temp = self._pack, self._file, self.temp
        assert pack is not None and f is not None and temp is not None, "seal() without an open pack"
        name = pack.seal()
        f.flush()
        if fsync:
            os.fsync(f.fileno())
        f.close()
        self._pack = self._file = None
        self.temp = None
        return SealedPack(temp, name, pack.table, pack.size)

    def abort(self) -> None:
        """Drop the open pack: its temporary file is removed even when closing it fails (a full disk)."""
        f, temp = self._file, self.temp
        self._pack = self._file = None
        self.temp = None
        try:
            if f is not None:
                try:
                    f.close()  # writes what it holds: fails again on a full disk
                except OSError:
                    pass
        finally:
            if temp is not None:
                remove_if_present(temp)


_Stage = tuple[mmap.mmap, int, int]  # a staging buffer for the writing thread: (buffer, file offset, bytes)
_IOV_MAX = 1024  # buffers per writev (POSIX guarantees at least 16; Linux takes 1024)
_GATHER = 1 << 20  # bytes held before they are handed to the writing thread
_DIRECT = 64 << 10  # borrowed payloads of a call totalling this much are written at once instead of copied
_QUEUED = 4  # batches waiting for the writing thread
WRITEBACK = 8 << 20  # bytes written between two requests to start their writeback (``writeback=True``)
STAGE = 8 << 20  # bytes per staging buffer of a pack written around the page cache (``go_direct``)
DIRECT_AFTER = STAGE  # bytes of a local store's pack after which the rest is written direct (``direct_after``)
IN_FLIGHT = 2  # staging buffers per pack file: one being filled while the other is written
STAGES = Spare(IN_FLIGHT)  # the staging buffers, kept between packs (fresh pages cost a fault each on first touch)


class _PackFile:
    """The pack's temporary file, written without copying payloads into a buffer: ``bytes`` payloads (immutable)
    are held by reference and handed, a MiB at a time, to a thread that writes them with one ``writev`` (the
    kernel's copy runs beside the caller's work). Borrowed buffers (views, bytearrays) are copied when a call
    brings fewer than ``_DIRECT`` bytes of them; otherwise that call's buffers, with what is held, are written
    from where they are with ``writev`` in the calling thread before it returns (a large file's batch of raw
    chunks goes from the read buffer to the file with one system call and no copy or hand-over). ``flush``
    returns once everything is on the file; a write error of the thread is raised by the next call. A short
    write (a filling disk) is continued until everything is written or the system refuses. With ``writeback``,
    every ``WRITEBACK`` bytes written are handed to the disk at once (``fileio.start_writeback``), by a thread of
    their own: the call may wait while the disk's queue is full (0.2 s in all for 512 MiB on a busy disk), and the
    writer must not; while that thread is still busy, the range waits for the next request, which covers it too.

    After ``go_direct`` (a large file's chunks, until the seal), the file is written around the page cache
    instead: every payload is copied into a page-aligned staging buffer of ``STAGE`` bytes that stands for the
    file at a multiple of ``ALIGN``, and each full buffer goes to the writing thread, which writes it with one
    direct write (``fileio.DirectFile``) while the caller fills the other one (two in all, kept between packs:
    ``STAGES``). The bytes up to the first multiple of ``ALIGN`` (after the pack's magic) and the last unaligned
    bytes at ``flush`` go through the ordinary descriptor. No page of the pack is copied into the page cache and
    none is left dirty, so no writeback is requested; ``fsync`` at the seal is as before."""

    def __init__(self, fd: int, *, writeback: bool = False) -> None:
        self._fd: int | None = fd
        self._writeback = writeback
        self._written = 0  # bytes on the file (written by one thread at a time: the caller's or the writing one)
        self._kicked = 0  # bytes whose writeback was requested
        self._kicks: queue.Queue[tuple[int, int] | None] | None = None  # ranges for the writeback thread
        self._kicker: threading.Thread | None = None
        self._held: list[bytes | memoryview] = []
        self._size = 0
        self._queue: queue.Queue[list[bytes | memoryview] | _Stage | None] | None = None
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None
        self._direct: DirectFile | None = None  # ``go_direct``: the direct writes, with their staging buffers
        self._buffered = False  # ``go_direct`` found that this file takes no direct writes
        self._stage: mmap.mmap | None = None  # the buffer being filled: the file from ``_at``, ``_filled`` bytes
        self._at = 0
        self._filled = 0
        self._pad = 0  # bytes to write through the ordinary descriptor before ``_at`` (up to a multiple of ALIGN)
        self._stages: queue.SimpleQueue[mmap.mmap] = queue.SimpleQueue()  # buffers the writing thread is done with
        self._taken: list[mmap.mmap] = []  # the staging buffers taken from ``STAGES``

    def fileno(self) -> int:
        assert self._fd is not None, "the pack file is closed"
        return self._fd

    def write(self, data: bytes | memoryview) -> int:
        self.writelines([data])
        return len(data)

    def go_direct(self) -> None:
        """Write the rest of this file around the page cache (see the class), where ``DIRECT`` is on
        (ART_DIRECT_WRITES=0 turns it off) and ``DirectFile.open`` gives direct writes (not on a file system that
        refuses ``O_DIRECT`` or keeps files in memory, tmpfs: nothing changes). What is held or queued is written
        first."""
        if self._direct is not None or self._buffered or not DIRECT[0]:
            return
        self.flush()
        direct = DirectFile.open(self.fileno())
        if direct is None:
            self._buffered = True  # not asked again for this file (``add_many`` asks at every call past 8 MiB)
            return
        self._direct = direct
        self._pad = -self._written % ALIGN
        self._at = self._written + self._pad

    def writelines(self, buffers: Sequence[bytes | memoryview]) -> None:
        if self._direct is not None:
            self._stage_in(buffers)
            return
        held = self._held
        borrowed = sum(len(b) for b in buffers if type(b) is not bytes)
        if borrowed >= _DIRECT:  # borrowed and large: all on the file, from the caller's buffers, before returning
            held += [b for b in buffers if len(b)]
            self._write_now()
            return
        for b in buffers:
            n = len(b)
            if not n:
                continue
            held.append(b if type(b) is bytes else bytes(b))
            self._size += n
        if self._size >= _GATHER:
            self._send()

    def _stage_in(self, buffers: Sequence[bytes | memoryview]) -> None:
        """Copy ``buffers`` into the staging buffer, handing each full one to the writing thread."""
        if self._error is not None:
            raise self._error
        for b in buffers:
            view = memoryview(b).cast("B")
            if self._pad and view:  # up to the first multiple of ALIGN: through the ordinary descriptor
                n = min(self._pad, len(view))
                pwrite_all(self.fileno(), view[:n], self._at - self._pad)
                self._pad -= n
                view = view[n:]
            while view:
                if self._stage is None:
                    self._stage = self._take_stage()
                n = min(len(view), STAGE - self._filled)
                self._stage[self._filled : self._filled + n] = view[:n]
                self._filled += n
                view = view[n:]
                if self._filled == STAGE:
                    self._send_stage()

    def _take_stage(self) -> mmap.mmap:
        """A staging buffer: a kept (or new) one while fewer than ``IN_FLIGHT`` are in use, else the next the writing
        thread is done with."""
        if len(self._taken) < IN_FLIGHT:
            self._taken.append(STAGES.take(STAGE))
            return self._taken[-1]
        stage = self._stages.get()
        if self._error is not None:
            self._stages.put(stage)
            raise self._error
        return stage

    def _send_stage(self) -> None:
        """Hand the staging buffer's bytes to the writing thread; the next ones start where they end (after the
        ordinary descriptor's bytes up to a multiple of ALIGN, when they end elsewhere: at ``flush``)."""
        stage, at, n = self._stage, self._at, self._filled
        assert stage is not None
        self._stage, self._filled = None, 0
        self._pad = -(at + n) % ALIGN
        self._at = at + n + self._pad
        self._start()
        assert self._queue is not None
        self._queue.put((stage, at, n))

    def _write_now(self) -> None:
        """Write what is held here, in the calling thread, after what the writing thread has queued (no hand-over:
        the caller waits for these bytes anyway)."""
        if self._queue is not None:
            self._queue.join()
        if self._error is not None:
            raise self._error
        todo = self._held[:]
        self._held.clear()
        self._size = 0
        self._write(todo)

    def _write(self, todo: list[bytes | memoryview]) -> None:
        """Write ``todo`` to the file; start the writeback of what was written since the last start, every
        ``WRITEBACK`` bytes."""
        self._written += _write_all(self.fileno(), todo)
        if self._writeback and self._written - self._kicked >= WRITEBACK:
            self._kick()

    def _kick(self) -> None:
        """Hand the range written since the last request to the writeback thread (started on first use), unless
        it is still busy with the previous one."""
        if self._kicks is None:
            self._kicks = queue.Queue(1)
            self._kicker = threading.Thread(target=self._run_kicks, args=(self.fileno(), self._kicks), daemon=True)
            self._kicker.name = "art-pack-writeback"
            self._kicker.start()
        try:
            self._kicks.put_nowait((self._kicked, self._written - self._kicked))
        except queue.Full:
            return
        self._kicked = self._written

    @staticmethod
    def _run_kicks(fd: int, kicks: queue.Queue[tuple[int, int] | None]) -> None:
        while (item := kicks.get()) is not None:
            start_writeback(fd, *item)

    def _start(self) -> None:
        """Start the writing thread, on first use."""
        if self._queue is None:
            self._queue = queue.Queue(_QUEUED)
            self._thread = threading.Thread(target=self._run, name="art-pack-file", daemon=True)
            self._thread.start()

    def _send(self) -> None:
        """Hand what is held to the writing thread (started on first use)."""
        if self._error is not None:
            raise self._error
        self._start()
        assert self._queue is not None
        self._queue.put(self._held[:])
        self._held.clear()
        self._size = 0

    def _run(self) -> None:
        q = self._queue
        assert q is not None
        while True:
            todo = q.get()
            try:
                if todo is None:
                    return
                if isinstance(todo, tuple):  # a staging buffer: one direct write, then back to the caller
                    stage, at, n = todo
                    try:
                        if self._error is None:
                            assert self._direct is not None
                            self._direct.write(memoryview(stage)[:n], at)
                    finally:
                        self._stages.put(stage)
                elif self._error is None:
                    self._write(todo)
            except OSError as exc:
                self._error = exc
            finally:
                q.task_done()

    def flush(self) -> None:
        """Write everything held or queued; raise the first write error."""
        if self._filled:  # direct writes: the staging buffer's aligned part, and its last bytes through ``fd``
            self._send_stage()
        if self._held:
            if self._queue is None:  # never went to the thread: write here
                todo = self._held[:]
                self._held.clear()
                self._size = 0
                self._write(todo)
            else:
                self._send()
        if self._queue is not None:
            self._queue.join()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Write what is held and close; the thread ends and the descriptor is closed even when a write fails."""
        fd = self._fd
        if fd is None:
            return
        try:
            self.flush()
        finally:
            if self._queue is not None and self._thread is not None:
                self._held.clear()
                self._queue.put(None)
                self._thread.join()
            if self._kicks is not None and self._kicker is not None:  # done with the descriptor before it closes
                self._kicks.put(None)
                self._kicker.join()
            if self._direct is not None:
                self._direct.close()
                if self._error is None:  # every staging buffer is back and read by no one: kept for the next pack
                    STAGES.keep(self._taken)
                self._direct, self._stage, self._taken = None, None, []
            self._fd = None
            os.close(fd)


def _write_all(fd: int, buffers: list[bytes | memoryview]) -> int:
    """Write all of ``buffers`` (consumed); return how many bytes that was."""
    todo = buffers
    total = 0
    while todo:
        n = os.writev(fd, todo[:_IOV_MAX])
        if n == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        total += n
        done = 0
        while done < len(todo) and n >= len(todo[done]):
            n -= len(todo[done])
            done += 1
        del todo[:done]
        if n:
            todo[0] = memoryview(todo[0])[n:]
    return total
