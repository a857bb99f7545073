"""Objects back into files: write a temp file beside the target, verify its blake3, then rename over.

A user's file is never replaced before the new content is verified, and a failure leaves the old file
as it was (the temp file is removed).

``materialize_file`` writes one file of any size; ``materialize_small`` writes many files at once, the way a
checkout of a folder of small files needs: one index query per batch (``locate_chunks``, or none for the rows
the checkout's plan found already), the packs read in offset order in few large reads, each one-chunk file
written with a single open/write/close. A one-chunk file read from the local store is not hashed again (its
length and codec are checked): the store holds only bytes art hashed as it wrote them or verified as it
fetched them, and ``art fsck`` is the check for damage since (docs/design.md, "Checkout"). A pull's checkout
(``staged``) still hashes every file it did not verify itself (packs outside ``stage.FileStage.proved_packs``).
"""

from __future__ import annotations

import errno
import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import CorruptObjectError, FormatError, UnsafePathError, WorkspaceError
from .codec import MAX_CHUNK_SIZE
from .faults import fault_point
from .fileio import remove_if_present
from .hashing import ContentHasher, hash_bytes, hashes_to
from .materialize_large import LARGE_FILE, write_large
from .objects import Kind
from .oid import Oid
from .oserrors import describe, os_errors
from .stage import FileStage
from .store.base import ObjectStore
from .store.local import LocalStore
from .store.pack import PACK_MAGIC, RAW, ZSTD, check_entry, unpack_payload
from .tmpowner import note, token
from .types import Location

Progress = Callable[[int], None]


def materialize_file(
    store: ObjectStore,
    oid: Oid,
    size: int,
    dest: Path,
    *,
    executable: bool = False,
    progress: Progress | None = None,
    direct: bool = False,
    staged: FileStage | None = None,
) -> os.stat_result:
    """Write file ``oid`` to ``dest`` atomically, verified against its id; return the new file's stat.

    ``direct=True`` writes ``dest`` itself (it must not exist): only for a private staging folder that is
    renamed into place as a whole, where a half-written file is never visible. ``staged``: a pull's stage; when
    it holds ``oid`` (written and proved as the fetch streamed it by) that file is renamed to ``dest`` and the
    store is not read at all (a rename across filesystems falls back to writing from the store).

    Raises:
        ObjectNotFoundError: when a needed object is not stored.
        CorruptObjectError: when the assembled content does not hash to ``oid``; ``dest`` is untouched.
    """
    if staged is not None:
        st = _adopt(staged, oid, str(dest), executable, direct)
        if st is not None:
            if progress:
                progress(size)
            return st
    tmp, fd = _open_temp(str(dest), 0o755 if executable else 0o644, direct)
    try:
        try:
            if size >= LARGE_FILE and isinstance(store, LocalStore):  # many chunks: see materialize_large
                got, written = write_large(store, oid, size, fd, progress)
            else:
                got, written = _write_chunks(store, oid, size, fd, progress)
            if got != oid:
                raise CorruptObjectError(oid, f"content hashes to {got[:10]} ({written} bytes)")
            if written != size:  # the data is intact: whoever gave ``size`` (a pointer, a tree entry) is wrong
                raise FormatError(
                    f"file {oid[:10]} has {written} bytes, but {size} were expected",
                    hint="the pointer or tree naming it records the wrong size; 'art fsck' names it",
                )
            st = os.stat(fd)  # mode 0644/0755 less the umask, as git does
        finally:
            os.close(fd)
        return st if direct else _place(tmp, str(dest), st)
    except BaseException as exc:
        remove_if_present(tmp)
        if isinstance(exc, OSError):
            raise describe(exc, "write", dest) from exc
        raise


def _adopt(staged: FileStage, oid: Oid, dest: str, executable: bool, direct: bool) -> os.stat_result | None:
    """Rename the staged, proved copy of ``oid`` to ``dest``; return its stat (None: there is none, or it is on
    another filesystem, and was removed: the caller writes ``dest`` from the store)."""
    path = staged.take(oid)
    if path is None:
        return None
    try:
        st = os.stat(path)
        if executable:  # as a file created 0o755 under the same umask would be (0o644 when it was staged)
            mask = _umask()
            os.chmod(path, 0o755 & ~mask if mask is not None else (st.st_mode & 0o777) | ((st.st_mode & 0o444) >> 2))
            st = os.stat(path)
        fault_point("materialize.staged-adopting")
        if direct:
            os.rename(path, dest)
            return _after_rename(dest, st)  # a rename changes the file's ctime, which the stat cache compares
        try:
            return _place(path, dest, st)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            return _place(path, dest, st)
    except OSError as exc:
        remove_if_present(path)
        if exc.errno == errno.EXDEV:
            return None
        raise describe(exc, "write", dest) from exc
    except BaseException:
        remove_if_present(path)
        raise


