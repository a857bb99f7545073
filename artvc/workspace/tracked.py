"""What a workspace tracks: ``TrackedArtifact`` (path, pointer, source), chosen by ``select``, and the one test of
whether the local store holds all of an artifact (``incomplete``), shared by status, checkout, pull and the hooks.

``select`` is the only place that turns the user's paths into artifacts; a command walks the workspace for
pointer files once (``Repo.artifacts``) and hands the selection on (pull gives the same list to its fetch and
its checkout).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from ..objstore.objects import FileManifest, Kind
from ..objstore.oid import Oid, is_oid
from ..objstore.types import EntryKind, ObjectKey
from .paths import to_repo_path
from .pointers import Pointer

if TYPE_CHECKING:
    from ..objstore.store.local import LocalStore
    from .repo import Repo

_SLICE = 4096  # objects asked about at once (has_many batches them further)


class TrackedArtifact(NamedTuple):
    """One tracked artifact: its data's repo-relative ``path``, the ``pointer`` naming the data, and its
    ``source``: the pointer file's path (``PATH.art``) or ``art.lock:STAGE`` for a pipeline output."""

    path: str
    pointer: Pointer
    source: str

    @property
    def key(self) -> ObjectKey:
        """The artifact's root object: its tree, or its file (a manifest or a single chunk)."""
        return ObjectKey(self.pointer.oid, Kind.TREE if self.pointer.kind == "dir" else Kind.FILE)


def select(
    repo: Repo, paths: Sequence[str] | None, artifacts: list[TrackedArtifact] | None = None
) -> list[TrackedArtifact]:
    """Return the tracked artifacts named by ``paths`` (all when empty); a path may be a pointer file.

    ``artifacts`` is a selection made before (it is narrowed, not read again from the workspace).

    Raises:
        PathNotTrackedError: when a path names nothing tracked.
    """
    from ..errors import PathNotTrackedError

    arts = repo.artifacts() if artifacts is None else artifacts
    if not paths:
        return list(arts)
    chosen: list[TrackedArtifact] = []
    seen: set[tuple[str, str]] = set()
    for p in paths:
        rel = to_repo_path(repo.root, p)
        rel = rel[:-4] if rel.endswith(".art") else rel
        hits = [a for a in arts if a.path == rel or a.path.startswith(rel + "/")]
        if not hits:
            raise PathNotTrackedError(
                f"{p} is not tracked by art", path=rel, hint="see 'art ls' for what is tracked, or 'art add' it"
            )
        for h in hits:
            if (h.path, h.source) not in seen:
                seen.add((h.path, h.source))
                chosen.append(h)
    return chosen


def incomplete(store: LocalStore, pointers: Iterable[Pointer], *, shallow: bool = False) -> set[Oid]:
    """The ids of the pointers whose data the local store does not hold completely (every tree, file manifest
    and chunk below them): what pull and the post-checkout hook leave alone and the pre-commit hook refuses;
    status calls them ``not-in-store``. See ``incomplete_keys``.

    ``shallow`` looks at the pointers' own objects only (one batched query), trusting the store's rule that an
    object is stored after everything below it (add and fetch both keep it). ``status`` uses it, because it
    must stay a stat-only pass over unchanged folders; whatever acts on the answer (checkout, pull, the hooks,
    the run cache) looks below.
    """
    keys = {ObjectKey(p.oid, Kind.TREE if p.kind == "dir" else Kind.FILE) for p in pointers}
    if shallow:
        found = store.has_many([*keys, *((o, Kind.CHUNK) for o, k in keys if k == Kind.FILE)])
        return {
            o for o, k in keys if (o, int(k)) not in found and not (k == Kind.FILE and (o, int(Kind.CHUNK)) in found)
        }
    return {oid for oid, _ in incomplete_keys(store, keys)}


def incomplete_keys(
    store: LocalStore, roots: Iterable[tuple[Oid, Kind]], *, lacking: list[ObjectKey] | None = None
) -> set[ObjectKey]:
    """The ``roots`` (trees, files, chunks) the local store does not hold completely, objects below included;
    with ``lacking``, the objects found absent are appended there (for the error message).

    Batched: one level of the DAG at a time, one index query per few hundred objects (``has_many``), never one
    query per object; each object is read at most once per level (trees and file manifests, to find what is
    below them).
    """
    wanted = set(map(ObjectKey._make, roots))
    gen = store.complete_generation()  # roots found complete before are not walked again (local_complete)
    todo = wanted - store.known_complete(k for k in wanted if k.kind != Kind.CHUNK) if gen is not None else wanted
    bad = _walk(store, todo, lacking)
    store.remember_complete((k for k in todo - bad if k.kind != Kind.CHUNK), gen)
    return bad


def _walk(store: LocalStore, roots: set[ObjectKey], lacking: list[ObjectKey] | None) -> set[ObjectKey]:
    # object -> the roots needing it
    level: dict[ObjectKey, tuple[ObjectKey, ...]] = {key: (key,) for key in roots}
    bad: set[ObjectKey] = set()
    while level:
        below: dict[ObjectKey, tuple[ObjectKey, ...]] = {}
        keys = list(level)
        for i in range(0, len(keys), _SLICE):  # a slice at a time: the index's answer is never held whole
            part = keys[i : i + _SLICE]
            probe: list[tuple[Oid, Kind]] = [(o, Kind.CHUNK if k == Kind.FILE else k) for o, k in part]
            probe += [(o, Kind.FILE) for o, k in part if k == Kind.FILE]
            found = store.has_many(probe)
            for key in part:
                oid, kind = key
                owners = level[key]
                if kind == Kind.FILE and (oid, int(Kind.CHUNK)) in found:
                    continue  # a one-chunk file: the chunk is the file
                if (oid, int(kind)) not in found:
                    bad.update(owners)
                    if lacking is not None:
                        lacking.append(key)
                    continue
                for child in _children(store, oid, kind):
                    cur = below.get(child)  # tuples are shared, not copied: flat memory for one root
                    below[child] = owners if cur is None or cur is owners else tuple({*cur, *owners})
        level = {}
        for k, owners in below.items():
            left = owners if bad.isdisjoint(owners) else tuple(o for o in owners if o not in bad)
            if left:
                level[k] = left
    return bad


def _children(store: LocalStore, oid: Oid, kind: Kind) -> list[ObjectKey]:
    if kind == Kind.TREE:
        return [
            ObjectKey(e.oid, e.kind.object_kind) for e in store.get_tree(oid).entries if e.kind != EntryKind.SYMLINK
        ]
    if kind == Kind.FILE:
        return [ObjectKey(c, Kind.CHUNK) for c, _ in FileManifest.from_bytes(oid, store.get(oid, Kind.FILE)).chunks]
    if kind == Kind.RUN:  # the package list it names
        from ..objstore.lineage import Run  # on first use: art status reads no lineage record

        packages = Run.from_bytes(oid, store.get(oid, Kind.RUN)).get("packages")
        return [ObjectKey(Oid(packages), Kind.CHUNK)] if is_oid(packages) else []
    return []
