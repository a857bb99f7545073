"""``.art/state.db``, owned by ``StateDB`` (the only code that runs SQL on it, with its base ``FolderState`` in
``state_folders.py``): the stat cache (path, inode, mtime, ctime, size -> id, so an unchanged file is never
rehashed), the folder signatures and the snapshots of large folders (``state_folders.py``), and the run index (which run
produced which artifact, which runs have a run key, the artifact versions step runs made, the pipeline runs;
``workspace/runs.py`` keeps it).

An entry matches a file only when inode, mtime, ctime and size all match: ctime catches a same-size rewrite
whose mtime was set back (``touch -d``, ``rsync -t``, ``cp -p``), which no program can do to ctime. An entry
whose mtime lies within ``RACY_NS`` of the moment it was recorded is not trusted (git's "racily clean" rule):
a same-size rewrite inside one filesystem timestamp tick would otherwise go unseen. (What slips through both:
a same-size rewrite that also sets mtime back, made within one ctime tick of the file's previous change and
after art read it.)
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from ..objstore.fileio import remove_if_present
from ..objstore.hashing import hash_file
from ..objstore.oid import Oid, is_oid
from ..objstore.oserrors import notice, writable
from ..objstore.scan import RACY_NS  # one racy window for files and folders
from ..objstore.sqlitedb import connect_no_write, insert_many, open_wal, sync_level
from .state_folders import SNAPSHOT_SCHEMA, FolderState

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, ino INTEGER, mtime INTEGER, size INTEGER,
                                 oid TEXT, recorded INTEGER, ctime INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trees (path TEXT PRIMARY KEY, sig TEXT, oid TEXT, size INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS produced (oid TEXT, path TEXT, run TEXT, started TEXT, PRIMARY KEY (oid, path, run))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runkeys (key TEXT, run TEXT, started TEXT, PRIMARY KEY (key, run)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consumed (path TEXT, run TEXT, oid TEXT, producer TEXT, started TEXT,
                                     PRIMARY KEY (path, run)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS consumed_by_producer ON consumed (producer);
CREATE TABLE IF NOT EXISTS runs (run TEXT PRIMARY KEY, started TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS facts (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (name TEXT, oid TEXT, run TEXT, started TEXT, PRIMARY KEY (name, oid, run))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pipeline_runs (run TEXT PRIMARY KEY, pipeline TEXT, started TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS add_runs (run TEXT PRIMARY KEY, started TEXT) WITHOUT ROWID;
"""
    + SNAPSHOT_SCHEMA
)

# 2: every run and what it consumed (art lineage --used-by); 3: artifact versions and pipeline runs (art runs);
# 4: art add runs (art runs lists them too)
RUNS_INDEX_VERSION = "4"
# the tables of the run index, in the order ``run_index`` returns their rows
_RUN_TABLES = ("produced", "runkeys", "consumed", "runs", "versions", "pipeline_runs", "add_runs")

_BATCH = 500
_TOKEN = "fsmonitor-token"  # facts: the file-system monitor's token (``workspace/fsmonitor.py``)
_LOOKUP = (
    "SELECT path, ino, mtime, size, oid, recorded, ctime FROM stat WHERE path IN ({}) AND typeof(ino) = 'integer' "
    "AND typeof(mtime) = 'integer' AND typeof(size) = 'integer' AND typeof(recorded) = 'integer' "
    "AND typeof(ctime) = 'integer' AND typeof(oid) = 'text'"
)


_MATCH_BATCH = 160  # files to a ``_match_sql`` query (6 values each: under the 999 of old sqlite builds)


def _match_sql(count: int) -> str:
    """The stat-cache ids that hold for ``count`` files, each given as (position, path, inode, mtime, ctime,
    size), then the racy window: rows whose every fact matches, of the right types, recorded after the window."""
    return (
        f"WITH q(k, path, ino, mtime, ctime, size) AS (VALUES {','.join(['(?,?,?,?,?,?)'] * count)}) SELECT q.k, "
        "s.oid FROM q JOIN stat s ON s.path = q.path WHERE s.ino = q.ino AND s.mtime = q.mtime AND s.ctime = "
        "q.ctime AND s.size = q.size AND typeof(s.ino) = 'integer' AND typeof(s.mtime) = 'integer' AND "
        "typeof(s.size) = 'integer' AND typeof(s.recorded) = 'integer' AND typeof(s.ctime) = 'integer' AND "
        "typeof(s.oid) = 'text' AND length(s.oid) = 64 AND s.mtime + ? < s.recorded"
    )