def _umask() -> int | None:
    """This process's umask, read without changing it (None where /proc does not say)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _open_temp(dest: str, mode: int, direct: bool) -> tuple[str, int]:
    """Create the file a materialisation writes: ``dest`` itself when ``direct`` (a private staging folder), else
    a temp file beside it, noted for cleanup (``tmpowner``); its folder is made when missing. Returns (path, fd).

    Raises:
        FileSystemError: when it cannot be created.
    """
    tmp = dest
    if not direct:
        folder, _, name = dest.rpartition("/")
        tmp = f"{folder}/.{name[:40]}.{token()}-{next(_serial)}.art-tmp"
        note(tmp)
    try:
        try:
            return tmp, os.open(tmp, _FLAGS, mode)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            return tmp, os.open(tmp, _FLAGS, mode)
    except OSError as exc:
        raise describe(exc, "write", dest) from exc


def _place(tmp: str, dest: str, st: os.stat_result) -> os.stat_result:
    """Rename the verified temp file ``tmp`` over ``dest`` (never over a folder); return its stat after the rename."""
    if os.path.isdir(dest) and not os.path.islink(dest):
        raise WorkspaceError(f"{dest} is a directory, expected a file", path=dest)
    os.replace(tmp, dest)
    return _after_rename(dest, st)


def _after_rename(dest: str | os.PathLike[str], st: os.stat_result) -> os.stat_result:
    """The stat of the file just renamed to ``dest`` (a rename changes its ctime, which the stat cache
    compares); the written file's own stat when ``dest`` is another file by now (the cache then re-hashes it)."""
    try:
        now = os.lstat(dest)
    except OSError:
        return st
    return now if now.st_ino == st.st_ino and now.st_dev == st.st_dev else st


def _write_chunks(store: ObjectStore, oid: Oid, size: int, fd: int, progress: Progress | None) -> tuple[Oid, int]:
    """Write a file chunk by chunk; return the hash of what was written and its length."""
    hasher = ContentHasher()
    written = 0
    for data in store.iter_file(oid, size):
        hasher.update(data)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        fault_point("materialize.file-writing")
        written += len(data)
        if progress:
            progress(len(data))
    return hasher.oid(), written


_serial = itertools.count()
# created, never opened: a name already there (a symlink planted in a staging folder) is refused, not followed;
# read too: the large-file writer hashes what the file holds
_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_BATCH = 512  # files located with one index query and read together
_RUN_GAP = 64 << 10  # objects this close in a pack are read with one pread (the bytes between are skipped)
_RUN_MAX = 4 << 20  # the most bytes one pread (and one batch's buffers) holds
_HEADER = len(PACK_MAGIC)  # no object starts inside a pack's header


class SmallFile(NamedTuple):
    """One file for ``materialize_small``: where it goes and what it is (a tree entry's fields)."""

    dest: str
    oid: Oid
    size: int
    executable: bool = False


def materialize_small(
    store: ObjectStore,
    files: Sequence[SmallFile | tuple[str, Oid, int, bool]],
    *,
    direct: bool = False,
    progress: Progress | None = None,
    staged: FileStage | None = None,
    folder_fd: int | None = None,
    rows: Sequence[int] | None = None,
    verify: bool = False,
) -> Iterator[list[tuple[int, os.stat_result]]]:
    """Write ``files`` (many, mostly small) as ``materialize_file`` would each; yield lists of (index in
    ``files``, new stat) as they land, in no particular order.

    Files stored as one chunk take the fast way (a store that can ``locate_chunks``): located in one index query
    per batch, read in pack order with one pread per run of neighbouring objects, decompressed (raw and zstd
    here; any other codec through ``store.get``, which verifies what it rebuilds), checked for length, then
    written with one open/write/close (``direct``) or a temp file renamed over ``dest``. They are not hashed
    again (see the module docstring) unless ``verify``, or ``staged`` is given (a pull) and the pack is not one
    of ``staged.proved_packs`` (packs the pull in progress verified object by object as it adopted them).
    ``files`` may be plain (dest, oid, size, executable) tuples. Files of several chunks, and any a store cannot
    locate, go through ``materialize_file`` (with ``staged``; it hashes the whole file). ``rows``: the index
    rows of ``files`` found already (``LocatedRows``: five ints a file, in order, the pack -1 for a file not
    stored as one chunk): no index query at all. A file the store lacks while ``staged.arrivals`` says a fetch
    is still bringing objects is waited for (``arrivals.located``: a pull's checkout beside its fetch).
    ``folder_fd``: with ``direct``, every ``dest`` is in the folder open as this descriptor, and each file is
    created relative to it (``openat`` of its name: no walk of the whole path per file).

    Raises:
        as ``materialize_file``; the files before the failing one are written (the caller stages or plans).
    """
    locate = getattr(store, "locate_chunks", None)
    for start in range(0, len(files), _BATCH):
        stop = min(len(files), start + _BATCH)
        if rows is not None:
            found: list[tuple[Any, ...] | None] = [
                None if rows[k] < 0 else tuple(rows[k : k + 5]) for k in range(5 * start, 5 * stop, 5)
            ]
        elif locate is not None:
            found = locate([files[i][1] for i in range(start, stop)])
            if staged is not None and staged.arrivals is not None and None in found:  # a fetch beside: wait
                found = staged.arrivals.located(locate, [files[i][1] for i in range(start, stop)], found)
        else:
            found = [None] * (stop - start)
        located: list[_Located] = []
        for i, row in zip(range(start, stop), found, strict=True):
            if row is None:
                dest, oid, size, executable = files[i]
                st = materialize_file(
                    store, oid, size, Path(dest), executable=executable, progress=progress, direct=direct, staged=staged
                )
                yield [(i, st)]
            else:
                located.append((row[0], row[2], i, row))
        located.sort()  # pack order (``i`` is unique: rows are never compared)
        for run in _runs(located):
            check = verify or (staged is not None and not _proved(store, staged, run[0][0]))
            yield _write_run(store, files, run, direct, progress, folder_fd, not check)


