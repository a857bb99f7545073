"""The stat cache (``.art/state.db``): path, inode, mtime, size -> id, so an unchanged file is never rehashed.

An entry whose mtime lies within ``RACY_NS`` of the moment it was recorded is not trusted (git's "racily
clean" rule): a same-size rewrite inside one filesystem timestamp tick would otherwise go unseen.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from ..objstore.hashing import hash_file
from ..objstore.oid import Oid, is_oid
from ..objstore.scan import RACY_NS  # one racy window for files and folders

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, ino INTEGER, mtime INTEGER, size INTEGER,
                                 oid TEXT, recorded INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dirs (path TEXT PRIMARY KEY, sig TEXT, oid TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS produced (oid TEXT, path TEXT, run TEXT, started TEXT, PRIMARY KEY (oid, path, run))
    WITHOUT ROWID;
"""


class StatCache:
    """Stat cache keyed by repo-relative path; reads are batched per prefix, writes buffered until flush."""

    def __init__(self, db_path: Path, root: Path) -> None:
        self.root = str(root).rstrip("/") + "/"
        self.db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(_SCHEMA)
        self._rows: dict[str, tuple] = {}
        self._loaded: set[str] = set()
        self._pending: list[tuple] = []

    def _rel(self, path: str) -> str:
        return path[len(self.root):] if path.startswith(self.root) else path

    def preload(self, prefix: str) -> None:
        """Load every entry at or under repo-relative ``prefix`` with one query."""
        if prefix in self._loaded:
            return
        self._loaded.add(prefix)
        rows = self.db.execute("SELECT path, ino, mtime, size, oid, recorded FROM stat "
                                "WHERE path = ? OR (path >= ? AND path < ?)", (prefix, prefix + "/", prefix + "0"))
        for path, *rest in rows:
            self._rows[path] = tuple(rest)

    def lookup(self, path: str, st: os.stat_result) -> Oid | None:
        rel = self._rel(path)
        row = self._rows.get(rel)
        if row is None and not any(rel == p or rel.startswith(p + "/") for p in self._loaded):
            found = self.db.execute("SELECT ino, mtime, size, oid, recorded FROM stat WHERE path=?",
                                     (rel,)).fetchone()
            row = tuple(found) if found else None
        if row is None:
            return None
        ino, mtime, size, oid, recorded = row
        if not (is_oid(oid) and all(type(v) is int for v in (ino, mtime, size, recorded))):
            return None  # a damaged row is a cache miss: the file is hashed again
        if ino == st.st_ino and mtime == st.st_mtime_ns and size == st.st_size and mtime + RACY_NS < recorded:
            return Oid(oid)
        return None

    def oid_of(self, path: str, st: os.stat_result) -> Oid:
        """The id of the file at ``path`` with stat ``st``: remembered, or hashed now and remembered."""
        oid = self.lookup(path, st)
        if oid is None:
            oid = hash_file(path)
            self.record(path, st, oid)
        return oid

    def record(self, path: str, st: os.stat_result, oid: Oid, *, written: bool = False) -> None:
        """Remember ``oid`` for this stat data.

        ``written=True`` is for files art itself just wrote and verified: they are trusted at once instead of
        after the racy window (which would make the first status after a checkout re-hash everything). Only a
        same-size rewrite by someone else inside the same filesystem timestamp tick could go unseen.
        """
        rel = self._rel(path)
        now = time.time_ns()
        recorded = max(now, st.st_mtime_ns + RACY_NS + 1) if written else now
        row = (st.st_ino, st.st_mtime_ns, st.st_size, str(oid), recorded)
        self._rows[rel] = row
        self._pending.append((rel, *row))

    def dir_entry(self, path: str) -> tuple[str, str] | None:
        row = self.db.execute("SELECT sig, oid FROM dirs WHERE path=?", (path,)).fetchone()
        return (row[0], row[1]) if row and isinstance(row[0], str) and is_oid(row[1]) else None

    def set_dir(self, path: str, sig: str, oid: Oid) -> None:
        self.db.execute("INSERT OR REPLACE INTO dirs VALUES (?, ?, ?)", (path, sig, str(oid)))

    def flush(self) -> None:
        if self._pending:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?, ?)", self._pending)
            self.db.execute("COMMIT")
            self._pending.clear()

    def close(self) -> None:
        self.flush()
        self.db.close()
