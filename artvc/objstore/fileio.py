"""Small-file writes readers never see half done, and removals that tolerate absence.

Every layer writes through here: ``atomic_write`` (temp file beside the target, fsync, rename over) for files a
person or another process reads (config, pointers, art.lock, hooks, .gitignore), and ``remove_if_present`` in
place of ``try: unlink / except FileNotFoundError: pass``. Pack and object writes stream through their own
writers (objstore/store/local.py, objstore/materialize.py) and clean up with ``remove_if_present``. Kernel copies
between files (``copy_contents``, ``kernel_copy``), writeback requests (``start_writeback``), and reads at an
offset into a caller's buffer that take only what the page cache holds (``pread_cached``) or wait for the disk
(``pread_into``), and writes around the page cache (``DirectFile``, ``preallocate``).
"""

from __future__ import annotations

import errno
import itertools
import mmap
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


def new_temp(folder: str | os.PathLike[str], prefix: str, suffix: str) -> tuple[int, str]:
    """Create a new, empty file ``folder/PREFIX<n>SUFFIX`` readable and writable by its owner only, as
    ``tempfile.mkstemp`` does (``O_EXCL``, no symlink followed), without importing tempfile (with shutil,
    random, bz2 and lzma, a few milliseconds of every add and push). ``prefix`` names the owner
    (``tmpowner.token``), so the serial number alone makes the name new; a name taken anyway (a leftover of a
    process that had the same id) is skipped. Return (fd, path).

    Raises:
        OSError: when the file cannot be created.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        path = os.path.join(folder, f"{prefix}{next(_serial)}{suffix}")
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue


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


_COPY_STEP = 64 << 20  # bytes per copy_file_range / sendfile call: large sequential I/O, few system calls
_NO_KERNEL_COPY = frozenset({errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF, errno.ETXTBSY})


def copy_contents(src: int, dest: int) -> None:
    """Copy all of ``src`` into the empty file ``dest`` (both open descriptors, positions ignored) as an
    independent file, never a hard link: a reflink where the filesystem shares blocks copy-on-write (btrfs, XFS),
    else the kernel copies (``copy_file_range``, else ``sendfile``: no trip through this process's memory, 64 MiB
    a call), else 8 MiB reads and writes.

    Raises:
        OSError: when the copy fails (disk full, I/O error); ``dest`` then holds part of ``src``.
    """
    if reflink(src, dest):
        return
    size = os.fstat(src).st_size
    done = 0
    for call in (_copy_range, _sendfile):
        while done < size:
            try:
                n = call(src, dest, done, min(_COPY_STEP, size - done))
            except OSError as exc:
                if done or exc.errno not in _NO_KERNEL_COPY:
                    raise
                break  # this call cannot copy between these files: the next way
            if not n:
                return  # the source ended early (it shrank): what was there is copied
            done += n
        if done:
            return
    while chunk := os.pread(src, 8 << 20, done):
        pwrite_all(dest, memoryview(chunk), done)
        done += len(chunk)


Bytes = bytes | bytearray | memoryview


def pwrite_all(fd: int, buffers: Bytes | list[Bytes], at: int) -> None:
    """Write all of ``buffers`` (one buffer, or a list of them written back to back) to ``fd`` at offset ``at``:
    one ``pwritev`` while the kernel takes everything it is given, more for what a short write left. A list
    stays within the kernel's limit of buffers per call (``IOV_MAX``, 1,024 on Linux).

    Raises:
        OSError: when a write fails (disk full, I/O error), or ``EIO`` when one wrote nothing (it would never
            finish); ``fd`` then holds part of the bytes.
    """
    views = [v for b in (buffers if isinstance(buffers, list) else [buffers]) if (v := memoryview(b).cast("B"))]
    while views:
        n = os.pwritev(fd, views, at)
        if not n:
            raise OSError(errno.EIO, "a write wrote nothing")
        at += n
        while views and n >= len(views[0]):  # the buffers written whole
            n -= len(views.pop(0))
        if n:
            views[0] = views[0][n:]


KERNEL_COPY = [hasattr(os, "copy_file_range")]  # cleared when the kernel refuses: read and write instead
_PIPE_SIZE = 1 << 20  # bytes a splice through a pipe moves per round (the default pipe-max-size)


def kernel_copy(src: int, dest: int, length: int, src_at: int, dest_at: int) -> int | None:
    """Copy up to ``length`` bytes of ``src`` from ``src_at`` to ``dest`` at ``dest_at`` in the kernel, with no
    trip through this process's memory: ``copy_file_range``, or, where it refuses (``EXDEV``: the two files are
    on different file systems, e.g. a directory remote on another disk), ``splice`` through a pipe (``_spliced``:
    what ``sendfile`` does, but at explicit offsets, so threads may copy windows of one file at once). The bytes
    copied (fewer when ``src`` ends first), or None when the kernel cannot copy between these files: nothing was
    written, and the caller reads and writes them itself (a kernel without the call is not asked again).

    Raises:
        OSError: when the copy fails once begun, or for another reason (disk full, I/O error).
    """
    if not KERNEL_COPY[0]:
        return _spliced(src, dest, length, src_at, dest_at)
    done = 0
    while done < length:
        try:
            n = os.copy_file_range(src, dest, length - done, src_at + done, dest_at + done)
        except OSError as exc:
            if done or exc.errno not in _NO_KERNEL_COPY:
                raise
            if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
                KERNEL_COPY[0] = False
            return _spliced(src, dest, length, src_at, dest_at)
        if not n:
            break
        done += n
    return done


SPLICE = [hasattr(os, "splice")]  # cleared when the kernel refuses splice: the caller reads and writes


def _spliced(src: int, dest: int, length: int, src_at: int, dest_at: int) -> int | None:
    """``kernel_copy`` by ``splice``: ``src`` into a pipe (page references, no copy), the pipe into ``dest`` (the
    one copy, into ``dest``'s pages), ``_PIPE_SIZE`` bytes a round. None when splice is refused before anything
    was written."""
    if not SPLICE[0]:
        return None
    import fcntl

    try:
        r, w = os.pipe()
    except OSError:
        return None
    try:
        try:  # a larger pipe: fewer rounds (refused above pipe-max-size: the default size does)
            fcntl.fcntl(w, _F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:
            pass
        done = 0
        while done < length:
            try:
                n = os.splice(src, w, min(length - done, _PIPE_SIZE), offset_src=src_at + done)
            except OSError as exc:
                if done or exc.errno not in _NO_KERNEL_COPY:
                    raise
                if exc.errno == errno.ENOSYS:
                    SPLICE[0] = False
                return None
            if not n:
                break
            moved = 0
            while moved < n:  # the pipe's bytes are all written before it is filled again
                m = os.splice(r, dest, n - moved, offset_dst=dest_at + done + moved)
                if not m:
                    raise OSError(errno.EIO, "splice wrote nothing")
                moved += m
            done += n
        return done
    finally:
        os.close(r)
        os.close(w)


_F_SETPIPE_SZ = 1031  # linux/fcntl.h (fcntl.F_SETPIPE_SZ from Python 3.10, Linux only)


def _copy_range(src: int, dest: int, at: int, n: int) -> int:
    return os.copy_file_range(src, dest, n, at, at)


def _sendfile(src: int, dest: int, at: int, n: int) -> int:
    os.lseek(dest, at, os.SEEK_SET)
    return os.sendfile(dest, src, at, n)


NOWAIT = hasattr(os, "preadv") and hasattr(os, "RWF_NOWAIT")  # the system has reads that never wait for a disk
# what a kernel or file system that cannot read without waiting answers (a kernel before 4.14 or without
# preadv2, tmpfs and some other file systems): the caller reads as usual from then on
NOWAIT_REFUSED = frozenset({errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})


def pread_cached(fd: int, view: memoryview, at: int) -> int | None:
    """Read into ``view`` the bytes of ``fd`` at offset ``at`` that the page cache holds, never waiting for the
    disk (``preadv2`` with ``RWF_NOWAIT``; only where ``NOWAIT``): the number of bytes read (fewer than asked
    when only the first ones are cached; 0 at the end of the file), or None when the first byte is not cached (a
    read would wait). Nothing is allocated: the bytes land in ``view``.

    Raises:
        OSError: a read error, or an errno in ``NOWAIT_REFUSED`` when the kernel or the file system cannot read
            without waiting (nothing was read: read with ``pread_into``).
    """
    try:
        return os.preadv(fd, [view], at, os.RWF_NOWAIT)
    except BlockingIOError:
        return None


def pread_into(fd: int, view: memoryview, at: int) -> int:
    """Read into ``view`` the bytes of ``fd`` at offset ``at`` (waiting for the disk if need be): the number of
    bytes read, 0 at the end of the file. The file's position is not used nor moved.

    Raises:
        OSError: a read error.
    """
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], at)
    data = os.pread(fd, len(view), at)  # no preadv (some BSDs): one copy more
    view[: len(data)] = data
    return len(data)


def pread_full(fd: int, view: memoryview, at: int) -> int:
    """Fill ``view`` with the bytes of ``fd`` from ``at`` (``pread_into`` until it is full or the file ends);
    return the bytes read, fewer than ``len(view)`` only at the end of the file."""
    done = 0
    while done < len(view):
        n = pread_into(fd, view[done:], at + done)
        if not n:
            break
        done += n
    return done


_SYNC_FILE_RANGE_WRITE = 2  # linux/fs.h: start writeback of the range's dirty pages, do not wait
_sync_file_range: object = None  # the libc function once looked up; False where there is none


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Ask the kernel to start writing ``length`` bytes of ``fd`` at ``offset`` to the disk now, without waiting
    (Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``, what git's ``core.fsyncMethod=batch`` starts with). A
    large write then streams to the disk while the writer works instead of piling up dirty pages that the
    kernel writes in bursts (and, past its dirty limit, makes the writer wait for), and an fsync at the end has
    little left to do. Nothing is dropped from the page cache. Advice only: False where the system has no such
    call or refuses it (tmpfs takes it and does nothing)."""
    global _sync_file_range
    if _sync_file_range is None:
        _sync_file_range = _lookup_sync_file_range()
    if _sync_file_range is False:
        return False
    import ctypes

    call = _sync_file_range
    assert callable(call)
    code: int = call(fd, ctypes.c_int64(offset), ctypes.c_int64(length), _SYNC_FILE_RANGE_WRITE)
    return code == 0


_fallocate: object = None  # the libc function once looked up; False where there is none


def preallocate(fd: int, size: int) -> bool:
    """Allocate the first ``size`` bytes of the empty file ``fd`` as blocks not yet written (Linux ``fallocate``,
    mode 0: the file's size becomes ``size``, reads give zeros until written). Direct writes into them are then
    overwrites, which ext4 and XFS let run at once under the inode's shared lock (an extending direct write takes
    it exclusively and waits for the one before it). False where the call is missing or refused (tmpfs before
    Linux 3.5, some network file systems): nothing was allocated then. Unlike ``os.posix_fallocate`` it never
    falls back to writing zeros through the page cache."""
    global _fallocate
    if _fallocate is None:
        _fallocate = _lookup("fallocate64", "fallocate")
    if _fallocate is False or size <= 0:
        return False
    import ctypes

    call = _fallocate
    assert callable(call)
    code: int = call(fd, 0, ctypes.c_int64(0), ctypes.c_int64(size))
    return code == 0


def _lookup(*names: str) -> object:
    """The first of ``names`` in libc, declared ``int f(int, int, int64, int64)``; False where none is (or not
    Linux)."""
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    for name in names:
        call = getattr(libc, name, None)
        if call is not None:
            call.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
            call.restype = ctypes.c_int
            return call
    return False


def _lookup_sync_file_range() -> object:
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


# Large files are written around the page cache (``O_DIRECT``): the checkout of a large file
# (``materialize_large``), the lazy pull's (``remote_file``) and the packs of a large file's add (``store.packer``);
# docs/design.md, "Direct writes". ART_DIRECT_WRITES=0 asks for the page-cache path instead (``direct_writes``:
# the environment before ``core.direct_writes``).
DIRECT = [hasattr(os, "O_DIRECT") and os.environ.get("ART_DIRECT_WRITES", "1") != "0"]


def direct_writes(configured: bool) -> bool:
    """Whether a repository writes large files around the page cache: ``ART_DIRECT_WRITES`` where it is set (``0``
    off, anything else on), else ``configured`` (``core.direct_writes``). The environment wins, as it does for
    git's ``GIT_*`` overrides of its config: one command can be run either way without editing the config.
    ``DIRECT`` (the system has ``O_DIRECT``, and the environment does not turn it off) must allow it too."""
    env = os.environ.get("ART_DIRECT_WRITES")
    return configured if env is None else env != "0"


ALIGN = 4096  # direct writes: offsets, lengths and buffer addresses are multiples of this


def aligned_buffer(size: int) -> mmap.mmap:
    """A page-aligned buffer of ``size`` bytes for direct writes: a private anonymous mapping (zero pages
    handed over on first touch, only where touched)."""
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)


