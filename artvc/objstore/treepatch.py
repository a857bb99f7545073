"""A large folder's tree after a few of its entries changed, patched in its encoding instead of rebuilt (``art
status`` after a change to one file in a folder of thousands, or of a million), with memory flat in its size.

A ``Snapshot`` is what a folder's tree was built from, remembered with the tree: its listing exactly as
``scan.stream_dir`` read it (its names' digest, each entry's stat facts, 40 bytes an entry in directory order,
kept in chunks of ``FACTS_CHUNK`` entries with the digest of them all), its subfolders' signatures (name order) and
the tree's encoding (a blob read a window at a time, or the store's copy of the tree). A ``Watch`` follows the
folder's listing as the status walk reads it, a batch of ``FACTS_CHUNK`` entries at a time: it compares each
batch's facts with the stored chunk (C-level comparisons of halves, never an object per entry) and keeps only
the entries that differ (at most ``PATCHED_AT_MOST``), so the folder is read once and never held. When the
listing has the same names in the same order, ``patch_tree`` replaces only those entries' encodings: a changed
file's id comes from the caller (the stat cache, or hashing it), a subfolder's from the walk. The tree's id is
then the hash of the patched encoding, streamed. Anything else (an entry added, removed, renamed or of another
kind, a symlink changed, more than ``PATCHED_AT_MOST`` entries) answers None: the caller rebuilds.

Every part is checked when read: the stored facts against their digest (as the walk reads them), the tree's
encoding against its id (hashed in each pass over it), each entry found by its head (array of 5, its name, its
kind), which must occur exactly once, and parsed from there; so a damaged snapshot gives None, never a wrong
tree.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from stat import S_IFDIR, S_IFREG
from typing import TYPE_CHECKING, Any, NamedTuple

import blake3

from . import codec
from .hashing import CONTEXTS
from .oid import Oid
from .scan import FileStat
from .types import EntryKind

PATCHED_AT_MOST = 64  # changed entries: more, and the folder is rebuilt
SNAPSHOT_AT_LEAST = 1024  # entries of a folder that keeps a snapshot: a smaller one is rebuilt cheaply
FACTS_CHUNK = 4096  # entries to a stored chunk of facts: ``scan._STREAM_BATCH``, the batches the walk hands over
WINDOW = 1 << 20  # bytes of a tree's encoding read at a time

_FACT = 40  # bytes of stat facts an entry: inode, mtime, ctime, size, mode (``scan._FACTS``)
_FACTS = struct.Struct("=5q")
_FMT = 0o170000
_FILE, _DIR = EntryKind.FILE.value, EntryKind.DIR.value
_ENTRY = b"\x95"  # an array of 5 items: every tree entry
_DIGEST = b"\xc4\x20"  # bin 8 of 32 bytes
_INT_WIDTH = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}

if TYPE_CHECKING:  # a Protocol class costs ~1 M instructions at import, and a status of a large folder imports this
    from typing import Protocol

    class Snapshots(Protocol):
        """Where ``treecache`` finds and keeps the snapshots of the folders of one walk, by path relative to its
        top (``workspace/state_folders.py``)."""

        def watch(self, rel: str) -> Watch: ...

        def tree(self, snap: Snapshot) -> Reader | None: ...

        def write_chunks(self, rel: str, chunks: Iterable[tuple[int, bytes]]) -> None: ...

        def put(
            self, rel: str, snap: Snapshot, chunks: Iterable[tuple[int, bytes]], tree: Tree, base: Snapshot | None
        ) -> None: ...

    class Reader(Protocol):
        """A tree's encoding, read a piece at a time."""

        length: int

        def read(self, at: int, n: int) -> bytes: ...


Digests = Callable[[list[tuple[str, Any]]], list[bytes]]  # files (path, stat) -> 32-byte ids, in order
Spans = list[tuple[int, int, bytes]]  # (start, end, new encoding) of each replaced entry, in order


