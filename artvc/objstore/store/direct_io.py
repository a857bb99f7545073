"""A pack's bytes written around the page cache (``O_DIRECT``), for the large files of the local store.

A buffered write of a large file costs the kernel more than its copy: a page-cache page allocated, charged and
put on the LRU for every 4 KiB, dirty accounting, and the writeback's submission later (``sync_file_range`` moves
it into the writer's threads), all of it again for every GiB, where the data will not be read again soon. On a
2-core VM a buffered 512 MiB write plus its fsync took 0.5-0.9 s of CPU in paired runs, the same bytes written
with ``O_DIRECT`` in 8 MiB requests 0.02-0.03 s (the disk reads them from the process's memory), and the file is
on the device when the call returns (an fsync after it finds nothing to write).

``DirectWriter`` stages what it is given in two page-aligned buffers of ``STAGE`` bytes (a ``memcpy`` in user
space: the copy the kernel would have made into the page cache, without the pages) and hands each full buffer to
a thread of its own that writes it with ``O_DIRECT`` at an aligned offset, while the caller fills the other. The
unaligned end (``flush``) is written through the ordinary descriptor: it is kept at the start of the staging
buffer, so a later aligned write covers it again with the same bytes. Where the filesystem refuses an aligned
request (``EINVAL``: a device with larger sectors) the writer goes on with buffered writes of the same buffers.

A direct write returns once the disk has the bytes, so the caller now waits for the disk where a buffered write
let the page cache absorb them (up to the kernel's dirty limit). Where the disk is faster than the work (the
reference VM's: 512 MiB in 0.25-0.5 s, while the add's work takes 0.5-1 s of two cores) that costs nothing; a slow
disk (a spinning one, a throttled cloud volume) would make the add wait for it. So when the caller had to wait
for a free buffer longer than it took to fill the one it sent, ``LAG`` times in a row, the rest of the file goes
through the page cache as before (``lagging``).

Only filesystems whose ``O_DIRECT`` reaches the disk are asked (``direct_capable``: ext2/3/4, XFS): tmpfs takes
the flag and copies into the page cache anyway (the staging copy would then be one copy more), a network or FUSE
filesystem may make every request a synchronous round trip.
"""

from __future__ import annotations

import errno
import mmap
import os
import queue
import sys
import threading
import time
from collections.abc import Sequence

from ..faults import fault_point

ALIGN = 4096  # file offsets, lengths and buffer addresses of direct requests: every disk's logical block divides it
STAGE = 8 << 20  # bytes per staging buffer (two of them) and per direct request
LAG = 3  # buffers in a row the caller waited for longer than it took to fill them: the rest goes buffered
_MAGIC = {0xEF53: "ext4", 0x58465342: "xfs"}  # statfs f_type of filesystems whose O_DIRECT goes to the disk
_fstatfs: object = None  # libc's fstatfs once looked up; False where there is none


def direct_capable(fd: int) -> bool:
    """True when the file open as ``fd`` is on a filesystem whose ``O_DIRECT`` writes go straight to the disk
    (``_MAGIC``), on Linux; False elsewhere or when the system cannot say."""
    global _fstatfs
    if not hasattr(os, "O_DIRECT"):
        return False
    if _fstatfs is None:
        _fstatfs = _lookup_fstatfs()
    if _fstatfs is False:
        return False
    import ctypes

    buf = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on 64-bit Linux; f_type comes first
    call = _fstatfs
    assert callable(call)
    if call(fd, buf) != 0:
        return False
    return int.from_bytes(buf.raw[: ctypes.sizeof(ctypes.c_long)], sys.byteorder) in _MAGIC


def _lookup_fstatfs() -> object:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        call = ctypes.CDLL(None, use_errno=True).fstatfs
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p]
    call.restype = ctypes.c_int
    return call


def _buffer() -> mmap.mmap:
    """A staging buffer: private anonymous memory, not the shared memory ``mmap(-1, ...)`` maps by default (no
    huge pages asked for: on request the kernel compacts memory to find them, which cost more than it saved)."""
    return mmap.mmap(-1, STAGE, flags=mmap.MAP_PRIVATE)


