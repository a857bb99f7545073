"""Maintenance of the local store (``art fsck``): check the packs' structure, rewrite damaged packs, and
quarantine damaged objects (hide their index rows so an intact copy is stored again); and the table of live
keys gc plans with (``LiveKeys``).

The read side of the quarantine (``LocalStore.raise_if_quarantined``) stays with the store's reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ...errors import CorruptObjectError, FormatError
from ..objects import Kind, check_object
from ..oid import Oid
from ..types import ObjectKey
from .delta import DELTA
from .local import LocalStore
from .local_complete import forget as forget_complete
from .local_delta import forget_oid as forget_delta
from .pack import PACK_MAGIC, encode_entries, pack_name, read_trailer, unpack_payload


def quarantine(store: LocalStore, keys: dict[ObjectKey, str]) -> int:
    """Hide damaged objects: move their index rows to the ``quarantine`` table (with the reason).

    The store then no longer has them, so ``add`` stores an intact copy again and ``pull`` fetches one;
    indexing that copy ends the quarantine. Returns how many rows moved.
    """
    moved = 0
    with store._lock:
        db = store._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for (oid, kind), reason in keys.items():
                key = (bytes.fromhex(oid), int(kind))
                row = db.execute("SELECT pack FROM objects WHERE oid=? AND kind=?", key).fetchone()
                if row is None:
                    continue
                db.execute("INSERT OR REPLACE INTO quarantine VALUES (?, ?, ?, ?)", (*key, row[0], reason))
                db.execute("DELETE FROM objects WHERE oid=? AND kind=?", key)
                if kind == Kind.CHUNK:
                    forget_delta(db, key[0])
                moved += 1
            if moved:
                forget_complete(db)
            db.execute("COMMIT")
            store.has_quarantine = store.has_quarantine or moved > 0
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return moved


def quarantined(store: LocalStore) -> list[tuple[Oid, Kind, str, str]]:
    """Return (oid, kind, pack name, reason) of every damaged object no intact copy has replaced yet."""
    with store._lock:
        rows = store._db.execute(
            "SELECT q.oid, q.kind, p.name, q.reason FROM quarantine q JOIN packs p ON p.id = q.pack ORDER BY q.oid"
        ).fetchall()
    return [(Oid(o.hex()), Kind(k), name, reason) for o, k, name, reason in rows]


def rewrite_packs(store: LocalStore, names: list[str]) -> tuple[int, dict[ObjectKey, str]]:
    """Copy the intact objects of packs whose structure is damaged into a new pack, then drop those packs.

    Each object is decompressed (a delta rebuilt from its bases) and checked against its id before it is
    copied (its stored bytes are reused); damaged ones are returned (key -> reason) and not copied. A pack is
    dropped only after the new pack holding its intact objects is sealed and indexed. Returns (objects copied, damaged).
    """
    damaged: dict[ObjectKey, str] = {}
    copied = 0
    with store.writer(rewrite=True) as writer:
        for name in names:
            with store._lock:
                rows = store._db.execute(
                    "SELECT o.oid, o.kind FROM objects o JOIN packs p ON p.id = o.pack WHERE p.name=?", (name,)
                ).fetchall()
            for digest, kind in rows:
                oid, kind = Oid(digest.hex()), Kind(kind)
                try:
                    codec, stored, raw_length = store.get_stored(oid, kind)
                    check_object(
                        oid, kind, store.get(oid, kind) if codec == DELTA else unpack_payload(codec, stored, raw_length)
                    )
                except (FormatError, CorruptObjectError) as exc:
                    damaged[ObjectKey(oid, kind)] = str(exc)
                    continue
                writer.put_stored(oid, kind, codec, stored, raw_length)
                copied += 1
    store.drop_packs(names)
    return copied, damaged


def check_packs(store: LocalStore) -> list[tuple[str, str]]:
    """Check every indexed pack's structure; return (pack name, what is wrong) for each bad one.

    Checked: the file exists and has the indexed size, its header magic, its trailer (end magic and
    table length), that its entry table hashes to its name, and that every index row of the pack
    is one of the trailer's entries. Payloads are not read (``verify_store`` does that).
    """
    with store._lock:
        packs = store._db.execute("SELECT id, name, size FROM packs").fetchall()
    bad: list[tuple[str, str]] = []
    good: dict[int, Path] = {}
    for pack, name, size in packs:
        path = store.pack_path(name)
        try:
            with open(path, "rb") as f:
                actual = os.fstat(f.fileno()).st_size
                head = f.read(len(PACK_MAGIC))
                entries = read_trailer(f, actual) if actual == size else None
        except FileNotFoundError:
            bad.append((name, "indexed pack file is missing"))
            continue
        except FormatError as exc:
            bad.append((name, f"pack structure is damaged: {exc}"))
            continue
        if actual != size:
            bad.append((name, f"pack file has {actual} bytes, the index says {size}"))
        elif head != PACK_MAGIC:
            bad.append((name, "pack header is damaged"))
        elif entries is None or pack_name(encode_entries(entries)) != name:
            bad.append((name, "pack entry table does not hash to the pack's name"))
        else:
            good[pack] = path
    # the index rows, a pack at a time (sqlite sorts them by pack), against that pack's trailer alone: memory
    # holds one pack's entries, not every object's
    wrong: dict[int, int] = {}
    table: dict[tuple[bytes, int], tuple[int, int, int, int]] | None = None
    current = None
    for oid, kind, pack, *row in store._reader().execute(
        "SELECT oid, kind, pack, codec, offset, length, raw_length FROM objects ORDER BY pack"
    ):
        if pack != current:
            current, table = pack, _trailer_table(good.get(pack))
        if table is not None and table.get((oid, kind)) != tuple(row):
            wrong[pack] = wrong.get(pack, 0) + 1
    names = {pack: name for pack, name, _ in packs}
    bad += [(names[p], f"{n} index row(s) disagree with the pack's trailer") for p, n in wrong.items()]
    return bad


def _trailer_table(path: Path | None) -> dict[tuple[bytes, int], tuple[int, int, int, int]] | None:
    """(oid, kind) -> (codec, offset, length, raw length) of a pack that passed ``check_packs``'s checks."""
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            entries = read_trailer(f, os.fstat(f.fileno()).st_size)
    except (OSError, FormatError):
        return None
    return {(bytes.fromhex(e.oid), e.kind): (e.codec, e.offset, e.length, e.raw_length) for e in entries}


