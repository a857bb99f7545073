"""``art repack``: rewrite the local store's packs, turning chunks stored in full into deltas against similar
chunks stored before them (what ``add`` does for new chunks when ``core.delta`` is on), and optionally
recompressing full chunks at a higher zstd level.

Chunks are visited in store order (oldest pack first, by offset: the order they were added). A chunk becomes
a delta only when it is stored compressed (an incompressible chunk never pays), no other chunk is built on it
(so no chain grows and no loop forms: a base is always a chunk visited before), a similar chunk visited
before has depth < ``depth``, and the delta is under 0.8x its current stored size. Deltas already stored and
metadata are copied as they are. Crash safety is gc's: the new packs are written (temp + rename) and indexed
first, the old packs are dropped only then (fault point ``repack.copied`` in between); a killed repack leaves
every object readable, at worst twice on disk until the next repack or gc.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import CorruptObjectError
from .faults import fault_point
from .hashing import hash_bytes
from .objects import Kind
from .oid import Oid
from .progress import as_progress
from .sketch import features
from .store import local_delta
from .store.delta import DELTA, MAX_CHAIN, encode_delta
from .store.local import LocalStore
from .store.pack import RAW, ZSTD, Compressor
from .types import ObjectKey

PAYS = 0.8  # a delta is kept when it is smaller than this fraction of the chunk's stored size
DELTA_LEVEL = 3


@dataclass(frozen=True, slots=True)
class RepackResult:
    """What a repack did."""

    objects: int
    chunks_examined: int
    deltas_made: int
    recompressed: int
    packs_before: int
    packs_after: int
    bytes_before: int
    bytes_after: int

    def as_dict(self) -> dict[str, int]:
        return {
            "objects": self.objects,
            "examined_objects": self.chunks_examined,
            "delta_objects": self.deltas_made,
            "recompressed_objects": self.recompressed,
            "packs_before": self.packs_before,
            "packs_after": self.packs_after,
            "pack_size_before": self.bytes_before,
            "pack_size_after": self.bytes_after,
        }


def repack(
    store: LocalStore,
    *,
    deltas: bool = True,
    depth: int = 4,
    level: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RepackResult:
    """Rewrite every pack of ``store`` (the caller holds the store lock exclusively).

    Args:
        deltas: make new deltas (``core.delta``); False: only recompress (with ``level``) and copy.
        depth: the longest chain a new delta may end (``core.delta_depth``, at most ``MAX_CHAIN``).
        level: recompress full chunks at this zstd level (kept only when smaller); None: keep their bytes.
        progress: called with the number of objects handled.

    Raises:
        CorruptObjectError: when an object is damaged (nothing is removed then: run ``art fsck``).
    """
    depth = max(1, min(depth, MAX_CHAIN))
    before = store.stats()
    old_packs = sorted(store.pack_names())
    keys = [ObjectKey(o.oid, o.kind) for o in store.iter_objects()]
    where = store.locate_many(keys)
    order = sorted(keys, key=lambda k: (where[k].pack, where[k].offset))
    chunk_ids = [k.oid for k in order if k.kind == Kind.CHUNK]
    has_dependents = set(store.dependents(chunk_ids)) if deltas else set()
    known_depth = local_delta.depths(store, chunk_ids)  # existing deltas (full chunks: absent, depth 0)
    by_feature: dict[int, Oid] = {}  # a visited chunk that may be a base, by each of its features
    depth_of: dict[Oid, int] = {}
    compressor = Compressor(level) if level is not None else None
    made = recompressed = examined = 0
    counter = as_progress(progress, counts="files")
    counter.phase("repacking", files=len(order))
    with store.writer(rewrite=True) as writer:
        for key in order:
            oid, kind = key
            loc = where[key]
            codec, stored, raw_length = store.get_stored(oid, kind)
            if kind != Kind.CHUNK or codec == RAW:
                writer.put_stored(oid, kind, codec, stored, raw_length)
                counter.advance(files=1)
                continue
            examined += 1
            d = known_depth.get(oid, 0)
            data = store.get(oid, kind)
            if hash_bytes(data) != oid:
                raise CorruptObjectError(oid, "its stored copy does not match its id", hint="run 'art fsck'")
            feats = features(data) if deltas else ()
            if codec == ZSTD and deltas and oid not in has_dependents:
                base = _pick(by_feature, feats, depth_of, depth, oid)
                if base is not None:
                    payload = encode_delta(data, base, store.get(base, Kind.CHUNK), DELTA_LEVEL)
                    if len(payload) < len(stored) * PAYS:
                        codec, stored, d = DELTA, payload, depth_of[base] + 1
                        made += 1
            if codec == ZSTD and compressor is not None:
                new_codec, packed = compressor.pack(data)
                if new_codec == ZSTD and len(packed) < len(stored):
                    stored = packed
                    recompressed += 1
            writer.put_stored(oid, kind, codec, stored, loc.raw_length)
            depth_of[oid] = d
            if d < depth:
                for f in feats:
                    by_feature.setdefault(f, oid)
            counter.advance(files=1)
    fault_point("repack.copied")  # the copies are indexed; the old packs still on disk
    referenced = {o.pack for o in store.iter_objects()}  # a copy may reproduce an old pack byte for byte
    store.drop_packs([p for p in old_packs if p not in referenced])
    after = store.stats()
    return RepackResult(
        len(order),
        examined,
        made,
        recompressed,
        before["packs"],
        after["packs"],
        before["pack_bytes"],
        after["pack_bytes"],
    )


def _pick(
    by_feature: dict[int, Oid], feats: tuple[int, ...], depth_of: dict[Oid, int], limit: int, oid: Oid
) -> Oid | None:
    """The visited chunk sharing the most features with this one, among those shallow enough to be a base."""
    votes: dict[Oid, int] = {}
    for f in feats:
        cand = by_feature.get(f)
        if cand is not None and cand != oid and depth_of.get(cand, limit) < limit:
            votes[cand] = votes.get(cand, 0) + 1
    return max(votes, key=lambda c: votes[c]) if votes else None
