"""Deltas (pack codec 2, ``delta.py``) read from a remote: a chunk's chain of bases resolved over ranged reads.

A remote is never trusted: a chain is followed at most ``MAX_CHAIN`` bases deep, a base that loops back is
refused, and every chunk on the way (each base, then the delta itself) is hashed against its id. Used where
remote chunks are verified one by one (``RemoteStore.get``, ``check_remote``, the copies of remote gc and
repair) and to find the bases a remote delta needs (``remote_bases``: push closure, remote gc).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ...errors import CorruptObjectError, FormatError
from ..objects import Kind
from ..oid import Oid
from .delta import DELTA, MAX_CHAIN, delta_base
from .local_delta import BaseCache
from .pack import PackEntry
from .remote_read import Located, verify_payload

if TYPE_CHECKING:
    from .remote import RemoteStore

_BATCH = 4096  # deltas whose bases are read in one batch of ranged reads


class DeltaReader:
    """Verified chunk contents from a remote, deltas rebuilt from their bases; decoded chunks in a small LRU."""

    def __init__(self, store: RemoteStore, cache: BaseCache | None = None) -> None:
        self.store = store
        self.cache = cache if cache is not None else BaseCache()

    def verify(self, entry: PackEntry, stored: bytes) -> bytes:
        """``verify_payload`` for any codec: a delta is rebuilt from its base (read from the remote) and hashed.

        Raises:
            CorruptObjectError: when the bytes, a base or the chain are bad, or a base is not on the remote.
        """
        return self._verify(entry, stored, frozenset(), 0)

    def chunk(self, oid: Oid) -> bytes:
        """The verified content of chunk ``oid`` on the remote.

        Raises:
            CorruptObjectError: as ``verify``, or when the remote does not list it.
        """
        return self._chunk(oid, frozenset(), 0)

    def _chunk(self, oid: Oid, seen: frozenset[Oid], depth: int) -> bytes:
        data = self.cache.get(oid)
        if data is not None:
            return data
        loc = self.store.locate(oid, Kind.CHUNK)
        if loc is None:
            raise CorruptObjectError(oid, "it is not on the remote")
        for _, entry, stored in self.store.read_objects([loc]):
            return self._verify(entry, stored, seen, depth)
        raise CorruptObjectError(oid, "its pack could not be read")  # read_objects yields every object it can

    def _verify(self, entry: PackEntry, stored: bytes, seen: frozenset[Oid], depth: int) -> bytes:
        oid = entry.oid
        if entry.codec != DELTA:
            data = verify_payload(entry, stored)
        else:
            base = delta_base_of(entry, stored)
            if base == oid or base in seen:
                raise CorruptObjectError(oid, f"its chain of delta bases loops back to {base[:10]}")
            if depth >= MAX_CHAIN:
                raise CorruptObjectError(oid, f"its chain of delta bases is longer than {MAX_CHAIN}")
            try:
                base_raw = self._chunk(base, seen | {oid}, depth + 1)
            except CorruptObjectError as exc:
                raise CorruptObjectError(oid, f"its delta base {base[:10]}: {exc.reason}") from exc
            data = verify_payload(entry, stored, base_raw=base_raw)
        if entry.kind == Kind.CHUNK:
            self.cache.put(oid, data)
        return data


def delta_base_of(entry: PackEntry, stored: bytes) -> Oid:
    """The base a codec-2 payload names.

    Raises:
        CorruptObjectError: when the payload cannot name one.
    """
    try:
        return delta_base(stored)
    except FormatError as exc:
        raise CorruptObjectError(entry.oid, f"remote copy: {exc}") from exc


def base_listed(has: Callable[[Oid, Kind], bool], entry: PackEntry, stored: bytes) -> bool:
    """True unless ``entry`` is a delta whose base ``has`` does not list (a delta is published after its base)."""
    return entry.codec != DELTA or has(delta_base_of(entry, stored), Kind.CHUNK)


def remote_bases(store: RemoteStore, oids: Iterable[Oid], *, jobs: int = 4) -> tuple[set[Oid], list[Oid]]:
    """The chunks the remote's deltas among ``oids`` are built on, transitively (at most ``MAX_CHAIN`` levels),
    as the store's full view (``store.packs``) lists them: only the 32-byte prefix of each codec-2 payload is
    needed, but a delta is small, so it is read whole in merged ranged reads.

    Returns:
        (bases not in ``oids``, deltas whose payload could not name a base).

    Raises:
        StoreIOError: when the remote cannot be read.
    """
    known = set(oids)
    found: set[Oid] = set()
    bad: list[Oid] = []
    deltas = {
        e.oid: Located(name, e)
        for name, entries in store.packs.items()
        for e in entries
        if e.codec == DELTA and e.kind == Kind.CHUNK
    }
    level = [deltas[o] for o in known if o in deltas]
    for _ in range(MAX_CHAIN + 1):
        if not level:
            break
        nxt: list[Located] = []
        for i in range(0, len(level), _BATCH):
            for _, entry, stored in store.read_objects(level[i : i + _BATCH], jobs=jobs):
                try:
                    base = delta_base(stored)
                except FormatError:
                    bad.append(entry.oid)
                    continue
                if base in known or base in found:
                    continue
                found.add(base)
                if base in deltas:
                    nxt.append(deltas[base])
        level = nxt
    return found, bad
