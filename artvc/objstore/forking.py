"""What art's forked helper processes share (Linux): when a fork is safe, how messages and errors cross a pipe.

A second process is how art uses a second core for work made of many short system calls and some Python around
each (writing or reading many small files): threads cannot share it, since every system call hands the GIL over
and two threads spend their time waking each other. ``workspace/forked_writes.py`` writes a checkout's files in
one, ``forked_reads.py`` reads and hashes an add's. Both fork only while the process runs one thread
(``can_fork``), send pickled messages framed by their length (``send``, ``frames``), and report a child's error
to the parent as its class in ``artvc.errors``, its arguments and attributes (``portable``, ``rebuilt``), so it
keeps its exit code; anything else of a child is a bug (exit 70).
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
from collections.abc import Collection, Iterator
from typing import Any

from .. import errors
from ..errors import ArtError

AVAILABLE = sys.platform.startswith("linux") and hasattr(os, "fork")
_LEN = struct.Struct("<Q")


def can_fork(waiting: Collection[int] = ()) -> bool:
    """Whether this process may fork now: on Linux, and only while it runs one thread, or besides the calling
    one only threads in ``waiting`` (idents of threads known to do nothing but wait for the caller: the pull's
    main thread waiting for its checkout, ``Arrivals.waiting``). A fork copies only the calling thread, so a lock
    another thread held (in a library, in the allocator, in a program that imported art and runs its own
    threads: a Dask worker, a web server; a fetch's worker still ending) would stay held forever in the child;
    the work is then done in this process alone."""
    import threading

    if not AVAILABLE:
        return False
    if not waiting:
        return threading.active_count() == 1
    me = threading.get_ident()
    return all(t.ident == me or t.ident in waiting for t in threading.enumerate())


def widen(fd: int, size: int = 1 << 20) -> None:
    """Give pipe ``fd`` room for ``size`` bytes where the system allows (the writer blocks less often)."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except OSError:
        pass


def send(w: int, obj: object) -> None:
    """Write ``obj`` to ``w`` as one frame: its pickle's length, then the pickle."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LEN.pack(len(data)) + data)
    while view:
        view = view[os.write(w, view) :]


def frames(got: bytearray) -> Iterator[Any]:
    """The whole messages at the start of ``got`` (``send``'s frames), each removed from it as it is taken; a
    message not whole yet stays for the next read."""
    while len(got) >= _LEN.size:
        (size,) = _LEN.unpack_from(got)
        if len(got) < _LEN.size + size:
            return
        message = pickle.loads(bytes(got[_LEN.size : _LEN.size + size]))
        del got[: _LEN.size + size]
        yield message


def drained(fd: int) -> bytes:
    """Whatever is left to read in pipe ``fd`` (its writer ended)."""
    os.set_blocking(fd, True)
    out = bytearray()
    while data := os.read(fd, 1 << 16):
        out += data
    return bytes(out)


def failed(w: int, exc: BaseException) -> int:
    """A child's last report: its error, for the parent to raise again (best effort: the parent may be gone);
    the child's exit status."""
    try:
        send(w, (-1, portable(exc)))
    except BaseException:
        pass
    return 1


def portable(exc: BaseException) -> tuple[str, tuple, dict]:
    """An exception as (class name in ``artvc.errors``, args, attributes), rebuilt by ``rebuilt``."""
    if isinstance(exc, ArtError) and getattr(errors, type(exc).__name__, None) is type(exc):
        return type(exc).__name__, exc.args, dict(vars(exc))
    if isinstance(exc, KeyboardInterrupt):
        return "KeyboardInterrupt", (), {}
    return "", (f"{type(exc).__name__}: {exc}",), {}


def rebuilt(name: str, args: tuple, attrs: dict, who: str = "the checkout's second writer") -> BaseException:
    """The exception ``portable`` described; an error of another class is a ``RuntimeError`` naming ``who``."""
    if name == "KeyboardInterrupt":
        return KeyboardInterrupt()
    cls = getattr(errors, name, None) if name else None
    if isinstance(cls, type) and issubclass(cls, ArtError):
        exc = cls.__new__(cls)
        exc.args = args
        exc.__dict__.update(attrs)
        return exc
    return RuntimeError(f"{who} failed: {args[0] if args else 'no message'}")
