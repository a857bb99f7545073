"""Objects back into files: write a temp file beside the target, verify its blake3, then rename over.

A user's file is never replaced before the new content is verified, and a failure leaves the old file
as it was (the temp file is removed).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import CorruptObjectError, WorkspaceError
from .hashing import ContentHasher
from .oid import Oid
from .store.base import ObjectStore

Progress = Callable[[int], None]


def materialize_file(store: ObjectStore, oid: Oid, size: int, dest: Path, *, executable: bool = False,
                     progress: Progress | None = None) -> None:
    """Write file ``oid`` to ``dest`` atomically, verified against its id.

    Raises:
        ObjectNotFoundError: when a needed object is not stored.
        CorruptObjectError: when the assembled content does not hash to ``oid``; ``dest`` is untouched.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name[:40]}.", suffix=".art-tmp", dir=dest.parent)
    try:
        hasher = ContentHasher()
        written = 0
        with os.fdopen(fd, "wb", buffering=0) as f:
            for data in store.iter_file(oid, size):
                hasher.update(data)
                f.write(data)
                written += len(data)
                if progress:
                    progress(len(data))
        if written != size or hasher.oid() != oid:
            raise CorruptObjectError(oid, f"content hashes to {hasher.oid()[:10]} ({written} bytes)")
        os.chmod(tmp, 0o755 if executable else 0o644)
        if dest.is_dir() and not dest.is_symlink():
            raise WorkspaceError(f"{dest} is a directory, expected a file", path=str(dest))
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def remove_stale_temps(dest: Path) -> None:
    """Delete temp files a killed materialisation of ``dest`` left beside it (our own suffix only)."""
    for stale in dest.parent.glob(f".{glob_escape(dest.name[:40])}.*.art-tmp"):
        stale.unlink(missing_ok=True)


def make_symlink(dest: Path, target: str) -> None:
    """Create (or replace) a symlink atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name[:40]}.art-link"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, dest)
