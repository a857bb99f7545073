"""Pack files: many objects in one immutable file, sealed with an index. One format, local and remote.

Layout (docs/formats.md):
  pack   = b"ARTPACK\x01" | payload... | index entries | u64 entries length | b"ARTPEND\x01"
  index  = b"ARTIDX\x00\x01" | entries            (the ``.idx`` file beside a remote pack)
  entry  = oid (32) | kind (1) | codec (1) | offset (u64) | stored length (u32) | raw length (u32), little-endian
A pack's name is the blake3 of its index entries (oids, kinds, codecs, offsets, lengths): objects are
content-addressed, so the entries name the content without hashing every payload byte a second time.
Payloads are raw, zstd (codec 1) or, for chunks only, a zstd delta against another chunk (codec 2:
``delta.py``); the oid always names the uncompressed bytes. The trailer makes every
pack self-describing, so a lost index can be rebuilt.
"""

from __future__ import annotations

import heapq
import os
import struct
from _thread import _local  # threading's own local: no threading at start
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from ...errors import FormatError
from ..codec import MAX_CHUNK_SIZE, MAX_METADATA_SIZE, MAX_PACK_ENTRIES
from ..hashing import hash_bytes
from ..oid import Oid
from .delta import DELTA, PREFIX, decode_delta

if TYPE_CHECKING:
    import zstandard

PACK_MAGIC = b"ARTPACK\x01"
PACK_END = b"ARTPEND\x01"
IDX_MAGIC = b"ARTIDX\x00\x01"
ENTRY = struct.Struct("<32sBBQII")
TRAILER = struct.Struct("<Q8s")

RAW, ZSTD = 0, 1  # and DELTA = 2 (delta.py), chunks only
CODECS = (RAW, ZSTD, DELTA)
ZSTD_LEVEL = 1
_SAMPLE = 4096
_SMALL_SAMPLE = (
    512  # the probe of chunks from 1 to 8 KiB (half of 1 KiB's cost; the same answers, see ``compressible``)
)
KINDS = range(4)  # objects.Kind: chunk, file manifest, tree, run
_READ_STEP = 1 << 20  # decompression output is produced (and allocated) this much at a time
MAX_WINDOW = 8 << 20  # zstd's own buffers: art compresses at level 1 (a 512 KiB window); a frame asking more is refused


def max_raw_length(kind: int) -> int:
    """The largest uncompressed size an object of ``kind`` may have (docs/formats.md#limits)."""
    return MAX_CHUNK_SIZE if kind == 0 else MAX_METADATA_SIZE


def max_stored_length(raw_length: int) -> int:
    """The largest stored payload for ``raw_length`` bytes: zstd's worst case (ZSTD_COMPRESSBOUND) plus a frame
    header and checksum."""
    return raw_length + (raw_length >> 8) + (((128 << 10) - raw_length) >> 11 if raw_length < 128 << 10 else 0) + 32


class PackEntry(NamedTuple):
    """Where an object sits inside a pack."""

    oid: Oid
    kind: int
    codec: int
    offset: int
    length: int
    raw_length: int


def encode_entries(entries: Sequence[PackEntry]) -> bytes:
    if isinstance(entries, EntryTable):
        return entries.data
    return b"".join(ENTRY.pack(e.oid.digest, e.kind, e.codec, e.offset, e.length, e.raw_length) for e in entries)


def decode_entries(data: bytes | memoryview) -> Iterator[PackEntry]:
    """Parse and check index entries (the validating layer for entry tables: docs/formats.md#limits).

    Raises:
        FormatError: when the length is not a whole number of entries, there are too many, or an entry has an
            unknown kind or codec, a size over its kind's limit, or a stored length its codec cannot produce.
    """
    if len(data) % ENTRY.size:
        raise FormatError("pack index has a partial entry")
    if len(data) // ENTRY.size > MAX_PACK_ENTRIES:
        raise FormatError(f"pack index lists {len(data) // ENTRY.size} objects, over the limit of {MAX_PACK_ENTRIES}")
    for digest, kind, codec, offset, length, raw in ENTRY.iter_unpack(data):
        check_entry(kind, codec, offset, length, raw)
        yield PackEntry(Oid(digest.hex()), kind, codec, offset, length, raw)


