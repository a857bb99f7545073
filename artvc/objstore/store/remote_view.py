"""The object index of a remote's view (``RemoteStore``): (oid, kind) -> where it is (``Located``).

While it lists at most ``SPILL`` objects it is a dictionary. Beyond that it moves into a temporary file of
fixed records (``REC``: an index entry and its pack's number, 54 bytes), so a client whose view lists a
million objects (a pull of a million files from a remote without a checkpoint, or one whose checkpoint led it
to many packs) holds no Python object per listed entry: an entry becomes a ``Located`` or a row only when it
is looked up. The file is unlinked as soon as it is open, so nothing is left behind, even by a kill.

The file is a hash table sorted once: ids are blake3 digests, uniformly spread, so the top ``BITS`` bits of an
id name its *bucket*, and the file holds the records bucket after bucket, with one array of where each bucket
starts (``starts``, 64 KiB). Records added are appended to their bucket's buffer in memory; past ``PENDING``
bytes the buffers are written to the file as a *segment* (laid out the same way), and the first lookup after
that, or the ``SEGMENTS``-th segment, merges the segments into the file, bucket by bucket in groups, in the
order they came (``_seal``). A
lookup of a batch of ids (sorted) reads the buckets it needs, neighbours coalesced into one ``pread`` of at most
``READ_MAX`` bytes, and finds each id in its bucket with ``bytes.find`` (a few records: ~6 at 100,000 objects,
~60 at a million). Until round 36 the spilled index was a temporary sqlite table: inserting a 100,000-object
view took ~0.4 CPU s and a pull's walk's lookups ~0.45 s (a 100k fetch was ~2.9 CPU s in all); see
docs/design.md (remote view).

Like the dictionary it replaces, the first copy of an object added wins (``setdefault``): a bucket's records
are in the order added, and a lookup takes an id's first record of each kind; the caller adds packs in name
order and leaves out the copies it must avoid.
"""

from __future__ import annotations

import os
import struct
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence

from ..objects import Kind
from ..oid import Oid
from .pack import ENTRY, EntryTable, PackEntry
from .remote_read import Located

Key = tuple[Oid, int]
Row = tuple[str, int, int, int, int, int]  # where an object is: pack, kind, codec, offset, length, raw length
Found = Row | dict[int, Row] | None  # what a lookup found of an id: nothing, one record, or one per kind
SPILL = 32_768  # objects listed in memory at most; beyond, the index is a temporary file
REC = struct.Struct("<32sBBQIII")  # id, kind, codec, offset, length, raw length (an ``ENTRY``), pack number
BITS = 14  # buckets: the top 14 bits of an id (16,384 buckets)
PENDING = 1 << 20  # bytes of records added held in memory before they are written as a segment
SEAL_AT = 256 << 10  # a lookup writes the records added since the last one first when they are more than this
READ_MAX = 256 << 10  # one read of neighbouring buckets at most (a bucket larger than this is read whole)
READ_GAP = 8 << 10  # buckets this close are read together
SEGMENTS = 8  # segments merged into the file once there are this many (a view of a million objects: ~7 merges)
_GROUP = 256  # buckets merged at a time by ``_seal`` (1/64 of the file read at once)
_SHIFT = 16 - BITS
_NB = 1 << BITS


def _bucket(digest: bytes) -> int:
    return ((digest[0] << 8) | digest[1]) >> _SHIFT


