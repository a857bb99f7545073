"""A folder's first add: each file read as its folder is listed, its stat data taken from the open file.

``scan.walk_tree`` lists a folder and stats every entry as listed (``scan.stream_dir``), and ingest opens each
file later by its name: two name lookups a file in the kernel (``newfstatat``, then ``openat``). When nothing is
known of the folder yet (a first add: the stat cache knows nothing under it, so every file is read anyway),
``ReadAsListed`` opens it instead: it lists the names with their type as the listing gives it (no stat), then
opens each regular file, in name order, by its name relative to the folder's descriptor (``O_NOFOLLOW |
O_NONBLOCK``), takes its stat data from ``os.fstat`` of the open file and reads it whole: one name lookup a
file. Name order, not directory order: the store's index and the stat cache take rows in the order the files
come, and rows in directory order scattered sqlite's writes (an earlier attempt measured 25.8k ``pwrite`` calls
become 731k).

What is not a regular file when it is opened (a symlink fails with ``ELOOP``, a fifo or a device ``fstat`` says
so, a file that cannot be opened) and every entry the listing says is not one goes the existing way: ``lstat``
by name, and a symlink's target checked (``scan.link_target``); a regular file that cannot be opened is read
later by its path, which names it in the error. The folder's signature is hashed from the same stat data in
directory order, byte-identical to ``stream_dir``'s; the file's stat is taken before its bytes are read, so what
is stored is at least as new as the signature says, as before. A folder is read this way whatever its size:
its listing stays packed (names, their type and 40 bytes of stat data an entry, held until its last file is
read, for its signature: ~66 bytes an entry with its name order, as the stat walk's ~57), and a folder of over
``scan.SPILL_FILES`` files and nothing else encodes its tree as its files are done (``scan._Open.settle``), so
its names and ids are not held beside the listing: a flat folder of a million files peaks at ~120 MB, not 162.
``READ_AT_MOST`` bounds only the folder listed ahead (``ReadAsListed._read_ahead``): one large listing at a
time. (Before 2026-12-03 a folder over it was left to the stat walk, and a flat million did not get the
add's reading process.)
"""

from __future__ import annotations

import os
import time
from array import array
from collections.abc import Callable, Iterator
from itertools import chain, islice
from stat import S_IFDIR, S_IFLNK, S_IFREG
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from .faults import fault_point
from .hashing import hash_bytes
from .oserrors import describe
from .packed import NameList, name_order
from .scan import (
    _FACTS,
    _LINK,
    _O_DIR,
    _O_NOFOLLOW,
    _STREAM_BATCH,
    FILE_BATCH,
    SKIP_NAMES,
    FileBatch,
    SignedDir,
    _Batch,
    _Open,
    check_name,
    link_target,
    sign_entries,
)
from .smallread import read_open

if TYPE_CHECKING:
    from pathlib import Path

    from .chunking import ChunkerParams
    from .forked_reads import FolderReads, Reader
    from .oid import Oid

READ_AT_MOST = 200_000  # entries: a larger folder is not listed ahead (it is listed, then read, at its turn)
FORKED_AT = 32  # regular files in a folder from which an add's reading process reads them (``forked_reads``)
HERE_AT_MOST = 64  # files this process reads itself (a third at most) while that process starts on the rest
READ_BYTES = 2 << 20  # file content read before the files go to ``file_oids`` (a batch ends here or at FILE_BATCH)
_O_FILE = os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
PROBED_ZSTD, PROBED_RAW = 1, 2  # ``ReadStat.probed``: the zstd probe says a zstd attempt is worth it / store raw
_FILE, _OTHER = 0, 1  # an entry's type as listed: a regular file, or anything else (stat-ed by name)
T = TypeVar("T")
_AT = os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd and hasattr(os, "O_DIRECTORY")


