"""Linux inotify through ctypes (the three system calls the file-system monitor needs; no dependency).

``Inotify`` owns one non-blocking, close-on-exec inotify descriptor: ``add`` watches a folder, ``remove`` stops
watching it, ``read`` returns the queued events as (watch, mask, name) without waiting.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_ISDIR = 0x40000000

# everything that changes a folder's listing or an entry's stat data (what a folder's signature hashes)
FOLDER_EVENTS = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
)

_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then len bytes of name)
_BUFFER = 1 << 20

Event = tuple[int, int, str]  # (watch descriptor, mask, name: "" for the folder itself)


def _libc() -> ctypes.CDLL:
    lib = ctypes.CDLL(None, use_errno=True)
    lib.inotify_init1.argtypes = [ctypes.c_int]
    lib.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    lib.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    return lib


def _fail(what: str, path: str | None = None) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}", path)


class Inotify:
    """One inotify instance.

    Raises:
        OSError: when the kernel has no inotify or refuses another instance (``max_user_instances``).
    """

    def __init__(self) -> None:
        self._lib = _libc()
        fd = self._lib.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise _fail("inotify_init1")
        self.fd = fd

    def add(self, path: str, mask: int = FOLDER_EVENTS) -> int:
        """Watch folder ``path``; returns its watch descriptor (the same one again for a folder already watched).

        Raises:
            OSError: ENOSPC at ``max_user_watches``, ENOENT/ENOTDIR when it is gone or not a folder, ...
        """
        wd = self._lib.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            raise _fail("inotify_add_watch", path)
        return wd

    def remove(self, wd: int) -> None:
        """Stop watching ``wd`` (nothing when the kernel dropped it already)."""
        if self._lib.inotify_rm_watch(self.fd, wd) < 0 and ctypes.get_errno() != errno.EINVAL:
            raise _fail("inotify_rm_watch")

    def read(self) -> list[Event]:
        """The events queued now (empty when none)."""
        out: list[Event] = []
        while True:
            try:
                data = os.read(self.fd, _BUFFER)
            except BlockingIOError:
                return out
            pos, end = 0, len(data)
            while pos + _HEADER.size <= end:
                wd, mask, _, size = _HEADER.unpack_from(data, pos)
                pos += _HEADER.size
                name = data[pos : pos + size].rstrip(b"\0")
                pos += size
                out.append((wd, mask, os.fsdecode(name)))
            if len(data) < _BUFFER // 2:
                return out

    def close(self) -> None:
        os.close(self.fd)