class ViewIndex:
    """(oid, kind) -> ``Located``, in memory or spilled to a temporary file (``SPILL``).

    Args:
        tmp_dir: where the spilled file goes (default: the system's temp folder).
        spill: False keeps every entry in memory (whole-remote operations that hold every index anyway).
    """

    def __init__(self, tmp_dir: str | os.PathLike[str] | None = None, *, spill: bool = True) -> None:
        self._spills = spill
        self._mem: dict[Key, Located] = {}
        self._fd: int | None = None
        self._names: list[str] = []  # pack names by their number in the file
        self._ids: dict[str, int] = {}
        self._tmp_dir = tmp_dir
        self._lock = threading.Lock()
        self._starts: array[int] = array("I", bytes(4 * (_NB + 1)))  # the file's buckets: where each starts
        self._segments: list[tuple[int, array[int]]] = []  # written, not merged: (byte offset, bucket starts)
        self._end = 0  # the file's size
        self._pending: dict[int, bytearray] = {}  # bucket -> records added, not written yet
        self._pending_bytes = 0

    @property
    def spilled(self) -> bool:
        """Whether the index is in its file."""
        return self._fd is not None

    def __len__(self) -> int:
        if self._fd is None:
            return len(self._mem)
        return sum(1 for _ in self._records())

    def add(self, name: str, entries: Sequence[PackEntry], skip: set[tuple[Oid, int, str]] | None = None) -> None:
        """List the objects of pack ``name`` that are not listed yet (less ``skip``: (oid, kind, pack)). Spilled,
        an ``EntryTable``'s records go to their buckets as they are, without a ``PackEntry`` each."""
        if self._fd is None and self._spills and len(self._mem) + len(entries) > SPILL:
            self._spill()
        if self._fd is None:
            mem = self._mem
            for e in entries:
                if not skip or (e.oid, e.kind, name) not in skip:
                    mem.setdefault((e.oid, e.kind), Located(name, e))
            return
        if isinstance(entries, EntryTable) and not any(p == name for _, _, p in skip or ()):
            data = entries.data
        else:
            data = b"".join(
                ENTRY.pack(bytes.fromhex(e.oid), e.kind, e.codec, e.offset, e.length, e.raw_length)
                for e in entries
                if not skip or (e.oid, e.kind, name) not in skip
            )
        with self._lock:
            tail = self._pack_id(name).to_bytes(4, "little")
            pending, size, shift = self._pending, ENTRY.size, _SHIFT
            for i in range(0, len(data), size):
                b = ((data[i] << 8) | data[i + 1]) >> shift
                buf = pending.get(b)
                if buf is None:
                    buf = pending[b] = bytearray()
                buf += data[i : i + size]
                buf += tail
            self._pending_bytes += len(data) // size * REC.size
            if self._pending_bytes > PENDING:
                self._flush()

    def get(self, key: Key) -> Located | None:
        if self._fd is None:
            return self._mem.get((key[0], int(key[1])))
        kind = int(key[1])
        row = _of_kind(self._find([bytes.fromhex(key[0])])[0], kind)
        return None if row is None else Located(row[0], PackEntry(Oid(key[0]), kind, *row[2:]))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and self.get(key) is not None

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Located]:
        """The listed ones of ``keys``, each id looked up once (a file asked as a file and as a chunk is one id);
        each ``Located`` names the id as it was asked (no second copy of it per key: a pull's walk asks this
        of every file)."""
        if self._fd is None:
            mem = self._mem
            return {k: loc for k in keys if (loc := mem.get((k[0], int(k[1])))) is not None}
        asked = list({(key[0], int(key[1])): key for key in keys}.items())  # (id, kind) -> the key as asked
        digests = [bytes.fromhex(o) for (o, _), _ in asked]
        order = sorted(range(len(digests)), key=digests.__getitem__)
        out = {}
        for i, found in zip(order, self._find([digests[i] for i in order]), strict=True):
            (_, k), key = asked[i]
            row = _of_kind(found, k)
            if row is not None:
                out[key] = Located(row[0], PackEntry(key[0], k, *row[2:]))
        return out

    def get_rows(
        self, keys: Sequence[Key], digests: Sequence[bytes], locate: Callable[[Oid, Kind], Located | None] | None = None
    ) -> list[Row | None]:
        """Where each of ``keys`` is (``digests``: their ids' 32 bytes, in the same order), as a row (pack, kind,
        codec, offset, length, raw length), None for those not listed; a file key is answered by its chunk too
        (a one-chunk file is stored as its chunk). The spilled index is read for the batch's ids in key order
        and its rows go to the caller as they come: no ``Located`` nor ``PackEntry`` per row (a pull's walk
        asks this of every file). ``locate``: asked key by key for what the view does not list
        (``RemoteStore.locate``, through the checkpoint)."""
        file, chunk = int(Kind.FILE), int(Kind.CHUNK)
        if self._fd is None:
            mem = self._mem
            out: list[Row | None] = []
            for oid, kind in keys:
                loc = mem.get((oid, int(kind)))
                if loc is None and kind == file:
                    loc = mem.get((oid, chunk))
                if loc is None:
                    out.append(None)
                else:
                    e = loc.entry
                    out.append((loc.pack, e.kind, e.codec, e.offset, e.length, e.raw_length))
            return _fill(out, keys, locate)
        order = sorted(range(len(digests)), key=digests.__getitem__)  # the ids in key order, each key's place kept
        rows: list[Row | None] = [None] * len(digests)
        for i, found in zip(order, self._find([digests[i] for i in order]), strict=True):
            if found is None:
                continue
            kind = keys[i][1]
            if isinstance(found, tuple):  # one record for the id (nearly always): the kind asked, or a file's chunk
                if found[1] == kind or (kind == file and found[1] == chunk):
                    rows[i] = found
            else:
                rows[i] = found.get(int(kind)) or (found.get(chunk) if kind == file else None)
        return _fill(rows, keys, locate)

    def items(self) -> Iterator[tuple[Key, Located]]:
        """Every (key, location), in no particular order."""
        if self._fd is None:
            yield from self._mem.items()
            return
        names = self._names
        for d, k, c, off, length, raw, p in self._records():
            oid = Oid.from_digest(d)
            yield (oid, k), Located(names[p], PackEntry(oid, k, c, off, length, raw))

    def clear(self, *, spill: bool = True) -> None:
        """Forget every entry; ``spill``: whether the index may move to a file from now on."""
        self.close()
        self._mem = {}
        self._spills = spill

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._names, self._ids = [], {}
            self._starts = array("I", bytes(4 * (_NB + 1)))
            self._segments, self._end = [], 0
            self._pending, self._pending_bytes = {}, 0

    # -- internals --------------------------------------------------------------------------------------------

    def _pack_id(self, name: str) -> int:
        pid = self._ids.get(name)
        if pid is None:
            pid = self._ids[name] = len(self._names)
            self._names.append(name)
        return pid

    def _spill(self) -> None:
        """Move the dictionary into a new temporary file."""
        if self._tmp_dir is not None:
            os.makedirs(self._tmp_dir, exist_ok=True)
        self._fd = _temp_file(self._tmp_dir)
        mem, self._mem = self._mem, {}
        by_pack: dict[str, list[PackEntry]] = {}
        for loc in mem.values():
            by_pack.setdefault(loc.pack, []).append(loc.entry)
        del mem  # the locations and keys go now, each pack's entries once it is in the file
        for name in sorted(by_pack):  # each key is listed once already: the order does not matter here
            self.add(name, by_pack.pop(name))

    def _flush(self) -> None:
        """Write the records added since the last flush as a segment at the end of the file (lock held)."""
        if not self._pending:
            return
        pending, starts, pieces, n = self._pending, array("I", bytes(4 * (_NB + 1))), [], 0
        for b in sorted(pending):
            buf = pending[b]
            starts[b] = n  # filled in below for the buckets without records
            pieces.append(buf)
            n += len(buf) // REC.size
        last = n
        for b in range(_NB - 1, -1, -1):  # a bucket without records starts where the next one does
            if b not in pending:
                starts[b] = last
            last = starts[b]
        starts[_NB] = n
        assert self._fd is not None
        _write_at(self._fd, b"".join(pieces), self._end)
        self._segments.append((self._end, starts))
        self._end += n * REC.size
        self._pending, self._pending_bytes = {}, 0
        if len(self._segments) >= SEGMENTS:  # their bucket arrays held (64 KiB each), and a lookup's merge, bounded
            self._seal()

    def _seal(self) -> None:
        """Merge the file's buckets and its segments into a new file, bucket by bucket, in the order the records
        came (the file's, then each segment's), ``_GROUP`` buckets at a time (lock held)."""
        if not self._segments:
            return
        assert self._fd is not None
        fd = self._fd
        sources = [(0, self._starts), *self._segments]
        new_fd, starts, n = _temp_file(self._tmp_dir), array("I", bytes(4 * (_NB + 1))), 0
        size = REC.size
        try:
            for g in range(0, _NB, _GROUP):
                parts = []
                for base, st in sources:
                    lo = st[g]
                    parts.append((lo, os.pread(fd, (st[g + _GROUP] - lo) * size, base + lo * size), st))
                pieces = []
                for b in range(g, g + _GROUP):
                    starts[b] = n
                    for lo, data, st in parts:
                        first, last = st[b], st[b + 1]
                        if last > first:
                            pieces.append(data[(first - lo) * size : (last - lo) * size])
                            n += last - first
                _write_at(new_fd, b"".join(pieces), starts[g] * size)
        except BaseException:
            os.close(new_fd)
            raise
        starts[_NB] = n
        os.close(fd)
        self._fd, self._starts, self._segments, self._end = new_fd, starts, [], n * size

    def _find(self, digests: Sequence[bytes]) -> list[Found]:
        """What the view lists of each of ``digests`` (in key order; an id may repeat), in the same order: None,
        the row of the id's one record, or, when it is listed as several kinds, kind -> row (the first record
        of each kind)."""
        out: list[Found] = []
        if not digests:
            return out
        with self._lock:
            if self._pending_bytes > SEAL_AT:
                self._flush()
            self._seal()
            assert self._fd is not None
            fd, starts, pending, names = self._fd, self._starts, self._pending, self._names
            size, gap, most, shift = REC.size, READ_GAP // REC.size, max(1, READ_MAX // REC.size), _SHIFT
            unpack, count, append = REC.unpack_from, len(digests), out.append
            lo = hi = 0  # records lo..hi of the file are in ``data``
            data = b""
            found: Found = None
            prev = None
            for i, d in enumerate(digests):  # the loop of every id a walk asks: inlined, no call per id
                if d == prev:
                    append(found)
                    continue
                prev, found = d, None
                b = ((d[0] << 8) | d[1]) >> shift
                first, last = starts[b], starts[b + 1]
                if last > first:
                    if first < lo or last > hi:
                        lo = hi = first  # read this bucket and the next ones the batch needs, while close
                        j = i
                        while j < count:
                            nb = ((digests[j][0] << 8) | digests[j][1]) >> shift
                            if starts[nb] - hi > gap or (starts[nb + 1] - lo > most and hi > lo):
                                break
                            if starts[nb + 1] > hi:
                                hi = starts[nb + 1]
                            j += 1
                        data = os.pread(fd, (hi - lo) * size, lo * size)
                    start, end = (first - lo) * size, (last - lo) * size
                    pos = data.find(d, start, end)
                    while pos >= 0:
                        if (pos - start) % size == 0:  # a record's start, not bytes inside another record
                            _, k, c, off, length, raw, p = unpack(data, pos)
                            row = (names[p], k, c, off, length, raw)
                            found = row if found is None else _with(found, row)
                        pos = data.find(d, pos + 1, end)
                if pending and (more := pending.get(b)) is not None:
                    found = _scan(more, d, found, names)
                append(found)
        return out

    def _records(self) -> Iterator[tuple[bytes, int, int, int, int, int, int]]:
        """Every listed record once (an id and kind's first), bucket by bucket (whole-view walks: ``items``)."""
        size = REC.size
        for g in range(0, _NB, _GROUP):
            with self._lock:
                self._flush()
                self._seal()
                assert self._fd is not None
                st = self._starts
                data = os.pread(self._fd, (st[g + _GROUP] - st[g]) * size, st[g] * size)
                bounds = [(st[b] - st[g], st[b + 1] - st[g]) for b in range(g, g + _GROUP)]
            for first, last in bounds:
                seen: set[tuple[bytes, int]] = set()
                for rec in REC.iter_unpack(data[first * size : last * size]):
                    if (rec[0], rec[1]) not in seen:
                        seen.add((rec[0], rec[1]))
                        yield rec