MEMORY_FS = frozenset({"tmpfs", "ramfs", "hugetlbfs"})


def in_memory(fd: int) -> bool:
    """Whether the file ``fd`` is on a file system kept in memory (``MEMORY_FS``, by ``/proc/self/mountinfo``:
    the mount of the file's device); False where that cannot be told."""
    st = os.fstat(fd)
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split(" - ", 1)
                head = fields[0].split()
                if len(fields) == 2 and len(head) > 2 and head[2] == dev:
                    return fields[1].split(" ", 1)[0] in MEMORY_FS
    except OSError:
        pass
    return False


class DirectFile:
    """A file written around the page cache through a second descriptor opened ``O_DIRECT`` (``open``), beside
    its ordinary descriptor (``buffered``), which writes what is not aligned. Not locked: callers that write
    from several threads take turns (``materialize_large.OutFile``)."""

    __slots__ = ("buffered", "direct", "refused")

    def __init__(self, direct: int, buffered: int) -> None:
        self.direct = direct
        self.buffered = buffered
        self.refused = False  # a direct write was refused: every write goes through ``buffered``

    @classmethod
    def open(cls, fd: int) -> DirectFile | None:
        """``fd``'s file opened a second time with ``O_DIRECT``, or None where the file system refuses it or
        keeps files in memory (``in_memory``: tmpfs takes ``O_DIRECT`` and copies into its pages all the same,
        one write at a time: 512 MiB checkouts there took 1.3-2x as long as on the page-cache path). Callers ask
        only while ``DIRECT`` is on."""
        if in_memory(fd):
            return None
        try:
            direct = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_DIRECT | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        return cls(direct, fd)

    def write(self, view: memoryview, at: int) -> None:
        """Write ``view`` (from a page-aligned buffer) at ``at`` (a multiple of ``ALIGN``): its ``ALIGN``-aligned
        part with a direct write, the rest (a file's last bytes) through ``buffered``. Where a direct write is
        refused (``EINVAL``: the file system wants another alignment) this and every later write go through
        ``buffered``.

        Raises:
            OSError: as ``pwrite_all`` (a full disk, an I/O error).
        """
        n = 0 if self.refused else len(view) - len(view) % ALIGN
        if n:
            try:
                pwrite_all(self.direct, view[:n], at)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self.refused, n = True, 0
        pwrite_all(self.buffered, view[n:], at + n)

    def close(self) -> None:
        """Close the direct descriptor (the ordinary one is the caller's)."""
        os.close(self.direct)


