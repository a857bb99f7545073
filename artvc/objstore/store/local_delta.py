"""The local store's side of deltas (pack codec 2, ``delta.py``): the ``deltas`` and ``sketch`` tables, rebuilding
a chunk from its base chain, and the relation between bases and the chunks built on them.

Tables (in ``index.db``, caches like the rest of it):

- ``deltas(oid, base, depth)``: one row per indexed chunk whose stored copy is a delta, naming its base and
  its depth (a full chunk has depth 0, a delta depth(base) + 1). Rows are written in the transaction that
  indexes the chunk's pack, removed with the chunk's index row (gc, quarantine); ``rebuild`` makes them again
  from the packs (the base id is the first 32 bytes of the payload).
- ``sketch(feature, oid)``: a few resemblance features per compressible chunk (``objstore/sketch.py``), to find
  a similar stored chunk for a new one. Losing it only loses dedup potential.

Reading a delta resolves its chain here: bounded by ``delta.MAX_CHAIN``, refusing a cycle, every base on the
way verified against its id (so a damaged base is named as such). Decoded bases are kept in a small LRU
(``BaseCache``): chunks of successive versions share their bases.
"""

from __future__ import annotations

import os
import sqlite3
from _thread import allocate_lock  # threading's own Lock: no threading at start
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ...errors import ArtError, CorruptObjectError, FormatError, ObjectNotFoundError
from ..hashing import hash_bytes
from ..objects import Kind
from ..oid import Oid
from .delta import DELTA, MAX_CHAIN, PREFIX, decode_delta, delta_base
from .pack import PackEntry, unpack_payload

if TYPE_CHECKING:
    from .local import LocalStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS deltas (oid BLOB PRIMARY KEY, base BLOB NOT NULL, depth INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deltas_base ON deltas(base);
CREATE TABLE IF NOT EXISTS sketch (feature INTEGER NOT NULL, oid BLOB NOT NULL, PRIMARY KEY (feature, oid))
    WITHOUT ROWID;
"""
#: ``PRAGMA user_version`` of an index whose ``deltas`` table is kept (older ones get it rebuilt once)
VERSION = 1
UNUSABLE = MAX_CHAIN + 1  # the depth recorded for a chunk in a loop of bases (never chosen as a base)
_BATCH = 500
CACHE_BYTES = 32 << 20


class BaseCache:
    """Verified chunk contents by id, least recently used first out, at most ``limit`` bytes; thread-safe."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = allocate_lock()

    def get(self, oid: str) -> bytes | None:
        with self._lock:
            data = self._items.get(oid)
            if data is not None:
                self._items.move_to_end(oid)
            return data

    def put(self, oid: str, data: bytes) -> None:
        if len(data) > self.limit // 4:
            return
        with self._lock:
            if oid in self._items:
                self._items.move_to_end(oid)
                return
            self._items[oid] = data
            self._size += len(data)
            while self._size > self.limit:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)


def reconstruct(store: LocalStore, oid: Oid, stored: bytes, raw_length: int) -> bytes:
    """Rebuild chunk ``oid`` from its codec-2 payload: resolve its chain of bases (each verified against its id),
    then apply the deltas from the bottom up. The chunk itself is not verified (callers hash what they read).

    Raises:
        CorruptObjectError: when the payload is bad, a base is missing, damaged or quarantined, the chain
            loops back on itself or is longer than ``MAX_CHAIN``.
    """
    cache = store.base_cache
    chain: list[tuple[Oid, bytes, int]] = [(oid, stored, raw_length)]
    seen = {oid}
    try:
        base = delta_base(stored)
    except FormatError as exc:
        raise CorruptObjectError(oid, str(exc)) from exc
    while (content := cache.get(base)) is None:
        if base in seen:
            raise CorruptObjectError(oid, f"its chain of delta bases loops back to {base[:10]}")
        seen.add(base)
        try:
            codec, data, raw = store.get_stored(base, Kind.CHUNK)
        except ObjectNotFoundError as exc:
            raise CorruptObjectError(
                oid, f"its delta base {base[:10]} is missing", hint="run 'art fsck'; fetch it again with 'art pull'"
            ) from exc
        except CorruptObjectError as exc:
            raise CorruptObjectError(oid, f"its delta base {base[:10]} is damaged ({exc.reason})") from exc
        if codec == DELTA:
            if len(chain) >= MAX_CHAIN:
                raise CorruptObjectError(oid, f"its chain of delta bases is longer than {MAX_CHAIN}")
            chain.append((base, data, raw))
            try:
                base = delta_base(data)
            except FormatError as exc:
                raise CorruptObjectError(oid, f"its delta base {chain[-1][0][:10]} is damaged ({exc})") from exc
            continue
        try:
            content = unpack_payload(codec, data, raw, int(Kind.CHUNK))
        except FormatError as exc:
            raise CorruptObjectError(oid, f"its delta base {base[:10]} is damaged ({exc})") from exc
        if hash_bytes(content) != base:
            raise CorruptObjectError(oid, f"its delta base {base[:10]} is damaged (its content does not match its id)")
        cache.put(base, content)
        break
    for i in range(len(chain) - 1, -1, -1):
        coid, cstored, craw = chain[i]
        try:
            content = decode_delta(cstored, craw, content)
        except FormatError as exc:
            if i == 0:
                raise CorruptObjectError(oid, str(exc)) from exc
            raise CorruptObjectError(oid, f"its delta base {coid[:10]} is damaged ({exc})") from exc
        if i:
            if hash_bytes(content) != coid:
                raise CorruptObjectError(
                    oid, f"its delta base {coid[:10]} is damaged (its content does not match its id)"
                )
            cache.put(coid, content)
    return content