class StateDB(FolderState):
    """``state.db``, the one owner of its SQL. The stat cache is keyed by repo-relative path; lookups are sqlite
    seeks (one query per batch of paths), writes are buffered and flushed every ``FLUSH_EVERY`` rows, so memory
    stays flat at any number of files.

    It is a cache, so it never stops a command: a damaged ``state.db`` is deleted and rebuilt (with a notice;
    files are hashed again once), and when ``.art`` is read-only the cache is read into memory and what the
    command learns is kept only until it exits.
    """

    FLUSH_EVERY = 2048

    def __init__(self, db_path: Path, root: Path, *, fsync: bool = False) -> None:
        self.root = str(root).rstrip("/") + "/"
        self.read_only = False
        try:
            self.db = _open(db_path, fsync)
        except sqlite3.DatabaseError as exc:
            if _is_read_only(db_path, exc):
                self.read_only = True
                self.db = _in_memory_copy(db_path)
            else:  # not a database, or damaged beyond opening: it is a cache, start it again
                _delete(db_path)
                notice(f"{db_path} was damaged ({exc}); it is a cache and was rebuilt (files are hashed again once)")
                self.db = _open(db_path, fsync)
        self._pending: dict[str, tuple] = {}  # recorded, not yet flushed
        self._pending_trees: dict[str, tuple[str, str, int]] = {}
        self._token: tuple[str, str | None] | None = None
        self.locked: Callable[[], bool] = _never  # whether the repository lock is held (``Repo.state`` sets it)
        self.view = False  # a read-only view (``view``): nothing is ever written to the file

    @classmethod
    def view_of(cls, db_path: Path, root: Path, *, image: bytes | None = None) -> StateDB:
        """A read-only view of ``db_path`` that creates, changes and locks nothing (``art ui``): read in place
        (``sqlitedb.connect_no_write``), or, when the run index in it is missing or older than what art
        records now, copied into memory and left for the caller to complete there (``runs_indexed`` is
        False). What a reader records stays in memory. ``image``: a serialized database to read instead (one
        completed before)."""
        self = cls.__new__(cls)
        self.root = str(root).rstrip("/") + "/"
        self.read_only = True
        self.view = True
        self._pending = {}
        self._pending_trees = {}
        self._token = None
        self.locked = _never
        if image is not None:
            self.db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            self.db.deserialize(image)
            return self
        db = connect_no_write(db_path) if db_path.is_file() else None
        try:
            if db is not None:
                db.execute("SELECT count(*) FROM add_runs").fetchone()  # the newest table: the schema is current
                db.execute("SELECT ctime FROM stat LIMIT 0").fetchone()  # and the newest column
                db.execute("SELECT sig FROM trees LIMIT 0").fetchone()
                row = db.execute("SELECT value FROM facts WHERE key='runs-index'").fetchone()
                if row is not None and row[0] == RUNS_INDEX_VERSION:
                    self.db = db
                    return self
        except sqlite3.DatabaseError:
            pass
        if db is not None:
            db.close()
        self.db = _in_memory_copy(db_path)
        return self

    def _rel(self, path: str) -> str:
        return path[len(self.root) :] if path.startswith(self.root) else path

    @staticmethod
    def _valid(row: tuple | None, st: os.stat_result) -> Oid | None:
        if row is None:
            return None
        ino, mtime, size, oid, recorded, ctime = row
        if not (is_oid(oid) and all(type(v) is int for v in (ino, mtime, size, recorded, ctime))):
            return None  # a damaged row (or one from before ctime was kept) is a cache miss: hashed again
        if (
            ino == st.st_ino
            and mtime == st.st_mtime_ns
            and ctime == st.st_ctime_ns
            and size == st.st_size
            and mtime + RACY_NS < recorded
        ):
            return Oid(oid)
        return None

    def lookup(self, path: str, st: os.stat_result) -> Oid | None:
        rel = self._rel(path)
        row = self._pending.get(rel)
        if row is None:
            sql = "SELECT ino, mtime, size, oid, recorded, ctime FROM stat WHERE path=?"
            found = self.db.execute(sql, (rel,)).fetchone()
            row = tuple(found) if found else None
        return self._valid(row, st)

    def _rows(self, items: list[tuple[str, os.stat_result]]) -> tuple[list[str], dict[str, tuple]]:
        """The repo-relative paths of ``items`` and their stat-cache rows (path, ino, mtime, size, oid, recorded,
        ctime), with one query per ``_BATCH`` paths; sqlite checks the columns' types."""
        root = self.root
        n = len(root)
        rels = [p[n:] if p.startswith(root) else p for p, _ in items]
        rows: dict[str, tuple] = {}
        for i in range(0, len(rels), _BATCH):
            part = rels[i : i + _BATCH]
            rows.update({r[0]: r for r in self.db.execute(_LOOKUP.format(",".join("?" * len(part))), part)})
        return rels, rows

    def lookup_many(self, items: list[tuple[str, os.stat_result]]) -> list[Oid | None]:
        """``lookup`` for many files: one query per ``_BATCH`` paths."""
        rels, rows = self._rows(items)
        pending = self._pending
        return [
            self._valid(pending.get(rel) or (row[1:] if (row := rows.get(rel)) else None), st)
            for rel, (_, st) in zip(rels, items, strict=True)
        ]

    def digests_of(self, items: list[tuple[str, os.stat_result]]) -> list[bytes]:
        """The 32-byte ids of many files (absolute path, stat), as ``oids_of`` finds them, for ``art status``
        rebuilding a folder's tree: sqlite compares each row with the file's stat data, the columns' types and
        the racy rule (``_match_sql``, ``_MATCH_BATCH`` files a query) and returns only the ids that hold; a
        file without one is hashed (and remembered)."""
        n, root, pending = len(self.root), self.root, self._pending
        out: list[bytes | None] = [None] * len(items)
        asked: list[object] = []  # (position, path, inode, mtime, ctime, size) of each file not buffered here
        for k, (path, st) in enumerate(items):
            rel = path[n:] if path.startswith(root) else path
            if (row := pending.get(rel)) is None:
                asked += (k, rel, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
            elif (oid := self._valid(row, st)) is not None:
                out[k] = oid.digest
        for i in range(0, len(asked), 6 * _MATCH_BATCH):
            part = asked[i : i + 6 * _MATCH_BATCH]
            for k, text in self.db.execute(_match_sql(len(part) // 6), (*part, RACY_NS)):
                try:
                    out[k] = bytes.fromhex(text)  # 64 characters that are hex: 32 bytes (any case is one id)
                except ValueError:
                    pass  # a damaged row: hashed again
        for k, digest in enumerate(out):
            if digest is None:  # unknown, changed, or a damaged row: hash it, as oids_of does
                path, st = items[k]
                oid = hash_file(path)
                self.record(path, st, oid)
                out[k] = oid.digest
        return cast("list[bytes]", out)

    def knows_under(self, folder: str) -> bool:
        """False when no file under ``folder`` (absolute, or the workspace root) is remembered: a first add of a
        folder then asks nothing per file (one indexed range query here)."""
        prefix = self._rel(os.path.join(folder, ""))
        if prefix == "/":  # the workspace root itself
            prefix = ""
        if any(rel.startswith(prefix) for rel in self._pending):
            return True
        if not prefix:
            return self.db.execute("SELECT 1 FROM stat LIMIT 1").fetchone() is not None
        # every path starting with "a/b/" sorts from "a/b/" up to (not including) "a/b0" ("0" follows "/")
        sql = "SELECT 1 FROM stat WHERE path >= ? AND path < ? LIMIT 1"
        return self.db.execute(sql, (prefix, prefix[:-1] + "0")).fetchone() is not None

    def oid_of(self, path: str, st: os.stat_result) -> Oid:
        """The id of the file at ``path`` with stat ``st``: remembered, or hashed now and remembered."""
        oid = self.lookup(path, st)
        if oid is None:
            oid = hash_file(path)
            self.record(path, st, oid)
        return oid

    def oids_of(self, items: list[tuple[str, os.stat_result]]) -> list[Oid]:
        """``oid_of`` for many files, with one cache query per batch."""
        out = self.lookup_many(items)
        for i, (path, st) in enumerate(items):
            if out[i] is None:
                oid = out[i] = hash_file(path)
                self.record(path, st, oid)
        return cast("list[Oid]", out)  # every None was replaced

    def record(self, path: str, st: os.stat_result, oid: Oid, *, written: bool = False) -> None:
        """Remember ``oid`` for this stat data.

        ``written=True`` is for files art itself just wrote and verified: they are trusted at once instead of
        after the racy window (which would make the first status after a checkout re-hash everything). Only a
        same-size rewrite by someone else inside the same filesystem timestamp tick could go unseen.
        """
        rel = self._rel(path)
        now = time.time_ns()
        recorded = max(now, st.st_mtime_ns + RACY_NS + 1) if written else now
        self._pending[rel] = (st.st_ino, st.st_mtime_ns, st.st_size, str(oid), recorded, st.st_ctime_ns)
        if len(self._pending) >= self.FLUSH_EVERY:
            self.flush()

    def rows(self, items: list[tuple[str, os.stat_result, Oid]], *, written: bool = False) -> list[tuple[str, tuple]]:
        """The rows ``record`` would buffer for these files, just hashed (or just ``written`` and verified, as
        ``record`` takes it); touches nothing, so any thread may compute them (ingest and checkout workers do)
        for ``record_rows`` to buffer."""
        now, root = time.time_ns(), self.root
        n = len(root)
        trust = RACY_NS + 1 if written else None
        return [
            (
                path[n:] if path.startswith(root) else path,
                (
                    st.st_ino,
                    st.st_mtime_ns,
                    st.st_size,
                    str(oid),
                    now if trust is None else max(now, st.st_mtime_ns + trust),
                    st.st_ctime_ns,
                ),
            )
            for path, st, oid in items
        ]

    def record_rows(self, rows: list[tuple[str, tuple]]) -> None:
        """Buffer rows made by ``rows`` (flushed with the rest)."""
        self._pending.update(rows)
        if len(self._pending) >= self.FLUSH_EVERY:
            self.flush()

    def monitor_token(self) -> str | None:
        """The file-system monitor's token stored with the folder signatures: every folder the daemon does not
        report as changed since it still has its remembered signature (a ``dropped:`` value is no token)."""
        row = self.db.execute("SELECT value FROM facts WHERE key=?", (_TOKEN,)).fetchone()
        return row[0] if row and isinstance(row[0], str) else None

    def set_monitor_token(self, token: str, expected: str | None) -> None:
        """Store ``token`` with the next ``flush``, in the signatures' transaction, if the stored one is still
        ``expected`` (the one the session read: not replaced by a signature written outside the lock)."""
        self._token = (token, expected)

    # -- the run index ---------------------------------------------------------------------------------

    def add_run(
        self,
        run: str,
        started: str,
        outputs: list[tuple[str, str]],
        run_key: str | None,
        *,
        consumed: Sequence[tuple[str, str | None, str | None]] = (),
    ) -> None:
        """Index run ``run``: the (oid, path) outputs it produced, the (path, oid, producing run) inputs it
        consumed and, for a successful run, its run key."""
        db = self.db
        db.execute("BEGIN")
        try:
            db.execute("INSERT OR IGNORE INTO runs VALUES (?, ?)", (run, started))
            db.executemany(
                "INSERT OR IGNORE INTO produced VALUES (?, ?, ?, ?)", [(o, p, run, started) for o, p in outputs]
            )
            db.executemany(
                "INSERT OR IGNORE INTO consumed VALUES (?, ?, ?, ?, ?)",
                [(p, run, o, producer, started) for p, o, producer in consumed],
            )
            if run_key:
                db.execute("INSERT OR IGNORE INTO runkeys VALUES (?, ?, ?)", (run_key, run, started))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def add_versions(self, run: str, started: str, outputs: list[tuple[str, str]]) -> None:
        """Index the (artifact name, oid) outputs of step run ``run`` (artifact versions)."""
        self.db.executemany(
            "INSERT OR IGNORE INTO versions VALUES (?, ?, ?, ?)", [(n, o, run, started) for n, o in outputs]
        )

    def add_pipeline_run(self, run: str, pipeline: str, started: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO pipeline_runs VALUES (?, ?, ?)", (run, pipeline, started))

    def add_add_run(self, run: str, started: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO add_runs VALUES (?, ?)", (run, started))

    def listed_runs(self, limit: int | None = None, pipeline: str | None = None) -> list[tuple[str, str]]:
        """(run, "pipeline" | "add") of the newest ``limit`` (None: every) pipeline runs and ``art add`` runs,
        newest first; with ``pipeline``, only the pipeline runs of that pipeline."""
        if pipeline:
            sql = "SELECT run, 'pipeline', started FROM pipeline_runs WHERE pipeline=?"
            args: tuple = (pipeline,)
        else:
            sql = (
                "SELECT run, 'pipeline', started FROM pipeline_runs UNION ALL SELECT run, 'add', started FROM add_runs"
            )
            args = ()
        sql += " ORDER BY started DESC, run" + (" LIMIT ?" if limit is not None else "")
        return [(r[0], r[1]) for r in self.db.execute(sql, (*args, limit) if limit is not None else args)]

    def artifact_names(self) -> list[tuple[str, int, str]]:
        """Every artifact name with its number of versions and the time of its newest run, by name."""
        sql = "SELECT name, COUNT(DISTINCT oid), MAX(started) FROM versions GROUP BY name ORDER BY name"
        return [(r[0], r[1], r[2]) for r in self.db.execute(sql)]

    def artifact_versions(self, name: str) -> list[tuple[str, list[str]]]:
        """The versions of artifact ``name``: (oid, the runs that produced it, first first), numbered 1..N in this
        order: by the first run that produced each oid (by started time, ties by run id)."""
        rows = self.db.execute("SELECT oid, run, started FROM versions WHERE name=? ORDER BY started, run", (name,))
        found: dict[str, list[str]] = {}
        for oid, run, _ in rows:
            found.setdefault(oid, []).append(run)
        return list(found.items())

    def pipeline_runs(self, limit: int, pipeline: str | None = None) -> list[str]:
        """The newest ``limit`` pipeline runs (of ``pipeline`` when given), newest first."""
        sql = "SELECT run FROM pipeline_runs" + (" WHERE pipeline=?" if pipeline else "")
        sql += " ORDER BY started DESC, run LIMIT ?"
        return [r[0] for r in self.db.execute(sql, (pipeline, limit) if pipeline else (limit,))]

    def flow_runs(self) -> list[str]:
        """Every step and pipeline run the index knows (push and gc roots)."""
        sql = "SELECT DISTINCT run FROM versions UNION SELECT run FROM pipeline_runs"
        return [r[0] for r in self.db.execute(sql)]

    def copy_produced(self, oid: str, old_path: str, new_path: str) -> None:
        """Let the runs that produced ``oid`` at ``old_path`` answer for ``new_path`` too (``art mv``)."""
        with self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO produced SELECT oid, ?, run, started FROM produced WHERE oid=? AND path=?",
                (new_path, oid, old_path),
            )

    def runs_with_key(self, key: str) -> list[str]:
        """The runs recorded with run key ``key``, newest first."""
        return [r[0] for r in self.db.execute("SELECT run FROM runkeys WHERE key=? ORDER BY started DESC", (key,))]

    def runs_producing(self, oid: str, path: str | None = None) -> list[str]:
        """The runs that produced ``oid`` (at ``path`` when given), newest first."""
        sql = "SELECT run FROM produced WHERE oid=?" + (" AND path=?" if path else "") + " ORDER BY started DESC"
        return [r[0] for r in self.db.execute(sql, (oid, path) if path else (oid,))]

    def runs_producing_path(self, path: str) -> list[tuple[str, str, str]]:
        """(oid, run, started) of every run that produced something at ``path``, oldest first."""
        sql = "SELECT oid, run, started FROM produced WHERE path=? ORDER BY started, run"
        return [(r[0], r[1], r[2]) for r in self.db.execute(sql, (path,))]

    def path_versions(self) -> dict[str, tuple[int, str]]:
        """path -> (how many distinct ids runs produced there, when the newest of those runs started)."""
        sql = "SELECT path, COUNT(DISTINCT oid), MAX(started) FROM produced GROUP BY path"
        return {r[0]: (r[1], r[2]) for r in self.db.execute(sql)}

    def runs_consuming_path(self, path: str) -> list[tuple[str, str, str | None]]:
        """(run, path, oid) of every input at ``path``, inside it, or of a folder holding it; oldest first."""
        parents = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)]
        sql = (
            "SELECT run, path, oid FROM consumed WHERE path=? OR (path > ? AND path < ?)"
            + "".join(" OR path=?" for _ in parents)
            + " ORDER BY started, run, path"
        )
        return [tuple(r) for r in self.db.execute(sql, (path, path + "/", path + "0", *parents))]

    def runs_consuming_run(self, producer: str) -> list[tuple[str, str, str | None]]:
        """(run, path, oid) of every input that run ``producer`` made; oldest first."""
        sql = "SELECT run, path, oid FROM consumed WHERE producer=? ORDER BY started, run, path"
        return [tuple(r) for r in self.db.execute(sql, (producer,))]

    def runs_with_prefix(self, prefix: str, limit: int = 10) -> list[str]:
        """Up to ``limit`` indexed run ids starting with ``prefix`` (lowercase hex)."""
        sql = "SELECT run FROM runs WHERE run >= ? AND run < ? ORDER BY run LIMIT ?"
        return [r[0] for r in self.db.execute(sql, (prefix, prefix + "g", limit))]

    def runs_indexed(self) -> bool:
        """True when the run index was rebuilt from the store since its format last grew (see ``reindex_runs``)."""
        row = self.db.execute("SELECT value FROM facts WHERE key='runs-index'").fetchone()
        return row is not None and row[0] == RUNS_INDEX_VERSION

    def set_runs_indexed(self) -> None:
        self.db.execute("INSERT OR REPLACE INTO facts VALUES ('runs-index', ?)", (RUNS_INDEX_VERSION,))

    def runs_producing_any(self, oids: list[str]) -> set[str]:
        """The runs that produced any of ``oids`` (one query per ``_BATCH`` ids)."""
        found: set[str] = set()
        for i in range(0, len(oids), _BATCH):
            part = oids[i : i + _BATCH]
            sql = f"SELECT DISTINCT run FROM produced WHERE oid IN ({','.join('?' * len(part))})"
            found |= {r[0] for r in self.db.execute(sql, part)}
        return found

    def run_index(self) -> list[list[tuple]]:
        """Every row of the run index, one list per table, to share with another workspace (``art exp run``:
        the runs an experiment made are listed, and found by prefix, in the main workspace too)."""
        return [list(self.db.execute(f"SELECT * FROM {t}")) for t in _RUN_TABLES]

    def merge_run_index(self, tables: list[list[tuple]]) -> None:
        """Add rows taken from another workspace's ``run_index`` (facts about runs in a shared store)."""
        db = self.db
        db.execute("BEGIN")
        try:
            for name, rows in zip(_RUN_TABLES, tables, strict=False):
                if rows:
                    marks = ",".join("?" * len(rows[0]))
                    db.executemany(f"INSERT OR IGNORE INTO {name} VALUES ({marks})", rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def flush(self) -> None:
        """Write the buffered rows (they are facts about file contents, true whether or not the command that
        recorded them finishes, so flushing part-way through a command is safe)."""
        if (self._pending or self._pending_trees or self._token) and not self.view:
            self.db.execute("BEGIN")
            try:
                if self._token:
                    new, expected = self._token
                    if expected is None:
                        self.db.execute("INSERT OR IGNORE INTO facts VALUES (?, ?)", (_TOKEN, new))
                    else:
                        self.db.execute("UPDATE facts SET value=? WHERE key=? AND value=?", (new, _TOKEN, expected))
                elif self._pending_trees and not self.locked():  # read outside the lock: maybe before the token
                    dropped = f"dropped:{os.getpid()}:{time.time_ns()}"
                    self.db.execute("INSERT OR REPLACE INTO facts VALUES (?, ?)", (_TOKEN, dropped))
                # 64 rows to a statement (``insert_many``; each path once: the buffers are dicts by path)
                insert_many(self.db, "INSERT OR REPLACE INTO stat", 7, ((k, *v) for k, v in self._pending.items()))
                insert_many(
                    self.db, "INSERT OR REPLACE INTO trees", 4, ((k, *v) for k, v in self._pending_trees.items())
                )
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
            self._pending.clear()
            self._pending_trees.clear()
            self._token = None

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.db.close()


def _never() -> bool:
    return False


def _open(db_path: Path, fsync: bool) -> sqlite3.Connection:
    # probed by "facts", a small table: counting the stat cache would read all of it
    db = open_wal(db_path, _SCHEMA, "facts", sync=sync_level(fsync))
    _add_ctime(db)
    return db


def _add_ctime(db: sqlite3.Connection) -> None:
    """Give a stat table from before ctime was kept its column (its rows stay misses until recorded again)."""
    if not any(col[1] == "ctime" for col in db.execute("PRAGMA table_info(stat)")):
        try:
            db.execute("ALTER TABLE stat ADD COLUMN ctime INTEGER")
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise


def _is_read_only(db_path: Path, exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return True
    if "unable to open" in text or "disk i/o" in text:
        return not writable(db_path.parent) or (db_path.exists() and not os.access(db_path, os.W_OK))
    return False


def _in_memory_copy(db_path: Path) -> sqlite3.Connection:
    """The cache read from a read-only ``.art`` into memory (empty when it cannot be read at all)."""
    mem = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    if db_path.exists():
        try:
            src = connect_no_write(db_path)
            try:
                src.backup(mem)
            finally:
                src.close()
        except sqlite3.DatabaseError:
            pass
    mem.executescript(_SCHEMA)
    _add_ctime(mem)
    return mem


def _delete(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        remove_if_present(f"{db_path}{suffix}")
