"""Everything reachable from a set of roots: trees to their entries, file manifests to their chunks, runs to
the package list they name. The closure that push sends, gc keeps and fsck expects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from ..errors import ObjectNotFoundError
from .lineage import Run, run_children
from .objects import FileManifest
from .oid import Oid
from .store.base import ObjectStore
from .tree import entries
from .types import EntryKind, Kind, ObjectKey

if TYPE_CHECKING:
    from .store.local import LocalStore


def closure(
    store: ObjectStore, roots: Iterable[tuple[str, int]], *, missing: list[ObjectKey] | None = None
) -> set[ObjectKey]:
    """Return every (oid, kind) reachable from ``roots`` in ``store``.

    A file root may be a manifest or (single-chunk files) a chunk; both are resolved here.

    Args:
        store: where objects are read from.
        roots: starting points, e.g. a pointer's (oid, TREE) or (oid, FILE), a run's (oid, RUN).
        missing: when given, unreadable objects are appended here instead of raising.

    Raises:
        ObjectNotFoundError: when a needed object is absent and ``missing`` is None.
    """
    seen: set[ObjectKey] = set()
    stack = [ObjectKey(Oid(o), Kind(k)) for o, k in roots]
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        oid, kind = key
        try:
            stack.extend(_children(store, oid, kind, seen))
        except ObjectNotFoundError:
            if missing is None:
                raise
            missing.append(key)
    return seen


def _children(store: ObjectStore, oid: Oid, kind: Kind, seen: set[ObjectKey]) -> list[ObjectKey]:
    if kind == Kind.FILE:
        if store.has(oid, Kind.FILE):
            seen.add(ObjectKey(oid, Kind.FILE))
            return [ObjectKey(c, Kind.CHUNK) for c, _ in FileManifest.from_bytes(oid, store.get(oid, Kind.FILE)).chunks]
        if store.has(oid, Kind.CHUNK):
            seen.add(ObjectKey(oid, Kind.CHUNK))
            return []
        raise ObjectNotFoundError(oid, "file")
    if not store.has(oid, kind):
        raise ObjectNotFoundError(oid, kind.label)
    seen.add(ObjectKey(oid, kind))
    if kind == Kind.TREE:
        return [
            ObjectKey(e.oid, Kind.TREE if e.kind == EntryKind.DIR else Kind.FILE)
            for e in entries(store, oid)
            if e.kind != EntryKind.SYMLINK
        ]
    if kind == Kind.RUN:
        run = Run.from_bytes(oid, store.get(oid, Kind.RUN))
        return [ObjectKey(o, k) for o, k in run_children(run)]
    return []


_FILES_AT_ONCE = 4096  # a tree's files looked up (and added to the sink) per query


class KeySink(Protocol):
    """Where ``closure_into`` puts the keys it reaches (``store.local_check.LiveKeys``: a table, not a set)."""

    def add(self, keys: Iterable[tuple[str, int]]) -> None: ...

    def add_new(self, oid: str, kind: int) -> bool: ...


def closure_into(
    store: LocalStore, roots: Iterable[tuple[str, int]], live: KeySink, *, missing: list[ObjectKey] | None = None
) -> None:
    """``closure`` for a store of any size: the keys go to ``live`` (a sqlite table) instead of a Python set,
    one batch per tree (a tree's files are looked up in one query; its chunks are leaves, added without
    being read). Only trees, file manifests and runs are read, each once.

    Raises:
        ObjectNotFoundError: when a needed object is absent and ``missing`` is None.
    """
    stack = [(Oid(o), Kind(k)) for o, k in roots if live.add_new(o, int(k))]
    while stack:
        oid, kind = stack.pop()
        try:
            if kind == Kind.TREE:
                files: list[Oid] = []
                for e in entries(store, oid):  # streamed: a folder of a million files is never decoded whole
                    if e.kind == EntryKind.DIR and live.add_new(e.oid, int(Kind.TREE)):
                        stack.append((e.oid, Kind.TREE))
                    elif e.kind == EntryKind.FILE:
                        files.append(e.oid)
                        if len(files) >= _FILES_AT_ONCE:
                            _add_files(store, files, live, stack)
                            files = []
                _add_files(store, files, live, stack)
            elif kind == Kind.FILE:
                if store.has(oid, Kind.FILE):
                    chunks = FileManifest.from_bytes(oid, store.get(oid, Kind.FILE)).chunks
                    live.add((c, int(Kind.CHUNK)) for c, _ in chunks)
                elif store.has(oid, Kind.CHUNK):
                    live.add([(oid, int(Kind.CHUNK))])
                else:
                    raise ObjectNotFoundError(oid, "file")
            elif kind == Kind.RUN:
                run = Run.from_bytes(oid, store.get(oid, Kind.RUN))
                stack.extend((o, k) for o, k in run_children(run) if live.add_new(o, int(k)))
            elif not store.has(oid, kind):
                raise ObjectNotFoundError(oid, kind.label)
        except ObjectNotFoundError:
            if missing is None:
                raise
            missing.append(ObjectKey(oid, kind))


def _add_files(store: LocalStore, files: list[Oid], live: KeySink, stack: list[tuple[Oid, Kind]]) -> None:
    """A batch of a tree's files: one-chunk files are their chunk (a leaf, added unread); manifests go on the
    stack to be read once."""
    if not files:
        return
    manifests = {o for o, _ in store.has_many([(o, Kind.FILE) for o in files])}
    live.add((o, int(Kind.CHUNK)) for o in files if o not in manifests)
    stack.extend((o, Kind.FILE) for o in manifests if live.add_new(o, int(Kind.FILE)))
