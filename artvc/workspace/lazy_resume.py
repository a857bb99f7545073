"""A killed or interrupted ``art pull --lazy`` resumes: the files it had proved are not written again.

A lazy pull writes each large file into a temp file of its stage (``objstore/stage.py``) and proves it by its
whole-file hash; the stage's temp files of a killed pull are removed by the next command that takes the lock,
and its manifests are stored only at the end. So a pull killed after writing 9 of 10 files used to write all
10 again. Now each proved file also gets a second name, a hard link ``.art/tmp/lazy-kept/<id>`` (no copy: the
same inode), which survives the sweep. The next lazy pull that needs file ``<id>`` takes it instead of writing
it, after hashing it again: the link may have outlived a power loss (nothing was fsynced), or name a workspace
file that the checkout had already renamed into place and that was edited since. A file that does not hash to
its id is removed and written as usual. Each lazy pull that reaches its checkout empties the folder (the
files are in the workspace by then, and the names go, not the data), so kept files last only from a kill or
an interrupt to the next lazy pull that completes.

Nothing here is needed for correctness: where hard links are refused (some network or FUSE filesystems) a
file is simply not kept, and an unreadable kept file is written again.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..objstore.fileio import remove_if_present
from ..objstore.hashing import ContentHasher
from ..objstore.oid import Oid
from ..objstore.stage import FileStage

KEPT = "lazy-kept"  # folder under .art/tmp


def kept_dir(art_dir: Path) -> Path:
    return art_dir / "tmp" / KEPT


def keep(folder: Path, oid: Oid, stage: FileStage) -> None:
    """Give the proved file ``oid`` of ``stage`` a second name in ``folder``, so a killed pull finds it."""
    path = stage.take(oid)
    if path is None:
        return
    stage.adopt(oid, path)  # still the stage's: taken only to learn its name
    name = folder / oid
    try:
        folder.mkdir(parents=True, exist_ok=True)
        remove_if_present(name)
        os.link(path, name)
    except OSError:
        return  # no hard links here: nothing is kept, a killed pull writes the file again


def reuse(folder: Path, oid: Oid, size: int, stage: FileStage) -> bool:
    """True when ``folder`` keeps file ``oid`` of ``size`` bytes and it hashes to ``oid``: a new name of it is
    adopted by ``stage`` (checkout renames that into place). A kept file that does not prove is removed."""
    name = folder / oid
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        proved = stat.S_ISREG(st.st_mode) and st.st_size == size and _hash_fd(fd) == oid
    except OSError:
        proved = False
    finally:
        os.close(fd)
    if not proved:
        remove_if_present(name)
        return False
    path = stage.temp_path()
    try:
        os.link(name, path)
        same = os.lstat(path)
    except OSError:
        return False
    if (same.st_ino, same.st_dev) != (st.st_ino, st.st_dev):  # the kept name changed under us
        remove_if_present(path)
        return False
    stage.adopt(oid, path)
    return True


def _hash_fd(fd: int, bufsize: int = 8 << 20) -> Oid:
    hasher = ContentHasher(threaded=True)
    buf = bytearray(bufsize)
    view = memoryview(buf)
    while n := os.readv(fd, [buf]):
        hasher.update(view[:n])
    return hasher.oid()


def clear(folder: Path) -> None:
    """Remove every kept name (the pull reached its checkout: what they name is in place or not wanted)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for n in names:
        try:
            remove_if_present(folder / n)
        except OSError:
            continue
