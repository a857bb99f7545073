"""``art repack``: rewrite the local store's packs, choosing every chunk's encoding afresh: stored in full, or as a
delta against a similar chunk (pack codec 2), newest first, with bounded chains; optionally recompressing full
chunks at a higher zstd level.

``art add`` deltas a new chunk against similar chunks stored *before* it (forward deltas: the newest version
sits at the end of the chains, the slowest to read), and only against chunks already indexed. Repack sees the
whole store at once and goes the other way, as git's repack does: chunks are visited newest pack first, each
is stored in full or as a delta against a similar chunk visited before it (so the newest version is mostly
stored in full and older ones are deltas on it), whose depth is below the limit. Similar chunks are found with
a finer sketch than ``add``'s (each of ``BUCKETS`` sub-chunk min-hashes is a feature, and candidates are ranked
by how many they share), kept in a temporary sqlite file beside the store (flat memory). A delta is kept when
it is under 0.8x the chunk's full size. Incompressible chunks and metadata are copied as they are.

Every relation the new packs hold points to a chunk visited earlier, whose new copy is sealed and indexed no
later: a killed repack leaves each chunk in its old or its new encoding, never a loop, every object readable
(the old packs are dropped only after every copy is indexed, fault point ``repack.copied``). Chains of old
copies on new ones stay within ``MAX_CHAIN`` because repack's depth is at most half of it.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorruptObjectError
from .faults import fault_point
from .fileio import remove_if_present
from .hashing import hash_bytes
from .objects import Kind
from .oid import Oid
from .progress import as_progress
from .store.delta import DELTA, MAX_CHAIN, encode_delta
from .store.local import LocalStore
from .store.pack import RAW, ZSTD, ZSTD_LEVEL, Compressor
from .types import ObjectKey

PAYS = 0.8  # a delta is kept when it is smaller than this fraction of the chunk's full (zstd) size
DELTA_LEVEL = 3
MAX_DEPTH = MAX_CHAIN // 2
BUCKETS = 12  # min-hash features per chunk
SUB_AVG, SUB_MIN, SUB_MAX = 512, 128, 2048  # the content-defined sub-chunks hashed
CANDIDATES = 2  # bases tried per chunk (the ones sharing the most features)


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
    depth: int = 3,
    level: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RepackResult:
    """Rewrite every pack of ``store`` (the caller holds the store lock exclusively).

    Args:
        deltas: make deltas (``core.delta``); False: store every chunk in full (recompressed with ``level``).
        depth: the longest chain to make (``core.delta_depth``), at most ``MAX_DEPTH``.
        level: zstd level of full chunks (kept only when smaller than their current copy); None: art's level
            for chunks that were deltas, the current copy for the others.
        progress: called with the number of objects handled.

    Raises:
        CorruptObjectError: when an object is damaged (nothing is removed then: run ``art fsck``).
    """
    depth = max(1, min(depth, MAX_DEPTH))
    before = store.stats()
    old_packs = sorted(store.pack_names())
    keys = [ObjectKey(o.oid, o.kind) for o in store.iter_objects()]
    where = store.locate_many(keys)
    order = sorted(keys, key=lambda k: (-where[k].pack, where[k].offset))  # newest pack first
    compressor = Compressor(level if level is not None else ZSTD_LEVEL)
    made = recompressed = examined = 0
    counter = as_progress(progress, counts="files")
    counter.phase("repacking", files=len(order))
    with _Similar(store.root / "tmp") as similar, store.writer(rewrite=True) as writer:
        for key in order:
            oid, kind = key
            codec, stored, raw_length = store.get_stored(oid, kind)
            if kind != Kind.CHUNK or codec == RAW:
                writer.put_stored(oid, kind, codec, stored, raw_length)
                counter.advance(files=1)
                continue
            examined += 1
            data = store.get(oid, kind)
            if hash_bytes(data) != oid:
                raise CorruptObjectError(oid, "its stored copy does not match its id", hint="run 'art fsck'")
            if codec != ZSTD or level is not None:  # a delta now, or asked to recompress: a full copy afresh
                new_codec, packed = compressor.pack(data)
                if codec != ZSTD or (new_codec == ZSTD and len(packed) < len(stored)):
                    recompressed += codec == ZSTD
                    codec, stored = new_codec, packed
            d = 0
            feats = _features(data) if deltas and codec == ZSTD else ()
            full = len(stored)
            for base, base_depth in similar.candidates(feats):
                payload = encode_delta(data, base, store.get(base, Kind.CHUNK), DELTA_LEVEL)
                if len(payload) < full * PAYS and len(payload) < len(stored):  # the smallest that pays
                    codec, stored, d = DELTA, payload, base_depth + 1
            made += codec == DELTA
            writer.put_stored(oid, kind, codec, stored, raw_length)
            if feats and d < depth:
                similar.add(oid, feats, d)
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


def _features(data: bytes) -> tuple[int, ...]:
    """``BUCKETS`` min-hashes of the chunk's content-defined sub-chunks (as ``sketch`` does, without grouping them
    into super-features: repack ranks candidates by how many they share)."""
    if len(data) < SUB_MIN:
        return ()
    from pyfastcdc import FastCDC

    mins = [1 << 32] * BUCKETS
    for c in FastCDC(SUB_AVG, min_size=SUB_MIN, max_size=SUB_MAX).cut_buf(data):
        h = zlib.crc32(c.data)
        k = h % BUCKETS
        mins[k] = min(mins[k], h)
    return tuple(k << 33 | m for k, m in enumerate(mins) if m < 1 << 32)


class _Similar:
    """Visited chunks that may be bases, by feature, in a temporary sqlite file (deleted on exit)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        fd, self.path = tempfile.mkstemp(prefix="repack-", suffix=".db", dir=folder)
        os.close(fd)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE TABLE f (feature INTEGER, oid BLOB, depth INTEGER, PRIMARY KEY (feature, oid)) WITHOUT ROWID"
        )
        self.db.execute("BEGIN")

    def __enter__(self) -> _Similar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()
        remove_if_present(self.path)

    def add(self, oid: Oid, feats: tuple[int, ...], depth: int) -> None:
        digest = bytes.fromhex(oid)
        self.db.executemany("INSERT OR IGNORE INTO f VALUES (?, ?, ?)", [(f, digest, depth) for f in feats])

    def candidates(self, feats: tuple[int, ...]) -> list[tuple[Oid, int]]:
        """The visited chunks sharing the most features (at least one) with ``feats``, with their depths."""
        if not feats:
            return []
        rows = self.db.execute(
            f"SELECT oid, depth, count(*) AS n FROM f WHERE feature IN ({','.join('?' * len(feats))}) "
            "GROUP BY oid ORDER BY n DESC, depth LIMIT ?",
            (*feats, CANDIDATES),
        ).fetchall()
        return [(Oid(o.hex()), d) for o, d, _ in rows]