class EntryTable(Sequence[PackEntry]):
    """A pack's entries held as their checked, encoded records (``ENTRY``, 50 bytes each) and decoded one at a
    time when read: a remote pack of a million tiny files is a 50 MB table, not a list of a million
    ``PackEntry`` objects (~300 bytes each). Built only by ``from_records``, which checks every entry.

    The one pass that checks the entries also notes what a fetch asks of a whole pack, so that nothing walks
    the table again for it (a fetch decoded each whole pack's entries five times: the delta test, the trailer
    check, the byte count, the gaps to copy, the windows to verify; four of those passes are these facts):
    ``offset_ordered``: whether the entries are in offset order (a sealed pack's are), so a caller that needs
    them so takes the table as it is instead of a sorted list; ``deltas``: whether any entry is a delta;
    ``end``: the end of the last object's bytes (offset + length, the largest); ``stored``: the stored bytes of
    all entries; ``dense``: in offset order, the first object right after the pack's header and each one right
    after the one before (no gap: a pack sealed by ``PackWriter``)."""

    __slots__ = ("data", "deltas", "dense", "end", "offset_ordered", "stored")

    def __init__(
        self,
        data: bytes,
        offset_ordered: bool,
        *,
        deltas: bool = True,
        end: int = 1 << 63,
        stored: int = -1,
        dense: bool = False,
    ) -> None:
        self.data = data
        self.offset_ordered = offset_ordered
        self.deltas, self.end, self.stored, self.dense = deltas, end, stored, dense

    @classmethod
    def from_records(cls, data: bytes | memoryview) -> EntryTable:
        """Check a table of encoded entries (as ``decode_entries`` does) and keep it as one bytes object, with
        its facts (above) found in the same pass.

        Raises:
            FormatError: as ``decode_entries``.
        """
        if len(data) % ENTRY.size:
            raise FormatError("pack index has a partial entry")
        if len(data) // ENTRY.size > MAX_PACK_ENTRIES:
            raise FormatError(
                f"pack index lists {len(data) // ENTRY.size} objects, over the limit of {MAX_PACK_ENTRIES}"
            )
        last, ordered, deltas, end, stored = -1, True, False, len(PACK_MAGIC), 0
        dense, pos = True, len(PACK_MAGIC)
        for _, kind, codec, offset, length, raw in ENTRY.iter_unpack(data):
            if not (codec == RAW and kind == 0 and length == raw <= MAX_CHUNK_SIZE and offset >= pos):
                check_entry(kind, codec, offset, length, raw)  # the common raw chunk passes the test above
                deltas = deltas or codec == DELTA
            ordered = ordered and offset > last
            dense = dense and offset == pos
            last, pos = offset, offset + length
            stored += length
            if pos > end:
                end = pos
        return cls(bytes(data), ordered, deltas=deltas, end=end, stored=stored, dense=dense and ordered)

    def __len__(self) -> int:
        return len(self.data) // ENTRY.size

    def __iter__(self) -> Iterator[PackEntry]:
        for digest, kind, codec, offset, length, raw in ENTRY.iter_unpack(self.data):
            yield PackEntry(Oid(digest.hex()), kind, codec, offset, length, raw)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("entry index out of range")
        digest, *rest = ENTRY.unpack_from(self.data, (i % n) * ENTRY.size)
        return PackEntry(Oid(digest.hex()), *rest)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EntryTable):
            return self.data == other.data
        return (
            isinstance(other, list)
            and len(other) == len(self)
            and all(a == b for a, b in zip(self, other, strict=True))
        )

    __hash__ = None  # type: ignore[assignment]


def by_offset(entries: Sequence[PackEntry]) -> Sequence[PackEntry]:
    """``entries`` in offset order: an ``EntryTable`` that is so already (a sealed pack's) as it is, else a list."""
    if isinstance(entries, EntryTable) and entries.offset_ordered:
        return entries
    return sorted(entries, key=lambda e: e.offset)


_RUN = 1 << 16  # records sorted at once by ``sorted_records``


