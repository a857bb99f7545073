"""A second process for a checkout of many small files (Linux): half of the folders' files written by a fork.

Writing a small file is a few short system calls (``openat``, ``write``, ``fstat``, ``close``) and some Python
around them. Threads do not share that work: every system call hands the GIL over, so two threads spend their
time waking each other (20,000 files on tmpfs with both cores free: 0.86 s in two threads, 0.52 s in one). Two
processes do: each has its own interpreter (the same loop of bare writes: 0.25 s in one process, 0.13 s in
two, 0.41 s in two threads).

``split_run`` forks once the checkout is planned. The child writes the jobs given to it and sends, after each
job, what landed (each file's index in its job and its stat data) through a pipe; the parent writes the others,
and takes the child's reports as they come, recording them in the stat cache and the progress as its own. The
child's jobs are only files of folders the checkout creates (private staging folders), each located by the
plan as a one-chunk raw or zstd object (``materialize.forkable``): the child reads packs through descriptors
the store holds and never touches a sqlite connection (one must not cross a fork), records nothing, draws
nothing, and ends with ``os._exit``. Every failure ends both: an error of the child is raised again in the
parent (its class, message and hint), an error or interrupt of the parent kills the child (and waits for it)
before the caller removes the staging folder, a child killed by a signal (``ART_FAULT``'s kill, the OOM
killer) takes the parent with it by the same signal (what a kill of art leaves: the staging folder, removed by
the next command that takes the lock), and a child whose parent died stops before its next job.

A pull's checkout runs in a thread beside its fetch (``pull_overlap.py``), so its process is not one thread;
once the fetch has ended whole, the rest of its jobs are split the same way (``can_fork(waiting=...)``): the
other threads left are known to do nothing but wait (the main thread, waiting for the checkout's to end), and
none of them is copied into the child. The jobs' packs are opened (and their names learnt) before the fork, and the
child checks each file as the pull's checkout would (hashed unless its pack is one the fetch proved).

Better still for a pull, a ``Writer`` is forked as the pull starts, while its process runs one thread, and
takes jobs through a pipe while the fetch goes on (see the class).
"""

from __future__ import annotations

import os
import signal
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple, TypeVar

from ..objstore.arrivals import Arrivals
from ..objstore.faults import fault_point
from ..objstore.forking import AVAILABLE, Child, can_fork, drained, failed, fork_child, frames, rebuilt, send, widen
from .checkout_plan import LOCATED_AT_MOST

__all__ = ["AVAILABLE", "FORK_AT", "Stat", "Writer", "beside_fetch", "can_fork", "split_run"]

FORK_AT = 4096  # files of new folders from which a checkout writes in two processes

J = TypeVar("J")


class Stat(NamedTuple):
    """The stat data of a file the child wrote (what the stat cache and ``signed_writes`` read of a stat)."""

    st_ino: int
    st_mtime_ns: int
    st_ctime_ns: int
    st_size: int
    st_mode: int