# -- the relation --------------------------------------------------------------------------------------------


def _rows(store: LocalStore, sql: str, keys: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    for i in range(0, len(keys), _BATCH):
        part = keys[i : i + _BATCH]
        out += store._query(sql.format(",".join("?" * len(part))), part, many=True)
    return out


def delta_bases(store: LocalStore, oids: Iterable[Oid]) -> dict[Oid, Oid]:
    """The direct base of each of ``oids`` stored as a delta (the others are absent from the answer)."""
    keys = [bytes.fromhex(o) for o in dict.fromkeys(oids)]
    rows = _rows(store, "SELECT oid, base FROM deltas WHERE oid IN ({})", keys)
    return {Oid(o.hex()): Oid(b.hex()) for o, b in rows}


def depths(store: LocalStore, oids: Iterable[Oid]) -> dict[Oid, int]:
    """The delta depth of each of ``oids`` (0 for a chunk that is not a delta or not stored)."""
    wanted = list(dict.fromkeys(oids))
    rows = _rows(store, "SELECT oid, depth FROM deltas WHERE oid IN ({})", [bytes.fromhex(o) for o in wanted])
    found = {o.hex(): d for o, d in rows}
    return {o: int(found.get(o, 0)) for o in wanted}


def dependents(store: LocalStore, oids: Iterable[Oid]) -> dict[Oid, list[Oid]]:
    """Every chunk built on each of ``oids``, directly or through other deltas (breadth first, each once).

    Only ids with at least one dependent appear in the answer.
    """
    out: dict[Oid, list[Oid]] = {}
    for root in dict.fromkeys(oids):
        found: list[Oid] = []
        seen = {root}
        frontier = [bytes.fromhex(root)]
        while frontier:
            rows = _rows(store, "SELECT oid, base FROM deltas WHERE base IN ({})", frontier)
            frontier = []
            for o, _ in rows:
                child = Oid(o.hex())
                if child not in seen:
                    seen.add(child)
                    found.append(child)
                    frontier.append(o)
        if found:
            out[root] = found
    return out


# -- index bookkeeping (called inside the store's transactions) ---------------------------------------------


def read_bases(path: str | os.PathLike[str], entries: Sequence[PackEntry]) -> dict[Oid, Oid]:
    """The base of every codec-2 entry of a pack file, read from the first bytes of each payload.

    Raises:
        OSError: when the file cannot be read.
    """
    wanted = [e for e in entries if e.codec == DELTA]
    if not wanted:
        return {}
    out = {}
    fd = os.open(path, os.O_RDONLY)
    try:
        for e in wanted:
            prefix = os.pread(fd, PREFIX, e.offset)
            if len(prefix) == PREFIX:
                out[e.oid] = Oid(prefix.hex())
    finally:
        os.close(fd)
    return out


def record(
    db: sqlite3.Connection, pack: int | None, entries: Sequence[PackEntry], bases: dict[Oid, Oid], replace: bool
) -> None:
    """Keep ``deltas`` in step with the object rows a pack's indexing just wrote (same transaction).

    A delta row is written only where the chunk's index row is this pack's (an object already indexed in
    another pack keeps that copy and its encoding); a rewrite (``replace``) that stores a chunk in full drops
    its delta row. Depths are computed from the rows already there, and passed down to chunks already
    indexed on top of these (a pull may bring a base after what is built on it).
    """
    if replace:
        full = [(bytes.fromhex(e.oid),) for e in entries if e.kind == 0 and e.codec != DELTA]
        db.executemany("DELETE FROM deltas WHERE oid=?", full)
    if not bases:
        return
    digests = {o: bytes.fromhex(o) for o in bases}
    known: dict[str, int] = {}

    def depth(oid: Oid, trail: frozenset[str] = frozenset()) -> int:
        if oid in known:
            return known[oid]
        if oid in trail or len(trail) > MAX_CHAIN:
            return UNUSABLE
        base = bases.get(oid)
        if base is None:  # not in this pack: whatever the table says (0 when not a delta)
            row = db.execute("SELECT depth FROM deltas WHERE oid=?", (bytes.fromhex(oid),)).fetchone()
            d = int(row[0]) if row else 0
        else:
            d = min(UNUSABLE, depth(base, trail | {oid}) + 1)
        known[oid] = d
        return d

    rows = [(digests[o], bytes.fromhex(b), depth(o), digests[o], pack) for o, b in bases.items()]
    db.executemany(
        "INSERT OR REPLACE INTO deltas SELECT ?, ?, ? WHERE EXISTS "
        "(SELECT 1 FROM objects WHERE oid=? AND kind=0 AND pack=? AND codec=2)",
        rows,
    )
    _push_depths(db, {digests[o]: known[o] for o in bases})


def _push_depths(db: sqlite3.Connection, parents: dict[bytes, int]) -> None:
    """Set the depth of chunks already built on ``parents`` (digest -> depth), and on theirs, and so on."""
    rounds = 0
    while parents and rounds <= MAX_CHAIN:
        rounds += 1
        children: dict[bytes, int] = {}
        keys = list(parents)
        for i in range(0, len(keys), _BATCH):
            part = keys[i : i + _BATCH]
            for oid, base, depth in db.execute(
                f"SELECT oid, base, depth FROM deltas WHERE base IN ({','.join('?' * len(part))})", part
            ):
                want = min(UNUSABLE, parents[base] + 1)
                if depth != want:
                    children[oid] = want
        db.executemany("UPDATE deltas SET depth=? WHERE oid=?", [(d, o) for o, d in children.items()])
        parents = children


def forget_pack(db: sqlite3.Connection, pack: int) -> None:
    """Drop the delta and sketch rows of the chunks whose index rows point into ``pack`` (before those go)."""
    db.execute("DELETE FROM deltas WHERE oid IN (SELECT oid FROM objects WHERE pack=? AND kind=0)", (pack,))
    db.execute("DELETE FROM sketch WHERE oid IN (SELECT oid FROM objects WHERE pack=? AND kind=0)", (pack,))


def forget_oid(db: sqlite3.Connection, digest: bytes) -> None:
    """Drop one chunk's delta and sketch rows (quarantine)."""
    db.execute("DELETE FROM deltas WHERE oid=?", (digest,))
    db.execute("DELETE FROM sketch WHERE oid=?", (digest,))


def rebuild(store: LocalStore) -> int:
    """Make the ``deltas`` table again from the packs (every codec-2 chunk's payload names its base); return
    how many rows it has. Unreadable payloads are skipped (fsck reports them)."""
    with store._lock:
        rows = store._db.execute("SELECT oid, pack, offset FROM objects WHERE kind=0 AND codec=2").fetchall()
    bases: dict[Oid, Oid] = {}
    for digest, pack, offset in rows:
        try:
            prefix = store._pread(pack, offset, PREFIX)
        except (OSError, ArtError):  # a missing pack: fsck's business
            continue
        if len(prefix) == PREFIX:
            bases[Oid(digest.hex())] = Oid(prefix.hex())
    with store._lock:
        db = store._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM deltas")
            known: dict[Oid, int] = {}
            for oid in bases:
                trail: list[Oid] = []
                cur = oid
                while cur in bases and cur not in known and cur not in trail and len(trail) <= MAX_CHAIN:
                    trail.append(cur)
                    cur = bases[cur]
                d = known.get(cur, 0 if cur not in bases else UNUSABLE)
                for o in reversed(trail):
                    d = min(UNUSABLE, d + 1) if d < UNUSABLE else UNUSABLE
                    known[o] = d
            db.executemany(
                "INSERT INTO deltas VALUES (?, ?, ?)",
                [(bytes.fromhex(o), bytes.fromhex(b), known[o]) for o, b in bases.items()],
            )
            db.execute(f"PRAGMA user_version={VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return len(bases)
