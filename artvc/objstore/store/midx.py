"""Remote index v2: checkpoints over the per-pack indexes, so a client finds any object with a few ranged
reads instead of loading every index of the remote (docs/formats.md "Remote index v2", docs/remotes.md).

Per-pack ``.idx`` files stay the commit point. Writers put new ones under ``index/<epoch>/`` (the writer's
UTC day, ``YYYYMMDD``; a v1 remote's flat ``index/<name>.idx`` count as epoch 0). A **checkpoint** folds
them into sorted tables:

    index/<gen:010d>-<blake3 of the manifest>.ckpt        the manifest (the checkpoint's commit point)
    index/midx/tables/<blake3 of the table>.tbl           a table: sorted fixed-width records

    table    = TABLE_HEAD (magic, n_packs, n_entries) | packs: (digest 32, epoch u32) x n_packs, sorted
               | records: (oid 32, kind 1, codec 1, pack# u32, offset u64, length u32, raw length u32) x
               n_entries, sorted by (oid, kind, pack digest); pack# indexes the table's own pack list
    manifest = MANIFEST_HEAD (magic, version, gen, listed_from, n_tables, n_recent)
               | per table: (name 32, blake3 of its pack list 32, n_entries u64, n_packs u32)
               | per table, per block of BLOCK_ENTRIES records: (first oid+kind 33, blake3 of the block 32)
               | recent: pack digests (32, sorted) the checkpoint covers whose idx sit in epochs >= listed_from

A reader lists ``index/`` once: it shows the epoch folders, a v1 remote's flat indexes and the manifests (the
newest generation wins; several manifests of one generation are all used); then it lists only the existing
epoch folders from ``listed_from`` on; idx files there that the checkpoint does not cover form the *window*,
loaded as before. Everything else is found through the tables: the block index (in the manifest) names the one
block that can hold a key; that block is read with one ranged GET, checked against its hash, cached on disk
under its hash (immutable) and searched by binary search over its fixed-width records — nothing is decoded
into per-entry Python objects except the records looked up.

Compaction is a pure function of its inputs (the newest manifests, their tables and the idx files listed):
records are merged in sorted order, blocks have a fixed size and every file is named by its content, so two
clients compacting the same remote at once write byte-identical files and need no lock between them.
"""

from __future__ import annotations

import heapq
import os
import struct
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from ...errors import FormatError
from ..codec import MAX_PACK_ENTRIES
from ..hashing import hash_bytes
from ..oid import Oid
from .pack import PackEntry, check_entry

TABLE_MAGIC = b"ARTMTBL\x01"
MANIFEST_MAGIC = b"ARTCKPT\x01"
VERSION = 1
REC = struct.Struct("<32sBBIQII")  # 54 B
PACKREC = struct.Struct("<32sI")  # 36 B
TABLE_HEAD = struct.Struct("<8sIQ")
MANIFEST_HEAD = struct.Struct("<8sIQIII")
TABLE_REF = struct.Struct("<32s32sQI")
BLOCK_REF = struct.Struct("<33s32s")
KEY = 33  # oid + kind: what records are sorted and searched by
BLOCK_ENTRIES = 4096  # ~216 KB per block
MAX_TABLES = 64
MAX_PACKS = 1 << 24
MAX_ENTRIES = MAX_PACKS * MAX_PACK_ENTRIES
MAX_RECENT = 1 << 22
MAX_MANIFEST_BYTES = 256 << 20
TIER = 4  # a table is merged into the next older one while that one is at most TIER times its size
FLAT = 0  # the epoch of a v1 index/<name>.idx
MIDX = "index/midx"


# -- epochs -------------------------------------------------------------------------------------------------


def epoch_of(when: datetime | None = None) -> int:
    """The epoch (UTC day as YYYYMMDD) of ``when`` (default now)."""
    when = when or datetime.now(UTC)
    return int(when.astimezone(UTC).strftime("%Y%m%d"))


def epoch_days(epoch: int, days: int) -> int:
    """``epoch`` moved by ``days`` (may be negative)."""
    return epoch_of(_date(str(epoch)) + timedelta(days=days))


def _date(text: str) -> datetime:
    """The UTC midnight of an epoch's ``YYYYMMDD`` text (``datetime.strptime`` without it: that function's first
    call imports ``_strptime`` and compiles its regular expressions, a few milliseconds of every push and pull).

    Raises:
        ValueError: when ``text`` is not 8 digits naming a date.
    """
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise ValueError(f"not an epoch: {text!r}")
    return datetime(int(text[:4]), int(text[4:6]), int(text[6:]), tzinfo=UTC)


