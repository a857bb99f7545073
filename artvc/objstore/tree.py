"""Pure helpers over stored trees: flatten to paths, look up a path, diff two trees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from .objects import Kind, TreeEntry, read_tree
from .oid import Oid
from .store.base import ObjectStore


@dataclass(frozen=True, slots=True)
class FlatEntry:
    """A non-directory entry of a tree, with its path relative to the tree's root (POSIX)."""

    path: str
    entry: TreeEntry


def entries(store: ObjectStore, oid: Oid) -> Iterator[TreeEntry]:
    """Tree ``oid``'s entries, checked as ``Tree.from_bytes`` checks them (``read_tree``: a large one streamed).

    Raises:
        ObjectNotFoundError: when it is not stored.
        FormatError: when it does not hash to ``oid`` or (as they are read) its entries are malformed.
    """
    return read_tree(oid, store.get(oid, Kind.TREE)).iter_entries()


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
    """Where ``diff`` reads trees: a store (``StoreTrees``), or a store plus trees built in memory (a workspace
    folder). ``tree_entries`` gives a tree's entries in name order, as its encoding holds them."""

    def tree_entries(self, oid: Oid) -> Iterator[TreeEntry]: ...


@dataclass(frozen=True, slots=True)
class StoreTrees:
    """A store's trees as a ``TreeSource`` (streamed: ``entries``)."""

    store: ObjectStore

    def tree_entries(self, oid: Oid) -> Iterator[TreeEntry]:
        return entries(self.store, oid)


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


def diff(source: TreeSource, old: Oid | None, new: Oid | None, prefix: str = "") -> Iterator[TreeChange]:
    """Yield file-level changes between two trees; equal subtrees are skipped without reading them.

    Each level is a generator that merges the two trees' entries in name order (both are sorted, so neither is
    held whole: a folder of a million files costs two entries at a time, plus what ``source`` holds to stream
    them) and yields its changes, or ``_Descend`` for a subtree to visit in place; a stack of them keeps the
    order of a recursive walk without its depth limit.
    """
    stack = [_diff_level(source, old, new, prefix)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, _Descend):
                stack.append(_diff_level(source, item.old, item.new, item.prefix))
                break
            yield item
        else:
            stack.pop()


def _diff_level(source: TreeSource, old: Oid | None, new: Oid | None, prefix: str) -> Iterator[TreeChange | _Descend]:
    if old == new:
        return
    a = source.tree_entries(old) if old else iter(())
    b = source.tree_entries(new) if new else iter(())
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        # code point order is UTF-8 byte order (the format's): the order both trees are in
        if y is None or (x is not None and x.name < y.name):
            yield from _one_side(x, prefix, old=True)  # type: ignore[arg-type]
            x = next(a, None)
            continue
        if x is None or y.name < x.name:
            yield from _one_side(y, prefix, old=False)
            y = next(b, None)
            continue
        path = f"{prefix}{x.name}"
        if x.kind == y.kind == "dir":
            yield _Descend(x.oid, y.oid, path + "/")
        elif x.kind == "dir" or y.kind == "dir":  # a folder became a file, or the reverse: the folder's side first
            folder, file = (x, y) if x.kind == "dir" else (y, x)
            yield from _one_side(folder, prefix, old=folder is x)
            yield from _one_side(file, prefix, old=file is x)
        elif (x.oid, x.executable, x.kind) != (y.oid, y.executable, y.kind):
            yield TreeChange(path, "modified", x, y)
        x, y = next(a, None), next(b, None)


def _one_side(e: TreeEntry, prefix: str, *, old: bool) -> Iterator[TreeChange | _Descend]:
    """An entry only one tree has: a file removed or added, or a folder to walk on that side alone."""
    path = f"{prefix}{e.name}"
    if e.kind == "dir":
        yield _Descend(e.oid, None, path + "/") if old else _Descend(None, e.oid, path + "/")
    else:
        yield TreeChange(path, "removed", e, None) if old else TreeChange(path, "added", None, e)
