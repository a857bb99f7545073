"""DirTransport: a remote in a local directory (``file://`` URLs and plain paths).

Every file is written under ``tmp/`` and renamed into place, so no partial file is ever visible under its
final name. Packs may be built directly in ``tmp/`` (``staging_dir``): publishing one is then a rename.
Nothing is ever hard-linked, either way: a file *published* (a pack of the local store pushed whole) and a
file downloaded are copies (``fileio.copy_contents``: a reflink where the filesystem shares blocks
copy-on-write, else copied by the kernel), and a fetch reads packs in place (``open_local``) and writes the
local copy from the bytes it verified, so neither the local store nor the remote changes when the other's
files do.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Callable
from typing import BinaryIO, TypeVar

from ...errors import StoreIOError
from ..fileio import copy_contents, remove_if_present
from .transport import Entry, TransientStoreError, Transport, describe

T = TypeVar("T")

# errno values worth another try (an NFS or SMB mount that hiccups); everything else is final
_TRANSIENT_ERRNO = frozenset({errno.ETIMEDOUT, errno.ECONNRESET, errno.ECONNABORTED, errno.EAGAIN, errno.ESTALE})


def clone_or_copy(src: str, dest: str) -> None:
    """Copy ``src`` to ``dest`` as an independent file, never a hard link (``fileio.copy_contents``)."""
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        copy_contents(fin.fileno(), fout.fileno())


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


class DirTransport(Transport):
    """Files under the local directory ``root``.

    Args:
        root: the absolute directory path.
        name: the remote's name, for messages.
    """

    def __init__(self, root: str, *, name: str) -> None:
        self.root = os.path.abspath(root).rstrip("/") or "/"
        self.url = self.root
        self.name = name
        self._requests = 0

    def _abs(self, path: str) -> str:
        return os.path.join(self.root, *path.split("/")) if path else self.root

    def _tmp(self) -> str:
        return os.path.join(self.root, "tmp", f"{uuid.uuid4().hex}.tmp")

    def _do(self, what: str, fn: Callable[[], T]) -> T:
        self._requests += 1
        try:
            return fn()
        except FileNotFoundError:
            raise
        except PermissionError as exc:
            raise StoreIOError(
                f"remote {self.name!r}: permission denied while {what}: {_reason(exc)}",
                remote=self.name,
                hint="check that you may read and write the remote's directory and the folders in it",
            ) from exc
        except OSError as exc:
            cls = TransientStoreError if exc.errno in _TRANSIENT_ERRNO else StoreIOError
            raise cls(
                f"remote {self.name!r} failed while {what}: {_reason(exc)}",
                remote=self.name,
                hint="check the network and the remote's URL/endpoint; re-running resumes where this stopped",
            ) from exc

    def list(self, folder: str) -> list[Entry]:
        def scan() -> list[Entry]:
            out = []
            with os.scandir(self._abs(folder)) as it:
                for e in it:
                    try:
                        st = e.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    out.append(Entry(e.name, st.st_size, st.st_mtime, e.is_dir(follow_symlinks=False)))
            return out

        try:
            return self._do(f"listing {describe(folder)}", scan)
        except (FileNotFoundError, NotADirectoryError):
            return []

    def read(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        def read() -> bytes:
            with open(self._abs(path), "rb") as f:
                if start:
                    f.seek(start)
                return f.read() if end is None else f.read(max(0, end - start))

        return self._received(self._do(f"reading {describe(path)}", read))

    def download(self, path: str, dest: str) -> None:
        self._do(f"reading {describe(path)}", lambda: clone_or_copy(self._abs(path), dest))  # never a link
        self._count_received(os.path.getsize(dest))

    def open_local(self, path: str) -> BinaryIO:
        f = self._do(f"reading {describe(path)}", lambda: open(self._abs(path), "rb"))  # noqa: SIM115
        self._count_received(os.fstat(f.fileno()).st_size)
        return f

    def publish_bytes(self, path: str, data: bytes) -> None:
        def write() -> None:
            tmp, final = self._tmp(), self._abs(path)
            os.makedirs(os.path.dirname(tmp), exist_ok=True)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, final)
            except BaseException:
                remove_if_present(tmp)
                raise

        self._do(f"uploading {describe(path)}", write)

    def publish_file(self, path: str, local: str, *, movable: bool = False) -> None:
        def publish() -> None:
            final = self._abs(path)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            if movable and os.path.dirname(os.path.abspath(local)) == self._abs("tmp"):
                os.replace(local, final)  # staged on the remote's own filesystem: a rename publishes it
                return
            tmp = self._tmp()
            os.makedirs(os.path.dirname(tmp), exist_ok=True)
            try:
                clone_or_copy(local, tmp)  # never a link: the remote is its own copy
                os.replace(tmp, final)
            except BaseException:
                remove_if_present(tmp)
                raise

        self._do(f"uploading {describe(path)}", publish)

    def exists(self, path: str) -> bool:
        return self._do(f"checking {describe(path)}", lambda: os.path.exists(self._abs(path)))

    def delete(self, path: str) -> None:
        self._do(f"deleting {describe(path)}", lambda: os.unlink(self._abs(path)))

    def staging_dir(self) -> str | None:
        d = self._abs("tmp")
        try:
            os.makedirs(d, exist_ok=True)
        except OSError:
            return None
        return d
