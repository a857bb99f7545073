"""The local store's delta-aware compressor (``core.delta``): a new chunk that compresses is stored as a delta
against a similar stored chunk when that is clearly smaller than zstd alone.

Candidates, cheapest first: ``near``, the chunks of the previous version of the same path at about the same
place (given by ingest, ``near.py``: no sketch, no sketch query; a candidate too deep gives way to its base);
otherwise, for a caller that knows no previous version (ingest's small files), a sketch of the chunk and the
stored chunks sharing super-features with it (the ``sketch`` table). An empty ``near`` tries nothing: ingest
passes one for a large file with no previous version, whose first add then costs what it costs without
deltas. Full chunks are zstd level 1 as without deltas; delta frames level 3 (``DELTA_LEVEL``).

Cheap where deltas cannot pay: a chunk that does not compress (random or already compressed data: the plain
compressor's 4 KiB probe says so) is never sketched nor tried. The sketch of every sketched chunk is handed to
the store's writer (``take_sketch``), which records it with the chunk's pack, so later versions find it.

Chunks sketched earlier in the same process (the other files of one release: translations of one catalog
share their source strings) are candidates too, before their pack is indexed: their sketches and contents are
kept in memory, at most ``PENDING_BYTES`` of content waiting for a writer and ``_RECENT`` sketches taken. A
delta on such a base is safe only when its writer writes the base first (same pack or an earlier one, indexed
no later): the writer checks that and otherwise stores the chunk in full (``take_fallback``, ``plain``; the
content kept for that is dropped only when the writer takes it).
"""

from __future__ import annotations

from _thread import allocate_lock  # threading's own Lock: no threading at start
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...errors import ArtError
from ..hashing import hash_bytes
from ..objects import Kind
from ..oid import Oid
from ..sketch import features
from .delta import DEFAULT_DEPTH, DELTA, MAX_CHAIN, encode_delta
from .local_delta import delta_bases, depths
from .pack import ZSTD, ZSTD_LEVEL, Compressor

if TYPE_CHECKING:
    from .local import LocalStore

DELTA_LEVEL = 3  # zstd level of delta frames (level 1 indexes a 64 KiB dictionary poorly: 30x larger deltas)
MIN_SIZE = 1024  # smaller chunks are not worth a sketch
KEEP_BELOW = 0.9  # a delta is kept only when smaller than this share of the plain zstd payload
TRIES = 2  # candidates a delta is computed against (the smallest wins)
GOOD = 0.25  # a delta on the previous version's chunk this small is kept without trying the next candidate
_CANDIDATES = 8
PENDING_BYTES = 8 << 20  # content of chunks sketched and not taken by a writer yet (bounded: oldest dropped)
_RECENT = 1 << 16  # chunks written by this process kept as candidates before their pack is indexed


