"""The folder part of ``.art/state.db`` (``StateDB`` inherits it; this is the one other place SQL on it is run):
the folder signatures (``trees``: folder path -> the signature of its stat data, its tree id and size;
``objstore/treecache.py``) and the snapshots of large folders (``snapshots``: folder path -> its listing as
its tree was built from it, with the tree's encoding; ``objstore/treepatch.py``), so ``art status`` after a
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
from ..objstore.treepatch import Snapshot

if TYPE_CHECKING:
    from ..objstore.treepatch import Snapshots

SNAPSHOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (path TEXT PRIMARY KEY, sig TEXT, oid TEXT, size INTEGER, names BLOB,
                                      facts BLOB, subsigs BLOB, tree BLOB) WITHOUT ROWID;
"""


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
        """The snapshot remembered for folder ``path``, checked: None when there is none or it is damaged."""
        try:
            sql = "SELECT sig, oid, size, names, facts, subsigs, tree FROM snapshots WHERE path=?"
            found = self.db.execute(sql, (path,)).fetchone()
        except sqlite3.OperationalError:
            return None
        if found is None:
            return None
        sig, oid, size, names, facts, subsigs, tree = found
        blobs = (names, facts, subsigs, tree)
        if not (isinstance(sig, str) and is_oid(oid) and type(size) is int and size >= 0):
            return None
        if not all(isinstance(b, bytes) for b in blobs) or len(facts) != 40 * names.count(0) or len(subsigs) % 32:
            return None
        if hash_object("tree", tree) != oid:
            return None
        return Snapshot(sig, oid, size, names, facts, subsigs, tree)

    def set_snapshot(self, path: str, snap: Snapshot) -> None:
        """Remember folder ``path``'s snapshot (written at once; nothing in a read-only view)."""
        if self.view:
            return
        self.db.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (path, *snap))

    def snapshots_under(self, path: str) -> Snapshots:
        """The snapshots of the folders at and under repo-relative ``path``, by their path relative to it."""
        return _Under(self, path)


class _Under:
    __slots__ = ("state", "path")

    def __init__(self, state: FolderState, path: str) -> None:
        self.state, self.path = state, path

    def _full(self, rel: str) -> str:
        return f"{self.path}/{rel}" if rel else self.path

    def get(self, rel: str) -> Snapshot | None:
        return self.state.snapshot(self._full(rel))

    def sig(self, rel: str) -> str | None:
        return self.state.snapshot_sig(self._full(rel))

    def put(self, rel: str, snap: Snapshot) -> None:
        self.state.set_snapshot(self._full(rel), snap)
