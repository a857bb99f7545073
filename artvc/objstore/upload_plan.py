"""What an upload sends, and in what order (``transfer.upload`` and ``transfer.upload_closure`` carry it out).

``plan_closure`` walks the closure of some roots in batches of ``BATCH`` keys (trees and runs from a queue; a
tree's files, their chunks and delta bases directly, as the tree is decoded), with one batched local lookup and
one batched remote lookup per batch (not one query per object), reads each tree, manifest and run once, and, on
a push that trusts the remote, does not descend into what the remote already lists (its closure is there:
uploads publish children first). ``plan_keys`` plans an explicit set of objects.

Memory stays flat at millions of objects: the keys seen, the queue and the objects to send live in a
private temporary sqlite database (``Plan``: a file sqlite deletes when it is closed, with a small page
cache), not in Python sets; only the subtrees of the trees sent are kept in memory (for their order).

Deltas (pack codec 2) need their base: a chunk sent as a delta puts the chunk it is built on into the queue
(sent too unless the remote lists it), and ``Plan.delta_levels`` gives each delta whose base is sent a
publishing level one above its base's (``delta_push``), so the remote never lists a delta before its base.

Then ``Plan.whole_candidates`` names the local packs of chunks every one of which is sent at level 0: those
are published as they are (on a directory remote, a hard link), and ``Plan.ordered`` yields the rest in
order: chunks by delta level, then manifests, trees (a subtree before its parent) and runs, each group by
local position (pack, offset).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple, cast

from ..errors import CorruptObjectError, FormatError, ObjectNotFoundError
from .delta_push import levels, with_bases
from .lineage import Run, run_children
from .objects import EncodedTree, FileManifest, Kind
from .oid import Oid
from .store.delta import DELTA
from .store.local import LocalStore
from .store.pack import ENTRY, TRAILER, EntryTable, PackEntry, read_trailer_table, unpack_payload
from .store.remote import RemoteStore
from .types import EntryKind, Location, ObjectKey

ORDER = {Kind.CHUNK: 0, Kind.FILE: 1, Kind.TREE: 2, Kind.RUN: 3}
BATCH = 10_000  # keys taken from the queue at a time (and rows read back at a time)
CACHE_KIB = 8 << 10  # the plan database's page cache
_KINDS = {int(k): k for k in Kind}


class Send(NamedTuple):
    """One object an upload sends (``Plan.ordered`` yields them in sending order)."""

    order: int
    height: int
    pack: int
    offset: int
    oid: Oid
    kind: Kind
    loc: Location


class Whole(NamedTuple):
    """A local pack published as it is."""

    path: str
    name: str
    entries: Sequence[PackEntry]  # the trailer's records (an ``EntryTable``)


_SCHEMA = """
CREATE TABLE seen (oid BLOB NOT NULL, kind INTEGER NOT NULL, PRIMARY KEY (oid, kind)) WITHOUT ROWID;
CREATE TABLE queue (oid BLOB NOT NULL, kind INTEGER NOT NULL);
CREATE TABLE batch (oid BLOB NOT NULL, kind INTEGER NOT NULL);
CREATE TABLE marks (oid BLOB NOT NULL);  -- one-chunk files seen as their chunks (``_as_chunks``)
CREATE TABLE whole (pack INTEGER PRIMARY KEY);
CREATE TABLE todo (
    oid BLOB NOT NULL, kind INTEGER NOT NULL, ord INTEGER NOT NULL, height INTEGER NOT NULL,
    pack INTEGER NOT NULL, codec INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
    raw_length INTEGER NOT NULL);
