"""One folder's entries sorted by name, and every file under a folder: listings built on ``scan``'s walk of one
folder (``stream_dir``), for callers that want a folder's entries as a list (tests, small tools)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from stat import S_IFDIR, S_IFLNK, S_IFREG

from .scan import _S_IFMT, FileStat, SignedDir, _read, check_name, link_target

Entry = tuple[str, str, FileStat, str | None]  # (name, "file" | "dir" | "symlink", stat, link target)


def scan_one(path: str, guard: Path | None) -> list[Entry]:
    """One directory's entries, sorted by name, skipping .git/.art; symlinks must stay inside ``guard``.

    Raises:
        FileSystemError: when the directory or an entry cannot be read (permission denied, I/O error...).
        UnsafePathError: for a symlink that leaves ``guard``, or a name that is not valid UTF-8.
    """
    return _scan(path, guard)[0]


def _scan(path: str, guard: Path | None, follow: bool = True) -> tuple[list[Entry], SignedDir]:
    """``scan_one``, plus what ``stream_dir`` read (the folder's own signature and its subfolders)."""
    own = _read(path, follow)
    out: list[Entry] = []
    prefix = os.path.join(path, "")
    for name, st in own.kept:
        if not name.isascii():
            check_name(prefix + name)
        fmt = st.st_mode & _S_IFMT
        if fmt == S_IFREG:
            out.append((name, "file", st, None))
        elif fmt == S_IFDIR:
            out.append((name, "dir", st, None))
        elif fmt == S_IFLNK:
            out.append((name, "symlink", st, link_target(prefix + name, guard)))
    own.drop_kept()
    out.sort(key=_name)
    return out, own


def _name(item: Entry) -> str:
    return item[0]


def iter_files(root: str, guard: Path | None = None) -> Iterator[tuple[str, FileStat]]:
    """Yield (absolute path, stat) of every regular file under ``root``, one directory at a time."""
    stack = [root]
    while stack:
        d = stack.pop()
        subdirs = []
        for name, kind, st, _ in scan_one(d, guard):
            if kind == "file":
                yield os.path.join(d, name), st
            elif kind == "dir":
                subdirs.append(os.path.join(d, name))
        stack.extend(reversed(subdirs))
