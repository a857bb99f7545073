"""Transports over fsspec: object stores (S3, GCS, Azure, memory) and SFTP; ``open_transport`` for a URL.

The only module besides the tests that imports fsspec, and with ``transport_local`` the only one that knows
URL schemes. Object stores publish a file when its PUT completes, so a file is written at its final name.
SFTP has no atomic PUT: a file is written under ``tmp/`` and renamed into place (``posix-rename``).

Failures are sorted here, where the backends' exception types are known (``is_transient``): timeouts,
reset connections, 5xx and throttling answers are transient (``TransientStoreError``, retried by
``RetryTransport``); a missing file is ``FileNotFoundError``; permission and credential errors, a connection
that could not be made at all, and other 4xx answers are final (``StoreIOError``). The message of each comes
from ``objstore/remote_errors.py`` (credentials? access? unreachable endpoint?), and art's ``timeout`` and
``retries`` remote options are turned into the backend's own settings there.
"""

from __future__ import annotations

import datetime
import errno
import os
import sys
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ...errors import BackendMissingError, StoreIOError
from ..remote_errors import FAMILY as EXTRAS  # a URL scheme's backend family is also art's extra for it
from ..remote_errors import Connecting, connect_settings, exception_chain, remote_error, retryable
from .transport import Entry, RetryTransport, TransientStoreError, Transport, describe, join
from .transport_local import DirTransport

T = TypeVar("T")

# the published package behind each of art's remote extras (art itself is installed from source for now)
_BACKEND_PACKAGES = {"s3": "s3fs", "gs": "gcsfs", "azure": "adlfs", "ssh": "sshfs"}
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})
_LOCAL = frozenset({"file", "local"})
_SFTP = frozenset({"sftp", "ssh"})
_TIME_KEYS = ("mtime", "LastModified", "last_modified", "updated", "time", "created", "creation_time")
_TRANSIENT_ERRNO = frozenset(
    {errno.ETIMEDOUT, errno.ECONNRESET, errno.ECONNREFUSED, errno.ECONNABORTED, errno.EPIPE, errno.EHOSTUNREACH}
    | {errno.ENETUNREACH, errno.ENETDOWN, errno.EAGAIN}
)
# exception class names (module, name) that mean "a connection or a timeout failed": worth another try
_TRANSIENT_TYPES = (
    ("botocore.exceptions", "ConnectionError"),  # EndpointConnectionError, ReadTimeoutError, ConnectionClosedError
    ("botocore.exceptions", "HTTPClientError"),
    ("aiohttp", "ClientConnectionError"),
    ("aiohttp", "ClientPayloadError"),
    ("aiohttp", "ServerTimeoutError"),
    ("asyncssh", "ConnectionLost"),
    ("azure.core.exceptions", "ServiceRequestError"),
    ("azure.core.exceptions", "ServiceResponseError"),
    ("google.auth.exceptions", "TransportError"),
    ("fsspec.exceptions", "FSTimeoutError"),
)
# credential failures: never retried, whatever their shape
_PERMANENT_TYPES = (
    ("botocore.exceptions", "NoCredentialsError"),
    ("botocore.exceptions", "PartialCredentialsError"),
    ("google.auth.exceptions", "RefreshError"),
    ("azure.core.exceptions", "ClientAuthenticationError"),
    ("asyncssh", "PermissionDenied"),
)
_THROTTLED = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError"})


def split_url(url: str) -> tuple[str, str]:
    """Return (protocol, path) of a remote URL; a plain path is ``file``."""
    if "://" not in url:
        return "file", os.path.abspath(os.path.expanduser(url))
    scheme = url.split("://", 1)[0].lower()
    return scheme, url


def _loaded(pairs: tuple[tuple[str, str], ...]) -> tuple[type[BaseException], ...]:
    out: list[type[BaseException]] = []
    for module, name in pairs:
        mod = sys.modules.get(module)
        cls = getattr(mod, name, None) if mod else None
        if isinstance(cls, type) and issubclass(cls, BaseException):
            out.append(cls)
    return tuple(out)


