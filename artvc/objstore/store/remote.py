"""FsspecStore: an object store on any fsspec URL (s3://, gs://, az://, sftp://, file://, a plain path).

The only module besides the tests that imports fsspec. Layout under the remote root (docs/remotes.md):

    packs/ab/<name>.pack   a pack, in the same format as local packs (objstore/store/pack.py)
    index/<name>.idx       its index: IDX_MAGIC + the pack's entry table; ``name`` = blake3(entry table)
    tmp/                   upload staging on filesystems with an atomic rename (file, sftp); never read

Packs and indexes are immutable and named by their content, so concurrent pushes from many clients never
write the same name with different bytes. A pack is uploaded first and its index second: **the index is
the commit point**. A reader trusts only indexes whose content hashes to their name and only the objects
they list; a pack without an index is garbage left by an interrupted push (a later gc may remove it).
On object stores (S3, GCS, Azure) a PUT is atomic; on file:// and sftp:// every file is written under
``tmp/`` and renamed into place, so no partial pack or index is ever visible under its final name.

Indexes never change, so the ones already seen are cached locally (``cache_dir``): refreshing the view
of a remote costs one listing plus one GET per index that is new since the last time.

Every object read from a remote is verified before it is handed out (chunks by blake3 of their bytes,
trees and runs by their decoders); ``read_objects`` hands back stored bytes and leaves verification to
the caller (objstore/transfer.py), which must not store anything unverified.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...errors import BackendMissingError, CorruptObjectError, FormatError, ObjectNotFoundError, StoreIOError
from ...errors import PackMissingError as PackMissing
from ..codec import MAX_PACK_ENTRIES
from ..faults import fault_point
from ..objects import Kind, check_object
from ..oid import Oid, is_oid
from ..remote_errors import Connecting, connect_settings, remote_error, retryable
from .base import IndexedObject, ObjectStore, StoreWriter
from .fileops import link_or_copy, unlink_quietly
from .pack import ENTRY, IDX_MAGIC, Compressor, PackEntry, check_entry, decode_index, encode_index, unpack_payload

# Packs of "tens of MiB": one PUT each (s3fs sends a single PUT below 2 x its 50 MiB chunk size), so a
# pushed GiB costs about 2 x 16 requests.
PACK_TARGET = 64 << 20
# Ranged reads: adjacent needed objects are read together when the gap between them is small, up to a
# bounded span, so a pull neither sends one GET per chunk nor holds a whole pack in memory.
MERGE_GAP = 256 << 10
MAX_SPAN = 16 << 20
RETRY_DELAY = 0.5
MAX_INDEX_BYTES = len(IDX_MAGIC) + ENTRY.size * MAX_PACK_ENTRIES

EXTRAS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gs",
    "gcs": "gs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "adl": "azure",
    "sftp": "ssh",
    "ssh": "ssh",
}
# protocols where a rename is atomic and cheap: stage under tmp/ and rename into place
_RENAME = frozenset({"file", "local", "sftp", "ssh"})
# the published package behind each of art's remote extras (art itself is installed from source for now)
_BACKEND_PACKAGES = {"s3": "s3fs", "gs": "gcsfs", "azure": "adlfs", "ssh": "sshfs"}
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})


def split_url(url: str) -> tuple[str, str]:
    """Return (protocol, path) of a remote URL; a plain path is ``file``."""
    if "://" not in url:
        return "file", os.path.abspath(os.path.expanduser(url))
    scheme = url.split("://", 1)[0].lower()
    return scheme, url


def backend_errors() -> tuple[type[BaseException], ...]:
    """Exception classes that mean "the remote failed" (network, auth, server), from loaded backends only."""
    errors: list[type[BaseException]] = [OSError, TimeoutError, asyncio.TimeoutError, ConnectionError]
    for module, names in (
        ("botocore.exceptions", ("BotoCoreError", "ClientError")),
        ("aiohttp", ("ClientError",)),
        ("asyncssh", ("Error",)),
        ("google.auth.exceptions", ("GoogleAuthError",)),
        ("azure.core.exceptions", ("AzureError",)),
        ("fsspec.exceptions", ("FSTimeoutError",)),
    ):
        mod = sys.modules.get(module)
        for name in names:
            cls = getattr(mod, name, None) if mod else None
            if isinstance(cls, type) and issubclass(cls, BaseException):
                errors.append(cls)
    return tuple(errors)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


@dataclass(frozen=True, slots=True)
class Located:
    """Where a remote object is: its pack and entry."""

    pack: str
    entry: PackEntry


class FsspecStore(ObjectStore):
    """Packs and indexes on an fsspec filesystem.

    Args:
        url: ``s3://bucket/prefix``, ``gs://...``, ``az://...``, ``sftp://host/path``, ``file:///path`` or a
            plain directory path.
        options: keyword arguments for the fsspec filesystem (endpoint_url, key, client_kwargs, ...).
        name: the remote's name, for messages.
        cache_dir: where indexes already seen are kept (immutable, so never stale); None = no cache.
        fs: an already-built filesystem (tests); ``url`` then only gives the root path.

    The option ``hardlinks`` (default true) is art's own, not the backend's: with a local-directory remote,
    whole packs are hard-linked between the local store and the remote instead of copied when both are on
    one filesystem (as ``git clone`` does for local repositories; packs are immutable on both sides and
    every object is still verified when it is read).

    Raises:
        BackendMissingError: when the backend package for the URL's scheme is not installed.
        StoreIOError: when the filesystem cannot be created (bad options, unreachable).
    """

    def __init__(
        self,
        url: str,
        options: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        fs: Any = None,
    ) -> None:
        self.url = url
        self.name = name or url
        self.protocol, path = split_url(url)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.compressor = Compressor()
        self._index: dict[tuple[Oid, int], Located] = {}
        self._packs: dict[str, list[PackEntry]] = {}
        self._avoid: set[tuple[Oid, int, str]] = set()  # copies found damaged: read another copy instead
        self.lost_packs: set[str] = set()  # listed packs found missing: left out of the view
        self._loaded = False
        self._lock = threading.Lock()
        self.requests = 0
        options = dict(options or {})
        self.hardlinks = bool(options.pop("hardlinks", True))
        self.endpoint, self.timeout = connect_settings(self.protocol, url, options, self.name)  # timeout, retries
        self.connecting = Connecting(self.name, self.endpoint)
        self.fs = fs if fs is not None else self._make_fs(path, options)
        if self.protocol == "file":
            self.root = os.path.abspath(urlsplit(url).path if url.startswith("file://") else path).rstrip("/")
        else:
            self.root = self.fs._strip_protocol(path).rstrip("/")
        self.atomic_rename = self.protocol in _RENAME

    # -- connecting --------------------------------------------------------------------------------------

    def _make_fs(self, path: str, options: dict[str, Any]) -> Any:
        extra = EXTRAS.get(self.protocol)
        if self.protocol in ("gs", "gcs") and options.get("endpoint_url"):
            # gcsfs probes a gRPC control API that emulators do not serve (60 s timeouts per bucket)
            os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        options.setdefault("skip_instance_cache", True)
        if self.protocol in OBJECT_STORES:
            options.setdefault("use_listings_cache", False)
        try:
            import fsspec

            if self.protocol == "file":
                options.setdefault("auto_mkdir", True)
                return fsspec.filesystem("file", **options)
            fs, _ = fsspec.core.url_to_fs(path, **options)
            return fs
        except ImportError as exc:
            package = _BACKEND_PACKAGES.get(extra or "")
            hint = (
                f"pip install {package} (art's '{extra}' extra) into the environment art runs in"
                if package
                else f"install the fsspec backend for {self.protocol}:// ({exc})"
            )
            raise BackendMissingError(
                f"remote {self.name!r} needs a backend for {self.protocol}:// that is not installed",
                remote=self.name,
                hint=hint,
            ) from exc
        except ValueError as exc:
            if "protocol" in str(exc).lower():
                raise BackendMissingError(
                    f"unknown URL scheme {self.protocol}:// for remote {self.name!r}",
                    remote=self.name,
                    hint="use s3://, gs://, az://, sftp://, file:// or a path",
                ) from exc
            raise StoreIOError(
                f"cannot open remote {self.name!r}: {_reason(exc)}",
                remote=self.name,
                hint="check the URL and its options with 'art remote list'",
            ) from exc
        except TypeError as exc:
            raise StoreIOError(
                f"cannot open remote {self.name!r}: {_reason(exc)}",
                remote=self.name,
                hint="check the URL and its options with 'art remote list'",
            ) from exc
        except backend_errors() as exc:  # sftp connects here
            raise remote_error(exc, self, "connecting") from exc

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, retry: bool = True, **kwargs: Any) -> Any:
        """Run one backend call; translate failures, retrying once (on top of the backend's own retries)."""
        errors = backend_errors()
        for attempt in (0, 1):
            try:
                with self._lock:
                    self.requests += 1
                with self.connecting.waiting():
                    return fn(*args, **kwargs)
            except (FileNotFoundError, ObjectNotFoundError, BackendMissingError):
                raise
            except errors as exc:  # PermissionError included: denied, or credentials refused
                if attempt == 0 and retry and retryable(exc):
                    time.sleep(RETRY_DELAY)
                    continue
                raise remote_error(exc, self, what) from exc  # credentials? access? unreachable?
        raise AssertionError("unreachable")

    def _path(self, *parts: str) -> str:
        return "/".join([self.root, *parts]) if self.root else "/".join(parts)

    def pack_key(self, name: str) -> str:
        return self._path("packs", name[:2], f"{name}.pack")

    def index_key(self, name: str) -> str:
        return self._path("index", f"{name}.idx")

    # -- the view of the remote's indexes ----------------------------------------------------------------

    def list_indexes(self) -> dict[str, int]:
        """Return {pack name: index size} of every index file on the remote (one listing)."""
        found = self._list(self._path("index"))
        return {n[:-4]: size for n, size in found.items() if n.endswith(".idx") and is_oid(n[:-4])}

    def list_packs(self) -> dict[str, int]:
        """Return {pack name: size} of every pack file on the remote."""
        out: dict[str, int] = {}
        for sub in self._list(self._path("packs"), dirs=True):
            for n, size in self._list(self._path("packs", sub)).items():
                if n.endswith(".pack") and is_oid(n[:-5]):
                    out[n[:-5]] = size
        return out

    def _list(self, key: str, *, dirs: bool = False) -> dict[str, int]:
        try:
            entries = self._call(f"listing {key}", self.fs.ls, key, detail=True)
        except FileNotFoundError:
            return {}
        out = {}
        for e in entries:
            is_dir = e.get("type") == "directory"
            if is_dir == dirs:
                out[e["name"].rstrip("/").rsplit("/", 1)[-1]] = int(e.get("size") or 0)
        return out

    def refresh(self, *, use_cache: bool = True) -> None:
        """Load the remote's current indexes (cached ones from disk, new ones from the remote).

        Indexes whose content does not hash to their name are ignored (``check_remote`` reports them).
        ``use_cache=False`` reads every index from the remote (the cache may hide a damaged remote copy).
        """
        if hasattr(self.fs, "invalidate_cache"):
            self.fs.invalidate_cache()
        names = self.list_indexes()
        packs: dict[str, list[PackEntry]] = {}
        todo = []
        for name in [n for n, size in names.items() if size <= MAX_INDEX_BYTES]:  # a larger one cannot be valid
            entries = self._cached_index(name) if use_cache else None
            if entries is None:
                todo.append(name)
            else:
                packs[name] = entries
        for name, entries in self._fetch_indexes(todo):
            if entries is not None:
                packs[name] = entries
        self._set_view(packs)

    def _set_view(self, packs: dict[str, list[PackEntry]]) -> None:
        packs = {n: e for n, e in packs.items() if n not in self.lost_packs}
        index: dict[tuple[Oid, int], Located] = {}
        avoid = self._avoid
        for name in sorted(packs):
            for e in packs[name]:
                if not avoid or (e.oid, e.kind, name) not in avoid:
                    index.setdefault((e.oid, e.kind), Located(name, e))
        self._packs, self._index, self._loaded = packs, index, True

    def avoid(self, pack: str, key: tuple[Oid, int] | None = None) -> bool:
        """Read ``key`` (or, without a key, every object of a missing ``pack``) from other packs from now on;
        return whether another copy of ``key`` is listed."""
        self._avoid.add((key[0], int(key[1]), pack)) if key else self.lost_packs.add(pack)
        self._set_view(self._packs)
        return key is not None and (key[0], int(key[1])) in self._index

    def _fetch_indexes(self, names: list[str]) -> Iterator[tuple[str, list[PackEntry] | None]]:
        if not names:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
            futures = {name: pool.submit(self.read_index, name) for name in names}
            for name, fut in futures.items():
                entries = fut.result()
                if entries is not None:
                    self._cache_index(name, entries)
                yield name, entries

    def read_index(self, name: str) -> list[PackEntry] | None:
        """Download and check one index; None when it is damaged or does not match its name."""
        try:
            data = self._call(f"reading index {name[:10]}", self.fs.cat_file, self.index_key(name))
        except FileNotFoundError:
            return None
        return check_index(name, data)

    def _cached_index(self, name: str) -> list[PackEntry] | None:
        if self.cache_dir is None:
            return None
        try:
            data = (self.cache_dir / f"{name}.idx").read_bytes()
        except OSError:
            return None
        return check_index(name, data)

    def _cache_index(self, name: str, entries: list[PackEntry]) -> None:
        if self.cache_dir is None:
            return
        tmp = None
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(encode_index(entries))
            os.replace(tmp, self.cache_dir / f"{name}.idx")
        except OSError:  # the cache is an optimisation only: a full or read-only disk just skips it
            if tmp is not None:
                unlink_quietly(tmp)

    def _ensure(self) -> None:
        if not self._loaded:
            self.refresh()

    @property
    def packs(self) -> dict[str, list[PackEntry]]:
        """The trusted packs (those with a valid index) and their entries."""
        self._ensure()
        return self._packs

    def locate(self, oid: Oid, kind: Kind) -> Located | None:
        self._ensure()
        return self._index.get((oid, int(kind)))

    # -- ObjectStore ----------------------------------------------------------------------------------------

    def has(self, oid: Oid, kind: Kind) -> bool:
        return self.locate(oid, kind) is not None

    def get(self, oid: Oid, kind: Kind) -> bytes:
        """Read one object; chunks, trees and runs are verified (manifests only decode-checked by callers).

        Raises:
            ObjectNotFoundError: when no index lists it.
            CorruptObjectError: when its bytes do not match its id.
        """
        loc = self.locate(oid, kind)
        if loc is None:
            raise ObjectNotFoundError(oid, Kind(kind).label, hint=f"it is not on remote {self.name!r}")
        for _, entry, stored in self.read_objects([loc]):
            return verify_payload(entry, stored)
        raise AssertionError("unreachable")

    def iter_objects(self) -> Iterator[IndexedObject]:
        self._ensure()
        for (oid, kind), loc in self._index.items():
            yield IndexedObject(oid, Kind(kind), loc.entry.raw_length, loc.pack)

    def writer(
        self,
        *,
        staging_dir: str | os.PathLike | None = None,
        jobs: int = 2,
        progress: Callable[[int], None] | None = None,
    ) -> StoreWriter:
        from .remote_writer import RemoteWriter

        return RemoteWriter(self, staging_dir=staging_dir, jobs=jobs, progress=progress)

    def close(self) -> None:
        """Close an ssh connection now (sshd keeps a process per connection until the client leaves)."""
        client = getattr(self.fs, "_client", None)
        if self.protocol not in ("sftp", "ssh") or client is None or not hasattr(client, "wait_closed"):
            return
        from fsspec.asyn import sync

        try:
            client.close()
            sync(self.fs.loop, client.wait_closed, timeout=5)
        except Exception:  # closing a dead connection is best effort
            pass

    # -- reading objects ------------------------------------------------------------------------------------

    def read_range(self, pack: str, start: int, end: int) -> bytes:
        """Read bytes [start, end) of a pack (one request; sftp and local files by open + seek)."""
        key = self.pack_key(pack)

        def read() -> bytes:
            if self.protocol in _RENAME:  # sshfs ignores start/end in cat_file
                with self.fs.open(key, "rb") as f:
                    f.seek(start)
                    return f.read(end - start)
            return self.fs.cat_file(key, start=start, end=end)

        try:
            data = self._call(f"reading pack {pack[:10]}", read)
        except FileNotFoundError as exc:
            raise PackMissing(self.name, pack) from exc
        return bytes(data)

    def read_objects(
        self, locations: Iterable[Located], *, jobs: int = 4, progress: Callable[[int], None] | None = None
    ) -> Iterator[tuple[str, PackEntry, bytes]]:
        """Yield (pack, entry, stored bytes) for each location, with merged ranged reads run concurrently.

        The bytes are as stored (maybe compressed) and NOT verified: use ``verify_payload``. An object whose
        range comes back short yields ``b""`` (it will fail verification).
        """
        spans = plan_reads(locations)
        if not spans:
            return
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            pending: list[tuple[Future, tuple]] = []
            it = iter(spans)
            window = max(2, 2 * jobs)

            def submit() -> bool:
                span = next(it, None)
                if span is None:
                    return False
                pack, start, end, entries = span
                pending.append((pool.submit(self.read_range, pack, start, end), span))
                return True

            for _ in range(window):
                if not submit():
                    break
            while pending:
                fut, (pack, start, _end, entries) = pending.pop(0)
                data = fut.result()
                submit()
                if progress:
                    progress(len(data))
                for e in entries:
                    lo = e.offset - start
                    yield pack, e, data[lo : lo + e.length] if lo + e.length <= len(data) else b""

    # -- writing packs ----------------------------------------------------------------------------------------

    def upload_pack(self, local_path: str, name: str, entries: list[PackEntry], *, owned: bool = True) -> None:
        """Publish a sealed local pack file: the pack first, then its index (the commit point).

        ``owned``: the file is a temporary one that may be moved (else it is linked or copied, e.g. a pack of
        the local store published whole).
        """
        what = f"uploading pack {name[:10]}"
        if owned:
            self._publish_file(local_path, self.pack_key(name), what)
        else:
            self._publish_copy(local_path, self.pack_key(name), what)
        self._publish_bytes(encode_index(entries), self.index_key(name), f"uploading index {name[:10]}")

    def _publish_file(self, local_path: str, key: str, what: str) -> None:
        """Publish a temporary file (it may be moved away)."""
        self._publish_copy(local_path, key, what, owned=True)

    def _publish_copy(self, local_path: str, key: str, what: str, *, owned: bool = False) -> None:
        fault_point("remote.publishing")
        if self.protocol in ("file", "local"):
            self._call(
                what,
                self._local_publish,
                local_path,
                self._path("tmp", f"{uuid.uuid4().hex}.tmp"),
                key,
                owned and os.path.dirname(local_path) == self._path("tmp"),
                self.hardlinks,
            )
        elif not self.atomic_rename:
            self._call(what, self.fs.put_file, local_path, key)
        else:
            self._sftp_publish(what, key, lambda tmp: self.fs.put_file(local_path, tmp))

    def _publish_bytes(self, data: bytes, key: str, what: str) -> None:
        fault_point("remote.publishing")
        if self.protocol in ("file", "local"):

            def write() -> None:
                tmp = self._path("tmp", f"{uuid.uuid4().hex}.tmp")
                os.makedirs(os.path.dirname(tmp), exist_ok=True)
                os.makedirs(os.path.dirname(key), exist_ok=True)
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, key)

            self._call(what, write)
        elif not self.atomic_rename:
            self._call(what, self.fs.pipe_file, key, data)
        else:
            self._sftp_publish(what, key, lambda tmp: self.fs.pipe_file(tmp, data))

    def _sftp_publish(self, what: str, key: str, write: Callable[[str], None]) -> None:
        tmp = self._path("tmp", f"{uuid.uuid4().hex}.tmp")
        self._call(what, self.fs.makedirs, self._path("tmp"), exist_ok=True)
        self._call(what, write, tmp)
        self._call(what, self.fs.makedirs, key.rsplit("/", 1)[0], exist_ok=True)
        try:
            self._call(what, self.fs.mv, tmp, key)
        except StoreIOError:
            if self._call(what, self.fs.exists, key):  # the same content, published by someone else
                self._call(what, self.fs.rm_file, tmp)
                return
            raise

    @staticmethod
    def _local_publish(local_path: str, tmp: str, key: str, movable: bool, hardlinks: bool) -> None:
        os.makedirs(os.path.dirname(tmp), exist_ok=True)
        os.makedirs(os.path.dirname(key), exist_ok=True)
        if movable:
            os.replace(local_path, key)  # staged on the remote's own filesystem: a rename publishes it
            return
        link_or_copy(local_path, tmp, hardlinks)
        os.replace(tmp, key)

    def download_pack(self, name: str, dest: str) -> None:
        """Copy a whole pack to the local file ``dest`` (one streamed GET; a hard link for a local remote)."""
        key = self.pack_key(name)
        try:
            if self.protocol in ("file", "local"):
                self._call(f"reading pack {name[:10]}", link_or_copy, key, dest, self.hardlinks)
            else:
                self._call(f"reading pack {name[:10]}", self.fs.get_file, key, dest)
        except FileNotFoundError as exc:
            raise PackMissing(self.name, name) from exc

    def staging_dir(self, fallback: str | os.PathLike) -> str:
        """Where pack files should be built: the remote's own tmp/ for a local directory (then publishing is
        a rename), otherwise ``fallback`` (a local temp directory)."""
        if self.protocol in ("file", "local"):
            d = self._path("tmp")
            try:
                os.makedirs(d, exist_ok=True)
                return d
            except OSError:
                pass
        os.makedirs(fallback, exist_ok=True)
        return str(fallback)

    def add_pack(self, name: str, entries: list[PackEntry]) -> None:
        """Record a pack this process just published (so ``has`` sees it without a refresh)."""
        self._ensure()
        with self._lock:
            self._packs[name] = entries
            for e in entries:
                self._index.setdefault((e.oid, e.kind), Located(name, e))
        self._cache_index(name, entries)

    def delete(self, key: str) -> None:
        """Remove one file under the remote root (tests, gc)."""
        self._call(f"deleting {key}", self.fs.rm_file, key)


