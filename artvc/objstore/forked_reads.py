"""A second process that reads and hashes the files of an add's new folders (Linux), while the add stores them.

A folder's first add (``listread.ReadAsListed``) reads every file as it is listed: per file an ``openat``, an
``fstat``, a ``read`` and a ``close``, a blake3 of its bytes, the zstd probe (``Compressor.compressible``) and
some Python around them; then the store's part: the claim of its new objects, the pack write, the stat cache's
row, the folder's tree. All of it ran on one core (threads cannot share it: every system call hands the GIL
over, ``forking``). ``Reader`` moves the reading, hashing and probing to a process forked as ``art add`` starts,
while the process runs one thread (``forking.can_fork``; before the progress bar's thread).

For each folder of ``listread.FORKED_AT`` regular files or more, the add sends jobs through a pipe: the folder's
descriptor number (the child opens it again as ``/proc/<add>/fd/<number>``, the very folder the add opened,
listed and checked, whatever its path names now), the names of its regular files in name order, and the job's
slot. The child opens each name relative to that folder as the add would (no symlink followed, no fifo waited
on), reads it into the job's slot of shared memory (two slots of ``SLOT`` bytes, one job each, reused: no fresh
page per file), hashes it (cut into chunks as ingest would, over the chunker's minimum), probes it, and sends
per file its stat data, ids and verdict (``_HEAD``, ``_PIECE``) through a second pipe. The add takes them in
order, copies each file's bytes out of the slot and stores them as if it had read them itself
(``listread.ReadStat`` with ``oid``, ``pieces`` and ``probed`` set); a slot is sent again with the next job once
every file of its job was taken. While the child starts on a folder, the add reads its first files itself (a
third, ``listread.HERE_AT_MOST`` at most), so a folder of 100 files does not wait for the child's first job.

What the child could not open as a regular file comes back as such, and the add looks at it by name as before
(every error names its path as it did); a file over the read limit, or past the room left in its job's slot,
comes back with its stat only and the add reads it. Jobs are sized to fit their slot (``FIRST_JOB`` names
before any file was read, then as the mean size of the files read so far says, ``JOB_NAMES`` at most), so
memory stays flat: the child is at most two jobs ahead. The child touches no store, no sqlite connection, no
progress, nothing on disk. Failures end both, as ``workspace/forked_writes``'s do: an error of the child is
raised again in the add (an ``ArtError`` keeps its class and exit code; anything else is a bug, exit 70), a
child killed by a signal takes the add with it by the same signal, an add that stops early (an error, Ctrl-C:
the child ignores SIGINT) kills the child and waits for it, and a child whose add died reads the end of its
pipe and stops. ``core.jobs = 1`` (or ``--jobs 1``) adds in one process.
"""

from __future__ import annotations

import mmap
import os
import pickle
import signal
import struct
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .faults import fault_point
from .forking import Child, can_fork, fork_child, frames, portable, rebuilt, send
from .hashing import digest_of
from .listread import PROBED_RAW, PROBED_ZSTD, ReadStat, read_opened
from .oid import Oid
from .store.pack import Compressor

if TYPE_CHECKING:
    from .chunking import ChunkerParams

JOB_NAMES = 512  # names per job at most: the child is at most two jobs ahead of the add
JOB_BYTES = 32 << 10  # characters of names per job at most
FIRST_JOB = 64  # names in the jobs before a file was read (the mean size of files read sizes the later ones)
SLOT = 8 << 20  # bytes of file content per job: two slots of shared memory, one job each
_IOV = 1000
# one file's result: what (``_DATA``, ``_STAT``, ``_NAME``, ``_ERROR``), ino, mtime ns, ctime ns, size, mode,
# bytes (in the job's slot, after the job's earlier files), pieces that follow, the blake3 of the bytes (of the
# whole file), the zstd probe's verdict on them (``listread.ReadStat.probed``; a file of several pieces: 0, each
# piece has its own)
_HEAD = struct.Struct("<BQqqqIQI32sB")
_PIECE = struct.Struct("<Q32sB")  # a chunk of a file over the chunker's minimum: its length, blake3, verdict
_DATA, _STAT, _NAME, _ERROR = 0, 1, 2, 3  # read whole / stat only (read by the add) / look by name / failed
_NO_ID = bytes(32)


