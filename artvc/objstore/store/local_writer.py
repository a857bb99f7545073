"""Writes into the local store: objects go into a temporary pack that is sealed, renamed into ``packs/`` and
only then indexed (``LocalStore.writer()`` opens one).

Chunks and metadata (manifests, trees, runs) go to packs of their own once a writer has written more than
``MIXED_AT_MOST`` bytes of chunks: the metadata is held back in memory (up to ``META_HOLD`` bytes, then written
to a second temporary pack) and sealed after the chunk pack, so a pack never names what a later pack holds (the
store trusts a stored tree's closure to be there). A push publishes a local pack of chunks only as it is (a
hard link on a directory remote, ``upload_plan.Plan.whole_candidates``): the last pack of a large add held its
tree too and was copied object by object (a 100k-file add's last pack: 12,512 chunks, 57 MB). A writer of less
than ``MIXED_AT_MOST`` bytes of chunks (most adds) still writes one pack holding both.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, cast

from ...errors import ArtError, FormatError
from ..faults import fault_point
from ..fileio import remove_if_present
from ..objects import Kind
from ..oid import Oid
from ..oserrors import describe
from .base import StoreWriter
from .delta import DELTA, delta_base
from .pack import ENTRY, RAW, fsync_dir
from .packer import DIRECT_AFTER, PACK_MAX_OBJECTS, PackBuilder

if TYPE_CHECKING:
    from .local import LocalStore
    from .local_index import SealedRows

_CHUNK = int(Kind.CHUNK)
MIXED_AT_MOST = DIRECT_AFTER  # chunk bytes in a writer's pack below which its metadata shares that pack
META_HOLD = 4 << 20  # metadata bytes held in memory before they go to a pack of their own
# objects of sealed chunk packs a writer holds back from the index before it indexes them in one transaction: a
# pack of many small files (``PACK_MAX_OBJECTS``) is indexed as it is sealed, a large file's packs (~1,000
# chunks of 64 MiB each) 16 at a time. Each commit rewrites every page of the index its random ids touch, and
# makes every other connection of the process read its pages again: a 4 GiB add's 64 commits wrote 124 MiB to
# index.db and its log and read 126 MiB back (3% of the file).
INDEX_ROWS = PACK_MAX_OBJECTS
_Obj = tuple[Oid, int, int, bytes | memoryview, int]


class LocalWriter(StoreWriter):
    """Writes objects into a temporary pack (``packer.PackBuilder``); ``commit`` seals, renames and indexes it.

    ``claim`` may be called from several threads at once (ingest workers); everything else from one thread.
    """

    store: LocalStore

    def __init__(self, store: LocalStore, *, rewrite: bool = False) -> None:
        self.store = store
        self.rewrite = rewrite
        # written to the open pack, or claimed by a caller that will write it: until the pack holding it is indexed
        self._pending: set[tuple[str, int]] = set()
        self._lock = threading.Lock()  # guards _pending's check-and-add and _sealed
        self._sealed = 0  # packs indexed so far: a claim whose store query is older asks again
        # chunks written to the open pack or to sealed packs not indexed yet (a delta's base must be here or stored:
        # those packs are indexed with, or before, the pack of a delta written after them)
        self._open: set[Oid] = set()
        self._unindexed: list[SealedRows] = []  # sealed chunk packs in packs/, indexed together (``_index_sealed``)
        self._unindexed_rows = 0
        self._bases: dict[Oid, Oid] = {}  # codec-2 chunks of the open pack -> their bases
        self._sketches: list[tuple[int, Oid]] = []  # (feature, chunk) of the open pack's new chunks
        self._builder = PackBuilder(
            store.root / "tmp",
            max_objects=PACK_MAX_OBJECTS,
            writeback=True,
            direct_after=DIRECT_AFTER,
            direct=store.direct,
        )
        # metadata (manifests, trees, runs): held here, then in a pack of its own (see the module docstring);
        # in the page cache (a pack of metadata is small, and read back by the next command)
        self._meta = PackBuilder(store.root / "tmp", max_objects=PACK_MAX_OBJECTS, writeback=True, direct=False)
        self._held: list[_Obj] = []
        self._held_bytes = 0
        self._chunk_bytes = 0  # chunk bytes this writer has written (every pack)
        self.new_objects = 0
        self.new_bytes = 0

    def has(self, oid: Oid, kind: Kind) -> bool:
        return (oid, int(kind)) in self._pending or (not self.rewrite and self.store.has(oid, kind))

    def present(self, keys: Iterable[tuple[Oid, Kind]]) -> set[tuple[Oid, int]]:
        wanted = [(oid, int(kind)) for oid, kind in keys]
        pending = {k for k in wanted if k in self._pending}
        if self.rewrite:
            return pending
        return pending | self.store.has_many(k for k in wanted if k not in pending)

    def claim(self, keys: Iterable[tuple[Oid, int]]) -> list[tuple[Oid, int]]:
        """The keys (each once) that are neither stored nor pending here, now reserved for the caller, who must
        write each with ``put_claimed`` (or abort the writer). One store query; safe from several threads."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self._pending]
        ask = bool(wanted) and not self.rewrite
        sealed = self._sealed
        stored = self.store.has_many(wanted) if ask else set()
        with self._lock:
            if ask and sealed != self._sealed:  # a pack was indexed since the query: its keys left _pending
                stored = self.store.has_many(wanted)
            out = [k for k in wanted if k not in stored and k not in self._pending]
            self._pending.update(out)
        return out

    def put_stored(self, oid: Oid, kind: Kind, codec: int, stored: bytes | memoryview, raw_length: int) -> bool:
        if self.has(oid, kind):
            return False
        return self.put_new(oid, kind, codec, stored, raw_length)

    def put_new(self, oid: Oid, kind: Kind, codec: int, stored: bytes | memoryview, raw_length: int) -> bool:
        key = (oid, int(kind))
        with self._lock:
            if key in self._pending:
                return False
            self._pending.add(key)
        self.put_claimed(oid, kind, codec, stored, raw_length)
        return True

    @property
    def temp_folder(self) -> str:
        """The store's folder for temporary files (``ingest`` spills a large tree's encoding there)."""
        return self._builder.folder

    def put_pieces(
        self, oid: Oid, kind: Kind, codec: int, pieces: Iterable[bytes], length: int, raw_length: int
    ) -> bool:
        """Each piece goes to the pack as it comes (a spilled tree of ~55 MB is never held whole)."""
        if self.has(oid, kind):
            return False
        key = (oid, int(kind))
        with self._lock:
            if key in self._pending:
                return False
            self._pending.add(key)
        meta = int(kind) != _CHUNK
        builder = self._meta if meta else self._builder
        try:
            if meta:
                self._write_held()  # what was written before it (its subtrees) goes first
            if not builder.room():
                self._seal_meta() if meta else self._seal()
            builder.add_pieces(oid, int(kind), codec, pieces, length, raw_length)
            self.new_objects += 1
            self.new_bytes += length
            if not meta:
                self._chunk_bytes += length
            if builder.full():
                self._seal_meta() if meta else self._seal()
        except (OSError, FormatError) as exc:
            tmp = builder.temp
            self.abort()
            if isinstance(exc, FormatError):
                raise
            raise describe(exc, "write a pack to the store at", tmp or self.store.root / "tmp") from exc
        return True

    def put_new_many(self, objects: Sequence[tuple[Oid, int, int, bytes | memoryview, int]]) -> list[int]:
        """``put_new`` for several objects: one lock for the lot, and the new ones go to the pack together (one
        system call for a batch of chunks of a large file, its payloads written from the caller's buffer). A large
        file's add is its one caller: the pack is written around the page cache from here to its seal
        (``PackBuilder.add_many(direct=True)``)."""
        with self._lock:
            pending = self._pending
            new = []
            for i, obj in enumerate(objects):
                key = (obj[0], obj[1])
                if key not in pending:
                    pending.add(key)
                    new.append(i)
        self.put_claimed_many([objects[i] for i in new], direct=True)
        return new

    def put_claimed(self, oid: Oid, kind: int, codec: int, stored: bytes | memoryview, raw_length: int) -> None:
        """Write an object reserved with ``claim`` (or ``put_new``): no presence check."""
        self.put_claimed_many([(oid, int(kind), codec, stored, raw_length)])

    def put_claimed_many(
        self, objects: Sequence[tuple[Oid, int, int, bytes | memoryview, int]], *, direct: bool = False
    ) -> None:
        """``put_claimed`` for several (oid, kind, codec, stored, raw length), written together (``direct``: a
        large file's chunks, written around the page cache, ``PackBuilder.add_many``).

        A chunk the store's compressor encoded as a delta is written as one only when its base is stored or
        in the open pack (written before it); otherwise it is stored in full (its base is another writer's
        or a later job's, not indexed yet), so an indexed delta never lacks its base.

        Raises:
            FormatError: when a codec-2 payload has no base id (before anything of it is written).
        """
        if held := [obj for obj in objects if obj[1] != _CHUNK]:
            self._hold(held)
            objects = [obj for obj in objects if obj[1] == _CHUNK]
        builder = self._builder
        fell_back: set[Oid] = set()  # deltas stored in full here: their sketches are taken whatever the codec
        if any(obj[2] == DELTA for obj in objects):
            earlier: set[Oid] = set()  # chunks of this call before the one settled: written before it
            settled = []
            for obj in objects:
                settled.append(self._settle(obj, earlier))
                if obj[1] == _CHUNK:
                    earlier.add(obj[0])
            fell_back = {new[0] for new, old in zip(settled, objects, strict=True) if new is not old}
            objects = settled
        take_sketch = self.store.compressor.take_sketch
        start = 0
        try:
            while start < len(objects):
                part = objects[start : start + builder.room()]
                start += len(part)
                builder.add_many(part, direct=direct)
                opened, sketches = self._open, self._sketches  # new ones after each seal
                for oid, kind, codec, stored, _ in part:
                    fault_point("store.pack-writing")
                    if kind == _CHUNK:
                        opened.add(oid)
                        if codec == DELTA:
                            self._bases[oid] = delta_base(stored)
                        # a chunk stored raw by the compressor was never sketched (only chunks that compress are)
                        if codec != RAW or oid in fell_back:
                            sketches += [(f, oid) for f in take_sketch(oid)]
                written = sum(len(obj[3]) for obj in part)
                self.new_objects += len(part)
                self.new_bytes += written
                self._chunk_bytes += written
                if builder.full():
                    self._seal()
        except OSError as exc:
            tmp = builder.temp
            self.abort()
            raise describe(exc, "write a pack to the store at", tmp or self.store.root / "tmp") from exc

    def _settle(
        self, obj: tuple[Oid, int, int, bytes | memoryview, int], earlier: set[Oid]
    ) -> tuple[Oid, int, int, bytes | memoryview, int]:
        """``obj``, or its chunk in full when it is a delta whose base is neither stored, nor in the open pack,
        nor ``earlier`` in the same call (written before it: into the same pack, or one sealed and indexed
        first)."""
        oid, kind, codec, stored, raw_length = obj
        if codec != DELTA or kind != _CHUNK:
            return obj
        base = delta_base(stored)  # raises FormatError before anything is written
        raw = self.store.compressor.take_fallback(oid)
        if raw is not None and base not in self._open and base not in earlier and not self.store.has(base, Kind.CHUNK):
            codec, stored = self.store.compressor.plain(raw)
            return oid, kind, codec, stored, raw_length
        return obj

    def _hold(self, objects: Sequence[_Obj]) -> None:
        """Keep metadata objects back (copied: a caller may reuse its buffer) until the writer knows where they
        go; past ``META_HOLD`` bytes they go to a pack of their own."""
        self._held += [(oid, kind, codec, bytes(stored), raw) for oid, kind, codec, stored, raw in objects]
        size = sum(len(obj[3]) for obj in objects)
        self._held_bytes += size
        self.new_objects += len(objects)
        self.new_bytes += size
        if self._held_bytes > META_HOLD:
            self._write_held()

    def _write_held(self, into_chunks: bool = False) -> None:
        """Write the held metadata to the metadata pack (sealed, after the chunk pack, when full), or with
        ``into_chunks`` to the chunk pack (``commit`` of a small writer)."""
        held, self._held, self._held_bytes = self._held, [], 0
        builder = self._builder if into_chunks else self._meta
        seal = self._seal if into_chunks else self._seal_meta
        try:
            while held:
                part, held = held[: builder.room()], held[builder.room() :]
                builder.add_many(part)
                if builder.full() or held:
                    seal()
        except OSError as exc:
            tmp = builder.temp
            self.abort()
            raise describe(exc, "write a pack to the store at", tmp or self.store.root / "tmp") from exc

    def _seal_meta(self) -> None:
        """Seal the metadata pack, the open chunk pack first (what the metadata names is indexed before it)."""
        if self._builder.open:
            self._seal()
        self._seal(self._meta)

    def _seal(self, builder: PackBuilder | None = None) -> None:
        """Seal a pack and rename it into ``packs/``; index it now if it is the metadata pack (with every chunk
        pack sealed before it, in one transaction), else once the sealed, unindexed chunk packs hold
        ``INDEX_ROWS`` objects (``_index_sealed``)."""
        chunks = builder is None
        sealed = (builder or self._builder).seal(fsync=self.store.fsync)
        final = self.store.pack_path(sealed.name)
        try:
            final.parent.mkdir(exist_ok=True)
            os.chmod(sealed.path, 0o644)  # readable by everyone sharing the store (mkstemp made it 0600)
            fault_point("store.pack-sealed")
            os.replace(sealed.path, final)
        except BaseException:
            remove_if_present(sealed.path)
            raise
        fault_point("store.pack-renamed")  # in packs/, not yet indexed: invisible until reindexed or rewritten
        if self.store.fsync:
            fsync_dir(str(final.parent))
        bases, sketches = (self._bases, self._sketches) if chunks else ({}, [])  # a metadata pack holds no delta
        self._unindexed.append((sealed.name, sealed.size, sealed.table, bases, sketches))
        self._unindexed_rows += len(sealed.table) // ENTRY.size
        if chunks:
            self._bases, self._sketches = {}, []
        if not chunks or self._unindexed_rows >= INDEX_ROWS:
            self._index_sealed()

    def _index_sealed(self) -> None:
        """Index the sealed packs not indexed yet, in one transaction (``LocalStore._index_packs``); their keys
        leave ``_pending`` (the store answers for them now) and ``_open`` (a delta's base is stored now)."""
        packs = self._unindexed
        if not packs:
            return
        fault_point("store.pack-indexing")
        self.store._index_packs(packs, replace=self.rewrite)  # on failure they stay listed (``abort`` tries again)
        self._unindexed, self._unindexed_rows = [], 0
        self._open = set()  # no chunk pack is open here: each caller has just sealed (or is ending)
        keys = [(d.hex(), k) for _, _, table, _, _ in packs for d, k, *_ in ENTRY.iter_unpack(cast(bytes, table))]
        with self._lock:  # indexed: the store answers for these now (claimed, unwritten keys stay pending)
            self._pending.difference_update(keys)
            self._sealed += 1

    def commit(self) -> None:
        """Seal what is open: the chunk pack, then the metadata (in the chunk pack when this writer wrote less
        than ``MIXED_AT_MOST`` bytes of chunks and none went to a pack of its own, else in its own pack)."""
        builder = self._builder
        if self._held and not self._meta.open and self._chunk_bytes < MIXED_AT_MOST:
            self._write_held(into_chunks=True)
        try:
            if builder.open:
                self._seal()
            if self._held:
                self._write_held()
            if self._meta.open:
                self._seal_meta()
            self._index_sealed()
        except OSError as exc:
            tmp = builder.temp or self._meta.temp
            self.abort()
            raise describe(exc, "write a pack to the store at", tmp or self.store.root / "tmp") from exc
        except sqlite3.Error:  # the index refused the rows (a full disk): the abort tries once more, then leaves it
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the unsealed pack: its temp file is removed even when closing it fails (a full disk). The packs
        sealed before are indexed still (a retried add finds their objects stored), if the index takes them:
        else they stay in ``packs/`` unindexed, as after a crash, until a reindex (``art fsck``) or ``gc``."""
        try:
            self._index_sealed()
        except (OSError, sqlite3.Error, ArtError):
            self._unindexed, self._unindexed_rows = [], 0
        with self._lock:
            self._pending.clear()
        self._open, self._bases, self._sketches = set(), {}, []
        self._held, self._held_bytes = [], 0
        try:
            self._builder.abort()
        finally:
            self._meta.abort()
