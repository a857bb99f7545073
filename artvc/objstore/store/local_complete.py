"""A memo of roots the local store holds completely: every object below them was found indexed once.

Deciding that a tree is complete means reading every tree and file manifest below it (``incomplete_keys`` in
workspace/tracked.py). Objects leave the index in three ways only: gc drops packs (after copying what is live,
so a kept root keeps everything below it), fsck drops a pack that is gone, and fsck quarantines damaged
objects. Every one of them goes through ``forget`` in the same transaction, which empties the memo and bumps
its generation; a walk that started before a loss does not record its answer (``remember`` checks the
generation it read first). So a root in the memo is exactly as complete as a fresh walk would find it, and
``art status``/``pull``/``checkout`` on an unchanged store walk nothing twice.

Tables (in ``index.db``, a cache: rebuilding the index starts the memo empty): ``complete(oid, kind)`` and
``complete_gen(n)`` (one row).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..objects import Kind
from ..oid import Oid
from ..types import ObjectKey

if TYPE_CHECKING:
    from .local import LocalStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS complete (oid BLOB NOT NULL, kind INTEGER NOT NULL, PRIMARY KEY (oid, kind)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS complete_gen (n INTEGER NOT NULL);
"""
_BATCH = 500


def generation(store: LocalStore) -> int | None:
    """The memo's generation now (None when the memo cannot be used: a read-only store, an old index)."""
    if store.read_only:
        return None
    try:
        row = store._reader().execute("SELECT n FROM complete_gen LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else 0


def known_complete(store: LocalStore, keys: Iterable[ObjectKey]) -> set[ObjectKey]:
    """The ones among ``keys`` recorded complete (one query per few hundred ids)."""
    wanted: dict[bytes, set[int]] = {}
    for oid, kind in keys:
        wanted.setdefault(bytes.fromhex(oid), set()).add(int(kind))
    digests = list(wanted)
    out: set[ObjectKey] = set()
    try:
        for i in range(0, len(digests), _BATCH):
            part = digests[i : i + _BATCH]
            query = f"SELECT oid, kind FROM complete WHERE oid IN ({','.join('?' * len(part))})"
            for digest, kind in store._reader().execute(query, part).fetchall():
                if kind in wanted[digest]:
                    out.add(ObjectKey(Oid(digest.hex()), Kind(kind)))
    except sqlite3.Error:
        return set()
    return out


def remember(store: LocalStore, keys: Iterable[ObjectKey], gen: int | None) -> None:
    """Record ``keys`` complete, unless the store lost objects since ``gen`` was read (then the walk that
    found them complete may be out of date) or the memo cannot be written."""
    rows = [(bytes.fromhex(oid), int(kind)) for oid, kind in keys]
    if gen is None or not rows:
        return
    with store._lock:
        db = store._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            return  # busy or read-only: the memo is an optimisation
        try:
            row = db.execute("SELECT n FROM complete_gen LIMIT 1").fetchone()
            if (int(row[0]) if row else 0) == gen:
                db.executemany("INSERT OR IGNORE INTO complete VALUES (?, ?)", rows)
            db.execute("COMMIT")
        except sqlite3.Error:
            db.execute("ROLLBACK")


def forget(db: sqlite3.Connection) -> None:
    """Empty the memo and bump its generation: call inside the transaction that removes objects."""
    db.execute("DELETE FROM complete")
    if db.execute("UPDATE complete_gen SET n = n + 1").rowcount == 0:
        db.execute("INSERT INTO complete_gen VALUES (1)")
