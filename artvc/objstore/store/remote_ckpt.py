"""Reading a remote's checkpoints (midx.py): the newest manifests, and lookups through their tables' blocks.

Blocks and pack lists are immutable and named by their hash, so they are cached on disk under the remote's
cache folder forever and read back without a request; a small in-memory LRU keeps the blocks in use. A block
or pack list whose bytes do not match the manifest raises ``FormatError`` (the caller falls back to the
per-pack indexes and reports it).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

from ...errors import FormatError
from ..fileio import new_temp, remove_if_present
from ..hashing import hash_bytes
from ..tmpowner import token
from .midx import (
    MAX_MANIFEST_BYTES,
    PACKREC,
    TABLE_HEAD,
    Manifest,
    TableRef,
    decode_manifest,
    decode_packs,
    manifest_path,
    parse_manifest_name,
    record_entry,
    search_block,
    table_path,
)
from .pack import PackEntry
from .transport import Entry, Transport

LRU_BLOCKS = 64  # ~14 MB of blocks kept in memory; the rest stay in the disk cache


class Checkpoints:
    """The manifests of the newest generation on a remote and lookups through them."""

    def __init__(self, transport: Transport, cache_dir: Path | None) -> None:
        self.transport = transport
        self.cache_dir = cache_dir
        self.manifests: list[tuple[str, Manifest]] = []  # (path, manifest)
        self.generations: dict[int, list[str]] = {}  # every manifest listed: gen -> paths
        self._blocks: OrderedDict[str, bytes] = OrderedDict()
        self._packs: dict[str, list[tuple[str, int]]] = {}
        self._lock = threading.Lock()

    # -- loading ------------------------------------------------------------------------------------------

    def load(self, listing: list[Entry] | None = None) -> None:
        """Read the newest generation's manifests (cached ones from disk) among the files of ``index/``
        (``listing``: that folder's entries, already listed by the caller).

        Raises:
            FormatError: when a manifest of the newest generation is damaged.
        """
        gens: dict[int, list[str]] = {}
        for e in self.transport.list("index") if listing is None else listing:
            parsed = None if e.is_dir else parse_manifest_name(e.name)
            if parsed and (e.size is None or e.size <= MAX_MANIFEST_BYTES):
                gens.setdefault(parsed[0], []).append(e.name)
        self.generations = {g: [f"index/{n}" for n in sorted(ns)] for g, ns in gens.items()}
        self.manifests = []
        if gens:
            for path in self.generations[max(gens)]:
                self.manifests.append((path, self._manifest(path)))

    def clear(self) -> None:
        """No checkpoint."""
        self.manifests, self.generations = [], {}

    def _manifest(self, path: str) -> Manifest:
        digest = path.rsplit("-", 1)[1][:-5]
        data = self._cached(f"{digest}.ckpt")
        if data is None or str(hash_bytes(data)) != digest:
            data = self.transport.read(path)
            if str(hash_bytes(data)) != digest:
                raise FormatError(f"checkpoint {path} does not match its name")
            self._cache(f"{digest}.ckpt", data)
        return decode_manifest(data)

    @property
    def active(self) -> bool:
        return bool(self.manifests)

    @property
    def listed_from(self) -> int:
        """The oldest epoch whose folder readers must still list (the newest manifests' minimum)."""
        return min(m.listed_from for _, m in self.manifests)

    @property
    def recent(self) -> frozenset[str]:
        out: set[str] = set()
        for _, m in self.manifests:
            out |= m.recent
        return frozenset(out)

    def tables(self) -> list[TableRef]:
        seen: dict[str, TableRef] = {}
        for _, m in self.manifests:
            for t in m.tables:
                seen.setdefault(t.name, t)
        return list(seen.values())

    # -- lookups ------------------------------------------------------------------------------------------

    def find(self, key: bytes) -> list[tuple[str, int, PackEntry]]:
        """Every (pack, idx epoch, entry) the checkpoint lists for ``key`` (oid + kind).

        Raises:
            FormatError: when a block or pack list it needs is damaged or missing.
        """
        out = []
        for table in self.tables():
            for i in table.blocks_for(key):
                for rec in search_block(self.block(table, i), key):
                    pack, entry = record_entry(rec)
                    packs = self.packs(table)
                    if pack >= len(packs):
                        raise FormatError(f"checkpoint table {table.name[:10]}: record names pack #{pack}")
                    name, epoch = packs[pack]
                    out.append((name, epoch, entry))
        return out

    def block(self, table: TableRef, i: int) -> bytes:
        digest = table.blocks[i][1]
        with self._lock:
            data = self._blocks.get(digest)
            if data is not None:
                self._blocks.move_to_end(digest)
                return data
        data = self._cached(f"{digest}.blk")
        if data is None or str(hash_bytes(data)) != digest:
            start, end = table.block_range(i)
            data = self._read(table, start, end)
            if str(hash_bytes(data)) != digest:
                raise FormatError(f"checkpoint table {table.name[:10]}: block {i} is damaged")
            self._cache(f"{digest}.blk", data)
        with self._lock:
            self._blocks[digest] = data
            while len(self._blocks) > LRU_BLOCKS:
                self._blocks.popitem(last=False)
        return data

    def packs(self, table: TableRef) -> list[tuple[str, int]]:
        got = self._packs.get(table.name)
        if got is not None:
            return got
        data = self._cached(f"{table.packs_hash}.packs")
        if data is None or str(hash_bytes(data)) != table.packs_hash:
            data = self._read(table, TABLE_HEAD.size, TABLE_HEAD.size + table.packs * PACKREC.size)
            got = decode_packs(data, table)
            self._cache(f"{table.packs_hash}.packs", data)
        else:
            got = decode_packs(data, table)
        self._packs[table.name] = got
        return got

    def _read(self, table: TableRef, start: int, end: int) -> bytes:
        try:
            return self.transport.read(table_path(table.name), start, end)
        except FileNotFoundError as exc:
            raise FormatError(f"checkpoint table {table.name[:10]} is missing") from exc

    # -- the disk cache -----------------------------------------------------------------------------------

    def _cached(self, name: str) -> bytes | None:
        if self.cache_dir is None:
            return None
        try:
            return (self.cache_dir / "midx" / name).read_bytes()
        except OSError:
            return None

    def _cache(self, name: str, data: bytes) -> None:
        if self.cache_dir is None:
            return
        folder = self.cache_dir / "midx"
        tmp = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = new_temp(folder, f"{name[:16]}-{token()}-", ".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, folder / name)
        except OSError:  # an optimisation only
            if tmp is not None:
                remove_if_present(tmp)


__all__ = ["Checkpoints", "manifest_path"]
