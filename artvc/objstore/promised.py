"""Promised objects: file manifests the local store holds without their chunks, because a remote holds them.

A lazy pull (``art pull --lazy``, ``workspace/lazy_pull.py``) writes a large file straight from the remote's
pack into the workspace and stores only its manifest; the remote it came from *promises* the chunks, as a
promisor remote does for git's partial clone. The table ``promised(oid, remote)`` in ``index.db`` names each
such manifest and the remote (by its configured name) that promised it. Rules (docs/design.md, "A pull at one
write"):

- a row is written before its manifest is stored, so a stored manifest without its chunks is always named here
  (a row whose manifest is not stored, or whose chunks all arrived since, is stale and dropped by ``settle``);
- checkout of a promised file whose workspace copy is gone or changed fetches its chunks from that remote
  (``lazy_fetch.fetch_promised``), fsck does not count its missing chunks as damage, gc has nothing of it to
  keep locally, and a push refuses to send a closure with promised files the destination does not list.

The table lives in ``index.db``, which is otherwise a cache of the packs: if the index is ever rebuilt the rows
are lost, the manifests stay, and their chunks show up as missing (``art fsck``) until a plain ``art pull``
fetches them (it asks for what a stored root lacks by name), so losing the table loses no data.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..errors import LocalStoreError
from .oid import Oid

if TYPE_CHECKING:
    from .store.local import LocalStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS promised (oid BLOB PRIMARY KEY, remote TEXT NOT NULL) WITHOUT ROWID;
"""
_BATCH = 500
MAX_REMOTE_NAME = 255  # a remote's name as stored (config names are short); longer rows are ignored


def promise(store: LocalStore, oids: Iterable[Oid], remote: str) -> None:
    """Record that ``remote`` promises the chunks of the manifests ``oids`` (call before storing them)."""
    rows = [(bytes.fromhex(o), remote) for o in oids]
    if not rows:
        return
    _write(store, "INSERT OR REPLACE INTO promised VALUES (?, ?)", rows)


def forget(store: LocalStore, oids: Iterable[Oid]) -> None:
    """Drop the promises of ``oids`` (their chunks are stored now, or the manifests are gone)."""
    rows = [(bytes.fromhex(o),) for o in oids]
    if rows:
        _write(store, "DELETE FROM promised WHERE oid=?", rows)


def promised(store: LocalStore, oids: Iterable[Oid] | None = None) -> dict[Oid, str]:
    """The promised manifests (all, or those among ``oids``) and the remote promising each."""
    out: dict[Oid, str] = {}
    try:
        db = store._reader()
        if oids is None:
            rows = db.execute("SELECT oid, remote FROM promised").fetchall()
        else:
            digests = list({bytes.fromhex(o) for o in oids})
            rows = []
            for i in range(0, len(digests), _BATCH):
                part = digests[i : i + _BATCH]
                query = f"SELECT oid, remote FROM promised WHERE oid IN ({','.join('?' * len(part))})"
                rows += db.execute(query, part).fetchall()
    except sqlite3.Error:  # an index an older art opened read-only has no table: nothing is promised
        return {}
    for digest, remote in rows:
        named = isinstance(remote, str) and 0 < len(remote) <= MAX_REMOTE_NAME
        if isinstance(digest, bytes) and len(digest) == 32 and named:
            out[Oid(digest.hex())] = remote
    return out


def any_promised(store: LocalStore) -> bool:
    """True when the table has a row (one indexed probe: commands skip every promised rule otherwise)."""
    try:
        return store._reader().execute("SELECT 1 FROM promised LIMIT 1").fetchone() is not None
    except sqlite3.Error:
        return False


def settle(store: LocalStore) -> list[Oid]:
    """Drop the rows whose manifest is no longer stored or whose chunks are all stored now; return the ids still
    promised (their manifest is stored and lacks a chunk)."""
    from .objects import FileManifest, Kind

    rows = promised(store)
    if not rows:
        return []
    have = store.has_many([(o, Kind.FILE) for o in rows])
    done: list[Oid] = [o for o in rows if (o, int(Kind.FILE)) not in have]
    left: list[Oid] = []
    for oid in rows:
        if (oid, int(Kind.FILE)) not in have:
            continue
        chunks = FileManifest.from_bytes(oid, store.get(oid, Kind.FILE)).chunks
        found = store.has_many([(c, Kind.CHUNK) for c, _ in chunks])
        if all((c, int(Kind.CHUNK)) in found for c, _ in chunks):
            done.append(oid)
        else:
            left.append(oid)
    forget(store, done)
    return left


def _write(store: LocalStore, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
    with store._lock:
        db = store._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(sql, rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise LocalStoreError(
                f"cannot record promised objects in {store.root / 'index.db'}: {exc}",
                hint="check the disk and run the command again",
            ) from exc