def sorted_records(table: bytes) -> Iterator[tuple[bytes, int, int, int, int, int]]:
    """The records of an encoded entry table (``ENTRY``), unpacked, in id order (stable: one id's records keep
    the table's order). Only ``_RUN`` records are unpacked at a time: runs are sorted, re-encoded and merged, so
    a pack of a million tiny files is not a million tuples at once (~2x the table's bytes at most)."""
    view = memoryview(table)
    step = _RUN * ENTRY.size
    if len(view) <= step:
        return iter(sorted(ENTRY.iter_unpack(view), key=_by_id))
    runs = [
        b"".join(ENTRY.pack(*r) for r in sorted(ENTRY.iter_unpack(view[i : i + step]), key=_by_id))
        for i in range(0, len(view), step)
    ]
    return heapq.merge(*(ENTRY.iter_unpack(r) for r in runs), key=_by_id)  # ties: the earlier run first


def _by_id(record: tuple[bytes, int, int, int, int, int]) -> bytes:
    return record[0]


def check_entry(kind: int, codec: int, offset: int, length: int, raw_length: int) -> None:
    """Check one entry's fields against the format.

    Raises:
        FormatError: when they are impossible.
    """
    if kind not in KINDS:
        raise FormatError(f"pack index has an object of unknown kind {kind}")
    if codec not in CODECS:
        raise FormatError(f"pack index has an object with unknown codec {codec}")
    if codec == DELTA and kind != 0:
        raise FormatError(f"pack index has a delta (codec {DELTA}) that is not a chunk (kind {kind})")
    if raw_length > max_raw_length(kind):
        raise FormatError(
            f"pack index claims an object of {raw_length} bytes, over the limit of {max_raw_length(kind)} for its kind"
        )
    if codec == DELTA:
        bad = not PREFIX < length <= PREFIX + max_stored_length(raw_length)
    else:
        bad = length != raw_length if codec == RAW else not 0 < length <= max_stored_length(raw_length)
    if bad:
        raise FormatError(f"pack index claims {length} stored bytes for an object of {raw_length} bytes")
    if offset < len(PACK_MAGIC):
        raise FormatError("pack index points into the pack header")


def encode_index(entries: Sequence[PackEntry]) -> bytes:
    return IDX_MAGIC + encode_entries(entries)


def decode_index(data: bytes) -> list[PackEntry]:
    """Parse an ``.idx`` file.

    Raises:
        FormatError: when it is not a valid index (see ``decode_entries``).
    """
    if not data.startswith(IDX_MAGIC):
        raise FormatError("not an art pack index")
    return list(decode_entries(memoryview(data)[len(IDX_MAGIC) :]))


def decode_index_table(data: bytes) -> EntryTable:
    """Parse an ``.idx`` file into an ``EntryTable`` (no object per entry).

    Raises:
        FormatError: when it is not a valid index (see ``decode_entries``).
    """
    if not data.startswith(IDX_MAGIC):
        raise FormatError("not an art pack index")
    return EntryTable.from_records(memoryview(data)[len(IDX_MAGIC) :])