def backend_errors() -> tuple[type[BaseException], ...]:
    """Exception classes that mean "the remote failed" (network, auth, server), from loaded backends only."""
    return (
        OSError,
        TimeoutError,  # asyncio.TimeoutError too (the same class since Python 3.11: asyncio is not imported)
        ConnectionError,
        *_loaded(
            (
                ("botocore.exceptions", "BotoCoreError"),
                ("botocore.exceptions", "ClientError"),
                ("aiohttp", "ClientError"),
                ("asyncssh", "Error"),
                ("google.auth.exceptions", "GoogleAuthError"),
                ("azure.core.exceptions", "AzureError"),
                ("fsspec.exceptions", "FSTimeoutError"),
            )
        ),
    )


def _status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries, if any (botocore, aiohttp, gcsfs, azure)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        meta = response.get("ResponseMetadata") or {}
        code = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
        if isinstance(code, int):
            return code
    for attr in ("status", "status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception it was raised from) is a timeout, a failed connection, a 5xx or a
    throttling answer; False for missing files, permission and credential errors, and other 4xx answers."""
    transient, permanent = _loaded(_TRANSIENT_TYPES), _loaded(_PERMANENT_TYPES)
    found = False
    for e in exception_chain(exc):
        if isinstance(e, FileNotFoundError | PermissionError) or (permanent and isinstance(e, permanent)):
            return False
        status = _status(e)
        if status is not None:
            if status == 429 or status >= 500:
                found = True
            elif 400 <= status < 500:
                return False
        response = getattr(e, "response", None)
        if isinstance(response, dict) and (response.get("Error") or {}).get("Code") in _THROTTLED:
            found = True
        if isinstance(e, TimeoutError | ConnectionError) or (transient and isinstance(e, transient)):
            found = True
        if isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNO:
            found = True
    return found


def classified(exc: BaseException, where: Any, what: str) -> StoreIOError:
    """The error to raise for backend failure ``exc``: its message says whether credentials, access, the
    connection or the request failed (``remote_errors.remote_error``); transient (``TransientStoreError``,
    retried) only when a retry can help: never for credentials, denied access or a connection that could not
    be made at all (the backend already retried that)."""
    error = remote_error(exc, where, what)
    if is_transient(exc) and retryable(exc):
        return TransientStoreError(error.message, remote=error.remote, hint=error.hint)
    return error


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _mtime(info: dict[str, Any]) -> float | None:
    for k in _TIME_KEYS:
        value = info.get(k)
        if isinstance(value, datetime.datetime):
            return (value if value.tzinfo else value.replace(tzinfo=datetime.UTC)).timestamp()
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
        if isinstance(value, str) and value:
            try:
                return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


class ObjectTransport(Transport):
    """Files on an fsspec filesystem whose PUT is atomic (S3, GCS, Azure, memory): written at their final name.

    Args:
        fs: the fsspec filesystem.
        root: the root path as the filesystem names it (no protocol).
        name: the remote's name, for messages.
        url: the remote's URL, for messages.
    """

    def __init__(
        self, fs: Any, root: str, *, name: str, url: str, protocol: str = "", endpoint: str = "", timeout: float = 0
    ) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.name = name
        self.url = url
        self.protocol = protocol or split_url(url)[0]
        self.endpoint = endpoint or url  # what art connects to, for messages (remote_errors.endpoint)
        self.timeout = timeout  # seconds art waits for a connection (the remote's ``timeout`` option)
        self.connecting = Connecting(name, self.endpoint)
        self._requests = 0

    def key(self, path: str) -> str:
        """The filesystem's path of a relative ``path``. An absolute root stays absolute: over SFTP a path
        without its leading ``/`` is resolved in the login's home directory, not at the URL's path."""
        if not self.root:
            return path
        joined = join(self.root, path)
        return f"/{joined}" if self.root.startswith("/") else joined

    def _do(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self._requests += 1
        try:
            with self.connecting.waiting():  # "connecting to ..." on a terminal when the first answer is slow
                return fn(*args, **kwargs)
        except (FileNotFoundError, BackendMissingError):
            raise
        except backend_errors() as exc:  # PermissionError included: denied, or credentials refused
            raise classified(exc, self, what) from exc

    def list(self, folder: str) -> list[Entry]:
        if hasattr(self.fs, "invalidate_cache"):
            self.fs.invalidate_cache()
        try:
            found = self._do(f"listing {describe(folder)}", self.fs.ls, self.key(folder), detail=True)
        except FileNotFoundError:
            return []
        return [
            Entry(
                str(e["name"]).rstrip("/").rsplit("/", 1)[-1],
                int(e.get("size") or 0),
                _mtime(e),
                e.get("type") == "directory",
            )
            for e in found
        ]

    def read(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        what = f"reading {describe(path)}"
        if not start and end is None:
            return self._received(bytes(self._do(what, self.fs.cat_file, self.key(path))))
        return self._received(bytes(self._do(what, self.fs.cat_file, self.key(path), start=start, end=end)))

    def download(self, path: str, dest: str) -> None:
        self._do(f"reading {describe(path)}", self.fs.get_file, self.key(path), dest)
        self._count_received(os.path.getsize(dest))

    def publish_bytes(self, path: str, data: bytes) -> None:
        self._do(f"uploading {describe(path)}", self.fs.pipe_file, self.key(path), data)

    def publish_file(self, path: str, local: str, *, movable: bool = False) -> None:
        self._do(f"uploading {describe(path)}", self.fs.put_file, local, self.key(path))

    def exists(self, path: str) -> bool:
        return bool(self._do(f"checking {describe(path)}", self.fs.exists, self.key(path)))

    def delete(self, path: str) -> None:
        self._do(f"deleting {describe(path)}", self.fs.rm_file, self.key(path))


class SftpTransport(ObjectTransport):
    """Files over SFTP: written under ``tmp/`` and renamed into place; ranged reads by open + seek."""

    def read(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        def read() -> bytes:  # sshfs ignores start/end in cat_file
            with self.fs.open(self.key(path), "rb") as f:
                if start:
                    f.seek(start)
                return bytes(f.read() if end is None else f.read(max(0, end - start)))

        return self._received(self._do(f"reading {describe(path)}", read))

    def _staged(self, path: str, write: Callable[[str], None]) -> None:
        what = f"uploading {describe(path)}"
        tmp, final = self.key(f"tmp/{uuid.uuid4().hex}.tmp"), self.key(path)
        self._do(what, self.fs.makedirs, self.key("tmp"), exist_ok=True)
        self._do(what, write, tmp)
        self._do(what, self.fs.makedirs, final.rsplit("/", 1)[0], exist_ok=True)
        try:
            self._do(what, self.fs.mv, tmp, final)
        except StoreIOError:
            if self._do(what, self.fs.exists, final):  # the same content, published by someone else
                self._do(what, self.fs.rm_file, tmp)
                return
            raise

    def publish_bytes(self, path: str, data: bytes) -> None:
        self._staged(path, lambda tmp: self.fs.pipe_file(tmp, data))

    def publish_file(self, path: str, local: str, *, movable: bool = False) -> None:
        self._staged(path, lambda tmp: self.fs.put_file(local, tmp))

    def close(self) -> None:
        """Close the ssh connection now (sshd keeps a process per connection until the client leaves)."""
        client = getattr(self.fs, "_client", None)
        if client is None or not hasattr(client, "wait_closed"):
            return
        from fsspec.asyn import sync  # type: ignore[import-untyped, unused-ignore]

        try:
            client.close()
            sync(self.fs.loop, client.wait_closed, timeout=5)
        except Exception:  # closing a dead connection is best effort
            pass


def open_transport(url: str, options: dict[str, Any] | None = None, *, name: str | None = None) -> RetryTransport:
    """Open the transport a remote URL names, wrapped in ``RetryTransport`` (dvc-data's ``get_odb`` for art).

    Args:
        url: ``s3://bucket/prefix``, ``gs://...``, ``az://...``, ``sftp://host/path``, ``memory://path``,
            ``file:///path`` or a plain directory path.
        options: keyword arguments for the fsspec filesystem (endpoint_url, key, client_kwargs, ...), plus
            art's own ``timeout`` and ``retries``. ``hardlinks`` (an option of earlier versions: a push
            hard-linked packs into a local directory) is accepted and ignored: nothing is linked any more.
        name: the remote's name, for messages (default: the URL).

    Raises:
        BackendMissingError: when the backend package for the URL's scheme is not installed.
        StoreIOError: when the filesystem cannot be created (bad options, unreachable).
    """
    name = name or url
    protocol, path = split_url(url)
    options = dict(options or {})
    options.pop("hardlinks", None)  # accepted from earlier configs; a directory remote is always a copy
    if protocol in _LOCAL:
        connect_settings(protocol, url, options, name)  # validates art's timeout/retries; nothing to connect to
        root = urlsplit(url).path if url.startswith(f"{protocol}://") else path
        return RetryTransport(DirTransport(root, name=name))
    where, timeout = connect_settings(protocol, url, options, name)  # art's timeout/retries -> the backend's
    fs = _make_fs(protocol, path, options, name, (where, timeout))
    root = fs._strip_protocol(path).rstrip("/")
    cls = SftpTransport if protocol in _SFTP else ObjectTransport
    return RetryTransport(cls(fs, root, name=name, url=url, protocol=protocol, endpoint=where, timeout=timeout))


def _make_fs(protocol: str, path: str, options: dict[str, Any], name: str, connect: tuple[str, float]) -> Any:
    extra = EXTRAS.get(protocol)
    failures: tuple[type[BaseException], ...] = (TypeError, *backend_errors())
    if protocol in ("gs", "gcs") and options.get("endpoint_url"):
        # gcsfs probes a gRPC control API that emulators do not serve (60 s timeouts per bucket)
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    options.setdefault("skip_instance_cache", True)
    if protocol in OBJECT_STORES:
        options.setdefault("use_listings_cache", False)
    try:
        import fsspec  # type: ignore[import-untyped, unused-ignore]

        fs, _ = fsspec.core.url_to_fs(path, **options)
        return fs
    except ImportError as exc:
        package = _BACKEND_PACKAGES.get(extra or "")
        hint = (
            f"pip install {package} (art's '{extra}' extra) into the environment art runs in"
            if package
            else f"install the fsspec backend for {protocol}:// ({exc})"
        )
        raise BackendMissingError(
            f"remote {name!r} needs a backend for {protocol}:// that is not installed", remote=name, hint=hint
        ) from exc
    except ValueError as exc:
        if "protocol" in str(exc).lower():
            raise BackendMissingError(
                f"unknown URL scheme {protocol}:// for remote {name!r}",
                remote=name,
                hint="use s3://, gs://, az://, sftp://, file:// or a path",
            ) from exc
        raise StoreIOError(
            f"cannot open remote {name!r}: {_reason(exc)}",
            remote=name,
            hint="check the URL and its options with 'art remote list'",
        ) from exc
    except TypeError as exc:
        raise StoreIOError(
            f"cannot open remote {name!r}: {_reason(exc)}",
            remote=name,
            hint="check the URL and its options with 'art remote list'",
        ) from exc
    except failures as exc:  # sftp connects here
        from types import SimpleNamespace

        where = SimpleNamespace(name=name, protocol=protocol, endpoint=connect[0], timeout=connect[1])
        raise remote_error(exc, where, "connecting") from exc