class DeltaCompressor(Compressor):
    """``Compressor`` that stores a chunk as a delta against a similar stored chunk when that pays.

    Args:
        store: the local store whose chunks serve as bases (read with ``get``, verified).
        depth: the deepest a new delta may be (a base must have depth < ``depth``); 1..``MAX_CHAIN``.
        level: zstd level of full payloads (art's level 1, as without deltas: level 3 costs 3x for ~1%).
    """

    def __init__(self, store: LocalStore, *, depth: int = DEFAULT_DEPTH, level: int = ZSTD_LEVEL) -> None:
        super().__init__(level)
        if not 1 <= depth <= MAX_CHAIN:
            raise ValueError(f"delta depth must be from 1 to {MAX_CHAIN}")
        self._store = store
        self.depth = depth
        self._pending: OrderedDict[Oid, tuple[tuple[int, ...], bytes, int]] = OrderedDict()  # sketch, data, depth
        self._pending_bytes = 0
        self._recent: OrderedDict[Oid, tuple[tuple[int, ...], int]] = OrderedDict()  # written: sketch, depth
        self._by_feature: dict[int, set[Oid]] = {}  # the features of ``_recent``
        self._fallback: dict[Oid, bytes] = {}  # deltas on a base not indexed yet: their content
        self._pending_lock = allocate_lock()
        self.sketched = self.tried = 0  # chunks sketched, deltas computed (counted for tests)

    def pack(
        self, data: bytes, oid: Oid | None = None, near: Sequence[Oid] | None = None, *, tested: bool = False
    ) -> tuple[int, bytes]:
        """See ``Compressor.pack``. A new chunk (``oid`` given) that compresses is tried as a delta against
        ``near`` when given (indexed chunks: the previous version of its file at the same place; never
        sketched then, an empty ``near`` tries nothing), else against chunks its sketch finds."""
        codec, stored = super().pack(data, tested=tested)
        if oid is None or codec != ZSTD or len(data) < MIN_SIZE:
            return codec, stored
        if near is not None:
            return self._near(data, oid, near, (codec, stored))
        sketch = features(data)
        self.sketched += 1
        if not sketch:
            return codec, stored
        result, depth, best = (codec, stored), 0, len(stored) * KEEP_BELOW
        tries, unindexed = TRIES, False
        for base, base_depth, indexed in self._candidates(oid, sketch):
            payload = self._delta(data, base)
            if payload is None:
                continue
            if len(payload) < best:
                result, depth, best, unindexed = (DELTA, payload), base_depth + 1, len(payload), not indexed
            tries -= 1
            if not tries:
                break
        with self._pending_lock:
            if unindexed:
                self._fallback[oid] = data
            old = self._pending.pop(oid, None)
            if old is not None:
                self._pending_bytes -= len(old[1])
            self._pending[oid] = (sketch, data, depth)
            self._pending_bytes += len(data)
            self._index(oid, sketch)
            while self._pending_bytes > PENDING_BYTES:
                gone, (gone_sketch, gone_data, _) = self._pending.popitem(last=False)
                self._pending_bytes -= len(gone_data)  # its fallback stays: its writer needs it
                if gone not in self._recent:
                    self._unindex(gone, gone_sketch)
        return result

    def _delta(self, data: bytes, base: Oid) -> bytes | None:
        """The delta payload of ``data`` on ``base``, or None when the base cannot be read."""
        base_raw = self._base(base)
        if base_raw is None:
            return None
        self.tried += 1
        return encode_delta(data, base, base_raw, DELTA_LEVEL)

    def _index(self, oid: Oid, sketch: tuple[int, ...]) -> None:
        for f in sketch:
            self._by_feature.setdefault(f, set()).add(oid)

    def _unindex(self, oid: Oid, sketch: tuple[int, ...]) -> None:
        for f in sketch:
            holders = self._by_feature.get(f)
            if holders is not None:
                holders.discard(oid)
                if not holders:
                    del self._by_feature[f]

    def _near(self, data: bytes, oid: Oid, near: Sequence[Oid], full: tuple[int, bytes]) -> tuple[int, bytes]:
        """The smallest of ``full`` and the deltas of ``data`` against the usable chunks of ``near``; a
        candidate at the deepest depth allowed gives way to its base (an older version of the same place)."""
        near = [o for o in dict.fromkeys(near) if o != oid][:TRIES]
        if not near:
            return full
        try:
            usable = self._shallow(near)
        except ArtError:
            return full
        result, best = full, len(full[1]) * KEEP_BELOW
        for base in usable:
            if base == oid or not self._store.has(base, Kind.CHUNK):
                continue  # not indexed: a delta is never indexed without its base
            payload = self._delta(data, base)
            if payload is None:
                continue
            if len(payload) < best:
                result, best = (DELTA, payload), len(payload)
            if best < len(full[1]) * GOOD:
                break  # the best overlap gave a good delta: the next candidate is not worth computing
        return result

    def _shallow(self, oids: list[Oid]) -> list[Oid]:
        """Each of ``oids``, or its nearest ancestor whose depth is below ``self.depth`` (each once)."""
        out: list[Oid] = []
        depth = depths(self._store, oids)
        for oid in oids:
            d = depth[oid]
            while d >= self.depth:
                oid = delta_bases(self._store, [oid]).get(oid, oid)
                d -= 1
            if oid not in out:
                out.append(oid)
        return out

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
            self._pending_bytes -= len(data)
            self._store.base_cache.put(oid, data)
            self._recent[oid] = (sketch, depth)
            self._index(oid, sketch)
            while len(self._recent) > _RECENT:
                old, (old_sketch, _) = self._recent.popitem(last=False)
                if old not in self._pending:
                    self._unindex(old, old_sketch)
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
            recent_depth = {o: self._recent[o][1] if o in self._recent else self._pending[o][2] for o in recent}
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
        with self._pending_lock:
            pending = self._pending.get(oid)
        if pending is not None:
            return pending[1]  # hashed by the job that read it
        try:
            data = store.get(oid, Kind.CHUNK)
        except ArtError:
            return None
        if hash_bytes(data) != oid:
            return None
        store.base_cache.put(oid, data)
        return data
