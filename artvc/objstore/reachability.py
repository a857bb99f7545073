"""Everything reachable from a set of roots: trees to their entries, file manifests to their chunks, runs to
the package list they name. The closure that push sends, gc keeps and fsck expects."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ObjectNotFoundError
from .lineage import Run, run_children
from .objects import FileManifest
from .oid import Oid
from .store.base import ObjectStore
from .types import EntryKind, Kind, ObjectKey


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
            for e in store.get_tree(oid).entries
            if e.kind != EntryKind.SYMLINK
        ]
    if kind == Kind.RUN:
        run = Run.from_bytes(oid, store.get(oid, Kind.RUN))
        return [ObjectKey(o, k) for o, k in run_children(run)]
    return []
