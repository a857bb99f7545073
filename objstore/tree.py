"""Pure helpers over stored trees: flatten to paths, look up a path, diff two trees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .objects import TreeEntry
from .oid import Oid
from .store.base import ObjectStore


@dataclass(frozen=True, slots=True)
class FlatEntry:
    """A non-directory entry of a tree, with its path relative to the tree's root (POSIX)."""

    path: str
    entry: TreeEntry


def walk(store: ObjectStore, oid: Oid, prefix: str = "") -> Iterator[FlatEntry]:
    """Yield every file and symlink under tree ``oid``, depth first, sorted by name."""
    for e in store.get_tree(oid).entries:
        path = f"{prefix}{e.name}"
        if e.kind == "dir":
            yield from walk(store, e.oid, path + "/")
        else:
            yield FlatEntry(path, e)


def iter_trees(store: ObjectStore, oid: Oid) -> Iterator[Oid]:
    """Yield ``oid`` and the ids of every tree below it."""
    yield oid
    for e in store.get_tree(oid).entries:
        if e.kind == "dir":
            yield from iter_trees(store, e.oid)


@dataclass(frozen=True, slots=True)
class TreeChange:
    path: str
    change: str  # added | removed | modified
    old: TreeEntry | None
    new: TreeEntry | None


def diff(store: ObjectStore, old: Oid | None, new: Oid | None, prefix: str = "") -> Iterator[TreeChange]:
    """Yield file-level changes between two trees; equal subtrees are skipped without reading them."""
    if old == new:
        return
    a = {e.name: e for e in store.get_tree(old).entries} if old else {}
    b = {e.name: e for e in store.get_tree(new).entries} if new else {}
    for name in sorted(a.keys() | b.keys()):
        x, y = a.get(name), b.get(name)
        path = f"{prefix}{name}"
        if x and y and x.kind == y.kind == "dir":
            yield from diff(store, x.oid, y.oid, path + "/")
            continue
        if x and x.kind == "dir":
            yield from diff(store, x.oid, None, path + "/")
            x = None
        if y and y.kind == "dir":
            yield from diff(store, None, y.oid, path + "/")
            y = None
        if x and y:
            if (x.oid, x.executable, x.kind) != (y.oid, y.executable, y.kind):
                yield TreeChange(path, "modified", x, y)
        elif x:
            yield TreeChange(path, "removed", x, None)
        elif y:
            yield TreeChange(path, "added", None, y)