class DirectWriter:
    """Writes the file at ``path`` (open as ``fd``, written up to ``start``) from ``start`` on with ``O_DIRECT``.

    ``head``: the bytes the file already holds from the aligned offset before ``start`` (fewer than ``ALIGN``),
    staged first so every request starts aligned. ``direct_bytes`` counts what went to the disk directly,
    ``buffered_bytes`` what went through the page cache (the unaligned ends, or everything after a refusal).

    Raises:
        OSError: when the file cannot be opened with ``O_DIRECT`` (the caller goes on without).
    """

    def __init__(self, fd: int, path: str, start: int, head: bytes) -> None:
        assert len(head) == start % ALIGN, "the head runs from the aligned offset before start"
        self._dfd: int | None = os.open(path, os.O_WRONLY | os.O_DIRECT | getattr(os, "O_CLOEXEC", 0))
        self._fd = fd
        self._bufs = [_buffer()]  # page-aligned; a second one once the first goes to the thread
        self._cur = self._bufs[0]
        self._cur[: len(head)] = head
        self._fill = len(head)  # bytes staged in the current buffer
        self._base = start - len(head)  # the file offset of the current buffer's first byte (aligned)
        self._free: queue.Queue[mmap.mmap] = queue.Queue()
        self._todo: queue.Queue[tuple[mmap.mmap, int] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None
        self._refused = False  # the filesystem refused a direct request: buffered from then on
        self._since = time.perf_counter()  # when the current buffer began to fill
        self._slow = 0  # buffers in a row for which the caller waited longer than it took to fill them
        self.lagging = False  # the disk fell behind (``LAG``): buffered from then on
        self.direct_bytes = 0
        self.buffered_bytes = 0

    def write(self, buffers: Sequence[bytes | memoryview]) -> None:
        """Stage ``buffers`` (copied: the caller may reuse them on return); full buffers go to the disk."""
        for data in buffers:
            n = len(data)
            if self._fill + n <= STAGE:  # the common case: a chunk into the room of the current buffer
                self._cur[self._fill : self._fill + n] = data
                self._fill += n
                if self._fill == STAGE:
                    self._send()
                continue
            view = memoryview(data).cast("B")
            at = 0
            while at < n:
                take = min(n - at, STAGE - self._fill)
                self._cur[self._fill : self._fill + take] = view[at : at + take]
                self._fill += take
                at += take
                if self._fill == STAGE:
                    self._send()

    def _send(self) -> None:
        """Hand the full current buffer to the writing thread; go on in the other one."""
        if self._error is not None:
            raise self._error
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="art-pack-direct", daemon=True)
            self._thread.start()
        self._todo.put((self._cur, self._base))
        self._base += STAGE
        self._fill = 0
        if len(self._bufs) < 2:
            self._bufs.append(_buffer())
            self._cur = self._bufs[-1]
        else:
            start = time.perf_counter()
            filled = start - self._since  # how long the buffer just sent took to fill
            self._cur = self._free.get()  # the thread is done with it
            waited = time.perf_counter() - start
            self._slow = self._slow + 1 if waited > filled else 0
            if self._slow >= LAG and not self.lagging:  # the disk is slower than the work: stop waiting for it
                self.lagging = True
        self._since = time.perf_counter()

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            buf, at = item
            try:
                if self._error is None:
                    self._write_out(buf, STAGE, at)
            except OSError as exc:
                self._error = exc
            finally:
                self._free.put(buf)
                self._todo.task_done()
        self._todo.task_done()

    def _write_out(self, buf: mmap.mmap, length: int, at: int) -> None:
        """Write ``buf[:length]`` at ``at`` (``length`` a multiple of ``ALIGN``): directly, else buffered."""
        done = 0
        with memoryview(buf) as view:
            while done < length and not (self._refused or self.lagging):
                assert self._dfd is not None
                try:
                    fault_point("store.pack-direct-write")
                    n = os.pwrite(self._dfd, view[done:length], at + done)
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    self._refused = True  # an alignment this filesystem does not take: buffered from here on
                    break
                if n <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += n
                self.direct_bytes += n
                if n % ALIGN:  # a short write that left the next request unaligned
                    break
            self._buffered(view[done:length], at + done)

    def _buffered(self, view: memoryview, at: int) -> None:
        done = 0
        while done < len(view):
            n = os.pwrite(self._fd, view[done:], at + done)
            if n <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            done += n
        self.buffered_bytes += done

    def flush(self) -> int:
        """Write everything staged (the aligned part directly, the rest through the page cache) and return where
        the file ends. The unaligned rest stays staged, so later writes still start aligned.

        Raises:
            OSError: the first write error (of the thread's or of this call's).
        """
        self._todo.join()
        if self._error is not None:
            raise self._error
        fill = self._fill
        aligned = fill - fill % ALIGN
        if aligned:
            self._write_out(self._cur, aligned, self._base)
        if fill > aligned:
            with memoryview(self._cur) as view:
                self._buffered(view[aligned:fill], self._base + aligned)
        if aligned:
            self._cur.move(0, aligned, fill - aligned)
            self._base += aligned
            self._fill = fill - aligned
        return self._base + self._fill

    def close(self) -> None:
        """Stop the thread and close the direct descriptor (what is staged and not flushed is dropped)."""
        if self._thread is not None:
            self._todo.put(None)
            self._thread.join()
            self._thread = None
        if self._dfd is not None:
            os.close(self._dfd)
            self._dfd = None
        for buf in self._bufs:
            buf.close()
        self._bufs = []
