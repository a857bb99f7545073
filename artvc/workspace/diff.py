"""``art diff``: what changed between two revisions (or a revision and the workspace), and how much.

For each artifact: its state (``added``, ``removed``, ``modified``), both sides' id and size, the bytes added
and removed, for a folder the files added, removed and modified inside it, and for text-like data a short
content summary (``diffcontent``).

Bytes added and removed are counted on chunks: those only in the new content, and those only in the old,
read from the file manifests (no content is read for stored files; a workspace file the store lacks is
chunked as ``art add`` would, without storing anything). They are therefore rounded to chunk boundaries (a
one-byte edit shows as one chunk, about 64 KiB, removed and added), like ``git diff --stat`` counting lines.

The workspace side is hashed through the stat cache, like ``art status``; a changed workspace folder's trees
are built in memory, and only those the store lacks are kept. What the local store lacks (a revision that
was never pulled) is unknown (None), never an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ArtError, IntegrityError
from ..objstore.hashing import ContentHasher
from ..objstore.ingest import chunk_list
from ..objstore.objects import EncodedTree, Kind, TreeEntry
from ..objstore.oid import Oid
from ..objstore.scan import walk_tree
from ..objstore.tree import diff as tree_diff
from ..objstore.tree import entries
from . import diffcontent
from .lazy_fetch import open_promised
from .ls import Listed, artifacts_at
from .repo import Repo
from .status import current_oid

ADDED, REMOVED, MODIFIED = "added", "removed", "modified"
SUMMARY_BUDGET = 64 << 20  # bytes read for content summaries in one diff, both sides together


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a change: the content's id and its size in bytes."""

    oid: str
    size: int


@dataclass(slots=True)
class Change:
    """An artifact (or a file inside a folder artifact) that differs between the two sides.

    ``added_size`` / ``removed_size`` (bytes, counted on chunks) are None when a side's content is not in
    the local store; ``files`` (folders) is None when either tree is unavailable or the folder was added or
    removed whole; ``summary`` is set for text-like files (``{"format": ..., ...}``, or
    ``{"format": ..., "skipped": reason}``).
    """

    path: str
    state: str
    kind: str
    old: Side | None
    new: Side | None
    added_size: int | None = None
    removed_size: int | None = None
    files: list[Change] | None = None
    summary: dict[str, Any] | None = None

    @property
    def old_oid(self) -> str | None:
        return self.old.oid if self.old else None

    @property
    def new_oid(self) -> str | None:
        return self.new.oid if self.new else None

    @property
    def old_size(self) -> int | None:
        return self.old.size if self.old else None

    @property
    def new_size(self) -> int | None:
        return self.new.size if self.new else None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "path": self.path,
            "state": self.state,
            "kind": self.kind,
            "old_oid": self.old_oid,
            "new_oid": self.new_oid,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "added_size": self.added_size,
            "removed_size": self.removed_size,
        }
        if self.files is not None:
            d["files"] = [f.as_dict() for f in self.files]
        if self.summary is not None:
            d["summary"] = self.summary
        return d


def diff(repo: Repo, a: str | None = None, b: str | None = None) -> list[Change]:
    """Compare artifacts at revision ``a`` (default HEAD) with ``b`` (default: the workspace).

    An artifact missing from the workspace counts as its pointer (``art status`` reports it missing).

    Raises:
        GitError: when there is no git repository or a revision names no commit.
    """
    unborn = a is None and repo.git is not None and repo.git.head_commit() is None
    old = {} if unborn else artifacts_at(repo, a or "HEAD")  # before the first commit HEAD is empty
    new = artifacts_at(repo, b)
    work = _Diff(repo)
    out = []
    for path in sorted(old.keys() | new.keys()):
        x, y = old.get(path), new.get(path)
        here = work.workspace(y) if y is not None and b is None else None  # (oid, size, disk path) or None
        y_oid = here[0] if here else (y.pointer.oid if y else None)
        if x and y and x.pointer.oid == y_oid and x.pointer.kind == y.pointer.kind:
            continue
        out.append(work.artifact(path, x, y, here))
    repo.state.flush()
    return out


