"""check_remote: a remote's structure (indexes, packs, entry bounds) and, on request, every object's content."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...errors import CorruptObjectError, FormatError
from ..objects import Kind
from ..oid import Oid
from ..progress import as_progress
from .delta import DELTA
from .pack import IDX_MAGIC, PackEntry, encode_index, unpack_payload
from .remote import RemoteStore
from .remote_delta import DeltaReader
from .remote_read import MAX_SPAN, Located

if TYPE_CHECKING:
    from ..verify import Problem


@dataclass(frozen=True, slots=True)
class RemoteCheck:
    """What ``check_remote`` looked at and found."""

    problems: list[Problem]
    packs: int
    indexes: int
    objects: int
    bytes_read: int
    garbage: list[str] = field(default_factory=list)  # packs without an index (unreferenced, removable by gc)
    bad_packs: dict[str, str] = field(default_factory=dict)  # pack name -> what is wrong with it or its index
    # bad pack -> its index entries (when its index is readable)
    listed: dict[str, Sequence[PackEntry]] = field(default_factory=dict)
    # (oid, kind, pack) of copies that failed verification
    damaged: set[tuple[Oid, int, str]] = field(default_factory=set)
    pack_sizes: dict[str, int] = field(default_factory=dict)  # every pack file on the remote -> its size
    checkpoint_damaged: bool = False  # the checkpoint disagrees with the indexes (compact --rebuild repairs it)


def check_remote(
    store: RemoteStore, *, read_data: bool = False, jobs: int = 4, progress: Callable[[int], None] | None = None
) -> RemoteCheck:
    """Check a remote's structure, and with ``read_data`` download and verify every object.

    Structure: every index matches its name, every index has its pack, every entry lies inside its pack's
    payload; packs without an index (left by an interrupted push or gc) are listed as garbage. Data: every
    object decompresses and matches its id (file manifests: their chunks' concatenation is hashed, reading
    at most MAX_SPAN bytes at a time), and each pack's own trailer agrees with its index.

    Returns:
        RemoteCheck with ``Problem`` records (never raises for a finding).

    Raises:
        StoreIOError: when the remote cannot be listed or read.
    """
    from ..verify import Problem
    from .pack import ENTRY, TRAILER, decode_entries

    problems: list[Problem] = []
    bad: dict[str, str] = {}
    listed: dict[str, Sequence[PackEntry]] = {}
    damaged: set[tuple[Oid, int, str]] = set()
    index_names = store.list_indexes()
    pack_sizes = store.list_packs()
    packs: dict[str, Sequence[PackEntry]] = {}
    for name in sorted(index_names):
        entries = store.read_index(name)
        if entries is None:
            problems.append(Problem(name, "index", "index is damaged (its content does not match its name)"))
            bad[name] = "damaged index"
        elif name not in pack_sizes:
            problems.append(Problem(name, "pack", "indexed pack is missing"))
            bad[name], listed[name] = "missing pack", entries
        else:
            packs[name] = entries
    # a pack no index lists is invisible to readers: garbage left by an interrupted push or gc, not damage
    # (a later gc removes it); it is reported as garbage, not as a problem
    garbage = sorted(set(pack_sizes) - set(index_names))
    for name, entries in packs.items():
        payload_end = pack_sizes[name] - TRAILER.size - len(entries) * ENTRY.size
        outside = [e for e in entries if e.offset < 8 or e.offset + e.length > payload_end]
        if outside:
            bad[name], listed[name] = "entries outside the pack", entries
            damaged.update((e.oid, e.kind, name) for e in outside)
        for e in outside[:5]:
            problems.append(
                Problem(
                    e.oid,
                    Kind(e.kind).label,
                    f"index entry points outside pack {name[:10]} ({e.offset}+{e.length} > {payload_end})",
                )
            )
    ckpt_problems = check_checkpoint(store, packs, set(index_names))
    problems += ckpt_problems
    store.set_view(packs)
    objects = sum(len(v) for v in packs.values())
    read = 0
    if read_data:
        chunk_ok: set[Oid] = set()
        manifests: list[tuple[str, PackEntry, bytes]] = []
        for name, entries in packs.items():
            table_len = len(entries) * ENTRY.size
            tail = store.read_range(name, pack_sizes[name] - TRAILER.size - table_len, pack_sizes[name])
            read += len(tail)
            if (
                tail[:table_len] != bytes(encode_index(entries))[len(IDX_MAGIC) :]
                or list(decode_entries(tail[:table_len])) != entries
            ):
                problems.append(Problem(name, "pack", "pack trailer does not match its index"))
                bad[name], listed[name] = "trailer does not match the index", entries
        locs = [Located(n, e) for n, es in packs.items() for e in es]
        reader = DeltaReader(store)  # a delta is rebuilt from its bases (a damaged base fails every dependent)
        counter = as_progress(progress)
        counter.total(bytes=sum(loc.entry.length for loc in locs), files=len(locs))  # what the indexes list
        for pack, entry, stored in store.read_objects(locs, jobs=jobs, progress=counter):
            read += len(stored)
            counter.advance(files=1)
            try:
                data = reader.verify(entry, stored)
            except CorruptObjectError as exc:
                problems.append(Problem(entry.oid, Kind(entry.kind).label, f"pack {pack[:10]}: {exc.reason}"))
                damaged.add((entry.oid, entry.kind, pack))
                bad.setdefault(pack, "damaged objects")
                listed[pack] = packs[pack]
                continue
            if entry.kind == Kind.CHUNK:
                chunk_ok.add(entry.oid)
            elif entry.kind == Kind.FILE:
                manifests.append((pack, entry, data))
        for pack, entry, data in manifests:
            reason, n = _check_remote_manifest(store, reader, entry.oid, data, chunk_ok, jobs)
            read += n
            if reason:
                problems.append(Problem(entry.oid, "file", f"pack {pack[:10]}: {reason}"))
                if reason.startswith("content hashes to"):  # its chunks are intact: the manifest is wrong
                    damaged.add((entry.oid, entry.kind, pack))
                    bad.setdefault(pack, "damaged objects")
                    listed[pack] = packs[pack]
    return RemoteCheck(
        problems,
        len(pack_sizes),
        len(index_names),
        objects,
        read,
        garbage,
        bad,
        listed,
        damaged,
        pack_sizes,
        bool(ckpt_problems),
    )


def check_checkpoint(store: RemoteStore, packs: dict[str, Sequence[PackEntry]], indexed: set[str]) -> list[Problem]:
    """Check the newest checkpoint against the per-pack indexes: its manifests decode, every table and
    block is there and matches its hash, and every record names a pack with an index that lists the same
    entry. Tables are streamed (one downloaded at a time)."""
    import tempfile

    from ..verify import Problem
    from .midx import TABLE_HEAD, decode_packs, read_table_records, record_entry, table_path

    hint = "run 'art remote compact --rebuild'"
    try:
        store.checkpoints.load()
    except FormatError as exc:
        return [Problem("index/midx", "checkpoint", f"{exc} ({hint})")]
    problems: list[Problem] = []
    entries = {name: {(e.oid, e.kind, e.offset, e.length) for e in es} for name, es in packs.items()}
    for table in store.checkpoints.tables():
        with tempfile.TemporaryDirectory(prefix="art-fsck-") as tmp:
            local = f"{tmp}/t"
            try:
                store.transport.download(table_path(table.name), local)
                with open(local, "rb") as f:
                    f.seek(TABLE_HEAD.size)
                    names = decode_packs(f.read(table.packs * 36), table)
                    wrong = 0
                    for rec in read_table_records(f, table):
                        pack, e = record_entry(rec)
                        name = names[pack][0] if pack < len(names) else None
                        if (
                            name is None
                            or name not in indexed
                            or (e.oid, e.kind, e.offset, e.length) not in entries.get(name, ())
                        ):
                            wrong += 1
                    if wrong:
                        problems.append(
                            Problem(table.name, "checkpoint", f"{wrong} entries no index lists the same way ({hint})")
                        )
            except FileNotFoundError:
                problems.append(Problem(table.name, "checkpoint", f"checkpoint table is missing ({hint})"))
            except FormatError as exc:
                problems.append(Problem(table.name, "checkpoint", f"{exc} ({hint})"))
    return problems


def _check_remote_manifest(
    store: RemoteStore, reader: DeltaReader, oid: Oid, data: bytes, chunk_ok: set[Oid], jobs: int
) -> tuple[str | None, int]:
    from ..hashing import ContentHasher
    from ..objects import FileManifest

    try:
        manifest = FileManifest.from_bytes(oid, data)
    except FormatError as exc:
        return str(exc), 0
    hasher = ContentHasher()
    read = 0
    window: list[tuple[Oid, int]] = []
    span = 0
    for i, (chunk, length) in enumerate(manifest.chunks):
        window.append((chunk, length))
        span += length
        if span < MAX_SPAN and i + 1 < len(manifest.chunks):
            continue
        locs = []
        for c, _ in window:
            loc = store.locate(c, Kind.CHUNK)
            if loc is None:
                return f"chunk {c[:10]} is not on the remote", read
            if c not in chunk_ok:
                return f"chunk {c[:10]} is damaged", read
            locs.append(loc)
        got: dict[Oid, bytes] = {}
        for _, entry, stored in store.read_objects(locs, jobs=jobs):
            read += len(stored)
            try:  # a delta is rebuilt from its bases; the others were hashed above
                data = (
                    reader.verify(entry, stored)
                    if entry.codec == DELTA
                    else unpack_payload(entry.codec, stored, entry.raw_length, entry.kind)
                )
            except CorruptObjectError as exc:
                return f"chunk {entry.oid[:10]}: {exc.reason}", read
            except FormatError as exc:
                return f"chunk {entry.oid[:10]}: {exc}", read
            got[entry.oid] = data
        for c, n in window:
            if len(got.get(c, b"")) != n:
                return f"chunk {c[:10]} has the wrong length", read
            hasher.update(got[c])
        window, span = [], 0
    if hasher.oid() != oid:
        return f"content hashes to {hasher.oid()[:10]}", read
    return None, read