class Snapshot(NamedTuple):
    """A folder's listing as its tree was built from it (see the module docstring); the row that ``Watch`` checks
    the stored facts against."""

    sig: str  # the folder's signature (hex) for this listing
    oid: str  # the tree's id
    size: int  # the tree's size (the sum of its entries')
    names: bytes  # the blake3 digest of the names (each one's UTF-8 and a NUL, directory order)
    entries: int  # how many
    facts: bytes  # the blake3 digest of the facts: 5 int64 an entry (``FileStat.FIELDS``), directory order
    subsigs: bytes  # the subfolders' signatures, 32 bytes each, name order
    tree: int | None  # where its encoding is kept (``state_folders``), or None: the store's copy of ``oid``


class Watch:
    """One folder's listing followed as ``scan.stream_dir`` reads it (``batch``), against ``old``, the snapshot
    remembered for the folder (None: there is none). Until the listing departs from it (another length, or more
    than ``PATCHED_AT_MOST`` entries differ) only the differing entries are kept (``changed``); from there on, and
    from the start without a snapshot, each batch is written as the stored chunk (``write``), so what is stored is
    the new listing once ``settled``. ``read(k)`` gives stored chunk ``k``."""

    __slots__ = ("old", "read", "write", "count", "chunks", "names", "was", "facts", "changed", "stop", "small")

    def __init__(
        self, old: Snapshot | None, read: Callable[[int], bytes | None], write: Callable[[int, bytes], None]
    ) -> None:
        self.old, self.read, self.write = old, read, write
        self.count = self.chunks = 0
        # the digests, made at the first batch of a listing that is not small (most folders are: no hasher made)
        self.names: Any = None
        self.was: Any = None  # the stored facts read, for their digest
        self.facts: Any = None  # the listing's, once it parts from ``was``
        self.changed: list[tuple[int, str, int, bytes]] = []  # (position, name, mode it had, its facts now)
        self.stop: int | None = None if old is not None else 0  # the first chunk written, not compared
        self.small = False  # too few entries for a snapshot

    def batch(self, facts: bytes, joined: bytes, names: list[str], last: bool) -> None:
        """The next ``len(names)`` entries: their packed facts and their names joined by NULs (``joined``)."""
        if not names:  # the end of a listing of a multiple of ``FACTS_CHUNK`` entries, or an empty one
            self.small = self.small or self.chunks == 0
            return
        k, start = self.chunks, self.count
        self.chunks, self.count = k + 1, start + len(names)
        if k == 0:
            if last and self.count < SNAPSHOT_AT_LEAST:
                self.small = True
                return
            self.names, self.was = blake3.blake3(), blake3.blake3()
            if self.old is None:
                self.facts = blake3.blake3()
        self.names.update(joined)
        self.names.update(b"\0")
        if self.stop is None:
            was = self.read(k) if self.old is not None and start < self.old.entries else None
            if was is None or len(was) != len(facts):
                self._part(k)
            elif was == facts:
                self.was.update(was)
                if self.facts is not None:
                    self.facts.update(facts)
                return
            else:
                if self.facts is None:
                    self.facts = self.was.copy()
                self.was.update(was)
                self.facts.update(facts)
                found = differing(was, facts, _FACT, PATCHED_AT_MOST - len(self.changed))
                if found is None:  # too many: this chunk and the rest are written as they come
                    self.stop = k
                    self.write(k, facts)
                    return
                for j in found:
                    at = _FACT * j
                    mode = _FACTS.unpack_from(was, at)[4]
                    self.changed.append((start + j, names[j], mode, facts[at : at + _FACT]))
                return
        self.facts.update(facts)
        self.write(k, facts)

    def _part(self, k: int) -> None:
        self.stop = k
        if self.facts is None:
            self.facts = self.was.copy()

    @property
    def usable(self) -> bool:
        """True when the listing has the snapshot's names, in its order, and the stored facts are intact: the
        folder's tree may be patched from ``changed``."""
        old = self.old
        return (
            old is not None
            and self.stop is None
            and not self.small
            and self.count == old.entries
            and self.names.digest() == old.names
            and self.was.digest() == old.facts
        )

    @property
    def unchanged(self) -> bool:
        """True when the stored snapshot is the listing's, as it is (nothing to write for it)."""
        return self.usable and not self.changed

    def digests(self) -> tuple[bytes, bytes]:
        """The listing's names' and facts' digests."""
        return self.names.digest(), (self.facts if self.facts is not None else self.was).digest()

    def settled(self) -> Iterator[tuple[int, bytes]]:
        """The stored chunks to replace (number, facts) so that the stored chunks are this listing's: those
        compared before the listing departed, with their differing entries replaced."""
        by_chunk: dict[int, list[tuple[int, bytes]]] = {}
        for pos, _, _, now in self.changed:
            by_chunk.setdefault(pos // FACTS_CHUNK, []).append((pos % FACTS_CHUNK, now))
        for k, records in sorted(by_chunk.items()):
            was = self.read(k)
            if was is None:
                continue
            chunk = bytearray(was)
            for j, now in records:
                chunk[_FACT * j : _FACT * j + _FACT] = now
            yield k, bytes(chunk)


class Patched:
    """A patched tree: its id, size and length, the spans replaced in the old encoding (read from ``source``),
    and how many files' ids were asked for."""

    __slots__ = ("oid", "size", "length", "spans", "source", "files")

    def __init__(self, oid: Oid, size: int, length: int, spans: Spans, source: Reader, files: int) -> None:
        self.oid, self.size, self.length, self.spans, self.source, self.files = oid, size, length, spans, source, files

    def pieces(self) -> Iterator[bytes]:
        """The patched encoding, a window at a time."""
        return _pieces(self.source, self.spans)


if TYPE_CHECKING:  # what ``Snapshots.put`` keeps as the tree: None (the store has it), the blob of the snapshot
    Tree = None | int | bytes | Patched  # it replaces (kept), its encoding, or a patch of a ``Reader``


def differing(old: bytes, new: bytes | bytearray | memoryview, width: int, limit: int) -> list[int] | None:
    """The positions of the ``width``-byte records that differ between ``old`` and ``new`` (equal lengths), found
    by comparing halves, each a ``memcmp`` without a copy (``bytes.startswith`` of a slice of a memoryview: an
    equality of memoryviews compares item by item, fifty times slower); None when more than ``limit`` differ."""
    out: list[int] = []
    b = memoryview(new).cast("B")
    same = old.startswith
    stack = [(0, len(old) // width)]
    while stack:
        lo, hi = stack.pop()
        if same(b[lo * width : hi * width], lo * width):
            continue
        if hi - lo == 1:
            out.append(lo)
            if len(out) > limit:
                return None
            continue
        mid = (lo + hi) // 2
        stack += ((mid, hi), (lo, mid))
    return out


def names_digest(blob: bytes | bytearray) -> bytes:
    """The digest ``Watch`` makes of a listing's names, from ``NameList.blob`` (each name's UTF-8 and a NUL)."""
    return blake3.blake3(blob).digest()


def facts_digest(facts: bytes | memoryview) -> bytes:
    return blake3.blake3(facts).digest()


def patch_tree(
    old: Snapshot,
    w: Watch,
    children: list[tuple[str, bytes, Oid, int]],
    prefix: str,
    file_digests: Digests,
    source: Reader,
) -> Patched | None:
    """The tree of a folder whose listing ``w`` followed (``w.usable``) and whose subfolders (``children``: name,
    signature, tree, size, in name order) differ from ``old`` in a few entries; ``prefix`` is the folder's path and
    a slash, ``source`` the old tree's encoding. None when it must be rebuilt instead."""
    sigs = b"".join(c[1] for c in children)
    if len(sigs) != len(old.subsigs):
        return None
    files: list[tuple[str, Any]] = []
    for _, name, was, now in w.changed:
        mode = _FACTS.unpack(now)[4]
        if was & _FMT == mode & _FMT == S_IFDIR:
            continue  # a subfolder's own stat data: its tree comes with ``children``
        if not (was & _FMT == mode & _FMT == S_IFREG):
            return None  # a symlink, or an entry of another kind now
        files.append((prefix + name, FileStat(*_FACTS.unpack(now))))
    moved = differing(old.subsigs, sigs, 32, PATCHED_AT_MOST)
    if moved is None or len(moved) + len(files) > PATCHED_AT_MOST:
        return None
    pack = codec.item_encoder()
    entries: list[tuple[bytes, list[object]]] = []
    digests = file_digests(files) if files else []
    n = len(prefix)
    for (path, st), digest in zip(files, digests, strict=True):
        name = path[n:]
        entries.append((_ENTRY + pack(name) + pack(_FILE), [name, _FILE, bool(st.st_mode & 0o111), digest, st.st_size]))
    for k in moved:
        name, _, oid, size = children[k]
        entries.append((_ENTRY + pack(name) + pack(_DIR), [name, _DIR, False, bytes.fromhex(oid), size]))
    starts = _find_once(source, [head for head, _ in entries], old.oid)
    if starts is None:
        return None
    spans: Spans = []
    size = old.size
    for (head, entry), start in zip(entries, starts, strict=True):
        found = _span(source.read(start, len(head) + 44), len(head))
        if found is None:
            return None
        end, was_size = found
        spans.append((start, start + end, pack(entry)))
        size += entry[4] - was_size  # type: ignore[operator]
    spans.sort()
    length = source.length + sum(len(new) - (end - start) for start, end, new in spans)
    if length > codec.MAX_METADATA_SIZE or any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
        return None
    was, now = _hasher(), _hasher()
    for piece in _pieces(source, []):  # read again: hashed again, so the spans are in the tree the id names
        was.update(piece)
    for piece in _pieces(source, spans):
        now.update(piece)
    if was.hexdigest() != old.oid:
        return None
    return Patched(Oid(now.hexdigest()), size, length, spans, source, len(files))


def _hasher() -> Any:
    return blake3.blake3(derive_key_context=CONTEXTS["tree"])


def _find_once(source: Reader, heads: list[bytes], oid: str) -> list[int] | None:
    """Where each of ``heads`` starts in the encoding, read a window at a time (the window's end overlapping the
    next); None unless each occurs exactly once, or when the encoding is not the tree ``oid`` names."""
    found: list[list[int]] = [[] for _ in heads]
    overlap = max(map(len, heads), default=1) - 1
    h = _hasher()
    length = source.length
    for at in range(0, length, WINDOW):
        piece = source.read(at, WINDOW + overlap)
        h.update(memoryview(piece)[:WINDOW])
        for i, head in enumerate(heads):
            pos = piece.find(head)
            while 0 <= pos < WINDOW:
                found[i].append(at + pos)
                if len(found[i]) > 1:
                    return None
                pos = piece.find(head, pos + 1)
    if h.hexdigest() != oid or any(len(f) != 1 for f in found):
        return None
    return [f[0] for f in found]


def _pieces(source: Reader, spans: Spans) -> Iterator[bytes]:
    at = 0
    for start, end, new in [*spans, (source.length, source.length, b"")]:
        while at < start:
            piece = source.read(at, min(WINDOW, start - at))
            if not piece:
                raise ValueError("the tree's encoding ended early")
            yield piece
            at += len(piece)
        if new:
            yield new
        at = end


def _span(data: bytes, head: int) -> tuple[int, int] | None:
    """The end of the file or folder entry whose head (``head`` bytes) starts ``data``, and its size; None unless
    the entry parses."""
    at = head
    if data[at : at + 1] not in (b"\xc2", b"\xc3") or data[at + 1 : at + 3] != _DIGEST:
        return None
    at += 3 + 32
    if at >= len(data):
        return None
    first = data[at]
    if first < 0x80:
        return at + 1, first
    width = _INT_WIDTH.get(first)
    if width is None or at + 1 + width > len(data):
        return None
    return at + 1 + width, int.from_bytes(data[at + 1 : at + 1 + width], "big")


class BytesReader:
    """A ``Reader`` over an encoding in memory (the store's copy of a tree)."""

    __slots__ = ("data", "length")

    def __init__(self, data: bytes) -> None:
        self.data, self.length = data, len(data)

    def read(self, at: int, n: int) -> bytes:
        return self.data[at : at + n]
