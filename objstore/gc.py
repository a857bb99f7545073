"""Garbage collection of packs: plan which objects go, then rewrite packs in restic's order.

Order (the crash-safety argument, docs/gc.md): live objects of a condemned pack are first copied, as their
stored bytes, into new sealed packs, which are indexed; only afterwards are the old packs removed. A crash at
any point leaves every live object readable (at worst twice), never lost. Objects in packs younger than the
grace period are never removed, so a concurrent ``add``/``push`` whose pointer is not visible yet is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import CorruptObjectError, FormatError
from .hashing import hash_bytes
from .lineage import Run
from .objects import FileManifest, Kind, Tree
from .oid import Oid
from .store.base import IndexedObject
from .store.pack import unpack_payload

Key = tuple[Oid, Kind]


@dataclass(frozen=True, slots=True)
class GcPlan:
    """What a collection will do.

    Attributes:
        doomed: dead objects that will be removed (oid, kind, raw length).
        spared: dead objects kept because their pack is younger than the grace period.
        rewrite: condemned pack name -> live objects to copy out of it first.
        drop: packs removed once the copies are sealed (every key of ``rewrite``, plus packs with no live object).
        live: number of live objects in the store.
    """

    doomed: list[IndexedObject] = field(default_factory=list)
    spared: list[IndexedObject] = field(default_factory=list)
    rewrite: dict[str, list[Key]] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)
    live: int = 0

    @property
    def doomed_bytes(self) -> int:
        return sum(o.raw_length for o in self.doomed)

    @property
    def copies(self) -> int:
        return sum(len(v) for v in self.rewrite.values())


def plan(objects: Iterable[IndexedObject], live: set[Key], pack_mtime: dict[str, float], cutoff: float) -> GcPlan:
    """Decide what to remove: dead objects in packs last modified before ``cutoff``.

    Args:
        objects: every object of the store, with the pack that holds it.
        live: the keys that must survive (a reachability closure).
        pack_mtime: pack name -> modification time (seconds since the epoch); a pack missing here counts as
            young (kept).
        cutoff: packs modified at or after this time are left alone.

    Returns:
        The plan; pure, nothing is touched.
    """
    by_pack: dict[str, list[IndexedObject]] = {}
    for obj in objects:
        by_pack.setdefault(obj.pack, []).append(obj)
    out = GcPlan()
    live_count = 0
    for name, objs in sorted(by_pack.items()):
        alive = [(o.oid, o.kind) for o in objs if (o.oid, o.kind) in live]
        dead = [o for o in objs if (o.oid, o.kind) not in live]
        live_count += len(alive)
        if not dead:
            continue
        if pack_mtime.get(name, cutoff) >= cutoff:
            out.spared.extend(dead)
            continue
        out.doomed.extend(dead)
        out.drop.append(name)
        if alive:
            out.rewrite[name] = alive
    return GcPlan(out.doomed, out.spared, out.rewrite, out.drop, live_count)


def check_payload(oid: Oid, kind: Kind, data: bytes) -> None:
    """Verify an object's uncompressed bytes before gc copies them (never spread a damaged object).

    Raises:
        CorruptObjectError: when the bytes do not match ``oid`` (chunks, trees, runs) or do not decode (files).
    """
    try:
        if kind == Kind.CHUNK:
            if hash_bytes(data) != oid:
                raise CorruptObjectError(oid, f"content hashes to {hash_bytes(data)[:10]}")
        elif kind == Kind.TREE:
            Tree.from_bytes(oid, data)
        elif kind == Kind.RUN:
            Run.from_bytes(oid, data)
        else:
            FileManifest.from_bytes(oid, data)
    except FormatError as exc:
        raise CorruptObjectError(oid, str(exc)) from exc


def rewrite_local(store, gc_plan: GcPlan, *, progress: Callable[[int], None] | None = None) -> None:
    """Carry out ``gc_plan`` on a LocalStore: copy live objects into new packs, then drop the old packs.

    Args:
        store: a ``LocalStore`` (needs ``get_stored``, ``writer(rewrite=True)`` and ``drop_packs``).
        gc_plan: from ``plan``.
        progress: called with the number of objects handled.

    Raises:
        CorruptObjectError: when a live object is damaged; nothing has been removed then.
    """
    if gc_plan.rewrite:
        with store.writer(rewrite=True) as writer:
            for name in sorted(gc_plan.rewrite):
                for oid, kind in gc_plan.rewrite[name]:
                    codec, stored, raw_length = store.get_stored(oid, kind)
                    try:
                        data = unpack_payload(codec, stored, raw_length)
                    except FormatError as exc:
                        raise CorruptObjectError(oid, str(exc)) from exc
                    check_payload(oid, kind, data)
                    writer.put_stored(oid, kind, codec, stored, raw_length)
                    if progress:
                        progress(1)
    # the copies are sealed and their index rows point at the new packs: only now may the old packs go
    store.drop_packs(gc_plan.drop)
