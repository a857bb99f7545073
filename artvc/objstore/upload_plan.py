"""What an upload sends, and in what order (``transfer.upload`` and ``transfer.upload_closure`` carry it out).

``plan_closure`` walks the closure of some roots level by level, with one batched local lookup and one
batched remote lookup per level (not one query per object), reads each tree, manifest and run once, and, on
a push that trusts the remote, does not descend into what the remote already lists (its closure is there:
uploads publish children first). ``plan_keys`` plans an explicit set of objects.

Deltas (pack codec 2) need their base: a chunk sent as a delta brings the chunk it is built on into the
next level of the walk (sent too unless the remote lists it), and ``delta_levels`` gives each delta whose
base is sent a publishing level one above its base's (``delta_push``), so the remote never lists a delta
before its base.

Then ``whole_packs`` finds the local packs of chunks every one of which is sent at level 0: those are
published as they are (on a directory remote, a hard link), and ``bottom_up`` orders the rest: chunks by
delta level, then manifests, trees (a subtree before its parent) and runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import CorruptObjectError, FormatError, ObjectNotFoundError
from .delta_push import levels, with_bases
from .lineage import Run, run_children
from .objects import FileManifest, Kind, Tree
from .oid import Oid
from .store.delta import DELTA
from .store.local import LocalStore
from .store.pack import ENTRY, TRAILER, PackEntry, read_trailer, unpack_payload
from .store.remote import RemoteStore
from .types import EntryKind, Location, ObjectKey

ORDER = {Kind.CHUNK: 0, Kind.FILE: 1, Kind.TREE: 2, Kind.RUN: 3}


class Send(NamedTuple):
    """One object an upload sends. Sorted field by field: chunks, manifests, trees (by height), runs, then by
    position in the local store (pack id, offset)."""

    order: int
    height: int
    pack: int
    offset: int
    oid: Oid
    kind: Kind
    loc: Location


class Whole(NamedTuple):
    """A local pack published as it is."""

    path: str
    name: str
    entries: list[PackEntry]


@dataclass(slots=True)
class Plan:
    """The objects to send (``todo``), those the remote has (``present``), those found nowhere locally
    (``missing``), every key the walk reached (``keys``; a one-chunk file by its chunk's key), and the
    subtrees of each tree to send (``named``)."""

    todo: list[Send] = field(default_factory=list)
    present: int = 0
    missing: list[ObjectKey] = field(default_factory=list)
    keys: set[ObjectKey] = field(default_factory=set)
    named: dict[ObjectKey, list[ObjectKey]] = field(default_factory=dict)


def plan_keys(src: LocalStore, dest: RemoteStore, keys: Iterable[ObjectKey]) -> Plan:
    """The objects of ``keys`` that ``dest`` lacks (each must be in ``src``).

    Raises:
        ObjectNotFoundError: when a key to send is not in ``src``.
    """
    plan = Plan(keys=with_bases(src, keys))  # a delta's base goes too (delta_push)
    there = dest.has_many(plan.keys)  # one pass: batched, sampled for chunks on a checkpointed remote
    send = [ObjectKey(o, k) for o, k in plan.keys if (o, k) not in there]
    plan.present = len(plan.keys) - len(send)
    rows = src.locate_many(send)
    for oid, kind in send:
        loc = rows.get(ObjectKey(oid, kind))
        if loc is None:
            raise ObjectNotFoundError(oid, kind.label)
        plan.todo.append(Send(ORDER[kind], 0, loc.pack, loc.offset, oid, kind, loc))
    return plan


def plan_closure(src: LocalStore, dest: RemoteStore, roots: Iterable[ObjectKey], *, trust_remote: bool) -> Plan:
    """Everything reachable from ``roots`` that ``dest`` lacks.

    A file is its manifest, else (a one-chunk file) its chunk. An object missing locally goes to ``missing``
    (the remote may have it). With ``trust_remote``, an object the remote lists is not descended into.

    Raises:
        CorruptObjectError: when a local tree, manifest or run is damaged.
    """
    plan = Plan()
    seen = plan.keys
    level: list[ObjectKey] = [ObjectKey(Oid(o), Kind(k)) for o, k in roots]
    chunk_kind, file_kind = Kind.CHUNK, Kind.FILE
    while level:
        fresh = []
        for key in level:
            if key not in seen:
                seen.add(key)
                fresh.append(key)
        rows = src.locate_oids({k[0] for k in fresh})
        found: list[tuple[ObjectKey, Location]] = []
        for key in fresh:
            loc = rows.get(key)
            if loc is None and key[1] == file_kind:
                chunk = (key[0], chunk_kind)
                loc = rows.get(chunk)  # type: ignore[call-overload]
                if loc is not None:
                    seen.discard(key)  # known by its chunk from now on (one entry per file, not two)
                    if chunk in seen:
                        continue
                    seen.add(chunk)  # type: ignore[arg-type]
                    key = chunk  # type: ignore[assignment]
            if loc is None:
                plan.missing.append(ObjectKey(*key))
                continue
            found.append((key, loc))
        there = dest.has_many([k for k, _ in found]) if found else set()
        level = []
        deltas: list[Oid] = []
        for key, loc in found:
            oid, kind = key
            on_remote = key in there
            if on_remote:
                plan.present += 1
                if trust_remote:
                    continue
            else:
                plan.todo.append(Send(ORDER[kind], 0, loc.pack, loc.offset, oid, kind, loc))
                if kind == chunk_kind and loc.codec == DELTA:
                    deltas.append(oid)
            if kind != chunk_kind:
                named = _named(key, _read(src, key, loc))
                if kind == Kind.TREE and not on_remote:  # its subtrees, for ``bottom_up``
                    plan.named[key] = [k for k in named if k[1] == Kind.TREE]
                level.extend(named)
        if deltas:  # their bases go too, unless the remote lists them (the next level asks)
            level.extend((b, chunk_kind) for b in src.delta_bases(deltas).values())  # type: ignore[misc]
    return plan


def _read(src: LocalStore, key: ObjectKey, loc: Location) -> bytes:
    stored = src.read_stored(loc.pack, loc.offset, loc.length)
    if len(stored) != loc.length:
        raise CorruptObjectError(key[0], "local pack is truncated", hint="run 'art fsck'")
    try:
        return unpack_payload(loc.codec, stored, loc.raw_length, int(key[1]))
    except FormatError as exc:
        raise CorruptObjectError(key[0], str(exc), hint="run 'art fsck'") from exc


def _named(key: ObjectKey, data: bytes) -> list[ObjectKey]:
    """What a tree, manifest or run names (a file by its manifest's key; the walk falls back to its chunk)."""
    oid, kind = key
    try:
        if kind == Kind.TREE:  # plain tuples: equal to (and hashed as) ObjectKeys, and cheaper to make
            tree, file, dir_, link = Kind.TREE, Kind.FILE, EntryKind.DIR, EntryKind.SYMLINK
            entries = Tree.from_bytes(oid, data).entries
            keys: list[tuple[Oid, Kind]] = [
                (e.oid, tree if e.kind == dir_ else file) for e in entries if e.kind != link
            ]
            return keys  # type: ignore[return-value]
        if kind == Kind.FILE:
            return [ObjectKey(c, Kind.CHUNK) for c, _ in FileManifest.from_bytes(oid, data).chunks]
        return [ObjectKey(o, k) for o, k in run_children(Run.from_bytes(oid, data))]
    except FormatError as exc:
        raise CorruptObjectError(oid, str(exc), hint="run 'art fsck'") from exc


def _named_local(src: LocalStore, plan: Plan, key: ObjectKey, loc: Location) -> list[ObjectKey]:
    named = plan.named.get(key)
    if named is None:
        named = plan.named[key] = _named(key, _read(src, key, loc))
    return named


def delta_levels(src: LocalStore, plan: Plan) -> None:
    """Give each delta the plan sends whose base it sends too its publishing level (its ``height``): one more
    than its base's (``delta_push.levels``). Call before ``whole_packs`` and ``bottom_up``."""
    deltas = [t.oid for t in plan.todo if not t.order and t.loc.codec == DELTA]
    if not deltas:
        return
    named = set(src.delta_bases(deltas).values())
    level = levels(src, {t.oid for t in plan.todo if not t.order and t.oid in named}.union(deltas))
    if level:
        plan.todo = [t._replace(height=level[t.oid]) if not t.order and t.oid in level else t for t in plan.todo]


def whole_packs(src: LocalStore, plan: Plan) -> dict[int, Whole]:
    """Local packs holding only chunks, all of which are to be sent at level 0 (no delta on a base sent
    with it): published as they are (no rewrite).

    A pack that also holds trees, manifests or runs is rewritten: metadata travels in packs of its own,
    published after every chunk, children first, so a pull reads it in a few ranged reads and the remote
    never lists an object before its closure.
    """
    wanted: dict[int, int] = {}
    for t in plan.todo:
        if t.order == 0:
            wanted[t.pack] = wanted.get(t.pack, 0) + (-1 if t.height else 1)  # a leveled delta: not whole
    whole: dict[int, Whole] = {}
    for pack_id, n in wanted.items():
        name = src.pack_name(pack_id)
        path = src.pack_path(name)
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if (
                    size >= TRAILER.size
                    and TRAILER.unpack(os.pread(f.fileno(), TRAILER.size, size - TRAILER.size))[0] != n * ENTRY.size
                ):
                    continue  # it holds other objects too: not decoded
                entries = read_trailer(f, size)
        except (OSError, FormatError):
            continue
        if len(entries) == n and all(e.kind == Kind.CHUNK for e in entries):
            whole[pack_id] = Whole(str(path), name, entries)
    return whole


def bottom_up(src: LocalStore, plan: Plan, todo: list[Send]) -> list[Send]:
    """Sort: chunks by delta level (``delta_levels``), manifests, trees by height (a subtree before its
    parent), runs; then by local position.

    With metadata packs published one at a time in this order, every object a remote index lists has its
    whole closure on the remote too, even if a push stops halfway; push and status rely on that.
    """
    trees = {t.oid: t.loc for t in todo if t.kind == Kind.TREE}
    heights: dict[Oid, int] = {}

    def height(oid: Oid) -> int:
        if oid not in heights:
            heights[oid] = 0
            named = _named_local(src, plan, ObjectKey(oid, Kind.TREE), trees[oid])
            subtrees = [o for o, k in named if k == Kind.TREE and o in trees]
            heights[oid] = 1 + max((height(c) for c in subtrees), default=0)
        return heights[oid]

    return sorted(t._replace(height=height(t.oid)) if t.kind == Kind.TREE else t for t in todo)