class Compressor:
    """Decide per chunk between zstd and raw; cheap on incompressible data (a 4 KiB probe first, 512 bytes for 1-8
    KiB, none for ASCII text)."""

    def __init__(self, level: int = ZSTD_LEVEL) -> None:
        self._level = level
        self._local = _local()

    @property
    def level(self) -> int:
        """The zstd level of stored frames (and of the probe)."""
        return self._level

    def _ctx(self, probe: bool = False) -> zstandard.ZstdCompressor:
        """This thread's context: for frames that are stored, or for probes (no checksum nor size: never kept)."""
        local = self._local
        ctx: zstandard.ZstdCompressor | None = getattr(local, "probe" if probe else "ctx", None)
        if ctx is None:
            import zstandard  # loaded only by commands that write or read compressed objects

            local.ctx = zstandard.ZstdCompressor(level=self._level, write_checksum=True)
            local.probe = zstandard.ZstdCompressor(level=self._level, write_checksum=False, write_content_size=False)
            ctx = local.probe if probe else local.ctx
        return ctx

    def compressible(self, data: bytes | memoryview) -> bool:
        """False when ``pack`` would store ``data`` raw without trying: too short, or a sample of it does not
        compress (4 KiB; 512 bytes of a small file from 1 to 8 KiB, whose whole compression costs several times
        the probe: a folder of small random files, images or archives, skips most of zstd). A sample that is
        ASCII text is not probed: at 7 bits a byte at most, zstd's Huffman stage alone saves more than the 3% that
        ``pack`` asks of the whole chunk, so the trial would only add its cost. Cheap: callers may ask before
        making the copy that ``pack`` keeps.

        The 512-byte probe answered as the 1 KiB one did (measured 2026-11-30 on 3-8 KiB samples of float16/32/64
        arrays, 16-bit audio, 8-bit images, Cyrillic text, hex, base64, zlib output, random bytes and shared
        libraries: no answer changed) at about 60% of its instructions (21k against 29k by callgrind)."""
        n = len(data)
        if n < 128:
            return False
        if n <= 2 * _SMALL_SAMPLE:
            return True  # compressing it whole costs about what a probe would
        sample = data[: _SAMPLE if n > 2 * _SAMPLE else _SMALL_SAMPLE]
        if (sample if isinstance(sample, bytes) else bytes(sample)).isascii():
            return True
        return len(self._ctx(probe=True).compress(sample)) <= len(sample) * 0.92

    def pack(
        self, data: bytes, oid: Oid | None = None, near: Sequence[Oid] | None = None, *, tested: bool = False
    ) -> tuple[int, bytes]:
        """Return (codec, stored bytes) for ``data``; thread-safe (one context per thread).

        ``oid``: the id of a new chunk (for a store's delta-aware compressor, ``DeltaCompressor``, which may
        store it as a delta; this one ignores it). Not given for other kinds. ``near``: the chunks of the
        previous version of its file at about the same place (the delta candidates; None: not known).
        ``tested``: the caller made the sample test (``compressible``) and ``data`` passed it.
        """
        if not tested and not self.compressible(data):
            return RAW, data
        packed = self._frame(data)
        return (RAW, data) if packed is None else (ZSTD, packed)

    def compress(self, data: bytes | memoryview) -> tuple[int, bytes | memoryview]:
        """zstd of ``data`` without the sample test nor deltas: (ZSTD, frame), or (RAW, ``data``) when zstd does
        not save 3%. Keeps no reference to ``data``, so a view of a buffer about to be reused may be passed
        (what ``pack`` is given may be kept: ``DeltaCompressor`` holds new chunks as delta bases)."""
        packed = self._frame(data)
        return (RAW, data) if packed is None else (ZSTD, packed)

    def _frame(self, data: bytes | memoryview) -> bytes | None:
        """The zstd frame of ``data``, or None when it does not save 3%."""
        packed: bytes = self._ctx().compress(data)
        return None if len(packed) >= len(data) * 0.97 else packed

    def plain(self, data: bytes) -> tuple[int, bytes]:
        """``pack`` without deltas (the same here)."""
        return Compressor.pack(self, data)

    def take_fallback(self, oid: Oid) -> bytes | None:
        """See ``DeltaCompressor.take_fallback``; a plain compressor makes no delta."""
        return None

    def take_sketch(self, oid: Oid) -> tuple[int, ...]:
        """The resemblance features computed for chunk ``oid`` by ``pack`` and not taken yet (the store's writer
        records them with the chunk); a plain compressor computes none."""
        return ()


def unpack_payload(
    codec: int, data: bytes, raw_length: int, kind: int | None = None, *, base_raw: bytes | None = None
) -> bytes:
    """Undo ``Compressor.pack``, never producing (or allocating) more than ``raw_length`` bytes, itself bounded
    by the limit of ``kind`` (the larger limit when the kind is not known). A delta (codec 2) needs its base
    chunk's content, ``base_raw`` (its id is ``delta.delta_base(data)``; the caller verified it).

    Raises:
        FormatError: on an unknown codec, a size over the limit, a delta without its base, or a payload that
            does not decompress to exactly ``raw_length`` bytes.
    """
    limit = max_raw_length(kind) if kind is not None else max(MAX_CHUNK_SIZE, MAX_METADATA_SIZE)
    if not 0 <= raw_length <= limit:
        raise FormatError(f"object claims {raw_length} bytes, over the limit of {limit}")
    if codec == RAW:
        out = data
    elif codec == ZSTD:
        out = _decompress(data, raw_length)
    elif codec == DELTA and kind in (0, None):
        if base_raw is None:
            raise FormatError("object is a delta and its base was not given")
        out = decode_delta(data, raw_length, base_raw)
    else:
        raise FormatError(f"unknown object codec {codec}")
    if len(out) != raw_length:
        raise FormatError(f"object has {len(out)} bytes, index says {raw_length}")
    return out


