"""Everything reachable from a set of roots: trees to their entries, file manifests to their chunks, runs to
the package list they name. The closure that push sends, gc keeps and fsck expects."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ObjectNotFoundError
from .lineage import Run
from .objects import FileManifest, Kind
from .oid import Oid, is_oid
from .store.base import ObjectStore

Key = tuple[Oid, Kind]


def closure(store: ObjectStore, roots: Iterable[Key], *, missing: list[Key] | None = None) -> set[Key]:
    """Return every (oid, kind) reachable from ``roots`` in ``store``.

    A file root may be a manifest or (single-chunk files) a chunk; both are resolved here.

    Args:
        store: where objects are read from.
        roots: starting points, e.g. a pointer's (oid, TREE) or (oid, FILE), a run's (oid, RUN).
        missing: when given, unreadable objects are appended here instead of raising.

    Raises:
        ObjectNotFoundError: when a needed object is absent and ``missing`` is None.
    """
    seen: set[Key] = set()
    stack = [(Oid(o), Kind(k)) for o, k in roots]
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


def _children(store: ObjectStore, oid: Oid, kind: Kind, seen: set[Key]) -> list[Key]:
    if kind == Kind.FILE:
        if store.has(oid, Kind.FILE):
            seen.add((oid, Kind.FILE))
            return [(c, Kind.CHUNK) for c, _ in FileManifest.from_bytes(oid, store.get(oid, Kind.FILE)).chunks]
        if store.has(oid, Kind.CHUNK):
            seen.add((oid, Kind.CHUNK))
            return []
        raise ObjectNotFoundError(oid, "file")
    if not store.has(oid, kind):
        raise ObjectNotFoundError(oid, kind.label)
    seen.add((oid, kind))
    if kind == Kind.TREE:
        return [
            (e.oid, Kind.TREE if e.kind == "dir" else Kind.FILE)
            for e in store.get_tree(oid).entries
            if e.kind != "symlink"
        ]
    if kind == Kind.RUN:
        run = Run.from_bytes(oid, store.get(oid, Kind.RUN))
        packages = run.get("packages")
        return [(Oid(packages), Kind.CHUNK)] if is_oid(packages) else []
    return []
