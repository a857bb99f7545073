"""Objects back into files: write a temp file beside the target, verify its blake3, then rename over.

A user's file is never replaced before the new content is verified, and a failure leaves the old file
as it was (the temp file is removed).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

from ..errors import CorruptObjectError, FormatError, UnsafePathError, WorkspaceError
from .faults import fault_point
from .fileio import remove_if_present
from .hashing import ContentHasher
from .materialize_large import LARGE_FILE, write_large
from .oid import Oid
from .oserrors import describe, os_errors
from .store.base import ObjectStore
from .store.local import LocalStore
from .tmpowner import note, token

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
) -> os.stat_result:
    """Write file ``oid`` to ``dest`` atomically, verified against its id; return the new file's stat.

    ``direct=True`` writes ``dest`` itself (it must not exist): only for a private staging folder that is
    renamed into place as a whole, where a half-written file is never visible.

    Raises:
        ObjectNotFoundError: when a needed object is not stored.
        CorruptObjectError: when the assembled content does not hash to ``oid``; ``dest`` is untouched.
    """
    tmp = dest if direct else dest.parent / f".{dest.name[:40]}.{token()}-{next(_serial)}.art-tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    mode = 0o755 if executable else 0o644
    if not direct:
        note(tmp)
    with os_errors("write", dest):
        try:
            fd = os.open(tmp, flags, mode)
        except FileNotFoundError:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, flags, mode)
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
        if not direct:
            if dest.is_dir() and not dest.is_symlink():
                raise WorkspaceError(f"{dest} is a directory, expected a file", path=str(dest))
            os.replace(tmp, dest)
        return st
    except BaseException as exc:
        remove_if_present(tmp)
        if isinstance(exc, OSError):
            raise describe(exc, "write", dest) from exc
        raise


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
