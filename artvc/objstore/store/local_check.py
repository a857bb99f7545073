"""Maintenance of the local store (``art fsck``): check the packs' structure, rewrite damaged packs, and
quarantine damaged objects (hide their index rows so an intact copy is stored again).

The read side of the quarantine (``LocalStore.raise_if_quarantined``) stays with the store's reads.
"""

from __future__ import annotations

import os

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
    trailers: dict[int, dict[tuple[bytes, int], tuple[int, int, int, int]]] = {}
    bad: list[tuple[str, str]] = []
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
            trailers[pack] = {
                (bytes.fromhex(e.oid), e.kind): (e.codec, e.offset, e.length, e.raw_length) for e in entries
            }
    wrong: dict[int, int] = {}
    for oid, kind, pack, *row in store._reader().execute(
        "SELECT oid, kind, pack, codec, offset, length, raw_length FROM objects"
    ):
        table = trailers.get(pack)
        if table is not None and table.get((oid, kind)) != tuple(row):
            wrong[pack] = wrong.get(pack, 0) + 1
    names = {pack: name for pack, name, _ in packs}
    bad += [(names[p], f"{n} index row(s) disagree with the pack's trailer") for p, n in wrong.items()]
    return bad