class Reader(Child):
    """The reading process of an add (see the module). ``fork`` makes it; ``read`` has it read a folder's files;
    ``close`` ends it (``kill`` at once)."""

    def __init__(self, pid: int, jobs: int, results: int, shared: mmap.mmap) -> None:
        super().__init__(pid, jobs)
        self._results = results
        self._folders = 0  # folders sent (the child opens each once, by the number of the job's folder)
        self._shared = shared
        self._slots = memoryview(shared)
        self._buf = bytearray(1 << 20)
        self._view = memoryview(self._buf)
        self._start = self._end = 0  # the results received and not taken yet: ``_buf[_start:_end]``
        self._mean = 8 << 10  # bytes per file read so far (sizes the jobs to their slot)
        self._free = [1, 0]  # the slots no job holds (taken from the end)
        self.files = 0  # files the child read and hashed (tests count them)

    @classmethod
    def fork(cls) -> Reader | None:
        """The reading process, forked now (None when this process may not fork: ``can_fork``)."""
        if not can_fork():
            return None
        shared = mmap.mmap(-1, 2 * SLOT, flags=mmap.MAP_SHARED)  # the two slots: file content, child to parent
        forked = fork_child(lambda jobs, results, parent: _serve(jobs, results, parent, shared))
        if forked is None:
            shared.close()
            return None
        pid, jobs_w, results_r = forked
        return cls(pid, jobs_w, results_r, shared)

    def read(
        self, dfd: int, names: Iterator[str], count: int, read_max: int, params: ChunkerParams, level: int
    ) -> FolderReads:
        """Start reading ``count`` files of the open folder ``dfd`` by ``names`` (in that order; the first jobs are
        sent now, as many as there are free slots, so the caller may do other work meanwhile): the iterator
        returned yields each name with its ``ReadStat``, its content up to ``read_max`` bytes (None for a file the
        caller reads itself: larger, or past the room left in its job's slot), its ids and the zstd probe's
        verdict (at ``level``, ``Compressor.compressible``), or None for a name the caller looks at itself (not a
        regular file when opened, or not readable), in order. Folders are read in the order they were started;
        another may be started only once every name of the ones before was sent (``FolderReads.left`` is 0) and
        a slot is free (``free``). Stopped before its end (the caller failed), the child is killed: it may be in
        the middle of a job.

        Raises:
            what the child raised (see the module); a child killed by a signal kills this process too.
        """
        self._folders += 1
        reads = FolderReads(self, dfd, names, count, (self._folders, dfd, read_max, params, level))
        try:
            while reads.left and self._free:
                reads.send()
        except BaseException:
            self.kill()
            raise
        return reads

    @property
    def free(self) -> int:
        """Slots no job holds: jobs that may be sent now."""
        return len(self._free) if self.alive else 0

    def _send(
        self, dfd: int, names: Iterator[str], left: int, slot: int, job: tuple[int, int, int, ChunkerParams, int]
    ) -> list[str]:
        """Send a job of the next names with its ``slot`` and ``job``'s (folder number, folder descriptor,
        read_max, params, level); return its names: ``JOB_NAMES`` at most, ``FIRST_JOB`` before any file was read,
        as many as the mean size of the files read so far says fit in two thirds of a slot, and ``JOB_BYTES`` of
        names at most (two jobs fit in the pipe, so this never waits on a child that waits on this process)."""
        most = min(left, JOB_NAMES if self.files else FIRST_JOB, max(16, SLOT * 2 // (3 * self._mean)))
        todo: list[str] = []
        size = 0
        while len(todo) < most and size < JOB_BYTES:
            todo.append(next(names))
            size += len(todo[-1])
        try:
            send(self._jobs, (todo, slot, *job))
        except OSError:  # the child is gone: its error, or its death by a signal, is this process's
            while True:
                self._take(0)  # the results it sent before, then its error (or the end: ``_fill``)
        return todo

    def _fill(self, n: int) -> None:
        """Have at least ``n`` bytes of results received and not taken.

        Raises:
            RuntimeError: the child ended first (a child killed by a signal kills this process: ``_reap``).
        """
        if self._end - self._start >= n:
            return
        if len(self._buf) - self._start < n:  # move what is left to the front (into a larger buffer if need be)
            left = self._end - self._start
            if n > len(self._buf):
                self._view.release()
                old, self._buf = self._buf, bytearray(max(n, 2 * len(self._buf)))
                self._buf[:left] = memoryview(old)[self._start : self._end]
                self._view = memoryview(self._buf)
            else:
                self._view[:left] = bytes(self._view[self._start : self._end])
            self._start, self._end = 0, left
        while self._end - self._start < n:
            got = os.readv(self._results, [self._view[self._end :]])
            if not got:  # the child ended without the results asked for
                self._reap()
                raise RuntimeError("the add's reading process ended before its results")
            self._end += got

    def _take(self, at: int) -> ReadStat | None:
        """The next file's result, its content (if read) copied from the shared slots at ``at``.

        Raises:
            what the child raised (``_ERROR``), or ``RuntimeError`` when it ended first (see ``_fill``).
        """
        self._fill(_HEAD.size)
        what, ino, mtime, ctime, size, mode, length, npieces, digest, probed = _HEAD.unpack_from(self._buf, self._start)
        self._start += _HEAD.size
        if what == _NAME:
            return None
        if what == _ERROR:
            self._fill(length)
            error = pickle.loads(self._view[self._start : self._start + length])
            self._reap()
            name, args, attrs = error
            raise rebuilt(name, args, attrs, who="the add's reading process")
        st = ReadStat.__new__(ReadStat)
        st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode = ino, mtime, ctime, size, mode
        st.data = st.oid = st.pieces = None
        st.probed = probed
        if what == _STAT:
            return st
        if npieces:
            table = npieces * _PIECE.size
            self._fill(table)
            view = self._view[self._start : self._start + table]
            st.pieces = [(Oid(d.hex()), k, v) for k, d, v in _PIECE.iter_unpack(view)]
            self._start += table
        st.data = bytes(self._slots[at : at + length])
        st.oid = Oid(digest.hex())
        self.files += 1
        return st

    def _release(self) -> None:
        """The results pipe and the shared slots (the child has ended)."""
        os.close(self._results)
        self._slots.release()
        self._shared.close()


class FolderReads:
    """The files of one folder as the reading process sends them (``Reader.read``): an iterator of (name,
    ``ReadStat`` or None); ``left``, the names not sent yet."""

    def __init__(
        self, reader: Reader, dfd: int, names: Iterator[str], count: int, job: tuple[int, int, int, Any, int]
    ) -> None:
        self._reader, self._dfd, self._names, self.left, self._job = reader, dfd, names, count, job
        self._sent: deque[tuple[list[str], int]] = deque()  # each job sent and not taken yet: its names, slot
        self._results = self._stream()

    def __iter__(self) -> Iterator[tuple[str, ReadStat | None]]:
        return self._results

    def __next__(self) -> tuple[str, ReadStat | None]:
        return next(self._results)

    def send(self) -> None:
        """Send a job of the next names in a free slot."""
        slot = self._reader._free.pop()
        self._sent.append((self._reader._send(self._dfd, self._names, self.left, slot, self._job), slot))
        self.left -= len(self._sent[-1][0])

    def drain(self) -> None:
        """Take every file of the folder and drop it (the caller will not use them; the child stays in step)."""
        for _ in self._results:
            pass

    def _stream(self) -> Iterator[tuple[str, ReadStat | None]]:
        reader = self._reader
        done = False
        try:
            while self._sent:
                todo, slot = self._sent.popleft()
                at = slot * SLOT  # the job's files' content, one after the other from the start of its slot
                size = 0
                for name in todo:
                    st = reader._take(at)
                    if st is not None and st.data is not None:
                        at += len(st.data)
                        size += len(st.data)
                    yield name, st
                reader._mean = max(1, (reader._mean + size // max(1, len(todo))) // 2)
                reader._free.append(slot)  # every file's content was copied out of it
                while self.left and reader._free:
                    self.send()
            done = True
        finally:
            if not done:
                reader.kill()


def _serve(jobs: int, results: int, parent: int, shared: mmap.mmap) -> None:  # pragma: no cover - the child
    """The child's loop (it runs nothing else): each job read (``_read_job``) until the add closes its pipe."""
    code = 0
    probe: tuple[int, Callable[[bytes | memoryview], bool]] | None = None
    slots = memoryview(shared)
    folder: tuple[int, int | None] = (0, None)  # the job's folder: its number, and this process's descriptor
    got = bytearray()
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the add's to handle: it kills this process
        while data := os.read(jobs, 1 << 16):  # empty: the add is over (or died)
            got += data
            for names, slot, number, dfd, read_max, params, level in frames(got):
                if os.getppid() != parent:
                    raise SystemExit(1)
                fault_point("add.forked-read")  # in the child alone: a test fails or kills it here
                if folder[0] != number:
                    if folder[1] is not None:
                        os.close(folder[1])
                    folder = number, _open_folder(parent, dfd)
                if probe is None or probe[0] != level:
                    probe = level, Compressor(level).compressible
                room = slots[slot * SLOT : (slot + 1) * SLOT]
                _read_job(folder[1], names, room, read_max, params, probe[1], results)
    except BaseException as exc:
        code = 1
        try:  # the error as an ``_ERROR`` result: its pickle's length, then the pickle (best effort)
            error = pickle.dumps(portable(exc), protocol=pickle.HIGHEST_PROTOCOL)
            _write(results, [_HEAD.pack(_ERROR, 0, 0, 0, 0, 0, len(error), 0, _NO_ID, 0), error])
        except BaseException:
            pass
    os._exit(code)


def _open_folder(parent: int, dfd: int) -> int | None:  # pragma: no cover - runs in the child
    """The add's open folder ``dfd``, opened again through ``/proc`` (the very folder it opened, whatever its path
    names now); None when that is refused (every file then goes back to be looked at by name)."""
    try:
        return os.open(f"/proc/{parent}/fd/{dfd}", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    except OSError:
        return None


def _read_job(  # pragma: no cover - runs in the child
    dfd: int | None,
    names: list[str],
    room: memoryview,
    read_max: int,
    params: Any,
    compressible: Callable[[bytes | memoryview], bool],
    results: int,
) -> None:
    """Read each of ``names`` in the folder ``dfd`` into ``room`` (the job's slot, one file after the other),
    hash and probe it (``compressible``: the store's ``Compressor.compressible``), and send what was found (see
    the module). A file that does not fit in what is left of ``room``, or is over ``read_max``, goes back with its
    stat only (the add reads it)."""
    from .chunking import Chunker

    min_size = params.min_size
    chunker = None
    out: list[bytes] = []
    head, piece = _HEAD.pack, _PIECE.pack
    at = 0
    for name in names:
        got = None if dfd is None else _read_into(dfd, name, room[at:], read_max)
        if got is None:
            out.append(head(_NAME, 0, 0, 0, 0, 0, 0, 0, _NO_ID, 0))
            continue
        st, n = got
        facts = st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode
        if n < 0:
            out.append(head(_STAT, *facts, 0, 0, _NO_ID, 0))
            continue
        data = room[at : at + n]
        at += n
        pieces: list[bytes] = []
        if n <= min_size:
            digest, probed = digest_of(data), PROBED_ZSTD if compressible(data) else PROBED_RAW
        else:  # cut as ingest would (``Ingester._read_job``)
            if chunker is None:
                chunker = Chunker(params)
            parts = chunker.split(data)
            digests = [digest_of(p) for p in parts]
            for p, d in zip(parts, digests, strict=True):
                pieces.append(piece(len(p), d, PROBED_ZSTD if compressible(p) else PROBED_RAW))
            digest = digests[0] if len(parts) == 1 else digest_of(data)  # one chunk: its id is the file's
            probed = 0
        out.append(head(_DATA, *facts, n, len(pieces), digest, probed))
        out += pieces
        if len(out) >= _IOV:
            _write(results, out)
            out = []
    if out:
        _write(results, out)


def _read_into(dfd: int, name: str, room: memoryview, read_max: int) -> tuple[os.stat_result, int] | None:
    """``listread.read_opened``: the file read into ``room``, its stat and length, or -1 when it is over
    ``read_max`` or does not fit (or grew past what fits since its stat)."""  # pragma: no cover - runs in the child

    def read(fd: int, st: os.stat_result) -> tuple[os.stat_result, int]:
        size = st.st_size
        if size > read_max or size + 1 > len(room):
            return st, -1
        n = os.readv(fd, [room[: size + 1]])  # one byte more: a file that grew since its stat is seen
        return st, -1 if n > size else n

    return read_opened(dfd, name, read)


def _write(fd: int, buffers: list[bytes]) -> None:  # pragma: no cover - runs in the child
    """Write all of ``buffers`` to the pipe ``fd`` (``writev``, continued after a partial write)."""
    todo: list[bytes | memoryview] = list(buffers)
    at = 0
    while at < len(todo):
        n = os.writev(fd, todo[at : at + _IOV])
        while at < len(todo) and n >= len(todo[at]):
            n -= len(todo[at])
            at += 1
        if n:
            todo[at] = memoryview(todo[at])[n:]