class _Diff:
    """One diff's state: the store, trees built from workspace folders, the summary budget."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.store = repo.store
        self.trees: dict[Oid, EncodedTree] = {}  # workspace trees the store lacks
        self.budget = SUMMARY_BUDGET

    # -- the workspace side ---------------------------------------------------------------------------------

    def workspace(self, item: Listed) -> tuple[Oid, int, Path] | None:
        """What is at an artifact's path now, when it differs from its pointer: (id, size, path)."""
        repo, kind = self.repo, item.pointer.kind
        actual = current_oid(repo, item.path, kind)
        if actual is None or actual == item.pointer.oid:
            return None
        full = repo.abspath(item.path)
        if kind == "file":
            return actual, os.stat(full).st_size, full
        store = self.store

        def keep(tree: EncodedTree) -> None:
            if not store.has(tree.oid, Kind.TREE):
                self.trees[tree.oid] = tree

        tree, _ = walk_tree(str(full), repo.root, repo.state.oids_of, keep)
        return tree.oid, tree.size, full

    def tree_entries(self, oid: Oid) -> Iterator[TreeEntry]:
        """A tree's entries in name order, streamed (``tree.TreeSource``): built from the workspace, or stored."""
        tree = self.trees.get(oid)
        return tree.iter_entries() if tree is not None else entries(self.store, oid)

    def has_tree(self, oid: Oid) -> bool:
        return oid in self.trees or self.store.has(oid, Kind.TREE)

    # -- one artifact -------------------------------------------------------------------------------------------

    def artifact(self, path: str, x: Listed | None, y: Listed | None, here: tuple[Oid, int, Path] | None) -> Change:
        old = Side(str(x.pointer.oid), x.pointer.size) if x else None
        new = Side(str(here[0]), here[1]) if here else (Side(str(y.pointer.oid), y.pointer.size) if y else None)
        disk = here[2] if here else None
        kind = y.pointer.kind if y else x.pointer.kind  # type: ignore[union-attr]
        if old is None or new is None:
            state = ADDED if old is None else REMOVED
            change = Change(path, state, kind, old, new, new.size if new else 0, old.size if old else 0)
            return change
        change = Change(path, MODIFIED, kind, old, new)
        if x.pointer.kind != kind:  # type: ignore[union-attr]  # a file became a folder, or the reverse
            change.added_size, change.removed_size = new.size, old.size
        elif kind == "file":
            self.file_change(change, disk)
        else:
            self.folder_change(change, disk)
        return change

    def folder_change(self, change: Change, disk: Path | None) -> None:
        old, new = Oid(change.old.oid), Oid(change.new.oid)  # type: ignore[union-attr]
        if not (self.has_tree(old) and self.has_tree(new)):
            return
        files: list[Change] = []
        try:
            for c in tree_diff(self, old, new):  # trees through tree_entries: the store's and the workspace's
                files.append(self.entry_change(c.path, c.change, c.old, c.new, disk))
        except ArtError:  # a damaged or partly missing tree: no file list, the sizes still stand
            return
        change.files = files
        added = [f.added_size for f in files]
        removed = [f.removed_size for f in files]
        if None not in added and None not in removed:
            change.added_size, change.removed_size = sum(added), sum(removed)  # type: ignore[arg-type]

    def entry_change(
        self, path: str, state: str, x: TreeEntry | None, y: TreeEntry | None, disk: Path | None
    ) -> Change:
        old = Side(str(x.oid), x.size) if x else None
        new = Side(str(y.oid), y.size) if y else None
        kind = (y or x).kind  # type: ignore[union-attr]
        change = Change(path, state, kind, old, new, new.size if new else 0, old.size if old else 0)
        if old and new and x.kind == y.kind == "file":  # type: ignore[union-attr]
            self.file_change(change, disk / path if disk else None)
        return change

    # -- one file -------------------------------------------------------------------------------------------------

    def file_change(self, change: Change, disk: Path | None) -> None:
        """Bytes added/removed from the chunk lists, and a content summary for text-like data."""
        old, new = change.old, change.new
        assert old is not None and new is not None
        a, b = self.chunks(old, None), self.chunks(new, disk)
        if a is not None and b is not None:
            change.added_size = sum(n for c, n in b.items() if c not in a)
            change.removed_size = sum(n for c, n in a.items() if c not in b)
        fmt = diffcontent.format_of(change.path)
        if fmt is not None:
            change.summary = self.summary(fmt, old, new, disk)

    def chunks(self, side: Side, disk: Path | None) -> dict[Oid, int] | None:
        oid = Oid(side.oid)
        try:
            if self.store.has_file(oid):
                return dict(self.store.file_chunks(oid, side.size))
            if disk is not None:
                return dict(chunk_list(disk, self.store.params))
        except ArtError:
            pass
        return None

    def summary(self, fmt: str, old: Side, new: Side, disk: Path | None) -> dict[str, Any]:
        largest = max(old.size, new.size)
        if largest > diffcontent.SUMMARY_MAX:
            return {"format": fmt, "skipped": f"over {diffcontent.SUMMARY_MAX >> 20} MiB"}
        if old.size + new.size > self.budget:
            return {"format": fmt, "skipped": f"this diff already read {SUMMARY_BUDGET >> 20} MiB for summaries"}
        for side, where in ((old, None), (new, disk)):
            if not (self.store.has_file(Oid(side.oid)) or where is not None):
                return {"format": fmt, "skipped": "the content is not in the local store (art pull fetches it)"}
        self.budget -= old.size + new.size
        try:
            return diffcontent.summarize(fmt, self.content(old, None), self.content(new, disk))
        except diffcontent.SummaryError as exc:
            return {"format": fmt, "skipped": str(exc)}
        except ArtError as exc:
            return {"format": fmt, "skipped": exc.message}

    def content(self, side: Side, disk: Path | None) -> Iterator[bytes]:
        """A file's bytes, block by block: from the store (checked against its id at the end) or the disk."""
        oid = Oid(side.oid)
        promised = open_promised(self.repo, oid, side.size)  # read from the remote that promised it
        if promised is not None:
            with promised as f:
                while block := f.read(1 << 20):
                    yield block
            return
        if self.store.has_file(oid):
            hasher = ContentHasher()
            for block in self.store.iter_file(oid, side.size):
                hasher.update(block)
                yield block
            if hasher.oid() != oid:
                raise IntegrityError(f"the stored content of {oid[:10]} does not match its id (run art fsck)")
            return
        assert disk is not None
        with open(disk, "rb") as f:
            while block := f.read(1 << 20):
                yield block