CREATE INDEX todo_meta ON todo (oid, kind) WHERE kind != 0;
"""


class Plan:
    """The objects to send (table ``todo``), how many the remote has (``present``), those found nowhere
    locally (``missing``), and the subtrees of each tree to send (``named``). Close it (or use ``with``)."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("", isolation_level=None, check_same_thread=False)  # "": a private temp file
        self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self.db.execute("PRAGMA temp_store=FILE")
        self.db.executescript(_SCHEMA)
        self.db.execute("BEGIN")
        self.present = 0
        self.chunks_met = False  # whether a chunk key came through ``_fresh`` (see ``_as_chunks``)
        self.missing: list[ObjectKey] = []
        self.named: dict[Oid, list[Oid]] = {}

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Plan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building ------------------------------------------------------------------------------------------

    def _fresh(self, keys: Sequence[tuple[str, int]]) -> list[tuple[Oid, Kind]]:
        """The keys not seen yet (each once), now marked seen."""
        db = self.db
        if not self.chunks_met and any(k == Kind.CHUNK for _, k in keys):
            self.chunks_met = True  # from now on a chunk is looked up: the one-chunk files' marks join ``seen``
            db.execute("INSERT OR IGNORE INTO seen SELECT oid, 0 FROM marks ORDER BY oid")
            db.execute("DELETE FROM marks")
        db.execute("DELETE FROM batch")
        db.executemany("INSERT INTO batch VALUES (?, ?)", ((bytes.fromhex(o), int(k)) for o, k in keys))
        # one statement, in key order (neighbouring pages of ``seen``): the rows it inserts are the keys not seen
        # before (a key twice in the batch: once)
        rows = db.execute(
            "INSERT OR IGNORE INTO seen SELECT oid, kind FROM batch ORDER BY oid, kind RETURNING oid, kind"
        ).fetchall()
        return [(Oid(o.hex()), _KINDS[k]) for o, k in rows]

    def _as_chunks(self, keys: list[tuple[Oid, Kind]]) -> list[tuple[Oid, Kind]]:
        """The chunk keys of one-chunk files whose file keys were fresh: not seen yet (each once), now seen.
        Until a chunk key has come through ``_fresh`` (a manifest's chunks, a delta's base, a chunk root), none
        can have been seen but as such a file's, which is seen once: they are only marked, not looked up (a
        push of many small files otherwise looks each up twice, as a file and as its chunk), and the mark is
        appended to ``marks``, moved into ``seen`` (sorted, at once) only when the first chunk key comes: a push
        of small files only never writes them into ``seen``'s B-tree (100,000 files: ~0.3 CPU s)."""
        if self.chunks_met:
            return self._fresh(keys)
        self.db.executemany("INSERT INTO marks VALUES (?)", ((bytes.fromhex(o),) for o, _ in keys))
        return keys

    def _send(self, items: Iterable[tuple[Oid, Kind, Location]]) -> None:
        """Add objects to send; each once (the callers pass keys not seen before). ``todo`` has no key: rows are
        appended (a B-tree keyed by id took random writes, most of a push's plan), and found by id only through
        the index of its metadata rows or, when deltas need it, ``_keyed``'s."""
        self.db.executemany(
            "INSERT INTO todo VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?)",
            ((bytes.fromhex(oid), int(kind), ORDER[kind], *loc) for oid, kind, loc in items),
        )

    def _enqueue(self, keys: Iterable[tuple[str, int]]) -> None:
        self.db.executemany("INSERT INTO queue VALUES (?, ?)", ((bytes.fromhex(o), int(k)) for o, k in keys))

    def _take(self) -> list[tuple[str, int]]:
        """Up to ``BATCH`` keys off the queue."""
        rows = self.db.execute("SELECT rowid, oid, kind FROM queue ORDER BY rowid LIMIT ?", (BATCH,)).fetchall()
        if rows:
            self.db.execute("DELETE FROM queue WHERE rowid <= ?", (rows[-1][0],))
        return [(o.hex(), k) for _, o, k in rows]

    # -- reading -------------------------------------------------------------------------------------------

    def count(self) -> tuple[int, int]:
        """(objects, stored bytes) to send."""
        n, size = self.db.execute("SELECT count(*), coalesce(sum(length), 0) FROM todo").fetchone()
        return int(n), int(size)

    def _keyed(self) -> None:
        """Index every row of ``todo`` by id (once; only when chunks must be found by id: deltas)."""
        self.db.execute("CREATE INDEX IF NOT EXISTS todo_key ON todo (oid, kind)")

    def __contains__(self, key: object) -> bool:
        """Whether the plan sends ``key`` (a file: its manifest, or its chunk when it is one)."""
        self._keyed()
        oid, kind = cast(ObjectKey, key)
        kinds = (int(kind), int(Kind.CHUNK)) if kind == Kind.FILE else (int(kind),)
        sql = f"SELECT 1 FROM todo WHERE oid = ? AND kind IN ({','.join('?' * len(kinds))})"
        return self.db.execute(sql, (bytes.fromhex(oid), *kinds)).fetchone() is not None

    def delta_levels(self, src: LocalStore) -> None:
        """Give each delta the plan sends whose base it sends too its publishing level (its ``height``): one
        more than its base's (``delta_push.levels``). Call before ``whole_candidates`` and ``ordered``."""
        sql = "SELECT oid FROM todo WHERE ord = 0 AND codec = ?"
        deltas = [Oid(o.hex()) for (o,) in self.db.execute(sql, (DELTA,))]
        if not deltas:
            return
        self._keyed()
        named = list(set(src.delta_bases(deltas).values()))
        sent = {b for b in named if ObjectKey(b, Kind.CHUNK) in self}
        level = levels(src, sent.union(deltas))
        self.db.executemany(
            "UPDATE todo SET height = ? WHERE oid = ? AND kind = 0", ((h, bytes.fromhex(o)) for o, h in level.items())
        )

    def tree_heights(self, src: LocalStore) -> None:
        """Give each tree sent its height (a subtree before its parent), from ``named`` or read locally."""
        trees = {
            Oid(o.hex()): Location._make(row)
            for o, *row in self.db.execute(
                f"SELECT oid, pack, codec, offset, length, raw_length FROM todo WHERE kind = {int(Kind.TREE)}"
            )
        }
        heights: dict[Oid, int] = {}

        def height(oid: Oid) -> int:
            if oid not in heights:
                heights[oid] = 0
                named = self.named.get(oid)
                if named is None:
                    key = ObjectKey(oid, Kind.TREE)
                    named = [o for o, k in _named(key, _read(src, key, trees[oid])) if k == Kind.TREE]
                heights[oid] = 1 + max((height(c) for c in named if c in trees), default=0)
            return heights[oid]

        for oid in trees:
            height(oid)
        self.db.executemany(  # ``kind != 0`` spelled out: sqlite then uses the partial index (``todo_meta``)
            f"UPDATE todo SET height = ? WHERE oid = ? AND kind = {int(Kind.TREE)} AND kind != 0",
            ((h, bytes.fromhex(o)) for o, h in heights.items()),
        )

    def whole_candidates(self, src: LocalStore) -> Iterator[tuple[int, int]]:
        """(pack id, objects) of the local packs whose every sent object is a level-0 chunk, as many as its
        trailer lists (by the trailer's size): candidates for ``whole_pack``."""
        sql = "SELECT pack, count(*), max(height) FROM todo WHERE ord = 0 GROUP BY pack HAVING max(height) = 0"
        for pack_id, n, _ in self.db.execute(sql).fetchall():
            try:
                with open(src.pack_path(src.pack_name(pack_id)), "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    if size < TRAILER.size:
                        continue
                    listed = TRAILER.unpack(os.pread(f.fileno(), TRAILER.size, size - TRAILER.size))[0]
            except OSError:
                continue
            if listed == n * ENTRY.size:
                yield pack_id, n

    def whole_pack(self, src: LocalStore, pack_id: int, n: int) -> Whole | None:
        """The local pack ``pack_id`` to publish as it is (its trailer lists ``n`` chunks), or None. Its entries
        stay the trailer's checked records (``EntryTable``): published as the remote index byte for byte, with
        no ``PackEntry`` per chunk decoded and encoded again (100,000 files: ~0.3 CPU s of a push)."""
        name = src.pack_name(pack_id)
        path = src.pack_path(name)
        try:
            with open(path, "rb") as f:
                table, start = read_trailer_table(f, os.fstat(f.fileno()).st_size)
            entries = EntryTable.from_records(table)
        except (OSError, FormatError):
            return None
        chunk = int(Kind.CHUNK)
        if len(entries) != n or any(
            k != chunk or at + size > start for _, k, _, at, size, _ in ENTRY.iter_unpack(table)
        ):
            return None
        self.db.execute("INSERT OR IGNORE INTO whole VALUES (?)", (pack_id,))
        return Whole(str(path), name, entries)

    def ordered(self) -> Iterator[list[Send]]:
        """The objects to send that no whole pack carries, in sending order, ``BATCH`` at a time."""
        cur = self.db.execute(
            "SELECT ord, height, pack, offset, oid, kind, codec, length, raw_length FROM todo"
            " WHERE pack NOT IN (SELECT pack FROM whole) ORDER BY ord, height, pack, offset"
        )
        while rows := cur.fetchmany(BATCH):
            yield [
                Send(order, height, pack, offset, Oid(o.hex()), _KINDS[k], Location(pack, codec, offset, length, raw))
                for order, height, pack, offset, o, k, codec, length, raw in rows
            ]


def plan_keys(src: LocalStore, dest: RemoteStore, keys: Iterable[ObjectKey]) -> Plan:
    """The objects of ``keys`` that ``dest`` lacks (each must be in ``src``), with the bases of deltas.

    Raises:
        ObjectNotFoundError: when a key to send is not in ``src``.
    """
    plan = Plan()
    try:
        wanted = with_bases(src, keys)  # a delta's base goes too (delta_push)
        there = dest.has_many(wanted)  # one pass: batched, sampled for chunks on a checkpointed remote
        send = [ObjectKey(o, k) for o, k in wanted if (o, k) not in there]
        plan.present = len(wanted) - len(send)
        rows = src.locate_many(send)
        for oid, kind in send:
            if ObjectKey(oid, kind) not in rows:
                raise ObjectNotFoundError(oid, kind.label)
        plan._send((oid, kind, rows[ObjectKey(oid, kind)]) for oid, kind in send)
    except BaseException:
        plan.close()
        raise
    return plan


def plan_closure(src: LocalStore, dest: RemoteStore, roots: Iterable[ObjectKey], *, trust_remote: bool) -> Plan:
    """Everything reachable from ``roots`` that ``dest`` lacks.

    A file is its manifest, else (a one-chunk file) its chunk. An object missing locally goes to ``missing``
    (the remote may have it). With ``trust_remote``, an object the remote lists is not descended into.

    Raises:
        CorruptObjectError: when a local tree, manifest or run is damaged.
    """
    plan = Plan()
    try:
        plan._enqueue(roots)
        walk = _Walk(src, dest, plan, trust_remote)
        while keys := plan._take():
            walk.visit(keys)
            walk.drain()
    except BaseException:
        plan.close()
        raise
    return plan


class _Walk:
    """The closure walk of ``plan_closure``. Trees and runs go through the plan's queue (``Plan._enqueue``,
    ``Plan._take``); what hangs below them — a tree's files, a manifest's chunks, a delta's base — is walked
    directly, ``BATCH`` keys at a time (``leaves``), as the tree naming them is decoded: the queue's sqlite rows
    (an insert, a select and a delete per key) are paid by the few keys with children of their own, not by
    every file (a push of 20,000 small files in one folder: 3,841 -> 3,521 M instructions)."""

    def __init__(self, src: LocalStore, dest: RemoteStore, plan: Plan, trust: bool) -> None:
        self.src, self.dest, self.plan, self.trust = src, dest, plan, trust
        self.leaves: list[tuple[str, int]] = []  # files and chunks met, not yet through ``Plan._fresh``
        self.queued: list[tuple[str, int]] = []  # trees and runs met, not yet in the queue

    def drain(self) -> None:
        """Walk the leaves met so far, and theirs (a manifest's chunks, a delta's base), until none is left."""
        while self.leaves:
            batch, self.leaves = self.leaves, []
            self.visit(batch)
        self.plan._enqueue(self.queued)
        self.queued.clear()

    def _met(self, key: tuple[str, int]) -> None:
        if key[1] == Kind.TREE or key[1] == Kind.RUN:
            self.queued.append(key)
            if len(self.queued) >= BATCH:  # a folder of a million sub-folders: queued as its entries are decoded
                self.plan._enqueue(self.queued)
                self.queued.clear()
        else:
            self.leaves.append(key)
            if len(self.leaves) >= BATCH:  # a folder of a million files: walked as its entries are decoded
                self.drain()

    def visit(self, keys: Sequence[tuple[str, int]]) -> None:
        """Look up the keys not seen yet (one batched local and one batched remote lookup), plan what the
        remote lacks, and meet what it names (``_met``)."""
        src, plan = self.src, self.plan
        found = self._located(plan._fresh(keys))
        there = self.dest.has_many([k for k, _ in found]) if found else set()
        deltas: list[Oid] = []
        sends: list[tuple[Oid, Kind, Location]] = []
        for key, loc in found:
            oid, kind = key
            on_remote = key in there
            if on_remote:
                plan.present += 1
                if self.trust:
                    continue
            else:
                sends.append((oid, kind, loc))
                if kind == Kind.CHUNK and loc.codec == DELTA:
                    deltas.append(oid)
            if kind != Kind.CHUNK:
                subtrees = []
                for child in _named(ObjectKey(oid, kind), _read(src, ObjectKey(oid, kind), loc)):
                    if child[1] == Kind.TREE:
                        subtrees.append(child[0])
                    self._met(child)
                if kind == Kind.TREE and not on_remote:  # its subtrees, for ``tree_heights``
                    plan.named[oid] = subtrees
        plan._send(sends)
        if deltas:  # their bases go too, unless the remote lists them (asked when they are visited)
            for base in src.delta_bases(deltas).values():
                self._met((base, Kind.CHUNK))

    def _located(self, fresh: list[tuple[Oid, Kind]]) -> list[tuple[tuple[Oid, Kind], Location]]:
        """Where each fresh key is stored locally (a one-chunk file: as its chunk); the others go to
        ``missing``."""
        chunk_kind, file_kind = Kind.CHUNK, Kind.FILE
        rows = self.src.locate_oids({k[0] for k in fresh})
        found: list[tuple[tuple[Oid, Kind], Location]] = []
        as_chunks: list[tuple[Oid, Kind]] = []
        for key in fresh:
            loc = rows.get(key)  # type: ignore[call-overload]
            if loc is None and key[1] == file_kind and (key[0], chunk_kind) in rows:
                as_chunks.append((key[0], chunk_kind))  # a one-chunk file: known by its chunk
            elif loc is None:
                self.plan.missing.append(ObjectKey(*key))
            else:
                found.append((key, loc))
        if as_chunks:
            found += [(k, rows[k]) for k in self.plan._as_chunks(as_chunks)]  # type: ignore[index]
        return found


def _read(src: LocalStore, key: ObjectKey, loc: Location) -> bytes:
    stored = src.read_stored(loc.pack, loc.offset, loc.length)
    if len(stored) != loc.length:
        raise CorruptObjectError(key[0], "local pack is truncated", hint="run 'art fsck'")
    try:
        return unpack_payload(loc.codec, stored, loc.raw_length, int(key[1]))
    except FormatError as exc:
        raise CorruptObjectError(key[0], str(exc), hint="run 'art fsck'") from exc


def _named(key: ObjectKey, data: bytes) -> Iterator[tuple[Oid, Kind]]:
    """What a tree, manifest or run names (a file by its manifest's key; the walk falls back to its chunk). A
    tree is decoded an entry at a time (each checked as ``Tree.from_bytes`` checks it, its id first): a folder
    of a million files is never a million ``TreeEntry`` objects (about 700 bytes a file, most of a push's peak)."""
    oid, kind = key
    try:
        if kind == Kind.TREE:
            tree, file, dir_, link = Kind.TREE, Kind.FILE, EntryKind.DIR, EntryKind.SYMLINK
            for e in EncodedTree.stored(oid, data).iter_entries():
                if e.kind != link:
                    yield e.oid, tree if e.kind == dir_ else file
        elif kind == Kind.FILE:
            yield from [(c, Kind.CHUNK) for c, _ in FileManifest.from_bytes(oid, data).chunks]
        else:
            yield from [(o, k) for o, k in run_children(Run.from_bytes(oid, data))]
    except FormatError as exc:
        raise CorruptObjectError(oid, str(exc), hint="run 'art fsck'") from exc