def is_epoch(text: str) -> bool:
    try:
        _date(text)
    except ValueError:
        return False
    return True


def epochs_between(first: int, last: int, limit: int = 400) -> list[int]:
    """Every epoch from ``first`` to ``last`` inclusive (at most ``limit``, the newest kept)."""
    out: list[int] = []
    e = last
    while e >= first and len(out) < limit:
        out.append(e)
        e = epoch_days(e, -1)
    return sorted(out)


def idx_path(name: str, epoch: int) -> str:
    return f"index/{name}.idx" if epoch == FLAT else f"index/{epoch}/{name}.idx"


def manifest_path(gen: int, digest: str) -> str:
    return f"index/{gen:010d}-{digest}.ckpt"


def table_path(name: str) -> str:
    return f"{MIDX}/tables/{name}.tbl"


def parse_manifest_name(name: str) -> tuple[int, str] | None:
    """(gen, digest) of a manifest's file name (in ``index/``), None for anything else."""
    if not name.endswith(".ckpt"):
        return None
    gen, _, digest = name[:-5].partition("-")
    if len(gen) != 10 or not gen.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return None
    return int(gen), digest


# -- keys and records ---------------------------------------------------------------------------------------


def key_of(oid: Oid | str, kind: int) -> bytes:
    return bytes.fromhex(str(oid)) + bytes((int(kind),))


def record_entry(rec: bytes | memoryview) -> tuple[int, PackEntry]:
    """(pack#, entry) of one record, checked like an index entry.

    Raises:
        FormatError: when the fields are impossible.
    """
    digest, kind, codec, pack, offset, length, raw = REC.unpack(rec)
    check_entry(kind, codec, offset, length, raw)
    return pack, PackEntry(Oid(digest.hex()), kind, codec, offset, length, raw)


def search_block(block: bytes, key: bytes) -> list[bytes]:
    """The records of ``block`` (sorted, fixed width) whose oid+kind is ``key`` (usually 0 or 1)."""
    size = REC.size
    n = len(block) // size
    i = bisect_left(range(n), key, key=lambda j: block[j * size : j * size + KEY])
    out = []
    while i < n and block[i * size : i * size + KEY] == key:
        out.append(block[i * size : (i + 1) * size])
        i += 1
    return out


# -- tables -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableRef:
    name: str
    packs_hash: str
    entries: int
    packs: int
    blocks: tuple[tuple[bytes, str], ...]  # (first key, blake3 of the block)

    @property
    def records_offset(self) -> int:
        return TABLE_HEAD.size + self.packs * PACKREC.size

    def block_range(self, i: int) -> tuple[int, int]:
        start = self.records_offset + i * BLOCK_ENTRIES * REC.size
        count = min(BLOCK_ENTRIES, self.entries - i * BLOCK_ENTRIES)
        return start, start + count * REC.size

    def block_for(self, key: bytes) -> int | None:
        """The one block that can hold ``key`` (its first key <= key < the next block's), or None."""
        firsts = self.blocks
        i = bisect_left(range(len(firsts)), key, key=lambda j: firsts[j][0])
        if i < len(firsts) and firsts[i][0] == key:
            # a key spanning a block boundary starts in the block before: search from there
            return i - 1 if i > 0 and firsts[i - 1][0] <= key else i
        return i - 1 if i > 0 else None

    def blocks_for(self, key: bytes) -> list[int]:
        """Every block that may hold records of ``key`` (a run of duplicates may span blocks)."""
        first = self.block_for(key)
        if first is None:
            return []
        out = [first]
        j = first + 1
        while j < len(self.blocks) and self.blocks[j][0] == key:
            out.append(j)
            j += 1
        return out


def decode_packs(data: bytes, ref: TableRef) -> list[tuple[str, int]]:
    """The pack list of a table, checked against the manifest's hash of it.

    Raises:
        FormatError: when it does not match or is malformed.
    """
    if len(data) != ref.packs * PACKREC.size or str(hash_bytes(data)) != ref.packs_hash:
        raise FormatError(f"checkpoint table {ref.name[:10]}: pack list does not match the manifest")
    out = [(d.hex(), e) for d, e in PACKREC.iter_unpack(data)]
    if any(out[i][0] >= out[i + 1][0] for i in range(len(out) - 1)):
        raise FormatError(f"checkpoint table {ref.name[:10]}: pack list is not sorted")
    return out