def forkable(rows: Sequence[int] | None) -> bool:
    """Whether ``materialize_small`` writes the files of these located rows (five ints a file) from pack reads
    and this module alone, with no index query nor ``store.get`` (one-chunk objects stored raw or as zstd): what
    a forked process may write without a sqlite connection (``workspace/forked_writes.py``)."""
    if rows is None:
        return False
    return all(rows[k] >= 0 and rows[k + 1] in (RAW, ZSTD) for k in range(0, len(rows), 5))


def _proved(store: ObjectStore, staged: FileStage, pack: int) -> bool:
    """Whether local pack ``pack`` is one the pull in progress verified object by object as it adopted it."""
    if not staged.proved_packs:
        return False
    name = getattr(store, "pack_name", None)
    return name is not None and name(pack) in staged.proved_packs


_Located = tuple[int, int, int, tuple[Any, ...]]  # (pack, offset, index in ``files``, its ``Location`` fields)


def _runs(located: list[_Located]) -> Iterator[list[_Located]]:
    """Split objects sorted by (pack, offset) into runs that one pread of at most ``_RUN_MAX`` bytes covers."""
    run: list[_Located] = []
    pack = start = end = -1
    for item in located:
        at, row = item[1], item[3]
        if run and (item[0] != pack or at - end > _RUN_GAP or at + row[3] - start > _RUN_MAX):
            yield run
            run = []
        if not run:
            pack, start = item[0], at
        run.append(item)
        end = at + row[3]
    if run:
        yield run


def _write_run(
    store: ObjectStore,
    files: Sequence[SmallFile | tuple[str, Oid, int, bool]],
    run: list[_Located],
    direct: bool,
    progress: Progress | None,
    folder_fd: int | None = None,
    trusted: bool = True,
) -> list[tuple[int, os.stat_result]]:
    """Read one run of neighbouring objects with one pread; write the file each one is (hashed first unless
    ``trusted``: see ``materialize_small``).

    The loop is the per-file cost of a checkout of many small files, so it makes no object per file beyond the
    stat, and a file of a private folder open as ``folder_fd`` is written inline (openat, write, fstat,
    close): a stored-raw object (most small files: images, random data) is written from a slice of the run's
    buffer; other codecs go through ``_unpack``."""
    base = run[0][1]
    end = max(at + row[3] for _, at, _, row in run)
    view = _read_run(store, run[0][0], base, end - base)
    out = []
    done = 0
    inline = direct and folder_fd is not None
    create, write, fstat, close = os.open, os.write, os.stat, os.close  # looked up once: the loop runs per file
    for _, offset, i, row in run:
        dest, oid, size, executable = files[i]
        at = offset - base
        length = row[3]
        if row[1] == RAW and length == row[4] <= MAX_CHUNK_SIZE and offset >= _HEADER:
            data: bytes | memoryview = view[at : at + length]
            if len(data) != length:
                raise CorruptObjectError(oid, "its pack is truncated")
        else:
            data = _unpack(store, oid, Location._make(row), view[at : at + length])
            length = len(data)
        if not trusted and not hashes_to(data, oid):
            got = hash_bytes(data)
            raise CorruptObjectError(oid, f"content hashes to {got[:10]} ({length} bytes)")
        if length != size:
            raise FormatError(
                f"file {oid[:10]} has {length} bytes, but {size} were expected",
                hint="the pointer or tree naming it records the wrong size; 'art fsck' names it",
            )
        mode = 0o755 if executable else 0o644
        if inline:  # the common case: a file of a folder the checkout creates, written in one go
            try:
                fd = create(dest.rpartition("/")[2], _FLAGS, mode, dir_fd=folder_fd)
            except OSError:
                fd = -1  # the general way below makes a missing folder, or names the error
            if fd >= 0:
                st = None
                try:
                    try:
                        if write(fd, data) == length:
                            fault_point("materialize.file-writing")
                            st = fstat(fd)
                    finally:
                        close(fd)
                except BaseException as exc:
                    remove_if_present(dest)
                    if isinstance(exc, OSError):
                        raise describe(exc, "write", dest) from exc
                    raise
                if st is not None:
                    out.append((i, st))
                    done += length
                    continue
                remove_if_present(dest)  # a short write: written again the general way
        out.append((i, _write_whole(dest, data, mode, direct, folder_fd)))
        done += length
    if progress:
        progress(done)
    return out


