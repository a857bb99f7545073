"""The repository lock: an advisory ``flock`` on ``.art/lock``.

The kernel drops a flock when its holder dies, so a killed process never leaves the repository stuck; the
PID written into the file only serves the error message.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..objstore.errors import RepoLockedError


class RepoLock:
    """Exclusive lock for commands that write; re-entrant within one process."""

    def __init__(self, path: Path, *, wait: float = 10.0) -> None:
        self.path = path
        self.wait = wait
        self._fd: int | None = None
        self._depth = 0

    def acquire(self, wait: float | None = None) -> None:
        """Take the lock, waiting up to ``wait`` seconds (default: the lock's ``wait``, 10 s).

        Raises:
            RepoLockedError: when another live process holds it for longer.
        """
        if self._depth:
            self._depth += 1
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
                    os.close(fd)
                    raise RepoLockedError(f"the repository is locked by {holder}",
                                          hint="wait for that command to finish") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode(), 0)
        self._fd = fd
        self._depth = 1

    def release(self) -> None:
        if not self._depth:
            return
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @contextmanager
    def patiently(self, wait: float) -> Iterator[RepoLock]:
        """Hold the lock for a ``with`` block, waiting up to ``wait`` seconds for it (work that is already done
        and must not be thrown away, such as a finished pipeline stage, waits longer than a new command)."""
        self.acquire(wait)
        try:
            yield self
        finally:
            self.release()

    def __enter__(self) -> RepoLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
