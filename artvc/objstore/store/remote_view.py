"""The object index of a remote's view (``RemoteStore``): (oid, kind) -> where it is (``Located``).

While it lists at most ``SPILL`` objects it is a dictionary. Beyond that it moves into a temporary sqlite file
(one row of a few dozen bytes per object, read through sqlite's bounded page cache), so a client whose view
lists a million objects (a pull of a million files from a remote without a checkpoint, or one whose
checkpoint led it to many packs) holds no Python object per listed entry: an entry becomes a ``Located`` only
when it is looked up. The file is unlinked as soon as it is open, so nothing is left behind, even by a kill.

Like the dictionary it replaces, the first copy of an object added wins (``setdefault``); the caller adds packs
in name order and leaves out the copies it must avoid.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from ..objects import Kind
from ..oid import Oid
from .pack import ENTRY, EntryTable, PackEntry
from .remote_read import Located

Key = tuple[Oid, int]
Row = tuple[str, int, int, int, int, int]  # where an object is: pack, kind, codec, offset, length, raw length
SPILL = 32_768  # objects listed in memory at most; beyond, the index is a temporary sqlite file
_BATCH = 400  # keys per lookup query (under sqlite's 999 parameters)


class ViewIndex:
    """(oid, kind) -> ``Located``, in memory or spilled to a temporary sqlite file (``SPILL``).

    Args:
        tmp_dir: where the spilled file goes (default: the system's temp folder).
        spill: False keeps every entry in memory (whole-remote operations that hold every index anyway).
    """

    def __init__(self, tmp_dir: str | os.PathLike[str] | None = None, *, spill: bool = True) -> None:
        self._spills = spill
        self._mem: dict[Key, Located] = {}
        self._db: sqlite3.Connection | None = None
        self._names: list[str] = []  # pack names by their number in the file
        self._ids: dict[str, int] = {}
        self._tmp_dir = tmp_dir
        self._lock = threading.Lock()

    @property
    def spilled(self) -> bool:
        """Whether the index is in its sqlite file."""
        return self._db is not None

    def __len__(self) -> int:
        if self._db is None:
            return len(self._mem)
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM o").fetchone()[0])

    def add(self, name: str, entries: Sequence[PackEntry], skip: set[tuple[Oid, int, str]] | None = None) -> None:
        """List the objects of pack ``name`` that are not listed yet (less ``skip``: (oid, kind, pack)). Spilled,
        an ``EntryTable``'s records become rows without a ``PackEntry`` each."""
        if self._db is None and self._spills and len(self._mem) + len(entries) > SPILL:
            self._spill()
        if self._db is None:
            mem = self._mem
            for e in entries:
                if not skip or (e.oid, e.kind, name) not in skip:
                    mem.setdefault((e.oid, e.kind), Located(name, e))
            return
        pid = self._pack_id(name)  # an int: written into the statement, so a record binds as it is unpacked
        rows: Iterable[tuple[bytes, int, int, int, int, int]]
        if isinstance(entries, EntryTable) and not any(p == name for _, _, p in skip or ()):
            rows = ENTRY.iter_unpack(entries.data)  # (id, kind, codec, offset, length, raw): no tuple made per row
        else:
            rows = (
                (bytes.fromhex(e.oid), e.kind, e.codec, e.offset, e.length, e.raw_length)
                for e in entries
                if not skip or (e.oid, e.kind, name) not in skip
            )
        with self._lock:  # one transaction: in autocommit, each row would be one
            self._db.execute("BEGIN")
            try:
                self._db.executemany(f"INSERT OR IGNORE INTO o VALUES (?,?,{int(pid)},?,?,?,?)", rows)
            finally:
                self._db.execute("COMMIT")

    def get(self, key: Key) -> Located | None:
        if self._db is None:
            return self._mem.get((key[0], int(key[1])))
        with self._lock:
            row = self._db.execute(
                "SELECT p, c, off, len, raw FROM o WHERE d=? AND k=?", (bytes.fromhex(key[0]), int(key[1]))
            ).fetchone()
        return None if row is None else self._located(key[0], int(key[1]), row)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and self.get(key) is not None

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Located]:
        """The listed ones of ``keys``, looked up ``_BATCH`` distinct ids at a time (a file asked as a file and
        as a chunk is one id: one lookup, not two); each ``Located`` names the id as it was asked (no second
        copy of it per key: a pull's walk asks this of every file)."""
        if self._db is None:
            mem = self._mem
            return {k: loc for k in keys if (loc := mem.get((k[0], int(k[1])))) is not None}
        wanted = {(key[0], int(key[1])): key for key in keys}  # (id, kind) -> the key as asked
        ids = list(dict.fromkeys(oid for oid, _ in wanted))
        names, out = self._names, {}
        for i in range(0, len(ids), _BATCH):
            part = ids[i : i + _BATCH]
            digests = [bytes.fromhex(o) for o in part]
            by_digest = dict(zip(digests, part, strict=True))  # a row's id is the one asked: no hex, no new Oid
            with self._lock:
                rows = self._db.execute(
                    f"SELECT d, k, p, c, off, len, raw FROM o WHERE d IN ({','.join('?' * len(digests))})", digests
                ).fetchall()
            for d, k, p, c, off, length, raw in rows:
                asked = wanted.get((by_digest[d], k))
                if asked is not None:
                    out[asked] = Located(names[p], PackEntry(asked[0], k, c, off, length, raw))
        return out

    def get_rows(
        self, keys: Sequence[Key], digests: Sequence[bytes], locate: Callable[[Oid, Kind], Located | None] | None = None
    ) -> list[Row | None]:
        """Where each of ``keys`` is (``digests``: their ids' 32 bytes, in the same order), as a row (pack, kind,
        codec, offset, length, raw length), None for those not listed; a file key is answered by its chunk too
        (a one-chunk file is stored as its chunk). The spilled index is asked ``_BATCH`` distinct ids a query
        and its rows go to the caller as they come: no ``Located`` nor ``PackEntry`` per row, no dictionary of
        every key (a pull's walk asks this of every file: about 3 µs a file less than ``get_many``). ``locate``:
        asked key by key for what the view does not list (``RemoteStore.locate``, through the checkpoint)."""
        file, chunk = int(Kind.FILE), int(Kind.CHUNK)
        if self._db is None:
            mem = self._mem
            out: list[Row | None] = []
            for oid, kind in keys:
                loc = mem.get((oid, int(kind)))
                if loc is None and kind == file:
                    loc = mem.get((oid, chunk))
                if loc is None:
                    out.append(None)
                else:
                    e = loc.entry
                    out.append((loc.pack, e.kind, e.codec, e.offset, e.length, e.raw_length))
            return _fill(out, keys, locate)
        names = self._names
        found: dict[tuple[bytes, int], Row] = {}
        ids = sorted(set(digests))  # in key order: each query reads neighbouring pages of the file
        for i in range(0, len(ids), _BATCH):
            part = ids[i : i + _BATCH]
            with self._lock:
                rows = self._db.execute(
                    f"SELECT d, k, p, c, off, len, raw FROM o WHERE d IN ({','.join('?' * len(part))})", part
                ).fetchall()
            for d, k, p, c, off, length, raw in rows:
                found[d, k] = (names[p], k, c, off, length, raw)
        get = found.get
        rows = [
            get((d, int(kind))) or (get((d, chunk)) if kind == file else None)
            for (_, kind), d in zip(keys, digests, strict=True)
        ]
        return _fill(rows, keys, locate)

    def items(self) -> Iterator[tuple[Key, Located]]:
        """Every (key, location), in no particular order."""
        if self._db is None:
            yield from self._mem.items()
            return
        with self._lock:
            rows = self._db.execute("SELECT d, k, p, c, off, len, raw FROM o").fetchall()
        for d, k, *row in rows:
            oid = Oid.from_digest(d)
            yield (oid, k), self._located(oid, k, row)

    def clear(self, *, spill: bool = True) -> None:
        """Forget every entry; ``spill``: whether the index may move to a file from now on."""
        self.close()
        self._mem = {}
        self._spills = spill

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
            self._names, self._ids = [], {}

    # -- internals --------------------------------------------------------------------------------------------

    def _located(self, oid: str, kind: int, row: tuple[int, int, int, int, int]) -> Located:
        p, c, off, length, raw = row
        return Located(self._names[p], PackEntry(Oid(oid), kind, c, off, length, raw))

    def _pack_id(self, name: str) -> int:
        pid = self._ids.get(name)
        if pid is None:
            pid = self._ids[name] = len(self._names)
            self._names.append(name)
        return pid

    def _spill(self) -> None:
        """Move the dictionary into a new temporary sqlite file."""
        if self._tmp_dir is not None:
            os.makedirs(self._tmp_dir, exist_ok=True)
        import tempfile  # here: only a remote with many indexes builds a view

        fd, path = tempfile.mkstemp(prefix="remote-view-", suffix=".db", dir=self._tmp_dir)
        os.close(fd)
        try:
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        finally:
            Path(path).unlink()  # open already: gone from the folder, whatever happens next
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA locking_mode=EXCLUSIVE")  # private to this process: no lock calls per query
        db.execute("PRAGMA cache_size=-4096")  # 4 MiB of pages at most
        db.execute(
            "CREATE TABLE o (d BLOB, k INTEGER, p INTEGER, c INTEGER, off INTEGER, len INTEGER, raw INTEGER,"
            " PRIMARY KEY (d, k)) WITHOUT ROWID"
        )
        self._db = db
        mem, self._mem = self._mem, {}
        by_pack: dict[str, list[PackEntry]] = {}
        for loc in mem.values():
            by_pack.setdefault(loc.pack, []).append(loc.entry)
        for name in sorted(by_pack):  # each key is listed once already: the order does not matter here
            self.add(name, by_pack[name])


def _fill(
    rows: list[Row | None], keys: Sequence[Key], locate: Callable[[Oid, Kind], Located | None] | None
) -> list[Row | None]:
    """``rows`` with the keys they lack asked of ``locate`` one by one (a file key as a chunk too), if given."""
    for i, row in enumerate(rows):
        if row is None and locate is not None:
            oid, kind = keys[i]
            loc = locate(oid, Kind(kind)) or (locate(oid, Kind.CHUNK) if kind == Kind.FILE else None)
            if loc is not None:
                e = loc.entry
                rows[i] = (loc.pack, e.kind, e.codec, e.offset, e.length, e.raw_length)
    return rows