class _Source:
    """Records of one input, as sortable tuples (key, pack digest, rest) with pack digests resolved."""

    def __init__(self, packs: list[tuple[str, int]], records: Iterable[bytes]) -> None:
        self.packs = packs
        self.records = records

    def __iter__(self) -> Iterator[tuple[bytes, bytes, bytes]]:
        digests = [bytes.fromhex(p) for p, _ in self.packs]
        for rec in self.records:
            pack = REC.unpack_from(rec)[3]
            yield rec[:KEY], digests[pack], rec


def idx_source(packs: list[tuple[str, int, Sequence[PackEntry]]]) -> _Source:
    """An input made of per-pack idx entries: [(pack name, epoch, entries)]."""
    order = sorted((name, epoch) for name, epoch, _ in packs)
    number = {name: i for i, (name, _) in enumerate(order)}
    records: list[bytes] = []
    for name, _, entries in packs:
        p = number[name]
        records.extend(
            REC.pack(bytes.fromhex(str(e.oid)), e.kind, e.codec, p, e.offset, e.length, e.raw_length) for e in entries
        )
    records.sort(key=lambda r: (r[:KEY], order[REC.unpack_from(r)[3]][0]))
    return _Source(order, records)


def table_source(packs: list[tuple[str, int]], records: Iterable[bytes]) -> _Source:
    """An input made of an existing table's pack list and records (already sorted)."""
    return _Source(packs, records)


def write_table(out: BinaryIO, sources: list[_Source], *, drop_packs: frozenset[str] = frozenset()) -> TableRef:
    """Merge ``sources`` into one table written to ``out`` (seekable, empty); return its reference (its name
    is the blake3 of the bytes written). Records of ``drop_packs`` are left out; duplicates collapse."""
    epochs: dict[str, int] = {}
    for s in sources:
        for name, epoch in s.packs:
            if name not in drop_packs:
                epochs[name] = min(epoch, epochs.get(name, epoch))
    packs = sorted(epochs.items())
    number = {bytes.fromhex(name): i for i, (name, _) in enumerate(packs)}
    pack_bytes = b"".join(PACKREC.pack(bytes.fromhex(n), e) for n, e in packs)
    out.write(TABLE_HEAD.pack(TABLE_MAGIC, len(packs), 0))
    out.write(pack_bytes)
    blocks: list[tuple[bytes, str]] = []
    block: list[bytes] = []
    count, last = 0, None
    for key, digest, rec in heapq.merge(*sources):
        p = number.get(digest)
        if p is None or (key, digest) == last:
            continue
        last = (key, digest)
        block.append(rec[:34] + struct.pack("<I", p) + rec[38:])
        if len(block) == BLOCK_ENTRIES:
            blocks.append(_flush(out, block))
            block = []
        count += 1
    if block:
        blocks.append(_flush(out, block))
    out.seek(0)
    out.write(TABLE_HEAD.pack(TABLE_MAGIC, len(packs), count))
    out.flush()
    out.seek(0)
    name = _hash_stream(out)
    return TableRef(name, str(hash_bytes(pack_bytes)), count, len(packs), tuple(blocks))


def _flush(out: BinaryIO, block: list[bytes]) -> tuple[bytes, str]:
    data = b"".join(block)
    out.write(data)
    return block[0][:KEY], str(hash_bytes(data))


def _hash_stream(f: BinaryIO) -> str:
    from blake3 import blake3

    h = blake3()
    while piece := f.read(1 << 20):
        h.update(piece)
    return h.hexdigest()


def read_table_records(f: BinaryIO, ref: TableRef) -> Iterator[bytes]:
    """Stream the records of a local table file, checking each block against the manifest.

    Raises:
        FormatError: when a block does not match.
    """
    for i, (_, digest) in enumerate(ref.blocks):
        start, end = ref.block_range(i)
        f.seek(start)
        data = f.read(end - start)
        if len(data) != end - start or str(hash_bytes(data)) != digest:
            raise FormatError(f"checkpoint table {ref.name[:10]}: block {i} is damaged")
        for j in range(0, len(data), REC.size):
            yield data[j : j + REC.size]


