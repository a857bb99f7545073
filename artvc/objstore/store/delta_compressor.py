"""The local store's delta-aware compressor (``core.delta``): a new chunk that compresses is sketched, a similar
stored chunk looked up in the ``sketch`` table, and the chunk stored as a delta against it when that is clearly
smaller than zstd alone.

Cheap where deltas cannot pay: a chunk that does not compress (random or already compressed data: the plain
compressor's 4 KiB probe says so) is never sketched and costs nothing more; a chunk without a candidate costs
its sketch and one indexed query. The sketch of every sketched chunk is handed to the store's writer
(``take_sketch``), which records it with the chunk's pack, so later versions find it.
"""

from __future__ import annotations

import threading
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
KEEP_BELOW = 0.8  # a delta is kept only when smaller than this share of the plain zstd payload
_CANDIDATES = 8
_PENDING = 1 << 16  # sketches computed and not taken by a writer yet (bounded: oldest dropped)


class DeltaCompressor(Compressor):
    """``Compressor`` that stores a chunk as a delta against a similar stored chunk when that pays.

    Args:
        store: the local store whose chunks serve as bases (read with ``get``, verified).
        depth: the deepest a new delta may be (a base must have depth < ``depth``); 1..``MAX_CHAIN``.
        level: zstd level of full payloads.
    """

    def __init__(self, store: LocalStore, *, depth: int = DEFAULT_DEPTH, level: int = ZSTD_LEVEL) -> None:
        super().__init__(level)
        if not 1 <= depth <= MAX_CHAIN:
            raise ValueError(f"delta depth must be from 1 to {MAX_CHAIN}")
        self._store = store
        self.depth = depth
        self._pending: dict[Oid, tuple[int, ...]] = {}
        self._pending_lock = threading.Lock()

    def pack(self, data: bytes, oid: Oid | None = None) -> tuple[int, bytes]:
        codec, stored = super().pack(data)
        if oid is None or codec != ZSTD or len(data) < MIN_SIZE:
            return codec, stored
        sketch = features(data)
        if not sketch:
            return codec, stored
        with self._pending_lock:
            self._pending[oid] = sketch
            while len(self._pending) > _PENDING:
                del self._pending[next(iter(self._pending))]
        for base in self._candidates(oid, sketch):
            base_raw = self._base(base)
            if base_raw is None:
                continue
            payload = encode_delta(data, base, base_raw, DELTA_LEVEL)
            if len(payload) < len(stored) * KEEP_BELOW:
                return DELTA, payload
            break  # the most similar candidate did not pay: the others will not either
        return codec, stored

    def take_sketch(self, oid: Oid) -> tuple[int, ...]:
        with self._pending_lock:
            return self._pending.pop(oid, ())

    def _candidates(self, oid: Oid, sketch: tuple[int, ...]) -> list[Oid]:
        """Stored chunks sharing super-features with ``sketch``, most shared first, shallow ones first among
        equals, only those a delta may be built on (depth < ``self.depth``), never ``oid`` itself."""
        try:
            rows = self._store._query(
                f"SELECT oid, count(*) AS n FROM sketch WHERE feature IN ({','.join('?' * len(sketch))}) "
                f"GROUP BY oid ORDER BY n DESC LIMIT {_CANDIDATES}",
                sketch,
                many=True,
            )
            if not rows:
                return []
            found = [(Oid(o.hex()), n) for o, n in rows if o.hex() != oid]
            depth = depths(self._store, [o for o, _ in found])
        except ArtError:
            return []  # an unreadable index only loses compression here
        usable = [(o, n) for o, n in found if depth[o] < self.depth]
        usable.sort(key=lambda item: (-item[1], depth[item[0]]))
        return [o for o, _ in usable]

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
