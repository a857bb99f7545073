"""The folder part of ``.art/state.db`` (``StateDB`` inherits it; this is the one other place SQL on it is run):
the folder signatures (``trees``: folder path -> the signature of its stat data, its tree id and size;
``objstore/treecache.py``) and the snapshots of large folders (``snapshots``: folder path -> its listing as
its tree was built from it, with the tree's encoding, the two large parts in ``snapshot_blobs``, updated in
place; ``objstore/treepatch.py``), so ``art status`` after a
change to one file of a large folder patches that folder's tree instead of rebuilding it.

A snapshot is a fact about a listing and a tree, true whoever wrote it and whenever: it is written without the
repository lock, straight away (one row of a few MB at most), and read back checked (types, lengths, and the
tree's id is its encoding's hash). A ``state.db`` from before snapshots gets the table when it is opened
(``CREATE TABLE IF NOT EXISTS``); a read-only view without it has no snapshots.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, cast

from ..objstore.oid import Oid, is_oid

if TYPE_CHECKING:  # loaded when a large folder's snapshot is read or written: not by every status
    from ..objstore.treepatch import Reader, Snapshot, Snapshots, Tree, Watch

SNAPSHOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS folder_snaps (path TEXT PRIMARY KEY, sig TEXT, oid TEXT, size INTEGER, names BLOB,
                                         count INTEGER, facts BLOB, subsigs BLOB, tree INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS folder_snap_facts (path TEXT, k INTEGER, data BLOB, PRIMARY KEY (path, k));
CREATE TABLE IF NOT EXISTS folder_snap_trees (id INTEGER PRIMARY KEY, data BLOB);
DROP TABLE IF EXISTS snapshots;
DROP TABLE IF EXISTS snapshot_blobs;
"""
_SNAP = "SELECT path, sig, oid, size, names, count, facts, subsigs, tree FROM folder_snaps"