_THREAD = _local()  # .dctx: this thread's decompressor (one costs more to make than a small object)


def _decompressor(zstandard: Any) -> Any:
    dctx = getattr(_THREAD, "dctx", None)
    if dctx is None:
        dctx = _THREAD.dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
    return dctx


def unzstd_into(piece: bytes | memoryview, out: memoryview) -> None:
    """Decompress one zstd frame into ``out``, which it must fill exactly: written in place (the caller's buffer,
    reused: no allocation, no page faults per chunk), never more than ``len(out)`` bytes. What the checkout of a
    large file (``materialize_large``) and the lazy pull (``remote_file``) decompress with.

    Raises:
        FormatError: the frame declares another size, does not decompress, or yields fewer or more bytes.
    """
    import zstandard

    try:
        declared = zstandard.frame_content_size(piece)
        if declared not in (-1, len(out)):  # -1: the frame does not say
            raise FormatError(f"compressed chunk declares {declared} bytes, the index says {len(out)}")
        with _decompressor(zstandard).stream_reader(piece) as reader:
            got = 0
            while got < len(out) and (n := reader.readinto(out[got:])):
                got += n
            if got != len(out) or reader.readinto(bytearray(1)):
                raise FormatError(f"compressed chunk does not decompress to the {len(out)} bytes its index says")
    except zstandard.ZstdError as exc:
        raise FormatError(f"compressed chunk does not decompress: {exc}") from exc


def _decompress(data: bytes, raw_length: int) -> bytes:
    """Decompress one zstd frame whose output must be ``raw_length`` bytes: a frame header that says
    otherwise is refused before anything is allocated, and output is produced step by step, so a payload
    that lies about its size costs at most what it really expands to, up to ``raw_length`` + one step."""
    import zstandard

    try:
        declared = zstandard.frame_content_size(data)
        if declared not in (-1, raw_length):  # -1: the frame does not say
            raise FormatError(f"compressed object declares {declared} bytes, index says {raw_length}")
        dctx = _decompressor(zstandard)
        if declared == raw_length and raw_length <= _READ_STEP:
            return bytes(dctx.decompress(data, max_output_size=raw_length))
        out = bytearray()
        with dctx.stream_reader(data) as reader:
            while len(out) <= raw_length:
                step = reader.read(min(_READ_STEP, raw_length + 1 - len(out)))
                if not step:
                    break
                out += step
        return bytes(out)
    except zstandard.ZstdError as exc:
        raise FormatError(f"compressed object does not decompress: {exc}") from exc


