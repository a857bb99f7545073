"""What a push of deltas (pack codec 2) sends, and in which order.

A delta is useless without its base, so the objects a push sends are closed under bases (``with_bases``: a
delta's base goes too, transitively, unless the remote lists it already). And a remote index should never
list a delta before its base: chunks are published in levels (``levels``), level 0 first — full chunks and
deltas whose base the remote already has — then the deltas on those, and so on, the uploads of one level
finished before the next level's packs are published. An interrupted push thus leaves no delta on the remote
without its base.
"""

from __future__ import annotations

from collections.abc import Iterable

from .objects import Kind
from .oid import Oid
from .store.delta import MAX_CHAIN
from .store.local import LocalStore
from .types import ObjectKey


def with_bases(src: LocalStore, keys: Iterable[ObjectKey]) -> set[ObjectKey]:
    """``keys`` plus the chunks the deltas among them are built on, transitively (as the local store knows)."""
    out = set(keys)
    frontier = {oid for oid, kind in out if kind == Kind.CHUNK}
    for _ in range(MAX_CHAIN + 1):
        if not frontier:
            break
        new = {b for b in src.delta_bases(frontier).values() if ObjectKey(b, Kind.CHUNK) not in out}
        out |= {ObjectKey(b, Kind.CHUNK) for b in new}
        frontier = new
    return out


def levels(src: LocalStore, chunks: Iterable[Oid]) -> dict[Oid, int]:
    """The publishing level of each delta among ``chunks`` (the chunks a push sends) whose base is sent too:
    one more than its base's. Chunks absent from the result are level 0 (full, or built on a base the remote
    has). A loop in the local relation (a damaged index) stops at ``MAX_CHAIN``."""
    sending = set(chunks)
    bases = {d: b for d, b in src.delta_bases(sending).items() if b in sending}
    out: dict[Oid, int] = {}

    def level(oid: Oid, depth: int = 0) -> int:
        if oid not in bases or depth > MAX_CHAIN:
            return 0
        if oid not in out:
            out[oid] = 1 + level(bases[oid], depth + 1)
        return out[oid]

    for d in bases:
        level(d)
    return out