_buffers = threading.local()


def _read_run(store: ObjectStore, pack: int, offset: int, length: int) -> memoryview:
    """The stored bytes of a run (fewer at the end of a pack), read into this thread's buffer of ``_RUN_MAX``
    bytes, reused run after run: no fresh 4 MiB (page faults and zeroing) per run. Valid until the thread's
    next run (``_write_run`` writes every file of a run before it returns)."""
    into = getattr(_buffers, "run", None)
    if into is None or length > len(into):
        into = _buffers.run = bytearray(max(length, _RUN_MAX))
    view = memoryview(into)[:length]
    read_into = getattr(store, "read_stored_into", None)
    if read_into is None:  # pragma: no cover - a store that locates chunks reads ranges into a buffer too
        return memoryview(store.read_stored(pack, offset, length))  # type: ignore[attr-defined]
    return view[: read_into(pack, offset, view)]


def _unpack(store: ObjectStore, oid: Oid, loc: Location, stored: memoryview) -> bytes | memoryview:
    """An object's content from its stored bytes: raw and zstd here, checked as ``get_stored`` checks; any
    other codec (a delta) through the store, which knows how to resolve it."""
    if loc.codec not in (RAW, ZSTD):
        return store.get(oid, Kind.CHUNK)
    try:
        check_entry(int(Kind.CHUNK), loc.codec, loc.offset, loc.length, loc.raw_length)
    except FormatError as exc:
        raise CorruptObjectError(
            oid, f"index.db: {exc}", hint="run 'art fsck' to rebuild the index from the packs"
        ) from exc
    if len(stored) != loc.length:
        raise CorruptObjectError(oid, "its pack is truncated")
    try:
        return unpack_payload(loc.codec, stored, loc.raw_length, int(Kind.CHUNK))  # type: ignore[arg-type]
    except FormatError as exc:
        raise CorruptObjectError(oid, str(exc)) from exc


def _write_whole(
    dest: str, data: bytes | memoryview, mode: int, direct: bool, folder_fd: int | None = None
) -> os.stat_result:
    """Write verified ``data`` to ``dest`` (itself when ``direct``, created relative to ``folder_fd`` when given;
    else a temp file renamed over it)."""
    if direct:  # the common case of a checkout into a new folder: open, write, fstat, close
        try:
            if folder_fd is None:
                fd = os.open(dest, _FLAGS, mode)
            else:
                fd = os.open(dest.rpartition("/")[2], _FLAGS, mode, dir_fd=folder_fd)
        except FileNotFoundError:
            tmp, fd = _open_temp(dest, mode, True)
        except OSError as exc:
            raise describe(exc, "write", dest) from exc
        tmp = dest
    else:
        tmp, fd = _open_temp(dest, mode, direct)
    try:
        try:
            n = os.write(fd, data)
            if n < len(data):
                view = memoryview(data)[n:]
                while view:
                    view = view[os.write(fd, view) :]
            fault_point("materialize.file-writing")
            st = os.stat(fd)
        finally:
            os.close(fd)
        return st if direct else _place(tmp, dest, st)
    except BaseException as exc:
        remove_if_present(tmp)
        if isinstance(exc, OSError):
            raise describe(exc, "write", dest) from exc
        raise


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def remove_stale_temps(dest: Path) -> None:
    """Delete temp files a killed materialisation of ``dest`` left beside it (our own suffix only)."""
    for stale in dest.parent.glob(f".{glob_escape(dest.name[:40])}.*.art-tmp"):
        stale.unlink(missing_ok=True)


def make_symlink(dest: Path, target: str) -> None:
    """Create (or replace) a symlink atomically."""
    if "\0" in target:
        raise UnsafePathError(
            f"the symlink {dest} would point to a target with a NUL byte",
            path=str(dest),
            hint="the stored tree was made by another tool or tampered with; it was not written",
        )
    with os_errors("create the symlink", dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name[:40]}.art-link"
        note(tmp)
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(target, tmp)
        os.replace(tmp, dest)
