"""Files written while a fetch streams their chunks by, so a pull reads each byte once.

A pull used to fetch a large file (verifying every chunk and, as the chunks stream by in file order, the
whole-file hash), then check it out: read the same bytes back from the local store, decompress and hash them
again. With a ``FileStage`` the fetch also writes the verified content of each wanted file, as it is hashed,
to a temp file in the stage folder (large sequential writes of several chunks, made by a writer thread while
the fetch goes on hashing). When the whole-file hash
proves the file the temp file is *ready*; checkout then renames it into place (``materialize_file``'s
``staged``) instead of reading the store. Nothing about the local store changes: it still receives every
object, complete and verified, so the stage is only a shortcut.

The stage also carries ``proved_packs``: the names of the packs the fetch verified object by object and
adopted whole (``transfer._import_pack``). A checkout of a folder of small files writes a one-chunk file
located in one of those packs from the store without hashing it again (``materialize_small``): its bytes
were hashed on their way in, from the very file the store now holds, a moment before; anything located
elsewhere (a copy the store had already, a pack written by the store itself) is hashed as usual.

Safety: a staged file holds exactly the bytes that were hashed, and it is used only when that hash is the
file's id and its length the manifest's size; anything else (a stream that broke off, a failed write, a
mismatch) discards it. The temp names carry the owner token (``tmpowner``): a killed pull's leftovers are
removed by the next command that takes the repository lock (``workspace/cleanup.py``), and ``close`` removes
whatever checkout did not take. The workspace never sees a half-written file.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Iterable
from typing import Any

from .arrivals import Arrivals
from .faults import fault_point
from .fileio import remove_if_present
from .oid import Oid
from .tmpowner import token

WRITE_BATCH = 4 << 20  # bytes gathered before one writev
QUEUED = 2  # batches handed to the writer thread and not yet written (memory: a few batches)
MAX_OPEN = 8  # files being staged at once (more wanted files than this are checked out the ordinary way)
_IOV_MAX = 512


class _Staging:
    __slots__ = ("error", "fd", "path", "pending", "pieces", "size")

    def __init__(self, path: str, fd: int) -> None:
        self.path, self.fd = path, fd
        self.pieces: list[bytes | memoryview] = []
        self.pending = 0
        self.size = 0  # bytes written (by the writer thread)
        self.error: OSError | None = None  # the writer thread's failure


class FileStage:
    """Where a fetch writes the files in ``wanted`` as their verified chunks arrive (see the module docstring).

    The writes are made by one writer thread, so the fetch's thread goes on hashing while the kernel copies
    (at most ``QUEUED`` batches of ``WRITE_BATCH`` bytes wait for it).

    Args:
        folder: a private temp folder on the workspace's filesystem (``.art/tmp/stage``); made when needed.
        wanted: ids of the files to stage (others stream by unstaged).
        min_size: also stage any file of at least this many bytes (the large files inside tracked folders).
    """

    def __init__(self, folder: str | os.PathLike[str], wanted: Iterable[Oid], *, min_size: int | None = None) -> None:
        self.folder = os.fspath(folder)
        self.wanted = set(wanted)
        self.min_size = min_size
        self._open: dict[Oid, _Staging] = {}
        self._ready: dict[Oid, str] = {}
        self._adopted: set[Oid] = set()  # ready files the caller wrote (a lazy pull's), not in the store
        self._serial = itertools.count()
        self._queue: queue.Queue[tuple[_Staging, list[bytes | memoryview]] | None] = queue.Queue(QUEUED)
        self._writer: threading.Thread | None = None
        # packs this fetch verified object by object and adopted whole (see the module docstring)
        self.proved_packs: set[str] = set()
        # a pull whose checkout runs beside its fetch: what the fetch has brought so far (``arrivals.py``)
        self.arrivals: Arrivals | None = None
        # a pull's writer process, forked as it started (``workspace/forked_writes.Writer``), or None
        self.writer: Any = None

    def __enter__(self) -> FileStage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def begin(self, oid: Oid, size: int) -> bool:
        """Start staging file ``oid`` (``size`` bytes) when it is wanted (and not too many are open); True when
        it is staged."""
        wanted = oid in self.wanted or (self.min_size is not None and size >= self.min_size)
        if not wanted or oid in self._open or oid in self._ready or len(self._open) >= MAX_OPEN:
            return False
        path = f"{self.folder}/file-{token()}-{next(self._serial)}.tmp"  # swept by owner token when killed
        try:
            os.makedirs(self.folder, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError:
            return False  # checkout writes it the ordinary way (and reports the fault, if it persists)
        self._open[oid] = _Staging(path, fd)
        return True

    def staging(self, oid: Oid) -> bool:
        return oid in self._open

    def write(self, oid: Oid, piece: bytes | memoryview) -> None:
        """Append verified, hashed ``piece`` to the staged file ``oid`` (gathered into large writes)."""
        s = self._open.get(oid)
        if s is None:
            return
        s.pieces.append(piece)
        s.pending += len(piece)
        if s.pending >= WRITE_BATCH or len(s.pieces) >= _IOV_MAX:
            self._send(oid, s)

    def finish(self, oid: Oid, proved: bool, size: int) -> None:
        """The stream of ``oid`` ended: keep the file when ``proved`` (its hash is its id) and ``size`` long."""
        s = self._open.get(oid)
        if s is None:
            return
        if proved:
            self._send(oid, s)
        s = self._open.pop(oid, None)
        if s is None:  # handing the last batch over failed: already dropped
            return
        self._queue.join()  # every batch of it written
        try:
            os.close(s.fd)
        except OSError:
            proved = False
        if proved and s.error is None and s.size == size:
            fault_point("stage.file-ready")
            self._ready[oid] = s.path
        else:
            remove_if_present(s.path)

    def temp_path(self) -> str:
        """A new temp file name in the stage folder (made when needed), swept by owner token when killed: for a
        caller that writes a file itself and then ``adopt``s it."""
        os.makedirs(self.folder, exist_ok=True)
        return f"{self.folder}/file-{token()}-{next(self._serial)}.tmp"

    def adopt(self, oid: Oid, path: str) -> None:
        """Count ``path`` (from ``temp_path``), which the caller wrote and proved to hold file ``oid`` (a lazy
        pull's kernel copy), as staged and ready: checkout takes it, ``close`` removes it when not taken."""
        old = self._ready.pop(oid, None)
        if old is not None and old != path:
            remove_if_present(old)
        self._ready[oid] = path
        self._adopted.add(oid)

    def ready(self) -> frozenset[Oid]:
        """The ids of the adopted files (``adopt``) not taken yet: their content is not in the local store, so
        a checkout counts them as present (``plan_checkout``'s ``ready``). Files staged by a fetch are not
        listed: their objects are stored too."""
        return frozenset(o for o in self._adopted if o in self._ready)

    def take(self, oid: Oid) -> str | None:
        """The path of the verified staged file ``oid``, now the caller's to rename (None when there is none)."""
        return self._ready.pop(oid, None)

    def drop(self, oid: Oid) -> None:
        """Give up staging ``oid`` (its stream broke off): the temp file is removed."""
        s = self._open.pop(oid, None)
        if s is not None:
            self._queue.join()  # the writer thread is done with its descriptor
            _close_quietly(s.fd)
            remove_if_present(s.path)

    def close(self) -> None:
        """Remove every staged file not taken (open ones and ready ones); stop the writer thread."""
        for oid in list(self._open):
            self.drop(oid)
        for path in self._ready.values():
            remove_if_present(path)
        self._ready.clear()
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None

    def _send(self, oid: Oid, s: _Staging) -> None:
        """Hand the gathered pieces of ``s`` to the writer thread."""
        pieces, s.pieces, s.pending = s.pieces, [], 0
        if not pieces:
            return
        try:
            fault_point("stage.file-writing")
        except OSError:
            self.drop(oid)  # as a failed write: checkout writes the file the ordinary way
            return
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="art-stage", daemon=True)
            self._writer.start()
        self._queue.put((s, pieces))

    def _write_loop(self) -> None:
        while (item := self._queue.get()) is not None:
            s, pieces = item
            try:
                while pieces and s.error is None:
                    n = os.writev(s.fd, pieces)
                    s.size += n
                    pieces = _rest(pieces, n)
            except OSError as exc:  # disk full, EIO...: the file is dropped; checkout writes it and reports it
                s.error = exc
            finally:
                self._queue.task_done()
        self._queue.task_done()


def _rest(pieces: list[bytes | memoryview], n: int) -> list[bytes | memoryview]:
    """What remains of ``pieces`` after a (short) write of ``n`` bytes."""
    i = 0
    while i < len(pieces) and n >= len(pieces[i]):
        n -= len(pieces[i])
        i += 1
    rest = pieces[i:]
    if rest and n:
        rest[0] = memoryview(rest[0])[n:]
    return rest


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
