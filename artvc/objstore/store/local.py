"""The local store: sealed packs on disk plus a sqlite index (oid, kind) -> (pack, offset, length).

The sqlite index is a cache of the packs' own trailers: lookups are B-tree seeks, opening loads nothing,
and ``reindex()`` rebuilds it from the packs. Packs are written to ``tmp/``, sealed, renamed into
``packs/xx/``, and only then indexed, so a crash leaves at worst an unindexed pack (found by reindex),
never an index row without its bytes.

Here: opening the store, reads and lookups, and the index's bookkeeping. Elsewhere: the writer
(``local_writer.py``), the files beside the packs (``index.db`` schema and opening, the ``config`` format file:
``local_files.py``), and fsck's pack checks, pack rewrite and quarantine (``local_check.py``).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from _thread import _local, allocate_lock  # threading's own Lock and local: no threading at start
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import CorruptObjectError, FileSystemError, FormatError, LocalStoreError, ObjectNotFoundError
from ..chunking import DEFAULT_PARAMS, ChunkerParams
from ..fileio import remove_if_present
from ..objects import Kind
from ..oid import Oid
from ..oserrors import HINTS, describe, writable
from ..tmpowner import sweep
from ..types import Location, ObjectKey
from . import local_complete, local_delta, local_files
from .base import IndexedObject, ObjectStore
from .delta import DEFAULT_DEPTH, DELTA
from .delta_compressor import DeltaCompressor
from .local_complete import forget as forget_complete
from .local_files import connect_read_only, discard_index, load_params, open_index
from .pack import (
    Compressor,
    PackEntry,
    check_entry,
    encode_entries,
    fsync_dir,
    pack_name,
    read_trailer,
    unpack_payload,
)

if TYPE_CHECKING:
    from .local_index import SealedRows
    from .local_writer import LocalWriter

_IN_BATCH = 500
_KINDS = {int(k): k for k in Kind}


_PAGE = 10_000  # index rows read at a time by iter_objects
# ids are bound as bytearrays (the same blob): sqlite3 binds those at once, a ``bytes`` only after its adapter lookup
_blob = bytearray.fromhex  # (about 1 us of a 2.6 us index row)


class LocalStore(ObjectStore):
    """A store in a directory: ``packs/``, ``index.db``, ``tmp/``, ``config``.

    Args:
        root: the store directory (created when missing).
        fsync: flush packs to disk before they are indexed (power-loss safety; a killed process is safe
            either way, since the page cache survives it).
        params: chunker parameters recorded for a new store.
        read_only: open it read-only even where it is writable, creating no file (``art ui``).
        delta: store new chunks as deltas against similar stored chunks when that pays (``core.delta``).
        delta_depth: the longest chain of deltas a new chunk may end (``core.delta_depth``).
        direct: large files' packs and checkouts may be written around the page cache (``core.direct_writes``
            as ``fileio.direct_writes`` resolves it; ``fileio.DIRECT`` must allow it too).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fsync: bool = False,
        params: ChunkerParams = DEFAULT_PARAMS,
        notice: Callable[[str], None] | None = None,
        read_only: bool = False,
        delta: bool = True,
        delta_depth: int = DEFAULT_DEPTH,
        direct: bool = True,
    ) -> None:
        self.root, self.fsync, self.params = Path(root), fsync, params
        self.direct = direct
        self.compressor = DeltaCompressor(self, depth=delta_depth) if delta else Compressor()
        self.base_cache = local_delta.BaseCache()  # decoded delta bases (reads of successive versions share them)
        self._fds: dict[int, int] = {}
        self._names: dict[int, str] = {}
        self._lock = allocate_lock()
        self._local = _local()
        self._readers: list[sqlite3.Connection] = []
        self._uri: str | None = None  # the read-only index's URI (read_only stores)
        self.rebuilt: list[str] = []  # packs indexed because index.db was missing or unreadable at open
        self.read_only = False
        try:
            if not read_only:
                self.root.mkdir(parents=True, exist_ok=True)  # two commands may create a new store at once
            self.read_only = (
                read_only or not writable(self.root) or not local_files.writable_file(self.root / "index.db")
            )
            if self.read_only:  # read what is there; nothing is created, rebuilt or cleaned
                self._db, self._uri = connect_read_only(self.root, create_nothing=read_only)
                self.params = load_params(self.root, params, read_only=self.read_only)
                try:
                    self.has_quarantine = self._db.execute("SELECT 1 FROM quarantine LIMIT 1").fetchone() is not None
                except sqlite3.OperationalError:
                    self.has_quarantine = False
                return
            (self.root / "packs").mkdir(exist_ok=True)
            (self.root / "tmp").mkdir(exist_ok=True)
            lost: str | bool = not (self.root / "index.db").exists()
            try:
                self._db = open_index(self.root, fsync=fsync)
            except sqlite3.DatabaseError as exc:  # not a database / malformed: it is a cache, start again
                if isinstance(exc, sqlite3.OperationalError):
                    raise  # locked, unreadable file: not damage
                discard_index(self.root)
                self._db = open_index(self.root, fsync=fsync)
                lost = "damaged"
            self.params = load_params(self.root, params, read_only=self.read_only)
            self.has_quarantine = self._db.execute("SELECT 1 FROM quarantine LIMIT 1").fetchone() is not None
            if lost or self._db.execute("SELECT 1 FROM packs LIMIT 1").fetchone() is None:
                self.rebuilt = self.reindex()
                if self.rebuilt and notice:
                    why = "was unreadable" if lost == "damaged" else "was missing" if lost else "was empty"
                    notice(
                        f"the store index {self.root / 'index.db'} {why}; rebuilt it from {len(self.rebuilt)} pack(s)"
                    )
            if self._db.execute("PRAGMA user_version").fetchone()[0] < local_delta.VERSION:
                local_delta.rebuild(self)  # an index an older art made: its deltas table starts from the packs
        except OSError as exc:
            raise describe(exc, "open the store at", self.root) from exc
        except sqlite3.Error as exc:
            raise LocalStoreError(
                f"cannot open the store index {self.root / 'index.db'}: {exc}",
                hint="run 'art fsck' (a damaged index is rebuilt from the packs)",
            ) from exc

    # -- reading -------------------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        """A read connection per thread: lookups from ingest workers never queue behind one lock."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._uri is not None:
                conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False, isolation_level=None)
            else:
                conn = sqlite3.connect(self.root / "index.db", check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _row(self, oid: Oid, kind: Kind) -> tuple[int, int, int, int, int] | None:
        sql = "SELECT pack, codec, offset, length, raw_length FROM objects WHERE oid=? AND kind=?"
        row: tuple[int, int, int, int, int] | None = self._query(sql, (_blob(oid), int(kind)))[0]
        return row

    def _query(self, sql: str, args: Sequence[object], *, many: bool = False) -> list[Any]:
        """Run a read on this thread's connection; every row when ``many``, else a 1-list of the first (or None)."""
        try:
            cur = self._reader().execute(sql, args)
            return cur.fetchall() if many else [cur.fetchone()]
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):
                raise LocalStoreError(f"cannot read the store index {self.root / 'index.db'}: {exc}") from exc
            raise LocalStoreError(
                f"the store index {self.root / 'index.db'} is damaged: {exc}",
                hint="delete it (with its -wal and -shm files): it is a cache, rebuilt from the "
                "packs by the next command",
            ) from exc

    def has(self, oid: Oid, kind: Kind) -> bool:
        return self._row(oid, kind) is not None

    def has_many(self, keys: Iterable[tuple[Oid, Kind | int]]) -> set[tuple[Oid, int]]:
        """The stored ones among ``keys``: one query per ``_IN_BATCH`` distinct ids (not one seek per key)."""
        wanted: dict[str, set[int]] = {}
        for oid, kind in keys:
            wanted.setdefault(oid, set()).add(int(kind))
        oids = list(wanted)
        out: set[tuple[Oid, int]] = set()
        for i in range(0, len(oids), _IN_BATCH):
            part = [_blob(o) for o in oids[i : i + _IN_BATCH]]
            query = f"SELECT oid, kind FROM objects WHERE oid IN ({','.join('?' * len(part))})"
            for digest, kind in self._query(query, part, many=True):
                oid = Oid(digest.hex())
                if kind in wanted[oid]:
                    out.add((oid, kind))
        return out

    def get(self, oid: Oid, kind: Kind) -> bytes:
        """An object's content; a delta is rebuilt from its bases (each verified), the chunk itself is not.

        Raises:
            ObjectNotFoundError: when it is not stored.
            CorruptObjectError: when its stored copy (or a delta's base) is damaged or missing.
        """
        codec, data, raw_length = self.get_stored(oid, kind)
        if codec == DELTA:
            return local_delta.reconstruct(self, oid, data, raw_length)
        try:
            return unpack_payload(codec, data, raw_length, int(kind))
        except FormatError as exc:
            raise CorruptObjectError(oid, str(exc)) from exc

    def _pack_fd(self, pack: int) -> int:
        fd = self._fds.get(pack)
        if fd is None:
            path = self.pack_path(self.pack_name(pack))
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError as exc:
                raise LocalStoreError(
                    f"pack {path.name} is missing from the store",
                    hint="run 'art fsck' and fetch the lost objects again",
                ) from exc
            with self._lock:  # two threads may open the same pack at once: keep one descriptor
                kept = self._fds.setdefault(pack, fd)
            if kept != fd:
                os.close(fd)
            fd = kept
        return fd

    def pack_fd(self, pack: int) -> int:
        """A read-only descriptor of pack ``pack``, kept open by the store and shared by threads: use explicit
        offsets (``os.pread``, ``os.copy_file_range``), never the file position.

        Raises:
            LocalStoreError: when the pack file is missing.
        """
        return self._pack_fd(pack)

    def _pread(self, pack: int, offset: int, length: int) -> bytes:
        return os.pread(self._pack_fd(pack), length, offset)

    def read_stored_into(self, pack: int, offset: int, into: memoryview) -> int:
        """``read_stored`` into a caller's buffer (large ranges without a copy); return the bytes read, fewer
        than ``len(into)`` only at the end of the pack."""
        from ..fileio import pread_full

        return pread_full(self._pack_fd(pack), into, offset)

    def get_stored(self, oid: Oid, kind: Kind) -> tuple[int, bytes, int]:
        """Return an object's (codec, stored bytes, raw length) as they sit in its pack (gc copies these).

        Raises:
            ObjectNotFoundError: when it is not stored.
        """
        row = self._row(oid, kind)
        if row is None:
            self.raise_if_quarantined(oid, kind)
            raise ObjectNotFoundError(oid, Kind(kind).label)
        pack, codec, offset, length, raw_length = row
        try:
            check_entry(int(kind), codec, offset, length, raw_length)
        except FormatError as exc:
            raise CorruptObjectError(
                oid, f"index.db: {exc}", hint="run 'art fsck' to rebuild the index from the packs"
            ) from exc
        data = self._pread(pack, offset, length)
        if len(data) != length:
            raise CorruptObjectError(oid, f"pack {self.pack_name(pack)[:10]} is truncated")
        return codec, data, raw_length

    # -- deltas (local_delta) -------------------------------------------------------------------------

    def delta_base(self, oid: Oid) -> Oid | None:
        """The chunk that chunk ``oid`` is stored as a delta against (None: stored in full, or not stored)."""
        return local_delta.delta_bases(self, [oid]).get(oid)

    def delta_bases(self, oids: Iterable[Oid]) -> dict[Oid, Oid]:
        """``delta_base`` for many chunks (one query per few hundred); chunks not stored as deltas are absent."""
        return local_delta.delta_bases(self, oids)

    def dependents(self, oids: Iterable[Oid]) -> dict[Oid, list[Oid]]:
        """The chunks built on each of ``oids``, directly or through other deltas (ids without any are absent)."""
        return local_delta.dependents(self, oids)

    def file_size(self, oid: Oid, expect: int | None = None) -> int:
        row = None if self.has(oid, Kind.FILE) else self._row(oid, Kind.CHUNK)
        return row[4] if row is not None else super().file_size(oid, expect)  # a one-chunk file: no read needed

    def locate(self, oid: Oid, kind: Kind) -> Location | None:
        """Return where a stored object is (pack id, codec, offset, stored length, raw length), or None.

        With ``read_stored`` this lets a push copy stored (compressed) bytes without recompressing them.
        """
        row = self._row(oid, kind)
        return None if row is None else Location._make(row)

    def _rows_of(self, digests: list[bytes]) -> Iterator[tuple[Any, ...]]:
        """The index rows of these raw ids, any kind: one query per ``_IN_BATCH`` ids."""
        for i in range(0, len(digests), _IN_BATCH):
            part = [bytearray(d) for d in digests[i : i + _IN_BATCH]]  # bound as blobs directly (``_blob``)
            query = (
                "SELECT oid, kind, pack, codec, offset, length, raw_length FROM objects "
                f"WHERE oid IN ({','.join('?' * len(part))})"
            )
            yield from self._query(query, part, many=True)

    def locate_oids(self, oids: Iterable[Oid]) -> dict[ObjectKey, Location]:
        """Where every stored object with one of these ids is, of any kind: one query per ``_IN_BATCH`` ids."""
        out: dict[ObjectKey, Location] = {}
        for digest, kind, *row in self._rows_of([bytes.fromhex(o) for o in set(oids)]):
            if kind in _KINDS:  # a plain tuple key: equal to (and hashed as) the ObjectKey
                out[(Oid(digest.hex()), _KINDS[kind])] = Location._make(row)  # type: ignore[index]
        return out

    def locate_chunks(self, oids: Sequence[str]) -> list[tuple[Any, ...] | None]:
        """Where each of these chunks is, in order: a ``Location``'s fields (None: not stored as a chunk). One
        query per ``_IN_BATCH`` ids, no object per id (a checkout of many small files asks this per batch)."""
        digests, chunk = [bytes.fromhex(o) for o in oids], int(Kind.CHUNK)
        found = {row[0]: row[2:] for row in self._rows_of(digests) if row[1] == chunk}
        return [found.get(d) for d in digests]

    def locate_many(self, keys: Iterable[ObjectKey]) -> dict[ObjectKey, Location]:
        """``locate`` for many keys at once (one table scan when that is cheaper than one query per key)."""
        keys = list(keys)
        wanted = {(bytes.fromhex(k[0]), int(k[1])): k for k in keys}
        out = {}
        if len(keys) < 2000:  # a few: one query per ``_IN_BATCH`` ids (seeks), never a scan of a large index
            for oid, kind, *row in self._rows_of(list(dict.fromkeys(d for d, _ in wanted))):
                key = wanted.get((oid, kind))
                if key is not None:
                    out[key] = Location._make(row)
            return out
        for oid, kind, *row in self._reader().execute(
            "SELECT oid, kind, pack, codec, offset, length, raw_length FROM objects"
        ):
            key = wanted.get((oid, kind))
            if key is not None:
                out[key] = Location._make(row)
        return out

    def read_stored(self, pack: int, offset: int, length: int) -> bytes:
        """Return an object's stored bytes as ``locate`` found them (unverified, maybe compressed)."""
        return self._pread(pack, offset, length)

    def pack_name(self, pack: int) -> str:
        name = self._names.get(pack)
        if name is None:
            with self._lock:
                row = self._db.execute("SELECT name FROM packs WHERE id=?", (pack,)).fetchone()
            name = self._names[pack] = row[0]
        return name

    def pack_path(self, name: str) -> Path:
        return self.root / "packs" / name[:2] / f"{name}.pack"

    def iter_objects(self) -> Iterator[IndexedObject]:
        """Every indexed object, in id order, read a page at a time (flat memory at millions of objects; the
        lock is not held between pages, so the caller may read objects meanwhile)."""
        sql = (
            "SELECT o.oid, o.kind, o.raw_length, p.name FROM objects o JOIN packs p ON p.id = o.pack"
            " WHERE (o.oid, o.kind) > (?, ?) ORDER BY o.oid, o.kind LIMIT ?"
        )
        after: tuple[bytes, int] = (b"", -1)
        while True:
            with self._lock:
                rows = self._db.execute(sql, (*after, _PAGE)).fetchall()
            for oid, kind, raw, pack in rows:
                yield IndexedObject(Oid(oid.hex()), Kind(kind), raw, pack)
            if len(rows) < _PAGE:
                return
            after = (rows[-1][0], rows[-1][1])

    def stats(self) -> dict[str, int]:
        """Counts and sizes: objects, packs, bytes on disk, bytes before compression."""
        with self._lock:
            objects, raw, stored = self._db.execute(
                "SELECT count(*), coalesce(sum(raw_length),0), coalesce(sum(length),0) FROM objects"
            ).fetchone()
            packs, size = self._db.execute("SELECT count(*), coalesce(sum(size),0) FROM packs").fetchone()
        return {"objects": objects, "packs": packs, "pack_bytes": size, "raw_bytes": raw, "stored_bytes": stored}

    # -- writing -------------------------------------------------------------------------------------

    def writer(self, *, rewrite: bool = False) -> LocalWriter:
        """Open a batch of writes; ``rewrite=True`` (gc) stores objects even when already stored elsewhere
        and moves their index rows to the new pack. Temp packs of killed writers are removed first.

        Raises:
            FileSystemError: when the store is read-only for this process.
        """
        self.check_writable()
        self.clean_tmp()
        from .local_writer import LocalWriter  # here: ``art status`` writes nothing (no packer, threads, queues)

        return LocalWriter(self, rewrite=rewrite)

    def check_writable(self) -> None:
        """Raise ``FileSystemError`` (exit 13) when this process cannot write to the store."""
        if self.read_only:
            code = errno.EROFS if local_files.on_read_only_mount(self.root) else errno.EACCES
            raise FileSystemError(
                f"cannot write to the store at {self.root}: "
                f"{'read-only file system' if code == errno.EROFS else 'permission denied'}",
                path=str(self.root),
                errno=code,
                hint="commands that only read (status, checkout, ls, diff, fsck) still work; " + HINTS[code],
            )

    def _index_pack(
        self,
        name: str,
        size: int,
        entries: Sequence[PackEntry] | bytes,
        *,
        replace: bool = False,
        bases: dict[Oid, Oid] | None = None,
        sketches: Sequence[tuple[int, Oid]] = (),
    ) -> None:
        """Index one sealed pack in ``packs/`` (``_index_packs``)."""
        self._index_packs([(name, size, entries, bases, sketches)], replace=replace)

    def _index_packs(self, packs: Sequence[SealedRows], *, replace: bool = False) -> None:
        """Index sealed packs in ``packs/`` in one transaction (``local_index.index_packs``; imported here: a
        command that only reads, such as ``status``, does not load it, nor its ``heapq``)."""
        from .local_index import index_packs

        index_packs(self, packs, replace=replace)

    def import_pack(self, path: str | os.PathLike[str], name: str, entries: Sequence[PackEntry]) -> None:
        """Adopt a sealed pack file that the caller verified object by object (a whole pack from a remote).

        ``path`` must be on the store's filesystem (e.g. in ``tmp/``): it is renamed into ``packs/`` and only
        then indexed, as a pack this store wrote itself.
        """
        final = self.pack_path(name)
        final.parent.mkdir(exist_ok=True)
        size = os.stat(path).st_size
        os.replace(path, final)
        if self.fsync:
            fsync_dir(str(final.parent))
        self._index_pack(name, size, entries)

    def pack_names(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT name FROM packs")}

    def pack_files(self) -> dict[str, Path]:
        """Every sealed pack file on disk, by name."""
        out: dict[str, Path] = {}
        for sub in (self.root / "packs").iterdir():
            for p in sub.glob("*.pack"):
                out[p.stem] = p
        return out

    def reindex(self) -> list[str]:
        """Index packs present on disk but missing from the index (after a crash); return their names.

        Raises:
            FormatError: never; unreadable packs are skipped and left to ``fsck``.
        """
        if self.read_only:
            return []  # nothing can be indexed in a store this process may not write; fsck still reports
        known = self.pack_names()
        added = []
        for name, path in self.pack_files().items():
            if name in known:
                continue
            try:
                with open(path, "rb") as f:
                    entries = read_trailer(f, path.stat().st_size)
            except (OSError, FormatError):
                continue
            if pack_name(encode_entries(entries)) != name:
                continue  # not the pack its name promises; fsck reports unindexed files
            self._index_pack(name, path.stat().st_size, entries)
            added.append(name)
        with self._lock:
            rows = self._db.execute("SELECT count(*) FROM deltas").fetchone()[0]
            want = self._db.execute("SELECT count(*) FROM objects WHERE kind=0 AND codec=?", (DELTA,)).fetchone()[0]
        if rows != want:  # rows lost or left behind (an older art wrote to this index): make them again
            local_delta.rebuild(self)
        self.clean_tmp()
        return added

    def clean_tmp(self) -> list[str]:
        """Delete temp files in ``tmp/`` whose writer is no longer running (killed); return their names.

        Temp names carry their owner's pid and start time (``tmpowner``), so a live writer's pack is never
        touched, however old, and a killed one's is removed by the next command that writes to the store.
        """
        if self.read_only:
            return []
        return sweep(self.root / "tmp", ("pack-*.tmp", "import-*.tmp", "config-*.tmp"))

    def drop_packs(self, names: list[str]) -> None:
        """Remove packs from the index and disk (gc, after their live objects were rewritten)."""
        with self._lock:
            for name in names:
                row = self._db.execute("SELECT id FROM packs WHERE name=?", (name,)).fetchone()
                if row:
                    local_delta.forget_pack(self._db, row[0])
                    self._db.execute("DELETE FROM objects WHERE pack=?", (row[0],))
                    self._db.execute("DELETE FROM quarantine WHERE pack=?", (row[0],))
                    self._db.execute("DELETE FROM packs WHERE id=?", (row[0],))
                    fd = self._fds.pop(row[0], None)
                    if fd is not None:
                        os.close(fd)
                    self._names.pop(row[0], None)
            forget_complete(self._db)  # after the rows went: see local_complete
        for name in names:
            remove_if_present(self.pack_path(name))

    # -- completeness memo (local_complete) -----------------------------------------------------------

    def complete_generation(self) -> int | None:
        """Read before a completeness walk; pass to ``remember_complete`` after it (None: no memo here)."""
        return local_complete.generation(self)

    def known_complete(self, keys: Iterable[ObjectKey]) -> set[ObjectKey]:
        """The roots among ``keys`` already found complete (every object below them indexed)."""
        return local_complete.known_complete(self, keys)

    def remember_complete(self, keys: Iterable[ObjectKey], gen: int | None) -> None:
        """Record roots a walk found complete, unless objects were lost since ``gen``."""
        local_complete.remember(self, keys, gen)

    # -- damage ----------------------------------------------------------------------------------------

    def raise_if_quarantined(self, oid: Oid, *kinds: Kind) -> None:
        """Raise CorruptObjectError when (oid, any of ``kinds``) is missing because fsck quarantined it."""
        if not self.has_quarantine:
            return
        for kind in kinds:
            row = (
                self._reader()
                .execute("SELECT reason FROM quarantine WHERE oid=? AND kind=?", (bytes.fromhex(oid), int(kind)))
                .fetchone()
            )
            if row is not None:
                raise CorruptObjectError(
                    oid,
                    f"its stored copy is damaged and quarantined ({row[0]})",
                    hint="re-add the data with 'art add', or fetch it again with 'art pull'",
                )

    def close(self) -> None:
        for conn in self._readers:
            conn.close()
        self._readers.clear()
        self._local = _local()
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        self._db.close()
