"""Operating-system faults as art errors: one message naming what art was doing and the path, one hint.

An ``OSError`` (disk full, permission denied, read-only file system, a name too long...) is not a bug in art:
layers that know the path convert it where it happens (``with os_errors("write", path):``) and
``commands/_errors.py`` converts whatever still escapes, so no OS fault ever ends as exit 70.
"""

from __future__ import annotations

import errno as E
import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import FileSystemError

_SPACE = "free some space on that file system (or raise the quota) and run the command again"
HINTS = {
    E.ENOSPC: _SPACE,
    E.EDQUOT: _SPACE,
    E.EFBIG: "the file system refuses files this large; store it on another file system",
    E.EACCES: "check the permissions of that path and of the folders above it",
    E.EPERM: "check the permissions (and attributes such as immutable) of that path",
    E.EROFS: "the file system is mounted read-only: remount it writable, or use a command that only reads",
    E.ENAMETOOLONG: "the file system refuses names this long (255 bytes per name, 4096 per path on most): "
    "use a shorter name",
    E.ELOOP: "a symlink loop (or too many symlinks in a row): fix or remove the link",
    E.EMFILE: "too many open files: raise the limit (ulimit -n) and run the command again",
    E.ENFILE: "the system has too many open files: close some programs and run the command again",
    E.EIO: "the disk reported an I/O error: check it (dmesg, fsck) before going on",
    E.ENOENT: "it disappeared while art was working (or a folder above it is missing): run the command again",
    E.ENOTDIR: "a folder on that path is a file: move it out of the way",
    E.EISDIR: "that path is a folder where art expected a file: move it out of the way",
    E.ENOTEMPTY: "that folder is not empty: move it out of the way",
    E.EXDEV: "art's temp folder and that path are on different file systems",
}


def describe(exc: OSError, doing: str = "access", path: str | os.PathLike[str] | None = None) -> FileSystemError:
    """Return the ``FileSystemError`` for ``exc``, raised while art was ``doing`` (a verb: "write", "read").

    ``path`` defaults to the file name the OS error carries.
    """
    where = path if path is not None else exc.filename
    where = os.fsdecode(where) if where is not None else None
    reason = exc.strerror or (os.strerror(exc.errno) if exc.errno else "") or str(exc) or type(exc).__name__
    reason = reason[:1].lower() + reason[1:]
    message = (
        f"cannot {doing} {safe_name(where)}: {reason}"
        if where
        else f"the operating system refused to {doing} a file: {reason}"
    )
    return FileSystemError(message, path=where, errno=exc.errno, hint=HINTS.get(exc.errno or 0))


@contextmanager
def os_errors(doing: str, path: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Turn an ``OSError`` raised in the block into a ``FileSystemError`` about ``doing`` ``path``."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, (BlockingIOError, InterruptedError)):
            raise
        raise describe(exc, doing, path) from exc


def safe_name(path: str | os.PathLike[str]) -> str:
    """A path as text that can always be printed: bytes that are not UTF-8 appear as ``\\xNN``."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        return raw.decode("utf-8", "backslashreplace")


def notice(message: str) -> None:
    """Tell the user about something art repaired on its own (one ``art: note:`` line on stderr)."""
    import sys

    try:
        sys.stderr.write(f"art: note: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def writable(path: str | os.PathLike[str]) -> bool:
    """True when this process may create files in folder ``path`` (false on a read-only file system)."""
    return os.access(path, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids)
