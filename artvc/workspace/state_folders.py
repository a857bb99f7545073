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
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..objstore.hashing import hash_object
from ..objstore.oid import Oid, is_oid

if TYPE_CHECKING:  # loaded when a large folder's snapshot is read or written: not by every status
    from ..objstore.treepatch import Snapshot, Snapshots

SNAPSHOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (path TEXT PRIMARY KEY, sig TEXT, oid TEXT, size INTEGER, names BLOB,
                                      subsigs BLOB, facts INTEGER, tree INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshot_blobs (id INTEGER PRIMARY KEY, data BLOB);
"""
_PAGE = 4096  # bytes compared (and rewritten when they differ) at a time when a snapshot is updated in place


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

    def snapshot_sig(self, path: str) -> str | None:
        """The signature of the snapshot remembered for folder ``path`` (reads no blob)."""
        try:
            found = self.db.execute("SELECT sig FROM snapshots WHERE path=?", (path,)).fetchone()
        except sqlite3.OperationalError:  # a read-only view of a state.db from before snapshots
            return None
        return found[0] if found and isinstance(found[0], str) else None

    def snapshot(self, path: str) -> Snapshot | None:
        """The snapshot remembered for folder ``path``, checked: None when there is none or it is damaged. Its
        ``tree`` is empty when a no-change status left it (``treecache.keep_snapshots``)."""
        try:
            sql = "SELECT sig, oid, size, names, subsigs, facts, tree FROM snapshots WHERE path=?"
            found = self.db.execute(sql, (path,)).fetchone()
            if found is None:
                return None
            sig, oid, size, names, subsigs, facts_id, tree_id = found
            facts, tree = (self._blob(facts_id), self._blob(tree_id))
        except sqlite3.OperationalError:  # a read-only view of a state.db from before snapshots
            return None
        if not (isinstance(sig, str) and is_oid(oid) and type(size) is int and size >= 0):
            return None
        if not (
            isinstance(names, bytes) and len(names) == 32 and isinstance(subsigs, bytes) and len(subsigs) % 32 == 0
        ):
            return None
        if facts is None or tree is None or len(facts) % 40 or (tree and hash_object("tree", tree) != oid):
            return None  # (an empty tree: left for the store to give, ``snapshots_under``)
        from ..objstore.treepatch import Snapshot

        return Snapshot(sig, oid, size, names, facts, subsigs, tree)

    def _blob(self, key: object) -> bytes | None:
        if type(key) is not int:
            return None
        row = self.db.execute("SELECT data FROM snapshot_blobs WHERE id=?", (key,)).fetchone()
        return row[0] if row is not None and isinstance(row[0], bytes) else None

    def set_snapshot(self, path: str, snap: Snapshot, base: Snapshot | None = None) -> None:
        """Remember folder ``path``'s snapshot (written at once; nothing in a read-only view). With ``base``, the
        snapshot it was patched from: while the stored one is still ``base``, only the pages of its stat facts
        and tree that changed are written (``blobopen``), not the whole of either."""
        if self.view:
            return
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT sig, oid, facts, tree FROM snapshots WHERE path=?", (path,)).fetchone()
            facts_id: int | None
            tree_id: int | None
            same = base is not None and row is not None and row[:2] == (base.sig, base.oid)
            if same and base is not None and type(row[2]) is int and type(row[3]) is int:
                facts_id, tree_id = row[2], row[3]
                self._write_changes(facts_id, base.facts, snap.facts)
                self._write_changes(tree_id, base.tree, snap.tree)
            else:
                if row is not None:
                    db.execute("DELETE FROM snapshot_blobs WHERE id IN (?, ?)", (row[2], row[3]))
                facts_id = db.execute("INSERT INTO snapshot_blobs (data) VALUES (?)", (snap.facts,)).lastrowid
                tree_id = db.execute("INSERT INTO snapshot_blobs (data) VALUES (?)", (snap.tree,)).lastrowid
            db.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (path, snap.sig, snap.oid, snap.size, snap.names, snap.subsigs, facts_id, tree_id),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _write_changes(self, key: int, old: bytes, new: bytes) -> None:
        """Make blob ``key`` hold ``new`` where it holds ``old``: only the pages that differ; all of it when the
        length changed, or the blob is not ``old``'s length (a tree a no-change status left out)."""
        found = self.db.execute("SELECT length(data) FROM snapshot_blobs WHERE id=?", (key,)).fetchone()
        if len(old) != len(new) or found is None or found[0] != len(old):
            self.db.execute("UPDATE snapshot_blobs SET data=? WHERE id=?", (new, key))
            return
        from ..objstore.treepatch import differing

        whole = len(old) - len(old) % _PAGE
        pages = differing(old, memoryview(new)[:whole], _PAGE, len(old))
        assert pages is not None  # no limit on how many
        with self.db.blobopen("snapshot_blobs", "data", key) as blob:
            for k in pages:
                blob.seek(k * _PAGE)
                blob.write(new[k * _PAGE : (k + 1) * _PAGE])
            if old[whole:] != new[whole:]:
                blob.seek(whole)
                blob.write(new[whole:])

    def snapshots_under(self, path: str, stored: Callable[[Oid], bytes | None]) -> Snapshots:
        """The snapshots of the folders at and under repo-relative ``path``, by their path relative to it; a tree
        a snapshot was left without comes from ``stored`` (the local store, checked; None when it lacks it)."""
        return _Under(self, path, stored)


class _Under:
    __slots__ = ("state", "path", "stored")

    def __init__(self, state: FolderState, path: str, stored: Callable[[Oid], bytes | None]) -> None:
        self.state, self.path, self.stored = state, path, stored

    def _full(self, rel: str) -> str:
        return f"{self.path}/{rel}" if rel else self.path

    def get(self, rel: str) -> Snapshot | None:
        snap = self.state.snapshot(self._full(rel))
        if snap is None or snap.tree:
            return snap
        tree = self.stored(Oid(snap.oid))
        return None if tree is None else snap._replace(tree=tree)

    def sig(self, rel: str) -> str | None:
        return self.state.snapshot_sig(self._full(rel))

    def put(self, rel: str, snap: Snapshot, base: Snapshot | None = None) -> None:
        self.state.set_snapshot(self._full(rel), snap, base)
