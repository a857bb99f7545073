"""The repository lock (an advisory ``flock`` on ``.art/lock``) and the store lock (``<store>/lock``).

The kernel drops a flock when its holder dies, so a killed process never leaves the repository stuck; the
PID written into the file only serves the error message.

A store may be shared by several workspaces (``core.store``), whose repository locks are different files.
So every command that takes its repository lock also takes the store lock *shared*, and ``art gc`` takes it
*exclusively*: a gc in one workspace never runs while an ``add``, ``pull`` or ``repro`` in another one is
between "this object is already stored" and writing the pointer that needs it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import LocalStoreError, RepoLockedError
from ..objstore.oserrors import describe


class RepoLock:
    """Exclusive lock for commands that write; re-entrant within one process."""

    def __init__(self, path: Path, *, wait: float = 10.0, store_lock: StoreLock | None = None) -> None:
        self.path = path
        self.wait = wait
        self.store_lock = store_lock  # taken shared together with this lock
        self._fd: int | None = None
        self._depth = 0
        self._with_store = False
        self.on_acquire: list[Callable[[], None]] = []  # run each time the lock is taken (cleanup of leftovers)

    def acquire(self, wait: float | None = None, *, store: bool = True) -> None:
        """Take the lock, waiting up to ``wait`` seconds (default: the lock's ``wait``, 10 s).

        With ``store`` (the default) the store lock is taken shared too; a nested acquire changes nothing.

        Raises:
            RepoLockedError: when another live process holds it (or the store lock) for longer.
        """
        if self._depth:
            self._depth += 1
            return
        fd = self._open()
        if fd is None:  # .art is read-only and has no lock file: no one can be writing to it
            self._depth = 1
            return
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
                    os.close(fd)
                    raise RepoLockedError(
                        f"the repository is locked by {holder}", hint="wait for that command to finish"
                    ) from None
                time.sleep(0.05)
        if store and self.store_lock is not None:
            try:
                self.store_lock.acquire(wait=wait)
            except BaseException:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode(), 0)
        except OSError:
            pass  # opened read-only: the lock holds, only the holder's name is not recorded
        self._fd = fd
        self._depth = 1
        self._with_store = store and self.store_lock is not None
        for hook in self.on_acquire:
            hook()

    def held(self) -> bool:
        """True while this process holds the lock."""
        return self._depth > 0

    def _open(self) -> int | None:
        """Open the lock file; read-only where ``.art`` is (a flock needs no write access)."""
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise describe(exc, "open the repository lock", self.path) from exc
        try:
            return os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise describe(exc, "open the repository lock", self.path) from exc

    def release(self) -> None:
        if not self._depth:
            return
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            if self._with_store and self.store_lock is not None:
                self.store_lock.release()
                self._with_store = False
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
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

    @contextmanager
    def repo_only(self) -> Iterator[RepoLock]:
        """Hold the repository lock without the store lock (writing ``.art/config``, which may be about to
        change where the store is)."""
        self.acquire(store=False)
        try:
            yield self
        finally:
            self.release()

    def __enter__(self) -> RepoLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class StoreLock:
    """``flock`` on ``<store>/lock``: shared for commands that write objects, exclusive for gc; re-entrant.

    Args:
        path: returns the lock file's path (the store directory is created when missing).
        wait: seconds to wait for a conflicting holder before failing.
    """

    def __init__(self, path: Callable[[], Path], *, wait: float = 10.0) -> None:
        self._path = path
        self.wait = wait
        self._fd: int | None = None
        self._modes: list[int] = []  # the mode held at each nesting level

    def acquire(self, *, exclusive: bool = False, wait: float | None = None) -> None:
        """Take the lock (or upgrade a shared one this process holds), waiting up to ``wait`` seconds (default:
        the lock's ``wait``).

        Raises:
            RepoLockedError: when another process holds it in a conflicting mode for longer than ``wait``.
            LocalStoreError: when the lock file cannot be created.
        """
        want = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        held = self._modes[-1] if self._modes else None
        if held == fcntl.LOCK_EX or held == want:
            self._modes.append(held)
            return
        if self._fd is None:
            path = self._path()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                    raise LocalStoreError(f"cannot open the store lock {path}: {exc.strerror or exc}") from exc
                try:  # a read-only store: a flock needs no write access; with no lock file, no one writes
                    self._fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    self._modes.append(want)
                    return
                except OSError as exc2:
                    raise describe(exc2, "open the store lock", path) from exc2
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        while True:
            try:
                fcntl.flock(self._fd, want | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                if not self._modes:
                    os.close(self._fd)
                    self._fd = None
                what = "gc" if exclusive else "this command"
                raise RepoLockedError(
                    f"the store {self._path().parent} is in use by another art command "
                    f"(in this or another workspace that shares it), so {what} cannot start",
                    hint="wait for it to finish and run this again",
                ) from None
        self._modes.append(want)

    def release(self) -> None:
        if not self._modes:
            return
        mode = self._modes.pop()
        if self._fd is None:
            return  # a read-only store without a lock file: nothing was locked
        if not self._modes:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        elif self._modes[-1] != mode:
            fcntl.flock(self._fd, self._modes[-1])  # back from exclusive to shared

    @contextmanager
    def exclusive(self) -> Iterator[StoreLock]:
        """``with lock.exclusive():`` hold the lock exclusively for the block (upgrading a shared hold)."""
        self.acquire(exclusive=True)
        try:
            yield self
        finally:
            self.release()

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
