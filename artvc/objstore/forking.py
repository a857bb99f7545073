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
import signal
import struct
import sys
from collections.abc import Callable, Collection, Iterator
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


def fork_child(serve: Callable[[int, int, int], None]) -> tuple[int, int, int] | None:
    """Fork a helper process with two pipes, both widened (``widen``): jobs to it, results back. The child runs
    ``serve(jobs read end, results write end, parent's pid)``, which ends it (``os._exit``). Returns (pid, jobs
    write end, results read end), or None when this process may not fork now (``can_fork``)."""
    if not can_fork():
        return None
    jobs_r, jobs_w = os.pipe()
    results_r, results_w = os.pipe()
    widen(jobs_w)
    widen(results_w)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (its work is checked by the parent's results)
        os.close(jobs_w)
        os.close(results_r)
        serve(jobs_r, results_w, parent)
        os._exit(1)  # ``serve`` returned: it should not
    os.close(jobs_r)
    os.close(results_w)
    return pid, jobs_w, results_r


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


def portable(exc: BaseException) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """An exception as (class name in ``artvc.errors``, args, attributes), rebuilt by ``rebuilt``."""
    if isinstance(exc, ArtError) and getattr(errors, type(exc).__name__, None) is type(exc):
        return type(exc).__name__, exc.args, dict(vars(exc))
    if isinstance(exc, KeyboardInterrupt):
        return "KeyboardInterrupt", (), {}
    return "", (f"{type(exc).__name__}: {exc}",), {}


def rebuilt(
    name: str, args: tuple[Any, ...], attrs: dict[str, Any], who: str = "the checkout's second writer"
) -> BaseException:
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


class Child:
    """A forked helper seen from its parent: its ``pid`` and the pipe its jobs go through (``_jobs``); a subclass
    lets go of the rest of what it holds in ``_release``, once the child has ended. Closing the jobs pipe is how
    the child is told to end (it reads the pipe's end)."""

    def __init__(self, pid: int, jobs: int) -> None:
        self.pid, self._jobs = pid, jobs
        self._ended = False

    @property
    def alive(self) -> bool:
        """False once the child ended (``close``, ``kill``, or its failure)."""
        return not self._ended

    def _release(self) -> None:
        """Let go of what the subclass holds (its results pipe, shared memory)."""

    def _reap(self) -> None:
        """Wait for the child to end (it has, or is about to); its death by a signal is this process's too."""
        if self._ended:
            return
        self._ended = True
        os.close(self._jobs)
        _, status = os.waitpid(self.pid, 0)
        self._release()
        if os.WIFSIGNALED(status):
            os.kill(os.getpid(), os.WTERMSIG(status))

    def kill(self) -> None:
        """Stop the child now and wait for it (its parent failed or was interrupted: it does no more)."""
        if self._ended:
            return
        self._ended = True
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self._jobs)
        self._release()

    def close(self) -> None:
        """The work is over: the child reads the end of its jobs pipe and ends; wait for it (what an idle child
        says as it ends, an interrupt it got too, is not news)."""
        if self._ended:
            return
        self._ended = True
        os.close(self._jobs)
        os.waitpid(self.pid, 0)
        self._release()