class PackWriter:
    """Append already-encoded objects to an open file and seal it with its index.

    The pack's name is the hash of its entry table, known at seal time without re-reading the payload. The
    table is built as objects are added, already encoded (no ``PackEntry`` per object: a pack of 16,384 small
    files' chunks made one each); ``entries`` decodes it when asked, ``table`` is what ``seal`` wrote.
    """

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._offset = 0
        self._table = bytearray()
        self.count = 0  # objects added
        self.table = b""  # the sealed entry table
        self._write(PACK_MAGIC)

    def _write(self, data: bytes | memoryview) -> None:
        self._f.write(data)
        self._offset += len(data)

    @property
    def size(self) -> int:
        return self._offset

    @property
    def entries(self) -> list[PackEntry]:
        """The objects added so far, in pack order."""
        return [PackEntry(Oid(d.hex()), *rest) for d, *rest in ENTRY.iter_unpack(self._table)]

    def full(self, target: int) -> bool:
        """True once the pack reached ``target`` bytes or the format's limit on entries."""
        return self._offset >= target or self.count >= MAX_PACK_ENTRIES

    def add(self, oid: Oid, kind: int, codec: int, stored: bytes | memoryview, raw_length: int) -> PackEntry:
        entry = PackEntry(oid, kind, codec, self._offset, len(stored), raw_length)
        self._table += ENTRY.pack(bytes.fromhex(oid), kind, codec, self._offset, len(stored), raw_length)
        self.count += 1
        self._write(stored)
        return entry

    def add_pieces(
        self, oid: Oid, kind: int, codec: int, pieces: Iterable[bytes], length: int, raw_length: int
    ) -> None:
        """``add`` of a payload of ``length`` bytes given in pieces, each written as it comes (never joined).

        Raises:
            FormatError: when the pieces do not add up to ``length`` (what was written stays unindexed in the
                pack, which the caller then aborts).
        """
        offset = self._offset
        for piece in pieces:
            self._write(piece)
        if self._offset - offset != length:
            raise FormatError(f"object {oid[:10]} came to {self._offset - offset} bytes, not {length}")
        self._table += ENTRY.pack(bytes.fromhex(oid), kind, codec, offset, length, raw_length)
        self.count += 1

    def add_many(self, objects: Iterable[tuple[Oid, int, int, bytes | memoryview, int]]) -> None:
        """``add`` for several (oid, kind, codec, stored, raw length): the payloads go to the file in one
        ``writelines`` call (one system call on ``packer``'s files)."""
        offset, table, payloads = self._offset, self._table, []
        entry, fromhex = ENTRY.pack, bytes.fromhex
        for oid, kind, codec, stored, raw_length in objects:
            n = len(stored)
            table += entry(fromhex(oid), kind, codec, offset, n, raw_length)
            offset += n
            payloads.append(stored)
        self._f.writelines(payloads)
        self.count += len(payloads)
        self._offset = offset

    def seal(self) -> Oid:
        """Write the trailer and return the pack's id."""
        self.table = table = bytes(self._table)
        self._write(table)
        self._write(TRAILER.pack(len(table), PACK_END))
        return pack_name(table)


def pack_name(table: bytes | memoryview) -> Oid:
    """Return a pack's name from its encoded entry table."""
    return hash_bytes(table)


def read_trailer(f: BinaryIO, size: int) -> list[PackEntry]:
    """Read the index embedded at the end of a pack file of ``size`` bytes.

    Raises:
        FormatError: when the file is not a sealed pack.
    """
    table, start = read_trailer_table(f, size)
    entries = list(decode_entries(table))
    if any(e.offset + e.length > start for e in entries):
        raise FormatError("pack index points past the payload")
    return entries


def read_trailer_table(f: BinaryIO, size: int) -> tuple[bytes, int]:
    """The encoded entry table at the end of a pack file of ``size`` bytes, not decoded, and where it starts
    (the end of the payload). A caller holding the entries compares bytes (``encode_entries``), without a
    second list of entries (``transfer._import_pack``).

    Raises:
        FormatError: when the file is not a sealed pack.
    """
    if size < len(PACK_MAGIC) + TRAILER.size:
        raise FormatError("pack is truncated")
    f.seek(0)
    if f.read(len(PACK_MAGIC)) != PACK_MAGIC:
        raise FormatError("not an art pack")
    f.seek(size - TRAILER.size)
    length, end = TRAILER.unpack(f.read(TRAILER.size))
    start = size - TRAILER.size - length
    if end != PACK_END or start < len(PACK_MAGIC):
        raise FormatError("pack has no valid trailer")
    f.seek(start)
    return f.read(length), start


def trailer_lists(f: BinaryIO, size: int, entries: Sequence[PackEntry]) -> bool:
    """Whether the trailer of the pack file ``f`` lists exactly ``entries`` (in offset order), each inside the
    payload; a damaged trailer is False. The raw table is compared with the encoded entries first (a trailer is in
    offset order): no second decoded list of a large pack's entries is held (``read_trailer``)."""
    try:
        table, start = read_trailer_table(f, size)
        # an EntryTable knows where its objects end: no pass over them
        ends = (
            entries.end if isinstance(entries, EntryTable) else max((e.offset + e.length for e in entries), default=0)
        )
        if ends > start:
            return False
        if table == encode_entries(entries):
            return True
        return sorted(read_trailer(f, size), key=lambda e: e.offset) == list(entries)
    except FormatError:
        return False


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
