"""Pure helpers over stored trees: flatten to paths, look up a path, diff two trees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from .objects import Kind, Tree, TreeEntry, encoded_count, iter_tree_entries
from .oid import Oid
from .store.base import ObjectStore

STREAMED_FROM = 32_768  # a tree of more entries is read an entry at a time (its encoding held), never decoded whole


@dataclass(frozen=True, slots=True)
class FlatEntry:
    """A non-directory entry of a tree, with its path relative to the tree's root (POSIX)."""

    path: str
    entry: TreeEntry


def entries(store: ObjectStore, oid: Oid) -> Iterator[TreeEntry]:
    """Tree ``oid``'s entries, checked as ``Tree.from_bytes`` checks them. A tree of more than ``STREAMED_FROM``
    entries (one folder of many files) is decoded an entry at a time from its encoding (about 60 bytes an
    entry) rather than into a ``TreeEntry`` per entry at once (about 350 bytes each): a million-file folder
    costs its encoding, not 350 MB.

    Raises:
        ObjectNotFoundError: when it is not stored.
        FormatError: when it does not hash to ``oid`` or (as they are read) its entries are malformed.
    """
    data = store.get(oid, Kind.TREE)
    if encoded_count(data) > STREAMED_FROM:
        return iter_tree_entries(oid, data)
    return iter(Tree.from_bytes(oid, data).entries)


def walk(store: ObjectStore, oid: Oid, prefix: str = "") -> Iterator[FlatEntry]:
    """Yield every file and symlink under tree ``oid``, depth first, sorted by name (iterative: any depth;
    flat in memory however many files a folder holds: ``entries``)."""
    stack = [(prefix, entries(store, oid))]
    while stack:
        base, items = stack[-1]
        for e in items:
            path = f"{base}{e.name}"
            if e.kind == "dir":
                stack.append((path + "/", entries(store, e.oid)))
                break
            yield FlatEntry(path, e)
        else:
            stack.pop()


def iter_trees(store: ObjectStore, oid: Oid) -> Iterator[Oid]:
    """Yield ``oid`` and the ids of every tree below it (depth first, iterative)."""
    yield oid
    stack = [entries(store, oid)]
    while stack:
        for e in stack[-1]:
            if e.kind == "dir":
                yield e.oid
                stack.append(entries(store, e.oid))
                break
        else:
            stack.pop()


class TreeSource(Protocol):
    """Where ``diff`` reads trees: a store, or a store plus trees built in memory (a workspace folder)."""

    def get_tree(self, oid: Oid) -> Tree: ...


@dataclass(frozen=True, slots=True)
class TreeChange:
    path: str
    change: str  # added | removed | modified
    old: TreeEntry | None
    new: TreeEntry | None


@dataclass(frozen=True, slots=True)
class _Descend:
    old: Oid | None
    new: Oid | None
    prefix: str


def diff(store: TreeSource, old: Oid | None, new: Oid | None, prefix: str = "") -> Iterator[TreeChange]:
    """Yield file-level changes between two trees; equal subtrees are skipped without reading them.

    Each level is a generator that yields its changes, or ``_Descend`` for a subtree to visit in place; a
    stack of them keeps the order of a recursive walk without its depth limit.
    """
    stack = [_diff_level(store, old, new, prefix)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, _Descend):
                stack.append(_diff_level(store, item.old, item.new, item.prefix))
                break
            yield item
        else:
            stack.pop()


def _diff_level(store: TreeSource, old: Oid | None, new: Oid | None, prefix: str) -> Iterator[TreeChange | _Descend]:
    if old == new:
        return
    a = {e.name: e for e in store.get_tree(old).entries} if old else {}
    b = {e.name: e for e in store.get_tree(new).entries} if new else {}
    for name in sorted(a.keys() | b.keys()):
        x, y = a.get(name), b.get(name)
        path = f"{prefix}{name}"
        if x and y and x.kind == y.kind == "dir":
            yield _Descend(x.oid, y.oid, path + "/")
            continue
        if x and x.kind == "dir":
            yield _Descend(x.oid, None, path + "/")
            x = None
        if y and y.kind == "dir":
            yield _Descend(None, y.oid, path + "/")
            y = None
        if x and y:
            if (x.oid, x.executable, x.kind) != (y.oid, y.executable, y.kind):
                yield TreeChange(path, "modified", x, y)
        elif x:
            yield TreeChange(path, "removed", x, None)
        elif y:
            yield TreeChange(path, "added", None, y)
