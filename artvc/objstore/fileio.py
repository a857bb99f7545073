"""Small-file writes readers never see half done, and removals that tolerate absence.

Every layer writes through here: ``atomic_write`` (temp file beside the target, fsync, rename over) for files a
person or another process reads (config, pointers, art.lock, hooks, .gitignore), and ``remove_if_present`` in
place of ``try: unlink / except FileNotFoundError: pass``. Pack and object writes stream through their own
writers (objstore/store/local.py, objstore/materialize.py) and clean up with ``remove_if_present``.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o644, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new content, never a mix.

    The temp file beside ``path`` names its owner (``.NAME.<owner>-<n>.art-tmp``, noted in the journal when
    the repository lock is held), so a killed writer's leftover is removed by the next command
    (workspace/cleanup.py). ``durable=False`` skips the fsync, for caches that may be lost.

    Raises:
        FileSystemError: the OS refused (disk full, permission, read-only); nothing was replaced.
    """
    from .faults import fault_point
    from .oserrors import describe
    from .tmpowner import note, token

    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    tmp = path.parent / f".{path.name[:40]}.{token()}-{next(_serial)}.art-tmp"
    note(tmp)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as exc:
        raise describe(exc, "write", path) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        fault_point("atomic-write.written")
        os.chmod(tmp, mode)  # exactly ``mode``, whatever the umask
        os.replace(tmp, path)
    except BaseException as exc:
        remove_if_present(tmp)
        if isinstance(exc, OSError):
            raise describe(exc, "write", path) from exc
        raise


_serial = itertools.count()


def remove_if_present(path: str | os.PathLike[str]) -> bool:
    """Unlink ``path``; True when it was there, False when it already was not (any other fault raises)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)


def reflink(src: int, dest: int) -> bool:
    """Make the empty file ``dest`` a reflink of ``src`` (both open descriptors): an independent copy whose
    blocks are shared copy-on-write, nothing written (btrfs, XFS). False where the filesystem cannot (ext4,
    tmpfs, two filesystems): ``dest`` is then unchanged."""
    import fcntl

    try:
        fcntl.ioctl(dest, FICLONE, src)
    except OSError:
        return False
    return True