def _with(found: Row | dict[int, Row], row: Row) -> Row | dict[int, Row]:
    """``found`` (an id's first record, or its first of each kind) and one more record of the id, which counts
    only when it is of a kind not found yet (the first copy added wins)."""
    if type(found) is tuple:
        return found if found[1] == row[1] else {found[1]: found, row[1]: row}
    assert isinstance(found, dict)
    found.setdefault(row[1], row)
    return found


def _of_kind(found: Found, kind: int) -> Row | None:
    """The row of ``kind`` in what ``ViewIndex._find`` found of an id."""
    if found is None or type(found) is tuple:
        return found if found is not None and found[1] == kind else None
    assert isinstance(found, dict)
    return found.get(kind)


def _scan(data: bytearray, d: bytes, found: Found, names: list[str]) -> Found:
    """``found`` with the records of id ``d`` in ``data`` (whole records: a bucket's records not written yet,
    which came after those of the file)."""
    pos = data.find(d)
    while pos >= 0:
        if pos % REC.size == 0:  # a record's start, not bytes inside another record
            _, k, c, off, length, raw, p = REC.unpack_from(data, pos)
            row = (names[p], k, c, off, length, raw)
            found = row if found is None else _with(found, row)
        pos = data.find(d, pos + 1)
    return found


def _temp_file(tmp_dir: str | os.PathLike[str] | None) -> int:
    """A new temporary file, open for reading and writing and already unlinked."""
    import tempfile  # here: only a remote with many indexes builds a spilled view

    fd, path = tempfile.mkstemp(prefix="remote-view-", suffix=".tmp", dir=tmp_dir)
    os.unlink(path)  # open already: gone from the folder, whatever happens next
    return fd


def _write_at(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _fill(
    rows: list[Row | None], keys: Sequence[Key], locate: Callable[[Oid, Kind], Located | None] | None
) -> list[Row | None]:
    """``rows`` with the keys they lack asked of ``locate`` one by one (a file key as a chunk too), if given."""
    for i, row in enumerate(rows):
        if row is None and locate is not None:
            oid, kind = keys[i]
            loc = locate(oid, Kind(kind)) or (locate(oid, Kind.CHUNK) if kind == Kind.FILE else None)
            if loc is not None:
                e = loc.entry
                rows[i] = (loc.pack, e.kind, e.codec, e.offset, e.length, e.raw_length)
    return rows
