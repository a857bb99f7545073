"""RemoteStore: packs and content-named indexes over a transport (a directory, a bucket, an SFTP server).

The store knows the layout and the rules; its transport (objstore/store/transport.py) knows the protocol.
Layout under the remote root (docs/remotes.md, docs/formats.md):

    packs/ab/<name>.pack   a pack, in the same format as local packs (objstore/store/pack.py)
    index/<epoch>/<name>.idx  its index: IDX_MAGIC + the pack's entry table; ``name`` = blake3(entry table);
                           ``epoch`` = the writer's UTC day (YYYYMMDD); a v1 remote's index/<name>.idx too
    index/<gen>-<hash>.ckpt, index/midx/tables/   checkpoints over the indexes (midx.py)
    locks/, roots/         remote locks (objstore/gc.py) and root records (objstore/remote_roots.py)
    tmp/                   upload staging on storages without an atomic PUT (directory, sftp); never read

Packs and indexes are immutable and named by their content, so concurrent pushes from many clients never
write the same name with different bytes. A pack is uploaded first and its index second: **the index is
the commit point**. A reader trusts only indexes whose content hashes to their name and only the objects
they list; a pack without an index is garbage left by an interrupted push (a later gc may remove it).
The transport publishes every file atomically, so no partial pack or index is ever visible.

Indexes never change, so those already seen are cached locally (``cache_dir``). A refresh lists ``index/``
and the epoch folders a checkpoint (remote index v2, midx.py) does not cover; those indexes (the *window*)
are held in memory, every other object is found through the checkpoint (one cached block per lookup), and
the index of a pack found that way joins the window. Only gc, fsck and repair load every index.

Every object read from a remote is verified before it is handed out (chunks by blake3 of their bytes,
trees and runs by their decoders); ``read_objects`` hands back stored bytes and leaves verification to
the caller (objstore/transfer.py), which must not store anything unverified.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from ...errors import FormatError, ObjectNotFoundError
from ...errors import PackMissingError as PackMissing
from ..faults import fault_point
from ..fileio import new_temp, remove_if_present
from ..objects import Kind
from ..oid import Oid, is_oid
from ..tmpowner import token
from .base import IndexedObject, ObjectStore
from .midx import FLAT, epoch_of, idx_path, is_epoch, key_of
from .pack import Compressor, EntryTable, PackEntry, encode_index
from .remote_ckpt import Checkpoints
from .remote_read import MAX_INDEX_BYTES, MAX_SPAN, Located, check_index, plan_reads, read_spans, verify_payload
from .remote_view import Row, ViewIndex
from .remote_writer import RemoteWriter
from .transport import Entry, Transport

__all__ = ["MAX_SPAN", "FsspecStore", "Located", "RemoteStore", "check_index", "verify_payload"]

Key = tuple[Oid, int]
CHUNK_SAMPLE = 256  # a push looks up 1 in this many new chunks through the checkpoint (has_many)
EXHAUSTIVE_BLOCKS = 64  # checkpoints of at most this many blocks (~14 MB) are searched for every chunk


def pack_path(name: str) -> str:
    """Where pack ``name`` is, relative to the remote root."""
    return f"packs/{name[:2]}/{name}.pack"


class RemoteStore(ObjectStore):
    """Packs and content-named indexes over ``transport``.

    Args:
        transport: where the files are (usually from ``transport_fsspec.open_transport``).
        name: the remote's name, for messages (default: the transport's).
        cache_dir: where indexes already seen are kept (immutable, so never stale); None = no cache.
    """

    def __init__(
        self, transport: Transport, *, name: str | None = None, cache_dir: str | os.PathLike[str] | None = None
    ) -> None:
        self.transport = transport
        self.name = name or transport.name
        self.url = transport.url
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.compressor = Compressor()
        self._index = ViewIndex(self.cache_dir)  # spilled to a temporary file when large (remote_view.py)
        self._packs: dict[str, Sequence[PackEntry] | None] = {}  # None: its entries are on disk only (spilled)
        self._checked: dict[str, EntryTable] = {}  # indexes checked entry by entry, by name: their facts only
        self._avoid: set[tuple[Oid, int, str]] = set()  # copies found damaged: read another copy instead
        self.lost_packs: set[str] = set()  # listed packs found missing: left out of the view
        self._loaded = False
        self._lock = threading.Lock()
        self.checkpoints = Checkpoints(transport, self.cache_dir)
        self._use_checkpoints = False
        self._epochs: dict[str, int] = {}  # pack -> the epoch folder of its index (FLAT: index/<name>.idx)
        self.problems: list[str] = []  # damaged checkpoints found (the per-pack indexes were used instead)
        self.window: dict[str, int] = {}  # indexes the checkpoint does not cover (all, without one) -> epoch

    @classmethod
    def open(
        cls,
        url: str,
        options: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> RemoteStore:
        """Open the store at a remote URL (see ``transport_fsspec.open_transport`` for URLs and options).

        Raises:
            BackendMissingError: when the backend package for the URL's scheme is not installed.
            StoreIOError: when the storage cannot be opened (bad options, unreachable).
        """
        from .transport_fsspec import open_transport

        return cls(open_transport(url, options, name=name), name=name, cache_dir=cache_dir)

    @property
    def requests(self) -> int:
        """Backend calls made so far."""
        return self.transport.requests

    @property
    def read_size(self) -> int:
        """Bytes downloaded so far (the transport's count)."""
        return self.transport.read_size

    # -- the view of the remote's indexes ----------------------------------------------------------------

    def list_indexes(self) -> dict[str, int]:
        """Return {pack name: index size} of every index file on the remote: the flat v1 ones and every
        epoch folder (one listing of ``index/`` plus one per epoch folder)."""
        return {n: size for n, (size, _) in self._list_all_indexes().items()}

    def index_times(self) -> dict[str, float]:
        """{pack name: modification time of its index} for every index whose time the storage reports."""
        return {n: t for n, (_, t) in self._list_all_indexes().items() if t is not None}

    def _list_all_indexes(self) -> dict[str, tuple[int, float | None]]:
        out, epochs, _ = self._list_top()
        for _, found in self._list_epochs(epochs):
            for e in found:
                out[e.name[:-4]] = (e.size, e.mtime)
        return out

    def _list_top(self) -> tuple[dict[str, tuple[int, float | None]], list[int], list[Entry]]:
        """One listing of ``index/``: the flat (v1) indexes, the epoch folders, the checkpoint manifests."""
        out: dict[str, tuple[int, float | None]] = {}
        epochs, manifests = [], []
        for e in self.transport.list("index"):
            if e.is_dir:
                if is_epoch(e.name):
                    epochs.append(int(e.name))
            elif e.name.endswith(".idx") and is_oid(e.name[:-4]):
                out[e.name[:-4]] = (e.size, e.mtime)
                self._epochs.setdefault(e.name[:-4], FLAT)
            elif e.name.endswith(".ckpt"):
                manifests.append(e)
        return out, sorted(epochs), manifests

    def _list_epochs(self, epochs: list[int]) -> list[tuple[int, list[Entry]]]:
        """The index files of each epoch folder (listed concurrently)."""

        def one(epoch: int) -> tuple[int, list[Entry]]:
            found = [
                e
                for e in self.transport.list(f"index/{epoch}")
                if not e.is_dir and e.name.endswith(".idx") and is_oid(e.name[:-4])
            ]
            return epoch, found

        if len(epochs) <= 1:
            results = [one(e) for e in epochs]
        else:
            with ThreadPoolExecutor(max_workers=min(8, len(epochs))) as pool:
                results = list(pool.map(one, epochs))
        for epoch, found in results:
            for e in found:
                known = self._epochs.get(e.name[:-4])
                if known is None or epoch < known:  # the same index in two folders: a republish; either works
                    self._epochs[e.name[:-4]] = epoch
        return results

    def idx_path(self, name: str) -> str:
        """Where the index of pack ``name`` is (as last listed; new indexes go into the writer's epoch)."""
        return idx_path(name, self._epochs.get(name, FLAT))

    def write_epoch(self) -> int:
        """The epoch folder a new index goes into: today (UTC), or the checkpoint's first listed epoch when
        this machine's clock is behind it (so readers always list it)."""
        today = epoch_of()
        if self.checkpoints.active:
            return max(today, self.checkpoints.listed_from)
        return today

    def list_packs(self) -> dict[str, int]:
        """Return {pack name: size} of every pack file on the remote."""
        out: dict[str, int] = {}
        for sub in [e.name for e in self.transport.list("packs") if e.is_dir]:
            for e in self.transport.list(f"packs/{sub}"):
                if not e.is_dir and e.name.endswith(".pack") and is_oid(e.name[:-5]):
                    out[e.name[:-5]] = e.size
        return out

    def list_files(self, folder: str) -> list[Entry]:
        """The files (not folders) of ``folder`` under the remote root, with sizes and times when known."""
        return [e for e in self.transport.list(folder) if not e.is_dir]

    def refresh(self, *, use_cache: bool = True) -> None:
        """Load the remote's current view: its checkpoint and the indexes it does not cover (cached ones
        from disk, new ones from the remote); without a checkpoint, every index.

        Indexes whose content does not hash to their name are ignored (``check_remote`` reports them).
        ``use_cache=False`` reads every index from the remote (the cache may hide a damaged remote copy).
        """
        flat, epochs, manifests = self._list_top()
        try:
            self.checkpoints.load(manifests)
        except FormatError as exc:
            self._checkpoint_damaged(exc)
        if self.checkpoints.active:
            first, recent = self.checkpoints.listed_from, self.checkpoints.recent
            names = {
                e.name[:-4]: e.size
                for _, found in self._list_epochs([e for e in epochs if e >= first])
                for e in found
                if e.name[:-4] not in recent
            }
        else:
            names = {n: size for n, (size, _) in flat.items()}
            for _, found in self._list_epochs(epochs):
                names.update((e.name[:-4], e.size) for e in found)
        self._update_view(names, use_cache)
        self.window = {n: self._epochs.get(n, FLAT) for n in names}
        self._use_checkpoints = self.checkpoints.active

    def pack_entries(self, name: str) -> Sequence[PackEntry]:
        """The entries of pack ``name``: from the view, else its index (one GET, then cached)."""
        got = self.packs_in_view(name)
        if got is None:
            got = self._cached_index(name) or self.read_index(name) or []
        return got

    def packs_in_view(self, name: str) -> Sequence[PackEntry] | None:
        """The entries of pack ``name`` if the current view holds them (no request)."""
        with self._lock:
            return self._packs.get(name)

    def _load_indexes(self, names: dict[str, int], use_cache: bool) -> dict[str, Sequence[PackEntry]]:
        return dict(self._iter_indexes(names, use_cache, set()))

    def _iter_indexes(
        self, names: dict[str, int], use_cache: bool, skip: set[str]
    ) -> Iterator[tuple[str, Sequence[PackEntry]]]:
        """(name, entries) of each valid index of ``names`` but ``skip``, one at a time: the view's, cached or got."""
        valid = {n for n, size in names.items() if size <= MAX_INDEX_BYTES} - skip  # a larger one cannot be valid
        # indexes never change: those in the view already are not read (nor verified) again
        known, todo = (self._packs if use_cache and self._loaded else {}), []
        for name in sorted(valid):
            entries = known.get(name) or (self._cached_index(name) if use_cache else None)
            if entries is None:
                todo.append(name)
            else:
                yield name, entries
        for name, fetched in self._fetch_indexes(todo):
            if fetched is not None:
                yield name, fetched

    def _update_view(self, names: dict[str, int], use_cache: bool) -> None:
        """The view becomes the indexes ``names``: extended in place when it only adds to the current one (a
        refresh that finds a few new indexes costs only those), rebuilt otherwise; each index is read and
        listed in turn, never all of them decoded at once."""
        known = self._packs if use_cache and self._loaded else {}
        if not (known and known.keys() <= names.keys()):
            self._reset_view()
            known = {}
        for name, entries in self._iter_indexes(names, use_cache, set(known)):
            self._add_to_view(name, entries)
        self._loaded = True

    def _add_to_view(self, name: str, entries: Sequence[PackEntry]) -> None:
        if name in self.lost_packs:
            return
        with self._lock:
            self._index.add(name, entries, self._avoid)
            self._packs[name] = None if self._index.spilled else entries
            if self._index.spilled and len(self._packs) > 1:
                self._packs = dict.fromkeys(self._packs)  # the entries held before the spill are on disk too

    def _reset_view(self, spill: bool = True) -> None:
        with self._lock:
            self._index.clear(spill=spill)
            self._packs = {}

    def _checkpoint_damaged(self, exc: Exception) -> None:
        """Stop using the checkpoint: say so once, and fall back to every per-pack index."""
        self.problems.append(f"{exc} (the per-pack indexes are used; `art remote compact --rebuild` repairs it)")
        self.checkpoints.manifests = []
        self._use_checkpoints = False

    def _load_full(self, *, force: bool = False) -> None:
        """The whole view (every index of the remote), for whole-remote operations."""
        if force or self._use_checkpoints or not self._loaded or self._index.spilled:
            self._set_view(self._load_indexes(self.list_indexes(), True))
            self._use_checkpoints = False

    def set_view(self, packs: Mapping[str, Sequence[PackEntry]]) -> None:
        """Trust exactly ``packs`` (name -> entries) from now on, less the packs found lost and the copies
        found damaged (``avoid``); ``check_remote`` and repair narrow the view to the packs they found good."""
        self._set_view(packs)
        self._use_checkpoints = False

    def _set_view(self, packs: Mapping[str, Sequence[PackEntry] | None], spill: bool = False) -> None:
        """The view becomes ``packs`` (None: read that pack's index again, its entries were spilled); held in
        memory unless ``spill`` (``packs``, gc, fsck and repair need every entry)."""
        held = {n: e for n, e in packs.items() if n not in self.lost_packs}
        self._reset_view(spill)
        for name in sorted(held):
            entries = held[name]
            if entries is None:
                entries = self._cached_index(name) or self.read_index(name) or []
            self._add_to_view(name, entries)
        self._loaded = True

    def avoid(self, pack: str, key: tuple[Oid, int] | None = None) -> bool:
        """Read ``key`` (or, without a key, every object of a missing ``pack``) from other packs from now on;
        return whether another copy of ``key`` is listed."""
        if key:
            self._avoid.add((key[0], int(key[1]), pack))
        else:
            self.lost_packs.add(pack)
        self._set_view(self._packs, spill=True)
        return key is not None and self.locate(key[0], Kind(key[1])) is not None

    def _fetch_indexes(self, names: list[str]) -> Iterator[tuple[str, Sequence[PackEntry] | None]]:
        from .remote_read import map_ahead  # 8 read ahead at most, not all held to the end (1M objects: ~120 MB)

        for name, (entries, data) in zip(names, map_ahead(self._read_index, names, 8), strict=True):
            if entries is not None:
                self._cache_index(name, data)  # the bytes checked, as they came: not encoded again
            yield name, entries

    def read_index(self, name: str) -> Sequence[PackEntry] | None:
        """Download and check one index; None when it is missing, damaged or does not match its name."""
        return self._read_index(name)[0]

    def _read_index(self, name: str) -> tuple[Sequence[PackEntry] | None, bytes]:
        try:
            data = self.transport.read(self.idx_path(name))
        except FileNotFoundError:
            return None, b""
        return check_index(name, data, self._checked), data

    def _cached_index(self, name: str) -> Sequence[PackEntry] | None:
        if self.cache_dir is None:
            return None
        try:
            data = (self.cache_dir / f"{name}.idx").read_bytes()
        except OSError:
            return None
        return check_index(name, data, self._checked)

    def _cache_index(self, name: str, entries: Sequence[PackEntry] | bytes) -> None:
        if self.cache_dir is None:
            return
        tmp = None
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = new_temp(self.cache_dir, f"{name[:16]}-{token()}-", ".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(entries if isinstance(entries, bytes) else encode_index(entries))
            os.replace(tmp, self.cache_dir / f"{name}.idx")
        except OSError:  # the cache is an optimisation only: a full or read-only disk just skips it
            if tmp is not None:
                remove_if_present(tmp)

    def _ensure(self) -> None:
        if not self._loaded:
            self.refresh()

    @property
    def packs(self) -> dict[str, Sequence[PackEntry]]:
        """The trusted packs (those with a valid index) and their entries: every index of the remote is
        loaded for this (gc, fsck, repair)."""
        self._ensure()
        self._load_full()
        return cast("dict[str, Sequence[PackEntry]]", self._packs)  # a full view holds every pack's entries

    def locate(self, oid: Oid, kind: Kind) -> Located | None:
        self._ensure()
        loc = self._index.get((oid, int(kind)))
        if loc is None and self._use_checkpoints:
            loc = self._locate_in_checkpoint(oid, int(kind))
        return loc

    def _locate_in_checkpoint(self, oid: Oid, kind: int) -> Located | None:
        """Find ``oid`` through the checkpoint; the index of the pack found joins the window."""
        try:
            hits = self.checkpoints.find(key_of(oid, kind))
        except FormatError as exc:
            self._checkpoint_damaged(exc)
            self._load_full(force=True)
            return self._index.get((oid, kind))
        for name, epoch, _ in sorted(hits, key=lambda h: h[0]):
            if name in self.lost_packs or (oid, kind, name) in self._avoid:
                continue
            with self._lock:
                entries = self._packs.get(name)
            if entries is None:
                self._epochs.setdefault(name, epoch)
                entries = self._cached_index(name) or self.read_index(name)
                if entries is None:  # its index is gone (a gc removing the pack): not a usable copy
                    continue
                self._cache_index(name, entries)
                if name not in self._packs:
                    self._add_to_view(name, entries)
            for e in entries:
                if e.oid == oid and e.kind == kind:
                    return Located(name, e)
        return None

    def has_many(self, keys: Iterable[Key]) -> set[Key]:
        """Which of ``keys`` the remote lists, for a push deciding what to send: everything the window lists,
        plus what the checkpoint finds for trees, manifests, runs and a *sample* of chunks (Xet's global
        dedup samples too). A sampled chunk found brings its pack's index into the window, which then
        answers for the chunks stored beside it (the rest of a file, usually). An unsampled chunk the
        window does not list is reported absent: sending it again costs space, never correctness (only
        a positive answer skips an upload). Small checkpoints are searched exhaustively."""
        self._ensure()
        keys = list(keys)
        present = set(self._index.get_many(keys))
        if not self._use_checkpoints:
            return present
        rest = [k for k in keys if k not in present]
        exhaustive = sum(len(t.blocks) for t in self.checkpoints.tables()) <= EXHAUSTIVE_BLOCKS
        for oid, kind in sorted(rest, key=lambda k: int(k[1]), reverse=True):  # metadata first: fewer, and exact
            if (oid, int(kind)) in self._index:
                continue
            if kind != Kind.CHUNK or exhaustive or int(str(oid)[:4], 16) % CHUNK_SAMPLE == 0:
                self._locate_in_checkpoint(oid, int(kind))
        return present | set(self._index.get_many(rest))

    def locate_many(self, keys: Iterable[Key]) -> dict[Key, Located]:
        """``locate`` for many keys: batched in the view, the others one by one (through the checkpoint, if any)."""
        self._ensure()
        keys = list(keys)
        found = self._index.get_many(keys)
        if self._use_checkpoints:
            for key in keys:
                if key not in found and (loc := self.locate(key[0], Kind(key[1]))) is not None:
                    found[key] = loc
        return found

    def locate_rows(self, keys: Sequence[Key], digests: Sequence[bytes]) -> list[Row | None]:
        """``locate_many`` for a download's walk, as rows aligned with ``keys`` (``ViewIndex.get_rows``)."""
        self._ensure()
        return self._index.get_rows(keys, digests, self.locate if self._use_checkpoints else None)

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
        from .remote_delta import DeltaReader  # a delta is rebuilt from its bases, read from here too

        for _, entry, stored in self.read_objects([loc]):
            return DeltaReader(self).verify(entry, stored)
        raise AssertionError("unreachable")

    def iter_objects(self) -> Iterator[IndexedObject]:
        self._ensure()
        self._load_full()
        for (oid, kind), loc in self._index.items():
            yield IndexedObject(oid, Kind(kind), loc.entry.raw_length, loc.pack)

    def writer(
        self,
        *,
        staging_dir: str | os.PathLike[str] | None = None,
        jobs: int = 2,
        progress: Callable[[int], None] | None = None,
        rewrite: bool = False,
    ) -> RemoteWriter:
        return RemoteWriter(self, staging_dir=staging_dir, jobs=jobs, progress=progress, rewrite=rewrite)

    def close(self) -> None:
        """Close the transport's connections now (sshd keeps a process per connection until the client leaves)."""
        self.transport.close()
        self._index.close()

    # -- reading objects ------------------------------------------------------------------------------------

    def read_range(self, pack: str, start: int, end: int) -> bytes:
        """Read bytes [start, end) of a pack (one request).

        Raises:
            PackMissingError: when the pack file is gone.
        """
        try:
            return self.transport.read(pack_path(pack), start, end)
        except FileNotFoundError as exc:
            raise PackMissing(self.name, pack) from exc

    def read_objects(
        self, locations: Iterable[Located], *, jobs: int = 4, progress: Callable[[int], None] | None = None
    ) -> Iterator[tuple[str, PackEntry, bytes]]:
        """Yield (pack, entry, stored bytes) for each location, with merged ranged reads run concurrently.

        The bytes are as stored (maybe compressed) and NOT verified: use ``verify_payload``. An object whose
        range comes back short yields ``b""`` (it will fail verification).
        """
        return read_spans(self.read_range, plan_reads(locations), jobs, progress)

    def download_pack(self, name: str, dest: str) -> None:
        """Copy a whole pack to the local file ``dest`` (one streamed GET; a hard link for a local directory).

        Raises:
            PackMissingError: when the pack file is gone.
        """
        try:
            self.transport.download(pack_path(name), dest)
        except FileNotFoundError as exc:
            raise PackMissing(self.name, name) from exc

    # -- writing ----------------------------------------------------------------------------------------------

    def upload_pack(self, local_path: str, name: str, entries: Sequence[PackEntry], *, owned: bool = True) -> None:
        """Publish a sealed local pack file: the pack first, then its index (the commit point).

        ``owned``: the file is a temporary one that may be moved (else it is linked or copied, e.g. a pack of
        the local store published whole).
        """
        fault_point("remote.publishing")
        self.transport.publish_file(pack_path(name), local_path, movable=owned)
        self.publish_index(name, entries)

    def publish_index(self, name: str, entries: Sequence[PackEntry]) -> None:
        """Publish (or write again) the index of pack ``name``."""
        epoch = self._epochs.get(name) or self.write_epoch()
        self._epochs[name] = epoch
        self.publish_bytes(idx_path(name, epoch), bytes(encode_index(entries)))

    def publish_bytes(self, path: str, data: bytes) -> None:
        """Publish a small file at ``path`` under the remote root (atomically; root records, indexes)."""
        fault_point("remote.publishing")
        self.transport.publish_bytes(path, data)

    def staging_dir(self, fallback: str | os.PathLike[str]) -> str:
        """Where pack files should be built: the transport's own staging folder when it has one (a local
        directory: publishing is then a rename), otherwise ``fallback`` (a local temp directory)."""
        own = self.transport.staging_dir()
        if own is not None:
            return own
        os.makedirs(fallback, exist_ok=True)
        return str(fallback)

    def add_pack(self, name: str, entries: Sequence[PackEntry], *, view: bool = True) -> None:
        """Record a pack just published (``has`` sees it at once); ``view=False``: in the index cache only."""
        self._ensure()
        if view:
            self._add_to_view(name, entries)
        self._cache_index(name, entries)

    def delete(self, path: str) -> None:
        """Remove one file under the remote root (gc, repair, root records).

        Raises:
            FileNotFoundError: when it is already gone (on storages that say so).
        """
        self.transport.delete(path)

    def delete_quietly(self, path: str) -> None:
        """``delete``, when the file is already gone too."""
        try:
            self.transport.delete(path)
        except FileNotFoundError:
            pass


class FsspecStore(RemoteStore):
    """``RemoteStore.open`` under its former name: ``FsspecStore(url, options, name=..., cache_dir=...)``."""

    def __init__(
        self,
        url: str,
        options: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        from .transport_fsspec import open_transport

        super().__init__(open_transport(url, options, name=name), name=name, cache_dir=cache_dir)