class Spare:
    """Buffers kept between uses (``aligned_buffer``s): the ring of a large file's reader (``ingest_large.SPARE``)
    and the staging buffers of a large file's direct pack writes (``store.packer.STAGES``). Private anonymous
    mappings (Python's default, ``MAP_SHARED``, is shared memory, whose first touch of a page costs a third
    more), whose pages the kernel hands over zeroed on first touch and only where touched, and which stay mapped
    once touched. A ``bytearray`` of the same 8 MiB was zeroed at each allocation (all of its ~2,100 pages
    faulted in and written, however little of it a file filled) and unmapped when freed: a 2 MiB file paid that
    for one buffer, 100 of them 100 times. At most ``limit`` buffers are kept (the reader's: ``ingest_large.RING``
    of 8.25 MiB, resident only as far as files have filled them); a user that stopped on an error keeps none of
    its own (another thread may still be reading one), and a kept buffer is never closed (a stale view of it stays
    valid)."""

    def __init__(self, limit: int) -> None:
        import threading  # here: a status loads this module and no thread (tests/test_startup.py)

        self.limit = limit
        self._lock = threading.Lock()
        self._kept: list[mmap.mmap] = []

    def take(self, size: int) -> mmap.mmap:
        """A kept buffer of ``size`` bytes, else a new one."""
        with self._lock:
            for i, buf in enumerate(self._kept):
                if len(buf) == size:
                    return self._kept.pop(i)
        return aligned_buffer(size)

    def keep(self, buffers: list[mmap.mmap]) -> None:
        """Keep ``buffers`` (no longer read by anyone) for the next file, the newest first, up to ``limit``."""
        with self._lock:
            self._kept = [*buffers, *self._kept][: self.limit]
