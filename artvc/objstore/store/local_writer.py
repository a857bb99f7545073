"""Writes into the local store: objects go into a temporary pack that is sealed, renamed into ``packs/`` and
only then indexed (``LocalStore.writer()`` opens one)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..faults import fault_point
from ..fileio import remove_if_present
from ..objects import Kind
from ..oid import Oid
from ..oserrors import describe
from .base import StoreWriter
from .delta import DELTA, delta_base
from .pack import fsync_dir
from .packer import PACK_MAX_OBJECTS, PackBuilder

if TYPE_CHECKING:
    from .local import LocalStore


class LocalWriter(StoreWriter):
    """Writes objects into a temporary pack (``packer.PackBuilder``); ``commit`` seals, renames and indexes it."""

    store: LocalStore

    def __init__(self, store: LocalStore, *, rewrite: bool = False) -> None:
        self.store = store
        self.rewrite = rewrite
        self._pending: set[tuple[str, int]] = set()
        self._bases: dict[Oid, Oid] = {}  # codec-2 chunks of the open pack -> their bases
        self._sketches: list[tuple[int, Oid]] = []  # (feature, chunk) of the open pack's new chunks
        self._builder = PackBuilder(store.root / "tmp", max_objects=PACK_MAX_OBJECTS)
        self.new_objects = 0
        self.new_bytes = 0

    def has(self, oid: Oid, kind: Kind) -> bool:
        return (oid, int(kind)) in self._pending or (not self.rewrite and self.store.has(oid, kind))

    def present(self, keys: Iterable[tuple[Oid, Kind]]) -> set[tuple[Oid, int]]:
        wanted = [(oid, int(kind)) for oid, kind in keys]
        pending = {k for k in wanted if k in self._pending}
        if self.rewrite:
            return pending
        return pending | self.store.has_many((oid, Kind(kind)) for oid, kind in wanted if (oid, kind) not in pending)

    def put_stored(self, oid: Oid, kind: Kind, codec: int, stored: bytes, raw_length: int) -> bool:
        if self.has(oid, kind):
            return False
        return self.put_new(oid, kind, codec, stored, raw_length)

    def put_new(self, oid: Oid, kind: Kind, codec: int, stored: bytes, raw_length: int) -> bool:
        if (oid, int(kind)) in self._pending:
            return False
        if codec == DELTA and kind == Kind.CHUNK:
            raw = self.store.compressor.take_fallback(oid)
            base = delta_base(stored)
            if raw is not None and (base, int(Kind.CHUNK)) not in self._pending and not self.store.has(base, kind):
                codec, stored = self.store.compressor.plain(raw)  # its base is another writer's, not indexed yet
        try:
            base = delta_base(stored) if codec == DELTA else None  # raises FormatError before anything is written
            self._builder.add(oid, int(kind), codec, stored, raw_length)
            fault_point("store.pack-writing")
            if base is not None:
                self._bases[oid] = base
            if kind == Kind.CHUNK:
                self._sketches += [(f, oid) for f in self.store.compressor.take_sketch(oid)]
            self._pending.add((oid, int(kind)))
            self.new_objects += 1
            self.new_bytes += len(stored)
            if self._builder.full():
                self._seal()
        except OSError as exc:
            tmp = self._builder.temp
            self.abort()
            raise describe(exc, "write a pack to the store at", tmp or self.store.root / "tmp") from exc
        return True

    def _seal(self) -> None:
        sealed = self._builder.seal(fsync=self.store.fsync)
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
        self.store._index_pack(
            sealed.name, sealed.size, sealed.entries, replace=self.rewrite, bases=self._bases, sketches=self._sketches
        )
        self._pending.clear()
        self._bases, self._sketches = {}, []

    def commit(self) -> None:
        if self._builder.open:
            try:
                self._seal()
            except OSError as exc:
                tmp = self._builder.temp
                self.abort()
                raise describe(exc, "write a pack to the store at", tmp or self.store.root / "tmp") from exc

    def abort(self) -> None:
        """Drop the unsealed pack: its temp file is removed even when closing it fails (a full disk)."""
        self._pending.clear()
        self._bases, self._sketches = {}, []
        self._builder.abort()