# -- manifests ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Manifest:
    gen: int
    listed_from: int
    tables: tuple[TableRef, ...]
    recent: frozenset[str]

    @property
    def entries(self) -> int:
        return sum(t.entries for t in self.tables)


def encode_manifest(m: Manifest) -> bytes:
    parts = [MANIFEST_HEAD.pack(MANIFEST_MAGIC, VERSION, m.gen, m.listed_from, len(m.tables), len(m.recent))]
    parts += [TABLE_REF.pack(bytes.fromhex(t.name), bytes.fromhex(t.packs_hash), t.entries, t.packs) for t in m.tables]
    for t in m.tables:
        parts += [BLOCK_REF.pack(k, bytes.fromhex(h)) for k, h in t.blocks]
    parts += [bytes.fromhex(p) for p in sorted(m.recent)]
    return b"".join(parts)


def decode_manifest(data: bytes) -> Manifest:
    """Parse and check a manifest (sizes, counts, order, bounds).

    Raises:
        FormatError: when it is not a valid manifest.
    """
    if len(data) > MAX_MANIFEST_BYTES or len(data) < MANIFEST_HEAD.size:
        raise FormatError("checkpoint manifest has an impossible size")
    magic, version, gen, listed_from, n_tables, n_recent = MANIFEST_HEAD.unpack_from(data)
    if magic != MANIFEST_MAGIC:
        raise FormatError("not an art checkpoint manifest")
    if version != VERSION:
        raise FormatError(f"checkpoint manifest version {version} is not supported by this art (upgrade art)")
    if n_tables > MAX_TABLES or n_recent > MAX_RECENT or not (listed_from == 0 or is_epoch(str(listed_from))):
        raise FormatError("checkpoint manifest has impossible counts")
    pos = MANIFEST_HEAD.size
    heads = []
    for _ in range(n_tables):
        if pos + TABLE_REF.size > len(data):
            raise FormatError("checkpoint manifest is truncated")
        name, packs_hash, entries, packs = TABLE_REF.unpack_from(data, pos)
        if entries > MAX_ENTRIES or packs > MAX_PACKS or (entries and not packs):
            raise FormatError("checkpoint manifest has impossible table sizes")
        heads.append((name.hex(), packs_hash.hex(), entries, packs))
        pos += TABLE_REF.size
    tables = []
    for name, packs_hash, entries, packs in heads:
        n_blocks = -(-entries // BLOCK_ENTRIES)
        end = pos + n_blocks * BLOCK_REF.size
        if end > len(data):
            raise FormatError("checkpoint manifest is truncated")
        blocks = tuple((k, h.hex()) for k, h in BLOCK_REF.iter_unpack(data[pos:end]))
        if any(blocks[i][0] > blocks[i + 1][0] for i in range(len(blocks) - 1)):
            raise FormatError("checkpoint manifest has unsorted blocks")
        tables.append(TableRef(name, packs_hash, entries, packs, blocks))
        pos = end
    if len(data) != pos + 32 * n_recent:
        raise FormatError("checkpoint manifest has a wrong size")
    recent = [data[i : i + 32].hex() for i in range(pos, len(data), 32)]
    if any(recent[i] >= recent[i + 1] for i in range(len(recent) - 1)):
        raise FormatError("checkpoint manifest's recent packs are not sorted")
    return Manifest(gen, listed_from, tuple(tables), frozenset(recent))


def tiers(tables: list[TableRef]) -> list[list[TableRef]]:
    """Group ``tables`` (oldest, largest first; the new one last) into the tables of the next checkpoint:
    each group is merged into one table. The newest table joins the one before while that one is at most
    ``TIER`` times its size (an LSM-style size-tiered policy: each record is rewritten O(log n) times)."""
    groups = [[t] for t in tables]
    while len(groups) > 1:
        a, b = groups[-2], groups[-1]
        if sum(t.entries for t in a) <= TIER * sum(t.entries for t in b) or len(groups) > MAX_TABLES // 2:
            groups[-2:] = [a + b]
        else:
            break
    return groups


def order_tables(tables: Iterable[TableRef]) -> list[TableRef]:
    """Deterministic order of the tables of one or more manifests: largest first, then by name."""
    unique = {t.name: t for t in tables}
    return sorted(unique.values(), key=lambda t: (-t.entries, t.name))


def temp_file(folder: str) -> BinaryIO:
    import tempfile

    os.makedirs(folder, exist_ok=True)
    return tempfile.TemporaryFile(dir=folder)
