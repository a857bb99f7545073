"""The transport: the few file operations a remote store needs, one implementation per kind of storage.

A remote store (objstore/store/remote.py) keeps packs, indexes, locks and root records as files under one
root. It asks its transport for nothing but these operations, on paths relative to that root with ``/``
separators (``packs/ab/<name>.pack``, ``index/<name>.idx``, ``locks/<token>.json``):

``list(folder)``             the entries of one folder (name, size, modification time when known, folder or not)
``read(path, start, end)``   bytes ``[start, end)`` of a file (the whole file by default)
``download(path, dest)``     a whole file into the local file ``dest``
``publish_bytes / _file``    write, then publish: a reader sees the old state or the whole new file, never a part
``exists(path)``, ``delete(path)``, ``staging_dir()``, ``close()``

Only the implementations know protocols: ``transport_local.DirTransport`` (a directory: temp file + rename),
``transport_fsspec.ObjectTransport`` (S3, GCS, Azure, memory: a PUT publishes on completion) and
``transport_fsspec.SftpTransport`` (written under ``tmp/``, then renamed). ``transport_fsspec.open_transport``
picks one for a URL and wraps it in ``RetryTransport``.

Failures: a missing file raises ``FileNotFoundError``; every other failure is a ``StoreIOError`` naming the
remote, and ``TransientStoreError`` (a ``StoreIOError``) when trying again may help (a timeout, a reset
connection, a 5xx or throttling answer). ``RetryTransport`` retries only those, a bounded number of times
with jittered exponential backoff, as restic's ``backend/retry`` does; a missing file, a permission or
credential error is final, and a hash mismatch is found by the store above, never here.
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

from ...errors import StoreIOError

T = TypeVar("T")

RETRY_ATTEMPTS = 3  # tries in all: the backends retry on their own underneath
RETRY_BASE = 0.25  # seconds before the first retry (times a jitter factor in [0.5, 1))
RETRY_MAX = 4.0  # no single wait is longer


class TransientStoreError(StoreIOError):
    """A remote failure that trying again may cure (timeout, reset connection, 5xx, throttling)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a listed folder: ``name`` (no folder part), ``size`` in bytes, ``mtime`` in seconds since
    the epoch (None when the storage does not say), ``is_dir``."""

    name: str
    size: int
    mtime: float | None = None
    is_dir: bool = False


def describe(path: str) -> str:
    """Name a remote file for messages: ``pack 3f0a9c12de``, ``index 3f0a9c12de``, else its path."""
    base = path.rsplit("/", 1)[-1]
    for folder, suffix, what in (
        ("packs/", ".pack", "pack"),
        ("index/", ".idx", "index"),
        ("roots/", ".json", "root record"),
    ):
        if path.startswith(folder) and base.endswith(suffix):
            return f"{what} {base[: -len(suffix)][:10]}"
    return path


def join(*parts: str) -> str:
    """Join relative path parts with ``/``."""
    return "/".join(p.strip("/") for p in parts if p)


_COUNT_LOCK = threading.Lock()


class Transport(ABC):
    """Files under one root. Paths are relative to the root and use ``/``.

    Attributes:
        name: the remote's name, for messages.
        url: where the root is (for messages and ``repr``).
    """

    name: str
    url: str
    _requests: int = 0
    _read_size: int = 0

    @property
    def requests(self) -> int:
        """Backend calls made so far (retries included)."""
        return self._requests

    @property
    def read_size(self) -> int:
        """Bytes received so far by ``read`` and ``download`` (what a test or a report counts as downloaded)."""
        return self._read_size

    def _received(self, data: bytes) -> bytes:
        self._count_received(len(data))
        return data

    def _count_received(self, size: int) -> None:
        with _COUNT_LOCK:  # reads run in threads (RemoteStore.read_objects): no update may be lost
            self._read_size += size

    @abstractmethod
    def list(self, folder: str) -> list[Entry]:
        """Return the entries of ``folder`` (files and sub-folders); an empty list when it does not exist."""

    @abstractmethod
    def read(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        """Return bytes ``[start, end)`` of a file (``end=None``: to its end); fewer when the file is shorter.

        Raises:
            FileNotFoundError: when the file does not exist.
        """

    @abstractmethod
    def download(self, path: str, dest: str) -> None:
        """Copy a whole file into the local file ``dest`` (which may be overwritten).

        Raises:
            FileNotFoundError: when the file does not exist.
        """

    @abstractmethod
    def publish_bytes(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path``, replacing a file there; readers never see a partial file."""

    @abstractmethod
    def publish_file(self, path: str, local: str, *, movable: bool = False) -> None:
        """Publish the local file ``local`` at ``path`` (readers never see a partial file).

        ``movable``: ``local`` is a temporary file the transport may move away instead of copying.
        """

    @abstractmethod
    def exists(self, path: str) -> bool:
        """True when a file is at ``path``."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove one file.

        Raises:
            FileNotFoundError: when it does not exist (on storages that say so).
        """

    def staging_dir(self) -> str | None:
        """A local folder where files to publish can be built so that publishing them is a rename, or None."""
        return None

    def open_local(self, path: str) -> BinaryIO | None:
        """The file at ``path`` opened for reading when it is a local file (a directory remote), else None: the
        caller then reads it with ``os.pread`` instead of downloading a copy first.

        Raises:
            FileNotFoundError: when the file does not exist.
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class RetryTransport(Transport):
    """Wraps a transport: each operation is tried up to ``attempts`` times while it fails transiently.

    The wait before retry n (n = 1, 2, ...) is ``base * 2**(n-1)`` times a random factor in [0.5, 1), at
    most ``max_delay`` seconds. Only ``TransientStoreError`` is retried; anything else is raised at once.
    ``sleep`` and ``rng`` are injectable so that tests need not wait.
    """

    def __init__(
        self,
        inner: Transport,
        *,
        attempts: int = RETRY_ATTEMPTS,
        base: float = RETRY_BASE,
        max_delay: float = RETRY_MAX,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.url = inner.url
        self.attempts = max(1, attempts)
        self.base = base
        self.max_delay = max_delay
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.retries = 0  # retries made so far (for reports and tests)

    @property
    def requests(self) -> int:
        return self.inner.requests

    @property
    def read_size(self) -> int:
        return self.inner.read_size

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return min(self.max_delay, self.base * 2.0 ** (retry - 1) * (0.5 + self._rng.random() / 2))

    def _retry(self, fn: Callable[[], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except TransientStoreError:
                if attempt == self.attempts:
                    raise
                self.retries += 1
                self._sleep(self.delay(attempt))
        raise AssertionError("unreachable")

    def list(self, folder: str) -> list[Entry]:
        return self._retry(lambda: self.inner.list(folder))

    def read(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        return self._retry(lambda: self.inner.read(path, start, end))

    def download(self, path: str, dest: str) -> None:
        self._retry(lambda: self.inner.download(path, dest))

    def publish_bytes(self, path: str, data: bytes) -> None:
        self._retry(lambda: self.inner.publish_bytes(path, data))

    def publish_file(self, path: str, local: str, *, movable: bool = False) -> None:
        self._retry(lambda: self.inner.publish_file(path, local, movable=movable))

    def exists(self, path: str) -> bool:
        return self._retry(lambda: self.inner.exists(path))

    def delete(self, path: str) -> None:
        self._retry(lambda: self.inner.delete(path))

    def staging_dir(self) -> str | None:
        return self.inner.staging_dir()

    def open_local(self, path: str) -> BinaryIO | None:
        return self._retry(lambda: self.inner.open_local(path))

    def close(self) -> None:
        self.inner.close()
