"""The local store's delta-aware compressor (``core.delta``): a new chunk that compresses is sketched, a similar
stored chunk looked up in the ``sketch`` table, and the chunk stored as a delta against it when that is clearly
smaller than zstd alone.

Cheap where deltas cannot pay: a chunk that does not compress (random or already compressed data: the plain
compressor's 4 KiB probe says so) is never sketched and costs nothing more; a chunk without a candidate costs
its sketch and one indexed query. The sketch of every sketched chunk is handed to the store's writer
(``take_sketch``), which records it with the chunk's pack, so later versions find it.

Chunks written earlier in the same process (the other files of one release: translations of one catalog
share their source strings) are candidates too, before their pack is indexed: their sketches and contents
are kept in memory once a writer took them (bounded). A delta on such a base is safe only when its writer
writes the base first (same pack or an earlier one, indexed no later): the writer checks that and otherwise
stores the chunk in full (``take_fallback``, ``plain``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from ...errors import ArtError
from ..hashing import hash_bytes
from ..objects import Kind
from ..oid import Oid
from ..sketch import features
from .delta import DELTA, MAX_CHAIN, encode_delta
from .local_delta import depths
from .pack import ZSTD, ZSTD_LEVEL, Compressor

if TYPE_CHECKING:
    from .local import LocalStore

DEFAULT_DEPTH = 3  # core.delta_depth: chains of at most this many deltas (docs/formats.md#deltas)
DELTA_LEVEL = 3  # zstd level of delta frames (small inputs: level 3 costs little over 1 and finds more)
MIN_SIZE = 1024  # smaller chunks are not worth a sketch
KEEP_BELOW = 0.9  # a delta is kept only when smaller than this share of the plain zstd payload
TRIES = 2  # candidates a delta is computed against (the smallest wins)
FULL_LEVEL = 3  # zstd level of full chunks when deltas are on (only chunks that compress get here)
_CANDIDATES = 8
_PENDING = 1 << 12  # chunks sketched and not taken by a writer yet (bounded: oldest dropped)
_RECENT = 1 << 16  # chunks written by this process kept as candidates before their pack is indexed


class DeltaCompressor(Compressor):
    """``Compressor`` that stores a chunk as a delta against a similar stored chunk when that pays.

    Args:
        store: the local store whose chunks serve as bases (read with ``get``, verified).
        depth: the deepest a new delta may be (a base must have depth < ``depth``); 1..``MAX_CHAIN``.
        level: zstd level of full payloads.
    """

    def __init__(self, store: LocalStore, *, depth: int = DEFAULT_DEPTH, level: int = ZSTD_LEVEL) -> None:
        super().__init__(level)
        self._full = Compressor(FULL_LEVEL) if level != FULL_LEVEL else None
        if not 1 <= depth <= MAX_CHAIN:
            raise ValueError(f"delta depth must be from 1 to {MAX_CHAIN}")
        self._store = store
        self.depth = depth
        self._pending: OrderedDict[Oid, tuple[tuple[int, ...], bytes, int]] = OrderedDict()  # sketch, data, depth
        self._recent: OrderedDict[Oid, tuple[tuple[int, ...], int]] = OrderedDict()  # written: sketch, depth
        self._by_feature: dict[int, set[Oid]] = {}  # the features of ``_recent``
        self._fallback: dict[Oid, bytes] = {}  # deltas on a base not indexed yet: their content
        self._pending_lock = threading.Lock()

    def pack(self, data: bytes, oid: Oid | None = None) -> tuple[int, bytes]:
        if oid is None:
            return super().pack(data)
        # a new chunk: zstd level 3 (the 4 KiB probe first: random data is stored raw after it, as before)
        codec, stored = self._full.pack(data) if self._full is not None else super().pack(data)
        if codec != ZSTD or len(data) < MIN_SIZE:
            return codec, stored
        sketch = features(data)
        if not sketch:
            return codec, stored
        result, depth, best = (codec, stored), 0, len(stored) * KEEP_BELOW
        tries, unindexed = TRIES, False
        for base, base_depth, indexed in self._candidates(oid, sketch):
            base_raw = self._base(base)
            if base_raw is None:
                continue
            payload = encode_delta(data, base, base_raw, DELTA_LEVEL)
            if len(payload) < best:
                result, depth, best, unindexed = (DELTA, payload), base_depth + 1, len(payload), not indexed
            tries -= 1
            if not tries:
                break
        with self._pending_lock:
            if unindexed:
                self._fallback[oid] = data
            self._pending[oid] = (sketch, data, depth)
            while len(self._pending) > _PENDING:
                gone, _ = self._pending.popitem(last=False)
                self._fallback.pop(gone, None)
        return result

    def plain(self, data: bytes) -> tuple[int, bytes]:
        """``pack`` without deltas."""
        return super().pack(data)

    def take_fallback(self, oid: Oid) -> bytes | None:
        """The content of delta ``oid`` when its base was not indexed when it was made (the writer stores it in
        full, ``plain``, unless it wrote the base itself first)."""
        with self._pending_lock:
            return self._fallback.pop(oid, None)

    def take_sketch(self, oid: Oid) -> tuple[int, ...]:
        """Called by a writer writing chunk ``oid``: its sketch for the index, and from now on a candidate base
        for the chunks that follow."""
        with self._pending_lock:
            item = self._pending.pop(oid, None)
            if item is None:
                return ()
            sketch, data, depth = item
            self._store.base_cache.put(oid, data)
            self._recent[oid] = (sketch, depth)
            for f in sketch:
                self._by_feature.setdefault(f, set()).add(oid)
            while len(self._recent) > _RECENT:
                old, (old_sketch, _) = self._recent.popitem(last=False)
                for f in old_sketch:
                    holders = self._by_feature.get(f)
                    if holders is not None:
                        holders.discard(old)
                        if not holders:
                            del self._by_feature[f]
            return sketch

    def _candidates(self, oid: Oid, sketch: tuple[int, ...]) -> list[tuple[Oid, int, bool]]:
        """Chunks sharing super-features with ``sketch`` (stored ones, and ones this process wrote): (id, depth,
        indexed), most shared first, shallow ones first among equals, only those a delta may be built on
        (depth < ``self.depth``), never ``oid`` itself."""
        recent: dict[Oid, int] = {}
        with self._pending_lock:
            for f in sketch:
                for o in self._by_feature.get(f, ()):
                    recent[o] = recent.get(o, 0) + 1
            recent_depth = {o: self._recent[o][1] for o in recent}
        try:
            rows = self._store._query(
                f"SELECT oid, count(*) AS n FROM sketch WHERE feature IN ({','.join('?' * len(sketch))}) "
                f"GROUP BY oid ORDER BY n DESC LIMIT {_CANDIDATES}",
                sketch,
                many=True,
            )
            found = {Oid(o.hex()): n for o, n in rows if o.hex() != oid}
            depth = depths(self._store, list(found)) if found else {}
        except ArtError:
            found, depth = {}, {}  # an unreadable index only loses compression here
        out = [(o, n, depth[o], True) for o, n in found.items()]
        out += [(o, n, recent_depth[o], False) for o, n in recent.items() if o not in found and o != oid]
        usable = [item for item in out if item[2] < self.depth]
        usable.sort(key=lambda item: (-item[1], item[2], not item[3]))
        return [(o, d, indexed) for o, _, d, indexed in usable]

    def _base(self, oid: Oid) -> bytes | None:
        """The verified content of chunk ``oid`` (None when it cannot serve as a base: gone, damaged)."""
        store = self._store
        cached = store.base_cache.get(oid)
        if cached is not None:
            return cached
        try:
            data = store.get(oid, Kind.CHUNK)
        except ArtError:
            return None
        if hash_bytes(data) != oid:
            return None
        store.base_cache.put(oid, data)
        return data