class ReadStat:
    """The stat facts of a file read as listed (``scan.FileStat``'s five, from ``os.fstat`` of the open file) and
    its content (``data``: None for a file over the reader's size limit, read later by ingest). Read by an add's
    reading process (``forked_reads``), also its ids: ``oid``, the blake3 of ``data``, and ``pieces``, (id,
    length, verdict) of each chunk when ``data`` is over the chunker's minimum (None: one chunk, ``oid``), where
    ``probed`` and each verdict are the zstd probe's (``Compressor.compressible``): ``PROBED_ZSTD``, ``PROBED_RAW``
    (stored raw without an attempt), or 0 (not probed)."""

    __slots__ = ("st_ino", "st_mtime_ns", "st_ctime_ns", "st_size", "st_mode", "data", "oid", "pieces", "probed")

    def __init__(self, st: os.stat_result, data: bytes | None) -> None:
        self.st_ino, self.st_mtime_ns, self.st_ctime_ns = st.st_ino, st.st_mtime_ns, st.st_ctime_ns
        self.st_size, self.st_mode, self.data = st.st_size, st.st_mode, data
        self.oid: Oid | None = None
        self.pieces: list[tuple[Oid, int, int]] | None = None
        self.probed = 0


def read_opened(dfd: int, name: str, read: Callable[[int, os.stat_result], T]) -> T | None:
    """``read(fd, stat)`` of ``name`` in the folder ``dfd``, opened without following a symlink or waiting on a
    fifo (its stat from ``fstat`` of the open file), when it is a regular file; None when it is not, or cannot be
    opened or read (the caller looks at it by name)."""
    try:
        fd = os.open(name, _O_FILE, dir_fd=dfd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        return read(fd, st) if st.st_mode & 0o170000 == S_IFREG else None
    except OSError:
        return None
    finally:
        os.close(fd)


def read_at(dfd: int, name: str, read_max: int) -> ReadStat | None:
    """``read_opened``: the file's stat and, up to ``read_max`` bytes, its content (read to its end if it grew
    since the stat)."""

    def read(fd: int, st: os.stat_result) -> ReadStat:
        return ReadStat(st, None if st.st_size > read_max else read_open(fd, st.st_size))

    return read_opened(dfd, name, read)


class _Listing:
    """A folder's entries as listed, in directory order: names packed, the type the listing gave each
    (``_FILE``/``_OTHER``), and their stat facts (5 to an entry, ``scan.FileStat.FIELDS``), filled as read."""

    __slots__ = ("names", "kinds", "facts")

    def __init__(self, names: NameList, kinds: bytearray) -> None:
        self.names, self.kinds = names, kinds
        self.facts = bytearray(_FACTS.size * len(kinds))  # ``_FACTS`` packed, as ``stream_dir`` hashes them

    def put(self, i: int, st: Any) -> None:
        _FACTS.pack_into(self.facts, 40 * i, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode)

    def signed(self, subdirs: list[str], listed: int) -> SignedDir:
        """The folder's own part of its signature, as ``scan.stream_dir`` hashes it: each batch of
        ``_STREAM_BATCH`` entries, in directory order, through ``scan.sign_entries``."""
        out = SignedDir()
        facts, blob, ends = self.facts, self.names.blob, self.names.ends
        n = len(ends)
        for start in range(0, n, _STREAM_BATCH):
            stop = min(start + _STREAM_BATCH, n)
            sign_entries(
                out.h, facts[40 * start : 40 * stop], bytes(blob[ends[start - 1] if start else 0 : ends[stop - 1] - 1])
            )
        with memoryview(facts) as view, view.cast("q") as ints:
            out.newest = max(0, max(ints[1::5], default=0))  # the newest mtime
        out.listed = listed
        subdirs.sort()
        out.subdirs = subdirs
        return out


def _list(dfd: int, most: int | None = None) -> _Listing | None:
    """The entries of the open folder ``dfd`` (all but .git/.art), or None when there are over ``most``."""
    names = NameList()
    kinds = bytearray()
    part: list[str] = []
    with os.scandir(dfd) as it:
        for e in it:
            name = e.name
            if name in SKIP_NAMES:
                continue
            kinds.append(_FILE if e.is_file(follow_symlinks=False) else _OTHER)
            part.append(name)
            if len(part) >= _STREAM_BATCH:
                if most is not None and len(kinds) > most:
                    return None
                text = "\0".join(part)
                names.add(part, text, text.encode("utf-8", "surrogateescape"))
                part = []
    if most is not None and len(kinds) > most:
        return None
    if part:
        text = "\0".join(part)
        names.add(part, text, text.encode("utf-8", "surrogateescape"))
    return _Listing(names, kinds)


class _Ahead:
    """A folder read ahead (``ReadAsListed._read_ahead``): its path, descriptor, listing, regular files as listed
    (positions in name order), when it was listed, and its files' reads (None: under ``FORKED_AT`` files)."""

    __slots__ = ("path", "dfd", "listing", "files", "listed", "reads")

    def __init__(self, path: str, dfd: int, listing: _Listing, files: array[int], listed: int) -> None:
        self.path, self.dfd, self.listing, self.files, self.listed = path, dfd, listing, files, listed
        self.reads: FolderReads | None = None


def _next_in(order: list[tuple[str, list[str]]]) -> str | None:
    """The path of the folder the walk opens next, by ``order`` (the folders left open whose subfolders are not
    all opened: those done are dropped from its end)."""
    while order and not order[-1][1]:
        order.pop()
    if not order:
        return None
    path, names = order[-1]
    return os.path.join(path, names[-1])


class ReadAsListed:
    """A ``scan.walk_tree`` ``opener`` for a folder nothing is known of (the module docstring): hands its regular
    files to ``file_oids`` as (path, ``ReadStat``) with their content read, in name order, in batches of up to
    ``FILE_BATCH`` files or ``READ_BYTES`` of content; files over ``read_max`` bytes with their stat only.
    Given an add's ``reader`` (``forked_reads.Reader``), ``params`` (the chunker's) and ``level`` (the store's
    zstd level), a folder of ``FORKED_AT`` regular files or more is read, hashed and probed by that process.
    ``spill`` (a folder for temporary files, ``walk_tree``'s) lets a folder of over ``scan.SPILL_FILES`` files and
    nothing else encode its tree as its files are done (``scan._Open.settle``)."""

    def __init__(
        self,
        guard: Path | None,
        file_oids: FileBatch,
        read_max: int,
        reader: Reader | None = None,
        params: ChunkerParams | None = None,
        level: int = 0,
        spill: str | None = None,
    ) -> None:
        self.guard, self.file_oids, self.read_max, self.spill = guard, file_oids, read_max, spill
        self.reader, self.params, self.level = reader, params, level
        # the walk's order, as ``walk_tree`` will open folders (depth first, subfolders in name order): for each
        # folder opened whose subfolders are not all opened yet, its path and those subfolders' names in
        # reverse name order (the next one last); None once a folder was not where this says (no more reading
        # ahead for this walk)
        self._order: list[tuple[str, list[str]]] | None = [] if reader is not None else None
        self._ahead: _Ahead | None = None  # the next folder, listed and being read by the reader

    def __call__(self, path: str, rel: str) -> _Open | None:
        """Open, read and sign the folder at ``path`` (``rel`` from the top: a subfolder is not followed if it
        is a symlink now).

        Raises:
            FileSystemError: when the folder or an entry cannot be read.
            UnsafePathError: for a symlink that leaves the guard, or a name that is not valid UTF-8.
        """
        if not _AT:  # pragma: no cover - platforms without dir_fd
            return None
        ahead = self._next_is(path)
        check_name(path)
        if ahead is not None:
            dfd = ahead.dfd
        else:
            try:
                dfd = os.open(path, _O_DIR | (_O_NOFOLLOW if rel else 0))
            except OSError as exc:
                _raise(exc, path, "read the folder")
        try:
            try:
                listing = ahead.listing if ahead is not None else _list(dfd)
                assert listing is not None
                fault_point("scan.folder-read")  # tests count the folders a command reads (ART_FAULT_LOG)
            except OSError as exc:
                _raise(exc, path, "read the folder")
            return self._read(path, rel, dfd, listing, ahead)
        finally:
            os.close(dfd)

    def close(self) -> None:
        """The walk is over (or failed): a folder read ahead and not asked for is let go."""
        self._order = None
        self._drop_ahead()

    def _next_is(self, path: str) -> _Ahead | None:
        """The walk opens ``path``: follow it in the order (or stop reading ahead, when it is not the folder the
        order says); the folder read ahead, when it is this one (any other is let go)."""
        ahead, self._ahead = self._ahead, None
        order = self._order
        if order:  # (empty: the walk's top folder)
            if _next_in(order) != path:
                self._order = None
                fault_point("listread.walk-elsewhere")  # tests see the read-ahead give up
            else:
                order[-1][1].pop()
        if ahead is not None and ahead.path != path:
            self._ahead = ahead
            self._drop_ahead()
            ahead = None
        return ahead

    def _drop_ahead(self) -> None:
        """Let the folder read ahead go: its files taken and dropped (the reader stays in step), its descriptor
        closed."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return
        try:
            if ahead.reads is not None and self.reader is not None and self.reader.alive:
                ahead.reads.drain()
        finally:
            os.close(ahead.dfd)

    def _read_ahead(self) -> None:
        """Open, list and start reading (``reader``) the folder the walk will open next, while this one's files
        are taken: the reader has then work when this folder's is done (a tree of folders of 100 files kept it
        waiting between folders). Nothing is raised here: a folder that cannot be opened or listed now is left to
        its turn, which says why."""
        path = _next_in(self._order) if self._order is not None else None
        reader = self.reader
        if path is None or reader is None or not reader.free or self.params is None:
            return
        try:
            dfd = os.open(path, _O_DIR | _O_NOFOLLOW)
        except OSError:
            return
        try:
            listing = _list(dfd, READ_AT_MOST)
        except OSError:
            listing = None
        if listing is None:
            os.close(dfd)
            return
        files = array("I", (i for i in name_order(listing.names) if listing.kinds[i] == _FILE))
        ahead = _Ahead(path, dfd, listing, files, time.time_ns())
        if len(files) >= FORKED_AT:
            names = listing.names
            ahead.reads = reader.read(
                dfd, (names[i] for i in files), len(files), self.read_max, self.params, self.level
            )
        self._ahead = ahead

    def _read(self, path: str, rel: str, dfd: int, listing: _Listing, ahead: _Ahead | None = None) -> _Open:
        """Check every name and link, then read the files in name order and hand them on in batches (``ahead``:
        this folder was listed and its files sent to the reader before its turn)."""
        top = _Open(path, rel, SignedDir())
        prefix = os.path.join(path, "")
        names, kinds = listing.names, listing.kinds
        files = array("I")  # the regular files' positions in the listing, in name order
        subdirs: list[str] = []
        ascii_only = names.blob.isascii()
        for i in name_order(names):
            if not ascii_only and not names.raw_at(i).isascii():
                check_name(prefix + names[i])
            if kinds[i] == _FILE:
                files.append(i)
            else:
                self._other(dfd, prefix, listing, i, top, subdirs, files)
        fault_point("listread.folder-listed")  # every name checked, no file opened yet
        listed = time.time_ns()  # before the first file's stat: the racy rule's "listed" (scan.SignedDir.racy)
        read_max, put, facts = self.read_max, _FACTS.pack_into, listing.facts
        batch, items, held = _Batch(), [], 0
        reader = self.reader
        order = self._order
        if order is not None:  # the walk opens this folder's subfolders next, in name order
            order.append((path, sorted(subdirs, reverse=True)))
        # names decoded one at a time (a list of every name would hold ~65 bytes a file more), or a job at a time
        got: Iterator[Any] = ((name, read_at(dfd, name, read_max)) for name in (names[i] for i in files))
        reads = None  # this folder's files as the reading process sends them
        if ahead is not None and ahead.reads is not None and ahead.files == files:
            got = reads = ahead.reads
            listed = ahead.listed  # its files' stats were taken after it was listed, then
        else:
            if ahead is not None and ahead.reads is not None:  # the folder changed since: read here, as it is now
                ahead.reads.drain()
            if reader is not None and reader.alive and self.params is not None and len(files) >= FORKED_AT:
                # the reading process starts on the files after the first ``here``, which this process reads
                # meanwhile
                here = min(len(files) // 3, HERE_AT_MOST)
                reads = reader.read(
                    dfd, (names[i] for i in files[here:]), len(files) - here, read_max, self.params, self.level
                )
                got = chain(islice(got, here), reads)
        if self._order is not None and (reads is None or not reads.left):
            self._read_ahead()  # every name of this folder went to the reader: the next folder may follow
        try:
            for i, (name, st) in zip(files, got, strict=True):  # strict: ``got`` runs to its end (the reader's jobs)
                if st is None:  # not a regular file now, or not readable: the existing way, by name
                    st = self._lstat(dfd, prefix, name)
                    if st.st_mode & 0o170000 != S_IFREG:
                        listing.put(i, st)
                        self._kind(prefix, name, st.st_mode, top, subdirs)
                        continue
                size, mode = st.st_size, st.st_mode
                put(facts, 40 * i, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, size, mode)
                batch.sizes.append(size)
                batch.execs.append(1 if mode & 0o111 else 0)
                items.append((prefix + name, st))
                if size <= read_max:
                    held += size
                if len(items) >= FILE_BATCH or held >= READ_BYTES:
                    self._hand_on(top, batch, items, len(prefix), not subdirs and not top.others)
                    batch, items, held = _Batch(), [], 0
        except BaseException:
            if reader is not None and reads is not None:  # its jobs for this folder are out: it cannot go on
                reader.kill()
            raise
        if items:
            self._hand_on(top, batch, items, len(prefix), not subdirs and not top.others)
        own = listing.signed(subdirs, listed)
        top.own, top.subdirs, top.racy = own, own.subdirs[::-1], own.racy
        return top

    def _hand_on(self, top: _Open, batch: _Batch, items: list[tuple[str, Any]], cut: int, plain: bool) -> None:
        """Hand a batch of files read to ``file_oids`` (the walk keeps its names packed, each followed by a NUL)."""
        batch.names = "".join([path[cut:] + "\0" for path, _ in items]).encode("utf-8", "surrogateescape")
        top.batches.append(batch)
        top.files += len(items)
        top.size += sum(batch.sizes)
        batch.oids = self.file_oids(items)
        # the batch before last is done by now (a large folder of only files: encoded and let go, ``_Open.settle``)
        top.settle(len(top.batches) - 2, self.spill, plain)

    def _other(
        self, dfd: int, prefix: str, listing: _Listing, i: int, top: _Open, subdirs: list[str], files: array[int]
    ) -> None:
        """An entry the listing says is not a regular file: its stat by name, then as its type says."""
        name = listing.names[i]
        st = self._lstat(dfd, prefix, name)
        listing.put(i, st)
        if st.st_mode & 0o170000 == S_IFREG:  # a regular file now: read with the others
            files.append(i)
        else:
            self._kind(prefix, name, st.st_mode, top, subdirs)

    def _kind(self, prefix: str, name: str, mode: int, top: _Open, subdirs: list[str]) -> None:
        fmt = mode & 0o170000
        if fmt == S_IFDIR:
            subdirs.append(name)
        elif fmt == S_IFLNK:
            target = link_target(prefix + name, self.guard)
            top.others.append((name, [name, _LINK, target, hash_bytes(target.encode()).digest, 0]))

    @staticmethod
    def _lstat(dfd: int, prefix: str, name: str) -> os.stat_result:
        try:
            return os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except OSError as exc:
            _raise(exc, prefix + name, "read")


def _raise(exc: OSError, path: str, doing: str) -> NoReturn:
    """Raise ``exc`` as ``scan``'s walk describes it (cannot ``doing`` ``path``); an interruption as it is.

    Raises:
        FileSystemError: always, but for an interruption.
    """
    if isinstance(exc, (BlockingIOError, InterruptedError)):
        raise exc
    raise describe(exc, doing, path) from exc