def check_index(name: str, data: bytes) -> list[PackEntry] | None:
    """Decode an index and check that it hashes to ``name``; None when it does not."""
    from .pack import pack_name

    if not data.startswith(IDX_MAGIC) or pack_name(memoryview(data)[len(IDX_MAGIC) :]) != name:
        return None
    try:
        return decode_index(data)
    except FormatError:
        return None


def verify_payload(entry: PackEntry, stored: bytes) -> bytes:
    """Decompress one object read from a remote and check it against its id; return its bytes.

    File manifests are only decoded here: their id is the hash of the file's content, so the caller checks
    them once the chunks are there.

    Raises:
        CorruptObjectError: when the bytes are damaged or do not match the id.
    """
    oid = entry.oid
    try:
        check_entry(entry.kind, entry.codec, entry.offset, entry.length, entry.raw_length)
    except FormatError as exc:
        raise CorruptObjectError(oid, f"remote index: {exc}") from exc
    kind = Kind(entry.kind)
    if len(stored) != entry.length:
        raise CorruptObjectError(oid, f"remote pack is truncated ({len(stored)} of {entry.length} bytes)")
    try:
        data = unpack_payload(entry.codec, stored, entry.raw_length, entry.kind)
        check_object(oid, kind, data)
    except FormatError as exc:
        raise CorruptObjectError(oid, f"remote copy: {exc}") from exc
    return data


def plan_reads(locations: Iterable[Located]) -> list[tuple[str, int, int, list[PackEntry]]]:
    """Group objects into ranged reads: per pack, sorted by offset, merged across small gaps, bounded."""
    by_pack: dict[str, list[PackEntry]] = {}
    for loc in locations:
        by_pack.setdefault(loc.pack, []).append(loc.entry)
    spans = []
    for pack in sorted(by_pack):
        entries = sorted(by_pack[pack], key=lambda e: e.offset)
        group: list[PackEntry] = []
        start = end = 0
        for e in entries:
            if group and (e.offset - end > MERGE_GAP or e.offset + e.length - start > MAX_SPAN):
                spans.append((pack, start, end, group))
                group = []
            if not group:
                start = e.offset
            group.append(e)
            end = max(end, e.offset + e.length)
        if group:
            spans.append((pack, start, end, group))
    return spans
