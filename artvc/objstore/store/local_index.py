"""Index rows for sealed packs of the local store: one transaction for a batch of packs (``index_packs``).

A store writer indexes the chunk packs of a large file 16,384 objects at a time (``local_writer.INDEX_ROWS``),
a pack adopted whole from a remote or found on disk by a reindex one at a time (``LocalStore._index_pack``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from ..oid import Oid
from ..sqlitedb import insert_many
from . import local_delta
from .delta import DELTA
from .pack import ENTRY, EntryTable, PackEntry, sorted_records

if TYPE_CHECKING:
    from .local import LocalStore

_key = itemgetter(0)  # the id: rows of one id keep their order (a stable sort)
# a sealed pack to index (``LocalStore._index_packs``): name, size, entries (or the encoded table), the delta
# bases of its codec-2 chunks (None: read from the pack), the sketch rows of its new chunks
SealedRows = tuple[str, int, "Sequence[PackEntry] | bytes", "dict[Oid, Oid] | None", "Sequence[tuple[int, Oid]]"]


def _with_pack(rows: Iterable[tuple[bytes, int, int, int, int, int]], pack: int) -> Iterator[tuple[Any, ...]]:
    """An index row per entry record: the id as a blob (``bytearray``), kind, ``pack``, codec, offset, lengths."""
    for d, k, c, o, n, r in rows:
        yield bytearray(d), k, pack, c, o, n, r


def index_packs(store: LocalStore, packs: Sequence[SealedRows], *, replace: bool = False) -> None:
    """Index sealed packs in ``packs/``, all in one transaction: per pack (name, size, entries, bases, sketches)
    its object rows, the delta rows of its codec-2 chunks (``bases``: delta -> base, as the writer knows them;
    read from the pack when None) and the sketch rows of its new chunks (feature, chunk id). ``entries`` may
    be the pack's encoded entry table (``pack.ENTRY`` records, as the writer sealed it): its rows are read
    from it directly. The object rows of all the packs go in together in key order (``sorted_records`` per
    pack, merged): a pack's ids are random, and sorted they touch each page of the index's B-tree once per
    transaction, not once per pack (a writer indexes its packs of a large file 16 at a time:
    ``local_writer.INDEX_ROWS``). Of two rows for one object the earlier pack's is kept (``replace``: the
    later one's)."""
    prepared = []
    for name, size, entries, bases, sketches in packs:
        listed: Sequence[PackEntry]
        no_deltas = isinstance(entries, EntryTable) and not entries.deltas  # known from the table's check
        entries = entries.data if isinstance(entries, EntryTable) else entries
        if isinstance(entries, bytes):  # decoded only for the delta rows (none in most packs; all for a rewrite)
            table: bytes | None = entries
            every, deltas = replace or bool(bases), bases is None and not no_deltas
            unpacked = ENTRY.iter_unpack(entries) if every or deltas else ()  # no delta: nothing to walk
            listed = [PackEntry(Oid(d.hex()), *r) for d, *r in unpacked if every or deltas and r[1] == DELTA]
        else:
            table, listed = None, entries
        if bases is None:
            bases = local_delta.read_bases(store.pack_path(name), listed)
        prepared.append((name, size, table, listed, bases, sketches))
    verb = f"INSERT OR {'REPLACE' if replace else 'IGNORE'} INTO objects"  # sorted as bytes, bound as blobs
    with store._lock:
        db = store._db
        db.execute("BEGIN IMMEDIATE")
        try:
            runs, ids = [], []
            for name, size, table, listed, _, _ in prepared:
                cur = db.execute("INSERT OR IGNORE INTO packs(name, size) VALUES (?, ?)", (name, size))
                pack: int = (
                    cur.lastrowid
                    if cur.rowcount and cur.lastrowid is not None
                    else db.execute("SELECT id FROM packs WHERE name=?", (name,)).fetchone()[0]
                )
                ids.append(pack)
                # (digest, kind, codec, offset, length, raw length), stable: duplicates keep the pack's order
                recs = ((bytes.fromhex(e.oid), e.kind, e.codec, e.offset, e.length, e.raw_length) for e in listed)
                rows = sorted_records(table) if table is not None else sorted(recs, key=_key)  # a run at a time
                runs.append(_with_pack(rows, pack))
            # in key order across the packs; of one id's rows the earlier pack's goes first (OR REPLACE: the
            # later one's wins), as if the packs were indexed one after the other
            insert_many(db, verb, 7, runs[0] if len(runs) == 1 else heapq.merge(*runs, key=_key))
            for pack, (_, _, _, listed, bases, sketches) in zip(ids, prepared, strict=True):
                local_delta.record(db, pack, listed, bases, replace)  # after the object rows it checks
                if sketches:
                    db.executemany(
                        "INSERT OR IGNORE INTO sketch VALUES (?, ?)", [(f, bytes.fromhex(o)) for f, o in sketches]
                    )
            if db.execute("SELECT 1 FROM quarantine LIMIT 1").fetchone():  # a good copy replaces a bad one
                for _, _, table, listed, _, _ in prepared:
                    db.executemany(
                        "DELETE FROM quarantine WHERE oid=? AND kind=?",
                        [(d, k) for d, k, *_ in ENTRY.iter_unpack(table)]
                        if table is not None
                        else [(bytes.fromhex(e.oid), e.kind) for e in listed],
                    )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
