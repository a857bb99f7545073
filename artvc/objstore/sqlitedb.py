"""Opening art's sqlite caches (the store's index.db, the workspace's state.db) the one same way, and writing
many rows to them at once (``insert_many``)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from itertools import islice
from pathlib import Path


def open_wal(path: Path, schema: str, probe_table: str, *, sync: str = "OFF") -> sqlite3.Connection:
    """Open (creating if needed) a WAL-mode database shared by threads and processes, apply ``schema``, and
    read ``probe_table`` once so that a damaged file fails here, not in the middle of a command.

    ``sync`` is sqlite's ``synchronous``, which follows ``core.fsync`` (``sync_level``): by default art fsyncs
    no pack, so an index or stat cache flushed to disk ahead of the packs it names would buy nothing after a
    power loss, and its fsyncs (two per checkpoint, four as a command closes both: 0.1-0.2 s of a 20k-file
    add on a busy disk) were most of what art synced. ``OFF`` keeps every transaction atomic against a killed
    process (the kernel keeps what was written); after a power cut, a damaged file is rebuilt (both are
    caches: ``LocalStore``, ``StateDB``) and ``art fsck`` checks the packs.

    Raises:
        sqlite3.Error: when the file is not a usable database (callers rebuild it: both are caches).
    """
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout=30000")
        _wal(db)
        db.execute(f"PRAGMA synchronous={sync}")
        db.executescript(schema)
        db.execute(f"SELECT count(*) FROM {probe_table}").fetchone()
    except BaseException:
        db.close()
        raise
    return db


def _wal(db: sqlite3.Connection, wait: float = 30.0) -> None:
    """Switch to WAL mode. While another connection creates or converts the same new file, sqlite answers
    "database is locked" at once, without its busy handler, so wait for that here (bounded like busy_timeout)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def sync_level(fsync: bool, *, index: bool = False) -> str:
    """sqlite's ``synchronous`` for ``core.fsync``: none without it; with it, the store's index commits each
    transaction to disk (``FULL``: a pointer, fsynced next, never names objects the index lost) and the stat
    cache stays consistent across a power cut (``NORMAL``: a lost last transaction costs a hash)."""
    if not fsync:
        return "OFF"
    return "FULL" if index else "NORMAL"


def connect_no_write(path: Path) -> sqlite3.Connection:
    """Open ``path`` for reading without creating, changing or locking any file (``art ui`` renders pages of
    a repository it must not touch).

    ``mode=ro`` would create the ``-wal`` and ``-shm`` files of a WAL database and leave them behind, so it
    is used only where a writer's are already there (a command has the database open: its log must be
    read); otherwise the file holds everything and is read as ``immutable``.

    Raises:
        sqlite3.Error: when the file cannot be opened.
    """
    wal = path.with_name(path.name + "-wal")
    query = "mode=ro" if wal.exists() else "immutable=1"
    return sqlite3.connect(f"{path.as_uri()}?{query}", uri=True, isolation_level=None, check_same_thread=False)


ROWS_PER_INSERT = 64  # rows to an INSERT by ``insert_many`` (x 7 columns: 448 "?", old sqlite builds allow 999)


def insert_many(db: sqlite3.Connection, head: str, width: int, rows: Iterable[Sequence[object]]) -> int:
    """``db.executemany(head + " VALUES (?, ...)", rows)`` with ``ROWS_PER_INSERT`` rows to a statement: the
    same rows in the same order (``INSERT OR IGNORE``/``OR REPLACE`` treat each row as executemany would), one
    statement step per 64 rows instead of one per row (measured by callgrind: 7.6k instead of 11.8k instructions
    an index row; the per-row cost of executemany is mostly the driver's reset, bind and step). ``head`` is the
    statement up to ``VALUES`` and ``width`` the number of values in a row. Returns the number of statements run.
    """
    one = "(" + ",".join("?" * width) + ")"
    full = f"{head} VALUES {','.join([one] * ROWS_PER_INSERT)}"
    it = iter(rows)
    runs = 0
    while part := list(islice(it, ROWS_PER_INSERT)):
        values = [v for row in part for v in row]
        db.execute(full if len(part) == ROWS_PER_INSERT else f"{head} VALUES {','.join([one] * len(part))}", values)
        runs += 1
    return runs
