"""Reading from a remote store: where an object is (``Located``), which ranged reads fetch a batch of objects
(``plan_reads``), and the checks every index and object read from a remote passes (``check_index``,
``verify_payload``). Pure functions over bytes: no transport, no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

from ...errors import CorruptObjectError, FormatError
from ..codec import MAX_PACK_ENTRIES
from ..objects import Kind, check_object
from .pack import ENTRY, IDX_MAGIC, EntryTable, PackEntry, check_entry, decode_index_table, pack_name, unpack_payload

# Ranged reads: adjacent needed objects are read together when the gap between them is small, up to a
# bounded span, so a pull neither sends one GET per chunk nor holds a whole pack in memory.
MERGE_GAP = 256 << 10
MAX_SPAN = 16 << 20
MAX_INDEX_BYTES = len(IDX_MAGIC) + ENTRY.size * MAX_PACK_ENTRIES

Span = tuple[str, int, int, list[PackEntry]]
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class Located:
    """Where a remote object is: its pack and entry."""

    pack: str
    entry: PackEntry


def check_index(name: str, data: bytes, checked: dict[str, EntryTable] | None = None) -> EntryTable | None:
    """Check an index, whole, and that it hashes to ``name``; None when it does not. Its entries stay encoded
    (``EntryTable``): a pack of a million tiny files is not a million objects.

    ``checked``: tables this process checked entry by entry already, by name (only their facts are used: the
    tables' ``data`` may be empty). An index hashing to such a name has the same bytes (a pack's name is the
    blake3 of its table), so it is not checked entry by entry again: a fetch reads a whole pack's index back
    from the cache after the refresh listed it (its entries were checked once per read before)."""
    body = memoryview(data)[len(IDX_MAGIC) :]
    if not data.startswith(IDX_MAGIC) or pack_name(body) != name:
        return None
    known = checked.get(name) if checked is not None else None
    if known is not None:
        t = known
        return EntryTable(bytes(body), t.offset_ordered, deltas=t.deltas, end=t.end, stored=t.stored, dense=t.dense)
    try:
        table = decode_index_table(data)
    except FormatError:
        return None
    if checked is not None:
        checked[name] = EntryTable(
            b"", table.offset_ordered, deltas=table.deltas, end=table.end, stored=table.stored, dense=table.dense
        )
    return table


def verify_payload(entry: PackEntry, stored: bytes, *, base_raw: bytes | None = None, check: bool = True) -> bytes:
    """Decompress one object read from a remote and check it against its id; return its bytes.

    File manifests are only decoded here: their id is the hash of the file's content, so the caller checks
    them once the chunks are there. A delta (codec 2) needs ``base_raw``, the verified content of the chunk
    it names (``remote_delta.DeltaReader`` finds it); without it a delta is refused. ``check=False`` leaves
    the id check of a tree, manifest or run to a caller that decodes it anyway with its checking decoder
    (``Tree.from_bytes`` and the like): one parse, not two. Chunks are always checked.

    Raises:
        CorruptObjectError: when the bytes are damaged or do not match the id.
    """
    oid = entry.oid
    try:
        check_entry(entry.kind, entry.codec, entry.offset, entry.length, entry.raw_length)
    except FormatError as exc:
        raise CorruptObjectError(oid, f"remote index: {exc}") from exc
    kind = Kind(entry.kind)
    if len(stored) != entry.length:
        raise CorruptObjectError(oid, f"remote pack is truncated ({len(stored)} of {entry.length} bytes)")
    try:
        data = unpack_payload(entry.codec, stored, entry.raw_length, entry.kind, base_raw=base_raw)
        if check or kind == Kind.CHUNK:
            check_object(oid, kind, data)
    except FormatError as exc:
        raise CorruptObjectError(oid, f"remote copy: {exc}") from exc
    return data


def map_ahead(fn: Callable[[_T], _R], items: Sequence[_T], ahead: int) -> Iterator[_R]:
    """``fn`` of each of ``items``, in order, run on up to ``ahead`` threads, with at most ``ahead`` results
    held at once, beyond the one yielded (a refresh that read every index of a remote listing a million
    objects held them all, twice: ~120 MB)."""
    if not items:
        return
    with ThreadPoolExecutor(max_workers=min(ahead, len(items))) as pool:
        rest = iter(items)
        pending: deque[Future[_R]] = deque(pool.submit(fn, item) for item in islice(rest, ahead))
        while pending:
            fut = pending.popleft()
            pending.extend(pool.submit(fn, item) for item in islice(rest, 1))
            yield fut.result()


def plan_reads(locations: Iterable[Located]) -> list[Span]:
    """Group objects into ranged reads: per pack, sorted by offset, merged across small gaps, bounded."""
    by_pack: dict[str, list[PackEntry]] = {}
    for loc in locations:
        by_pack.setdefault(loc.pack, []).append(loc.entry)
    return list(iter_spans(Located(pack, e) for pack in sorted(by_pack) for e in sorted(by_pack[pack], key=_offset)))


def iter_spans(locations: Iterable[Located]) -> Iterator[Span]:
    """``plan_reads`` of locations already grouped by pack and sorted by offset, a span at a time (a caller
    fetching a million chunks never holds them all)."""
    group: list[PackEntry] = []
    pack, start, end = "", 0, 0
    for loc in locations:
        e = loc.entry
        if group and (loc.pack != pack or e.offset - end > MERGE_GAP or e.offset + e.length - start > MAX_SPAN):
            yield pack, start, end, group
            group = []
        if not group:
            pack, start, end = loc.pack, e.offset, 0
        group.append(e)
        end = max(end, e.offset + e.length)
    if group:
        yield pack, start, end, group


def _offset(e: PackEntry) -> int:
    return e.offset


def read_spans(
    read_range: Callable[[str, int, int], bytes],
    spans: Iterable[Span],
    jobs: int = 4,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[str, PackEntry, bytes]]:
    """Yield (pack, entry, stored bytes) for each entry of ``spans``, reading up to ``2 * jobs`` spans ahead on
    ``jobs`` threads (``RemoteStore.read_objects``); an object whose range came back short yields ``b""``."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending: list[tuple[Future[bytes], Span]] = []
        it = iter(spans)
        window = max(2, 2 * jobs)

        def submit() -> bool:
            span = next(it, None)
            if span is None:
                return False
            pack, start, end, _ = span
            pending.append((pool.submit(read_range, pack, start, end), span))
            return True

        for _ in range(window):
            if not submit():
                break
        while pending:
            fut, (pack, start, _end, entries) = pending.pop(0)
            data = fut.result()
            submit()
            if progress:
                progress(len(data))
            for e in entries:
                lo = e.offset - start
                yield pack, e, data[lo : lo + e.length] if lo + e.length <= len(data) else b""