class LiveKeys:
    """The keys gc keeps (or ``du`` measures), in a TEMP table of the store's index connection rather than a
    Python set: memory stays flat at millions of objects, and the plan is a join with the index
    (``objstore.gc.plan_local``). ``table`` names the table (two sets of keys can live side by side). Dropped
    by ``close`` (or with the connection)."""

    def __init__(self, store: LocalStore, table: str = "gc_live") -> None:
        if not table.isidentifier():
            raise ValueError(f"not a table name: {table!r}")
        self.store = store
        self._t = f"temp.{table}"
        with store._lock:
            store._db.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {table} (oid BLOB NOT NULL, kind INTEGER NOT NULL,"
                " PRIMARY KEY (oid, kind)) WITHOUT ROWID"
            )
            store._db.execute(f"DELETE FROM {self._t}")

    def add(self, keys: Iterable[tuple[str, int]]) -> None:
        rows = [(bytes.fromhex(o), int(k)) for o, k in keys]
        with self.store._lock:
            self.store._db.executemany(f"INSERT OR IGNORE INTO {self._t} VALUES (?, ?)", rows)

    def add_new(self, oid: str, kind: int) -> bool:
        """Add one key; True when it was not there yet."""
        with self.store._lock:
            cur = self.store._db.execute(f"INSERT OR IGNORE INTO {self._t} VALUES (?, ?)", (bytes.fromhex(oid), kind))
        return cur.rowcount == 1

    def add_bases(self) -> int:
        """Add the delta bases of the live chunks, transitively (a base goes only with the last delta built on
        it; chains are bounded, so this is a few joins); return how many were added."""
        sql = (
            f"INSERT OR IGNORE INTO {self._t} SELECT d.base, 0 FROM deltas d"
            f" JOIN {self._t} l ON l.oid = d.oid AND l.kind = 0"
        )
        added = 0
        with self.store._lock:
            while (n := self.store._db.execute(sql).rowcount) > 0:
                added += n
        return added

    def __contains__(self, key: tuple[str, int]) -> bool:
        sql = f"SELECT 1 FROM {self._t} WHERE oid=? AND kind=?"
        with self.store._lock:
            return self.store._db.execute(sql, (bytes.fromhex(key[0]), int(key[1]))).fetchone() is not None

    def stored(self) -> int:
        """How many of the keys the index holds (the live objects)."""
        sql = f"SELECT count(*) FROM objects o JOIN {self._t} l ON l.oid = o.oid AND l.kind = o.kind"
        with self.store._lock:
            return int(self.store._db.execute(sql).fetchone()[0])

    def packs(self) -> list[tuple[str, int, int]]:
        """(pack name, its dead objects, its highest kind) for every indexed pack."""
        sql = (
            "SELECT p.name, sum(l.oid IS NULL), max(o.kind) FROM objects o JOIN packs p ON p.id = o.pack"
            f" LEFT JOIN {self._t} l ON l.oid = o.oid AND l.kind = o.kind GROUP BY o.pack"
        )
        with self.store._lock:
            return [(r[0], r[1], r[2]) for r in self.store._db.execute(sql)]

    def in_pack(self, name: str, *, live: bool) -> list[tuple[str, int, int]]:
        """(oid, kind, raw length) of the live (or dead) objects of pack ``name``, in pack order."""
        sql = (
            "SELECT o.oid, o.kind, o.raw_length FROM objects o JOIN packs p ON p.id = o.pack"
            f" LEFT JOIN {self._t} l ON l.oid = o.oid AND l.kind = o.kind"
            f" WHERE p.name = ? AND l.oid IS {'NOT ' if live else ''}NULL ORDER BY o.offset"
        )
        with self.store._lock:
            return [(r[0].hex(), r[1], r[2]) for r in self.store._db.execute(sql, (name,))]

    def usage(self) -> tuple[int, int, int, int]:
        """(keys the index holds, their stored bytes, their chunks' bytes before compression, keys it lacks)."""
        sql = (
            "SELECT count(o.oid), coalesce(sum(o.length), 0),"
            " coalesce(sum(CASE WHEN o.kind = 0 THEN o.raw_length ELSE 0 END), 0), coalesce(sum(o.oid IS NULL), 0)"
            f" FROM {self._t} l LEFT JOIN objects o ON o.oid = l.oid AND o.kind = l.kind"
        )
        with self.store._lock:
            row = self.store._db.execute(sql).fetchone()
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    def merge_into(self, other: LiveKeys) -> None:
        """Add these keys to ``other`` (another table of the same store)."""
        with self.store._lock:
            self.store._db.execute(f"INSERT OR IGNORE INTO {other._t} SELECT oid, kind FROM {self._t}")

    def clear(self) -> None:
        with self.store._lock:
            self.store._db.execute(f"DELETE FROM {self._t}")

    def close(self) -> None:
        with self.store._lock:
            self.store._db.execute(f"DROP TABLE IF EXISTS {self._t}")

    def __enter__(self) -> LiveKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