def split_run(
    jobs: Sequence[J],
    theirs: Sequence[bool],
    here: Callable[[J], None],
    there: Callable[[J], Iterator[list[tuple[int, os.stat_result]]]],
    landed: Callable[[J, list[tuple[int, Stat]]], None],
) -> int:
    """Run ``jobs``: those marked in ``theirs`` in a forked child (``there`` writes one, yielding what landed),
    the rest here (``here``); ``landed`` gets, in this process, what the child wrote of each of its jobs as it
    arrives. Returns the child's process id (ended by then).

    Raises:
        what the child raised (an ``ArtError`` keeps its class, so its exit code; anything else becomes a bug,
        exit 70), or what ``here`` or ``landed`` raised (the child killed first).
    """
    r, w = os.pipe()
    widen(w)  # room for many reports: the child blocks less often while this process writes a job of its own
    parent = os.getpid()
    with warnings.catch_warnings():  # Python 3.12+ warns of a fork beside threads: ours only wait (``can_fork``)
        warnings.filterwarnings("ignore", message=".*multi-threaded.*fork", category=DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (its work is checked by the parent's results)
        _child(jobs, theirs, there, w, r, parent)
    os.close(w)
    got = bytearray()
    try:
        os.set_blocking(r, False)
        for n, job in enumerate(jobs):
            if not theirs[n]:
                here(job)
                _drain(r, got, jobs, landed)
        os.set_blocking(r, True)
        _drain(r, got, jobs, landed)
        _, status = os.waitpid(pid, 0)
    except BaseException:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(r)
    if os.WIFSIGNALED(status):  # killed: the checkout is killed the same way (the next command cleans up)
        os.kill(os.getpid(), os.WTERMSIG(status))
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the checkout's second writer ended with status {status} and no error")
    return pid


def beside_fetch(
    arrivals: Arrivals,
    todo: Iterator[J],
    write: Callable[[J], None],
    split: Callable[[Iterable[J], Callable[[J], None]], None] | None,
    files: int,
    size: Callable[[J], int],
    send: Callable[[J, bool], bool] | None = None,
    flush: Callable[[], None] | None = None,
) -> None:
    """The jobs of a checkout beside a pull's fetch (``files`` in all, ``size`` of each job): written by this
    thread (``write``) while objects still arrive; once the fetch ended whole and every other thread only waits
    (``Arrivals.waiting``, ``can_fork``), the rest is handed to ``split`` (which lists them and forks: see
    ``split_run``; None: ``core.jobs`` is 1, no fork) when from ``FORK_AT`` to ``LOCATED_AT_MOST`` files are
    left (the plan's bound of files a checkout lists at once). Before each job of this process, here or in
    ``split``, an interrupted pull (``Arrivals.cancel``) stops the checkout (``Arrivals.check``).

    With ``send`` (a ``Writer`` forked as the pull started), each job is first offered to it: ``send(job,
    fetching)`` hands it over (True), waiting for room while the fetch goes on (``fetching``: this thread then
    writes nothing itself, and leaves the GIL to the fetch), or says no (False: the writer is busy once the fetch
    ended, or the job is not one it may write) and the job is written here; ``flush`` then waits for the jobs out.
    No second fork is made."""

    def here(job: J) -> None:
        arrivals.check()
        write(job)

    if send is not None:
        for job in todo:
            arrivals.check()
            if not send(job, arrivals.waiting() is None):
                write(job)
        if flush is not None:
            flush()
        return
    left = files
    for job in todo:
        here(job)
        left -= size(job)
        if split is not None and FORK_AT <= left <= LOCATED_AT_MOST:
            waiting = arrivals.waiting()
            if waiting is not None and can_fork(waiting):
                split(todo, here)
                return


class Writer(Child):
    """A writer process forked as a pull starts (``Writer.fork``: the process runs one thread then, before its
    fetch starts any), which writes the jobs the pull's checkout hands it while the fetch goes on.

    ``split_run`` forks only once the fetch has ended whole (a fork beside the fetch's running threads could copy
    a lock one of them holds); until then the checkout beside the fetch shared the fetch's interpreter, and every
    file it wrote took the GIL from the fetch. This child has an interpreter of its own from the start: the
    checkout's thread locates each job's objects as they arrive (``Arrivals.located``), sends the job here
    (``send``) and records what landed (``drain``), and the child writes it with ``write`` (the packs it reads
    named in each job, opened by path: no sqlite connection crosses the fork). Jobs go one way through a pipe,
    reports (each file's stat data) the other. The same rules as ``split_run``'s: an error of the child is raised
    again in the parent, a child killed by a signal takes the parent with it by the same signal, an error or
    interrupt of the parent's checkout kills the child (``kill``, and waits for it) before its staging folder is
    removed, and a child whose parent died reads the end of its pipe and stops."""

    def __init__(self, pid: int, jobs: int, reports: int) -> None:
        super().__init__(pid, jobs)
        self._reports = reports
        self._out: dict[int, object] = {}  # jobs sent and not reported yet, by number
        self._serial = 0
        self._got = bytearray()

    @classmethod
    def fork(cls, write: Callable[[object], Iterator[list[tuple[int, os.stat_result]]]]) -> Writer | None:
        """The writer process (None when this process may not fork now: ``can_fork``), which runs
        ``write(payload)`` for each payload sent."""
        forked = fork_child(lambda jobs, reports, parent: _serve(write, jobs, reports, parent))
        if forked is None:
            return None
        pid, jobs_w, reports_r = forked
        os.set_blocking(reports_r, False)
        return cls(pid, jobs_w, reports_r)

    @property
    def busy(self) -> int:
        """Jobs sent and not reported yet."""
        return len(self._out)

    def send(self, key: object, payload: object) -> None:
        """Hand a job to the child (``key`` comes back with its report)."""
        n, self._serial = self._serial, self._serial + 1
        self._out[n] = key
        try:
            send(self._jobs, (n, payload))
        except BrokenPipeError:  # the child is gone: its error, or its death by a signal, is this process's
            self._got += drained(self._reports)
            self._take(lambda key, got: None)
            self._reap()
            raise RuntimeError("the checkout's second writer ended before its jobs") from None

    def drain(self, landed: Callable[[object, list[tuple[int, Stat]]], None], *, wait: bool = False) -> None:
        """Record (``landed(key, stats)``) the reports the child has sent; ``wait``: at least one (when a job is
        out).

        Raises:
            what the child raised (see ``split_run``); a child killed by a signal kills this process too.
        """
        while self._out:
            os.set_blocking(self._reports, wait)
            try:
                data = os.read(self._reports, 1 << 16)
            except BlockingIOError:
                return
            finally:
                os.set_blocking(self._reports, False)
            if not data:  # the child ended with jobs out
                self._reap()
                raise RuntimeError("the checkout's second writer ended before its jobs")
            self._got += data
            wait = self._take(landed) == 0 and wait

    def flush(self, landed: Callable[[object, list[tuple[int, Stat]]], None]) -> None:
        """Wait for every job out to be reported (and recorded)."""
        while self._out:
            self.drain(landed, wait=True)

    def _take(self, landed: Callable[[object, list[tuple[int, Stat]]], None]) -> int:
        taken = 0
        got = self._got
        for n, what in frames(got):
            if n < 0:
                self._reap()
                raise rebuilt(*what)
            landed(self._out.pop(n), what)
            taken += 1
        return taken

    def close(self) -> None:
        """The pull is over: the child reads the end of its pipe and ends; wait for it. Jobs still out (the
        checkout stopped without ``flush``) are not waited for: the child is killed."""
        if self._out:
            self.kill()
            return
        super().close()

    def _release(self) -> None:
        os.close(self._reports)


def _serve(write, jobs: int, reports: int, parent: int) -> None:  # pragma: no cover - runs in the child
    code = 0
    got = bytearray()
    first = True
    try:
        while True:
            data = os.read(jobs, 1 << 16)
            if not data:  # the pull is over (or died)
                break
            got += data
            for n, payload in frames(got):
                if first:
                    fault_point("checkout.forked")  # in the child alone: a test fails or kills it here
                    first = False
                if os.getppid() != parent:
                    raise SystemExit(1)
                send(reports, (n, _stats(write(payload))))
    except BaseException as exc:
        code = failed(reports, exc)
    os._exit(code)


def _child(jobs, theirs, there, w: int, r: int, parent: int) -> None:  # pragma: no cover - runs in the child
    code = 0
    try:
        os.close(r)
        fault_point("checkout.forked")  # in the child alone: a test fails or kills it here (ART_FAULT)
        for n, job in enumerate(jobs):
            if not theirs[n]:
                continue
            if os.getppid() != parent:  # the checkout was killed: stop (its staging folder is removed later)
                code = 1
                break
            send(w, (n, _stats(there(job))))
    except BaseException as exc:
        code = failed(w, exc)
    os._exit(code)


def _stats(batches: Iterable[list[tuple[int, os.stat_result]]]) -> list[tuple[int, Stat]]:
    """A job's written files as the child reports them: each file's index in its job and its stat data."""
    return [
        (k, Stat(st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode))
        for batch in batches
        for k, st in batch
    ]


def _drain(r: int, got: bytearray, jobs: Sequence[J], landed: Callable[[J, list[tuple[int, Stat]]], None]) -> None:
    """Take every whole report the child has sent: those there now when ``r`` does not block, else all of them,
    to the end of the pipe (the child closes it as it ends)."""
    while True:
        try:
            data = os.read(r, 1 << 16)
        except BlockingIOError:
            return
        if not data:
            return
        got += data
        for n, what in frames(got):
            if n < 0:
                raise rebuilt(*what)
            landed(jobs[n], what)