class FolderState:
    """The folder signatures and snapshots of ``StateDB`` (its ``db``, buffers and ``flush``)."""

    db: sqlite3.Connection
    view: bool
    FLUSH_EVERY: int
    _pending_trees: dict[str, tuple[str, str, int]]
    flush: Callable[[], None]

    def tree_entry(self, path: str, sig: str) -> tuple[Oid, int] | None:
        """The tree id and size remembered for the folder at repo-relative ``path`` with signature ``sig``."""
        row = self._pending_trees.get(path)
        if row is None:
            found = self.db.execute("SELECT sig, oid, size FROM trees WHERE path=?", (path,)).fetchone()
            row = tuple(found) if found else None
        if row is None or row[0] != sig or not is_oid(row[1]) or type(row[2]) is not int or row[2] < 0:
            return None
        return Oid(row[1]), row[2]

    def tree_sig(self, path: str) -> str | None:
        """The signature remembered for the folder at repo-relative ``path`` (``workspace/fsmonitor.py``)."""
        if (row := self._pending_trees.get(path)) is not None:
            return row[0]
        found = self.db.execute("SELECT sig FROM trees WHERE path=?", (path,)).fetchone()
        return found[0] if found and isinstance(found[0], str) else None

    def move_trees(self, old: str, new: str) -> None:
        """Let the folder signatures remembered at and under ``old`` answer for ``new`` (``art mv``: a rename keeps
        every entry's inode, times and size, so every folder's signature stays the same)."""
        self.flush()
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO trees SELECT ? || substr(path, ?), sig, oid, size FROM trees "
                "WHERE path = ? OR (path >= ? AND path < ?)",
                (new, len(old) + 1, old, old + "/", old + "0"),
            )

    def set_tree(self, path: str, sig: str, oid: Oid, size: int) -> None:
        """Remember folder ``path``'s tree for signature ``sig`` (buffered like ``record``)."""
        self._pending_trees[path] = (sig, str(oid), size)
        if len(self._pending_trees) >= self.FLUSH_EVERY:
            self.flush()

    def folders_under(self, path: str) -> Callable[[str, bytes, Oid, int], None]:
        """A ``remember`` for walks of the folder at repo-relative ``path`` (``scan.walk_tree``,
        ``treecache.resolve_tree``): each folder's signature, tree and size, by its path relative to ``path``."""

        def remember(rel: str, sig: bytes, oid: Oid, size: int) -> None:
            self.set_tree(f"{path}/{rel}" if rel else path, sig.hex(), oid, size)

        return remember

    # -- snapshots of large folders -----------------------------------------------------------------------

    def snapshot(self, path: str) -> Snapshot | None:
        """The snapshot row remembered for folder ``path``, its types checked (its facts and tree are checked as
        they are read: ``treepatch``); None when there is none."""
        return next(iter(self._snapshots(" WHERE path=?", (path,)).values()), None)

    def _snapshots(self, where: str, args: tuple) -> dict[str, Snapshot]:
        from ..objstore.treepatch import Snapshot

        try:
            rows = self.db.execute(_SNAP + where, args).fetchall()
        except sqlite3.OperationalError:  # a read-only view of a state.db from before these tables
            return {}
        out = {}
        for path, sig, oid, size, names, count, facts, subsigs, tree in rows:
            if (
                isinstance(sig, str)
                and is_oid(oid)
                and type(size) is int
                and size >= 0
                and type(count) is int
                and count >= 0
                and isinstance(names, bytes)
                and len(names) == 32
                and isinstance(facts, bytes)
                and len(facts) == 32
                and isinstance(subsigs, bytes)
                and len(subsigs) % 32 == 0
                and (tree is None or type(tree) is int)
            ):
                out[path] = Snapshot(sig, oid, size, names, count, facts, subsigs, tree)
        return out

    def snapshots_under(self, path: str, stored: Callable[[Oid], bytes | None]) -> Snapshots:
        """The snapshots of the folders at and under repo-relative ``path``, by their path relative to it (one
        query for their rows); a tree a snapshot was left without comes from ``stored`` (the local store,
        checked; None when it lacks it)."""
        return _Under(self, path, stored)

    def _chunk(self, path: str, k: int) -> bytes | None:
        sql = "SELECT data FROM folder_snap_facts WHERE path=? AND k=?"
        try:
            row = self.db.execute(sql, (path, k)).fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row is not None and isinstance(row[0], bytes) else None

    def _put_chunk(self, path: str, k: int, data: bytes) -> None:
        if not self.view:
            self.db.execute("INSERT OR REPLACE INTO folder_snap_facts VALUES (?, ?, ?)", (path, k, data))

    def set_snapshot(
        self, path: str, snap: Snapshot, chunks: Iterable[tuple[int, bytes]], tree: Tree, base: Snapshot | None
    ) -> None:
        """Remember folder ``path``'s snapshot: its row, the stored chunks of facts to replace (``chunks``) and its
        tree (None: the store's; the key of the tree it has, kept; its encoding; or a patch of ``base``'s tree,
        written in place when its length is the same). Nothing in a read-only view; nothing when another process
        replaced ``base`` meanwhile, or the database is busy (a snapshot is a cache: the next status makes it
        again)."""
        if self.view:
            return
        from ..objstore.treepatch import Patched

        source = tree.source if isinstance(tree, Patched) else None
        if isinstance(source, _BlobReader):
            source.close()
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return
        try:
            row = db.execute("SELECT sig, oid, tree FROM folder_snaps WHERE path=?", (path,)).fetchone()
            old_tree = row[2] if row is not None and type(row[2]) is int else None
            if isinstance(source, _BlobReader) and (base is None or row is None or row[:2] != (base.sig, base.oid)):
                db.execute("ROLLBACK")  # its tree may have been rewritten: leave the other process's snapshot
                return
            db.executemany(
                "INSERT OR REPLACE INTO folder_snap_facts VALUES (?, ?, ?)", ((path, k, d) for k, d in chunks)
            )
            key: int | None = None
            if isinstance(tree, Patched) and isinstance(source, _BlobReader) and tree.length == source.length:
                key = source.key  # the same length: only the replaced entries are written
                with db.blobopen("folder_snap_trees", "data", key) as blob:
                    for start, _, new in tree.spans:
                        blob.seek(start)
                        blob.write(new)
            elif isinstance(tree, Patched):
                sql = "INSERT INTO folder_snap_trees (data) VALUES (zeroblob(?))"
                key = cast(int, db.execute(sql, (tree.length,)).lastrowid)
                if isinstance(source, _BlobReader):
                    source.open()
                try:
                    with db.blobopen("folder_snap_trees", "data", key) as blob:
                        for piece in tree.pieces():
                            blob.write(piece)
                finally:
                    if isinstance(source, _BlobReader):
                        source.close()
            elif isinstance(tree, int):
                key = tree if tree == old_tree else None  # the tree it had: kept when it is still there
            elif tree is not None:
                key = db.execute("INSERT INTO folder_snap_trees (data) VALUES (?)", (tree,)).lastrowid
            if old_tree is not None and old_tree != key:
                db.execute("DELETE FROM folder_snap_trees WHERE id=?", (old_tree,))
            db.execute(
                "INSERT OR REPLACE INTO folder_snaps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (path, snap.sig, snap.oid, snap.size, snap.names, snap.entries, snap.facts, snap.subsigs, key),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


class _BlobReader:
    """A snapshot's tree read a window at a time from its blob (``treepatch.Reader``), opened on demand."""

    __slots__ = ("db", "key", "blob", "length")

    def __init__(self, db: sqlite3.Connection, key: int) -> None:
        self.db, self.key = db, key
        self.blob: sqlite3.Blob | None = None
        self.open()
        self.length = len(self.blob)  # type: ignore[arg-type]

    def open(self) -> None:
        self.blob = self.db.blobopen("folder_snap_trees", "data", self.key, readonly=True)

    def close(self) -> None:
        if self.blob is not None:
            self.blob.close()
            self.blob = None

    def read(self, at: int, n: int) -> bytes:
        if self.blob is None:
            self.open()
        assert self.blob is not None
        self.blob.seek(min(at, self.length))
        return self.blob.read(n)


class _Under:
    __slots__ = ("state", "path", "stored", "rows", "_watch")

    def __init__(self, state: FolderState, path: str, stored: Callable[[Oid], bytes | None]) -> None:
        from ..objstore.treepatch import Watch  # imported by ``_snapshots`` already

        self.state, self.path, self.stored, self._watch = state, path, stored, Watch
        self.rows = state._snapshots(" WHERE path=? OR (path >= ? AND path < ?)", (path, path + "/", path + "0"))

    def _full(self, rel: str) -> str:
        return f"{self.path}/{rel}" if rel else self.path

    def watch(self, rel: str) -> Watch:
        """A ``treepatch.Watch`` of folder ``rel``'s listing (made for every folder a status walks: kept cheap)."""
        full = f"{self.path}/{rel}" if rel else self.path
        state = self.state
        return self._watch(self.rows.get(full), partial(state._chunk, full), partial(state._put_chunk, full))

    def tree(self, snap: Snapshot) -> Reader | None:
        """The encoding of ``snap``'s tree: its blob, or the store's copy (checked there); None when neither is."""
        if snap.tree is not None:
            try:
                return _BlobReader(self.state.db, snap.tree)
            except sqlite3.Error:
                return None
        data = self.stored(Oid(snap.oid))
        if data is None:
            return None
        from ..objstore.treepatch import BytesReader

        return BytesReader(data)

    def put(
        self, rel: str, snap: Snapshot, chunks: Iterable[tuple[int, bytes]], tree: Tree, base: Snapshot | None
    ) -> None:
        self.state.set_snapshot(self._full(rel), snap, chunks, tree, base)

    def write_chunks(self, rel: str, chunks: Iterable[tuple[int, bytes]]) -> None:
        full = self._full(rel)
        for k, data in chunks:
            self.state._put_chunk(full, k, data)
