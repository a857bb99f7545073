"""The local store's files beside its packs: the index database ``index.db`` (schema, opening it, read-only
too) and the format file ``config`` (the store format and the chunker parameters it was made with)."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Any

from ...errors import FileSystemError, FormatError, LocalStoreError
from .. import codec
from ..chunking import ChunkerParams
from ..fileio import remove_if_present
from ..oserrors import HINTS
from ..promised import SCHEMA as PROMISED_SCHEMA
from ..sqlitedb import open_wal, sync_level
from ..tmpowner import token
from .local_complete import SCHEMA as COMPLETE_SCHEMA
from .local_delta import SCHEMA as DELTA_SCHEMA

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS packs (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    oid BLOB NOT NULL, kind INTEGER NOT NULL, pack INTEGER NOT NULL, codec INTEGER NOT NULL,
    offset INTEGER NOT NULL, length INTEGER NOT NULL, raw_length INTEGER NOT NULL,
    PRIMARY KEY (oid, kind)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine (
    oid BLOB NOT NULL, kind INTEGER NOT NULL, pack INTEGER NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (oid, kind)) WITHOUT ROWID;
"""
    + COMPLETE_SCHEMA
    + DELTA_SCHEMA
    + PROMISED_SCHEMA
)


def connect_read_only(root: Path, *, create_nothing: bool = False) -> tuple[sqlite3.Connection, str]:
    """Open the index of a store this process may not write (read-only mount, another user's store).

    ``mode=ro`` still sees a write-ahead log left by a writer; where even that needs a write (the
    shared-memory file cannot be created), the file is read as ``immutable``. Returns the connection and
    its URI (per-thread readers connect to the same). ``create_nothing``: for a reader that must not leave
    a file behind where it could (``art ui``), ``mode=ro`` only when a writer's log is there already.
    """
    path = root / "index.db"
    if not path.is_file():
        raise FileSystemError(
            f"the store at {root} is read-only and has no index",
            path=str(root),
            errno=errno.EROFS,
            hint="run any writing art command once where it is writable",
        )
    queries: tuple[str, ...] = ("mode=ro", "immutable=1")
    if create_nothing and not path.with_name("index.db-wal").exists():
        queries = ("immutable=1",)
    for query in queries:
        uri = f"{path.as_uri()}?{query}"
        try:
            db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            db.execute("SELECT count(*) FROM packs").fetchone()
        except sqlite3.OperationalError:
            continue
        return db, uri
    raise FileSystemError(
        f"cannot read the store index {path}: the store is read-only",
        path=str(path),
        errno=errno.EROFS,
        hint=HINTS[errno.EROFS],
    )


def open_index(root: Path, *, fsync: bool = False) -> sqlite3.Connection:
    return open_wal(root / "index.db", SCHEMA, "packs", sync=sync_level(fsync, index=True))


def discard_index(root: Path) -> None:
    """Remove an unreadable index.db (and its WAL files): it only caches the packs' trailers."""
    for suffix in ("", "-wal", "-shm"):
        remove_if_present(root / f"index.db{suffix}")


def load_params(root: Path, params: ChunkerParams, *, read_only: bool) -> ChunkerParams:
    """Read the store's format file, or write it for a new store (chunker parameters are format).

    Raises:
        FormatError: for a store format this art does not read.
        LocalStoreError: when the file is not a valid store config.
    """
    path = root / "config"
    if not path.exists():
        if read_only:
            raise FileSystemError(
                f"the store at {root} is read-only and has no config",
                path=str(path),
                errno=errno.EROFS,
                hint=HINTS[errno.EROFS],
            )
        text = (
            f'# art store format; do not edit\nformat = 1\ncompression = "zstd"\n'
            f"min_size = {params.min_size}\navg_size = {params.avg_size}\nmax_size = {params.max_size}\n"
        )
        # a name of its own per call: threads of one process (one token) may create the store at once
        import tempfile  # on first use: ``art status`` writes no file here

        fd, name = tempfile.mkstemp(prefix=f"config-{token()}-", suffix=".tmp", dir=root / "tmp")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return params
    hint = (
        f"restore {path} from a backup or another clone (it records the format and the chunker "
        "parameters: a new store made with 'art init' elsewhere has the defaults)"
    )
    what = f"store config {path}"
    with open(path, "rb") as f:
        data = codec.toml_loads(
            codec.read_limited(f, what=what, kind="store config", error=LocalStoreError, hint=hint),
            what=what,
            kind="store config",
            error=LocalStoreError,
            hint=hint,
        )
    if data.get("format") != 1:
        if codec.is_int(data.get("format")) and data["format"] > 1:
            raise FormatError(f"store {root} has format {data['format']}, this art reads format 1", hint="upgrade art")
        raise LocalStoreError(f"{what} is damaged: no valid 'format' ({data.get('format')!r})", hint=hint)
    sizes: list[Any] = [data.get(k) for k in ("min_size", "avg_size", "max_size")]
    if not (
        all(codec.is_int(n) for n in sizes)
        and 1024 <= sizes[0] <= sizes[1] <= sizes[2]
        and sizes[2] <= codec.MAX_CHUNK_SIZE
    ):
        raise LocalStoreError(
            f"{what} is damaged: invalid chunk sizes {sizes} (min_size <= avg_size <= "
            f"max_size, from 1024 to {codec.MAX_CHUNK_SIZE})",
            hint=hint,
        )
    return ChunkerParams(*sizes)


def on_read_only_mount(path: Path) -> bool:
    """Whether ``path`` is on a file system mounted read-only."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def writable_file(path: Path) -> bool:
    """Whether ``path`` is missing or a file this process may write."""
    return not path.exists() or os.access(path, os.W_OK)
