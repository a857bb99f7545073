"""The deltas a download reads (pack codec 2): stored once their bases are local, each verified by rebuilding it.

A download verifies every chunk before storing it; a delta can only be verified against its base's content.
So ``transfer.download`` sets deltas aside (``DeltaFetch.add``) while it stores full chunks, then ``resolve``
works in rounds: deltas whose base is now in the local store are rebuilt from it, hashed against their id and
stored as they came; bases that are neither local nor part of this download are located on the remote and
fetched (a pull never leaves a delta without its base); each round's writes are committed before the next,
so a delta is never indexed before its base. The remote is not trusted: a delta that names itself, a chain
that loops, a chain longer than ``MAX_CHAIN``, a base the remote does not have, a wrong base or a bad frame
are refused with a ``Problem`` and nothing of them is stored. A delta whose local chain would grow deeper
than ``MAX_CHAIN`` is stored re-compressed in full instead.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ..errors import ArtError, CorruptObjectError, FormatError
from .objects import Kind
from .oid import Oid
from .store import local_delta
from .store.delta import DELTA, MAX_CHAIN, delta_base
from .store.local import LocalStore
from .store.local_writer import LocalWriter
from .store.pack import Compressor, EntryTable, PackEntry
from .store.remote import RemoteStore
from .store.remote_read import Located, verify_payload
from .verify import Problem

MEMORY = 64 << 20  # stored delta bytes held between reading and resolving; more are read again when resolved


def verify_chunk(entry: PackEntry, stored: bytes) -> bytes | None:
    """``verify_payload`` for a chunk that needs nothing else; None for a delta (``DeltaFetch`` takes it)."""
    return None if entry.codec == DELTA else verify_payload(entry, stored)


def has_deltas(entries: Iterable[PackEntry]) -> bool:
    """True when a remote pack holds deltas (a download does not adopt it whole: they are verified one by one);
    an ``EntryTable`` knows from its check (no second pass over its entries)."""
    if isinstance(entries, EntryTable):
        return entries.deltas
    return any(e.codec == DELTA for e in entries)


@dataclass(slots=True)
class _Pending:
    pack: str
    entry: PackEntry
    base: Oid  # the chunk its payload names
    stored: bytes | None  # None: set aside without its bytes (over ``MEMORY``); read again when its base is here
    hops: int = 0  # bases fetched from the remote to reach it (a remote chain's length so far)


@dataclass(slots=True)
class DeltaFetch:
    """Deltas set aside by a download, resolved (verified and stored) with ``resolve``."""

    src: RemoteStore
    dest: LocalStore
    jobs: int = 4
    pending: dict[Oid, _Pending] = field(default_factory=dict)
    held: int = 0
    problems: list[Problem] = field(default_factory=list)
    bad: list[tuple[Oid, Kind, str]] = field(default_factory=list)
    packs: set[str] = field(default_factory=set)
    stored: int = 0
    bytes: int = 0
    bases: int = 0  # bases fetched beyond what the download's walk asked for
    refused: set[Oid] = field(default_factory=set)

    def add(self, pack: str, entry: PackEntry, stored: builtins.bytes, hops: int = 0) -> None:
        """Set a delta aside: the base it names, and its bytes while they fit in ``MEMORY``."""
        try:
            base = delta_base(stored)
        except FormatError as exc:
            self._refuse(_Pending(pack, entry, Oid(entry.oid), None), str(exc))
            return
        keep = self.held + len(stored) <= MEMORY
        self.held += len(stored) if keep else 0
        self.pending[entry.oid] = _Pending(pack, entry, base, stored if keep else None, hops)

    def resolve(self, feed: Callable[[Oid, builtins.bytes], None]) -> None:
        """Verify and store every pending delta (fetching bases the local store lacks); ``feed`` gets each
        chunk's verified content (the download's streaming manifest hashes).

        Ends: an id enters ``pending`` once (a fetched base is neither local, pending nor refused), a fetched
        base is at most ``MAX_CHAIN`` hops from what was asked for, and a round that changes nothing stops."""
        while self.pending:
            before = len(self.pending)
            self.held = sum(len(p.stored) for p in self.pending.values() if p.stored is not None)
            ready: list[_Pending] = []
            fetch: dict[Oid, list[_Pending]] = {}
            for p in list(self.pending.values()):
                base = p.base
                if base == p.entry.oid:
                    self._refuse(p, "the delta names itself as its base")
                elif base in self.refused:
                    self._refuse(p, f"its delta base {base[:10]} was refused")
                elif base in self.pending:
                    continue  # its base is resolved first (a loop never is: refused below)
                elif self.dest.has(base, Kind.CHUNK):
                    ready.append(p)
                elif p.hops >= MAX_CHAIN:
                    self._refuse(p, f"its chain of delta bases is longer than {MAX_CHAIN}")
                else:
                    fetch.setdefault(base, []).append(p)
            writer = self.dest.writer()
            try:
                self._fetch_bases(writer, fetch, feed)
                for batch in self._with_bytes(ready):
                    self._store_ready(writer, batch, feed)
            finally:
                writer.commit()  # what was verified stays; the next round reads these bases
            if not ready and not fetch and len(self.pending) == before:
                break
        for p in list(self.pending.values()):
            self._refuse(p, "its chain of delta bases loops back on itself")

    def _with_bytes(self, ready: list[_Pending]) -> Iterator[list[_Pending]]:
        """``ready`` in batches whose bytes are all held: the ones set aside without them are read again, at
        most ``MEMORY`` bytes (or one delta) at a time."""
        have = [p for p in ready if p.stored is not None]
        if have:
            yield have
        batch: list[_Pending] = []
        size = 0
        for p in [p for p in ready if p.stored is None] + [None]:
            if batch and (p is None or size + p.entry.length > MEMORY):
                for _, entry, stored in self.src.read_objects(
                    [Located(b.pack, b.entry) for b in batch], jobs=self.jobs
                ):
                    self.pending[entry.oid].stored = stored
                yield batch
                for b in batch:
                    b.stored = None  # resolved (or refused) and popped: let the bytes go
                batch, size = [], 0
            if p is not None:
                batch.append(p)
                size += p.entry.length

    def _refuse(self, p: _Pending, reason: str) -> None:
        self.pending.pop(p.entry.oid, None)
        self.refused.add(p.entry.oid)
        self.problems.append(Problem(p.entry.oid, "chunk", f"remote pack {p.pack[:10]}: {reason}"))
        self.bad.append((p.entry.oid, Kind.CHUNK, p.pack))

    def _fetch_bases(
        self, writer: LocalWriter, fetch: dict[Oid, list[_Pending]], feed: Callable[[Oid, builtins.bytes], None]
    ) -> None:
        """Read the bases that are neither local nor pending: full ones are verified and stored now, deltas join
        the pending ones (one hop further from what the download asked for)."""
        locs: list[Located] = []
        for base, waiting in fetch.items():
            loc = self.src.locate(base, Kind.CHUNK)
            if loc is None:
                for p in waiting:
                    self._refuse(p, f"its delta base {base[:10]} is not on the remote")
            else:
                locs.append(loc)
        for pack, entry, stored in self.src.read_objects(locs, jobs=self.jobs):
            self.packs.add(pack)
            hops = 1 + max(p.hops for p in fetch[entry.oid])
            if entry.codec == DELTA:
                self.add(pack, entry, stored, hops)
                self.bases += 1
                continue
            try:
                data = verify_payload(entry, stored)
            except CorruptObjectError as exc:
                for p in fetch[entry.oid]:
                    self._refuse(p, f"its delta base {entry.oid[:10]} is damaged ({exc.reason})")
                self.problems.append(Problem(entry.oid, "chunk", f"remote pack {pack[:10]}: {exc.reason}"))
                self.bad.append((entry.oid, Kind.CHUNK, pack))
                continue
            self._put(writer, entry, entry.codec, stored, data, feed)
            self.bases += 1

    def _store_ready(
        self, writer: LocalWriter, ready: list[_Pending], feed: Callable[[Oid, builtins.bytes], None]
    ) -> None:
        """Rebuild each delta from its (local) base, check it against its id, store it."""
        depths = local_delta.depths(self.dest, [p.base for p in ready])
        for p in ready:
            self.pending.pop(p.entry.oid, None)
            base = p.base
            if p.stored is None:  # its range came back short
                self._refuse(p, "remote pack is truncated")
                continue
            try:
                base_raw = self.dest.get(base, Kind.CHUNK)
            except ArtError as exc:
                self._refuse(p, f"its delta base {base[:10]} is unreadable here ({exc})")
                continue
            try:
                data = verify_payload(p.entry, p.stored, base_raw=base_raw)
            except CorruptObjectError as exc:
                self._refuse(p, exc.reason)
                continue
            self.packs.add(p.pack)
            if depths.get(base, 0) + 1 > MAX_CHAIN:  # too deep here: keep it whole
                codec, stored = Compressor().pack(data)
                self._put(writer, p.entry, codec, stored, data, feed)
            else:
                self._put(writer, p.entry, DELTA, p.stored, data, feed)

    def _put(
        self,
        writer: LocalWriter,
        entry: PackEntry,
        codec: int,
        stored: builtins.bytes,
        data: builtins.bytes,
        feed: Callable[[Oid, builtins.bytes], None],
    ) -> None:
        feed(entry.oid, data)
        if writer.put_stored(entry.oid, Kind.CHUNK, codec, stored, entry.raw_length):
            self.stored += 1
            self.bytes += len(stored)
