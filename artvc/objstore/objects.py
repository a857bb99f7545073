"""Object kinds and their payloads: chunks, file manifests and trees (runs live in lineage.py).

Formats (docs/formats.md):
  file manifest  ["file", 1, size, [[chunk digest (32 bytes), length], ...]]   id = blake3(file content)
  tree           ["tree", 1, [[name, kind, executable, digest, size], ...]]    id = derive-key blake3
A file that is a single chunk has no manifest: its id is the chunk's id, and the chunk is the file.
"""

from __future__ import annotations

import heapq
import io
from collections.abc import Callable, Iterable, Iterator
from operator import attrgetter, lt
from typing import BinaryIO, NamedTuple

from ..errors import FormatError
from . import codec
from .hashing import ObjectHasher, hash_bytes, hash_object
from .oid import Oid
from .types import ENTRY_KINDS
from .types import EntryKind as EntryKind
from .types import Kind as Kind


class FileManifest(NamedTuple):
    """A file as an ordered list of (chunk id, length); ``oid`` is the hash of the whole content."""

    oid: Oid
    size: int
    chunks: tuple[tuple[Oid, int], ...]

    def to_bytes(self) -> bytes:
        return codec.encode(["file", 1, self.size, [[c.digest, n] for c, n in self.chunks]], maps=False)

    @classmethod
    def from_bytes(cls, oid: Oid, data: bytes) -> FileManifest:
        """Decode a manifest stored under ``oid`` and check its structure.

        Raises:
            FormatError: when the payload is not a well-formed manifest.
        """
        what = f"file manifest {oid[:10]}"
        value = codec.decode_canonical(data, what=what, maps=False)
        if not (
            isinstance(value, list)
            and len(value) == 4
            and value[0] == "file"
            and codec.is_int(value[1], 1, 1)
            and codec.is_int(value[2])
            and isinstance(value[3], list)
        ):
            raise FormatError(f"{what} is malformed")
        size, chunks = value[2], value[3]
        for item in chunks:
            if not (
                isinstance(item, list)
                and len(item) == 2
                and codec.is_digest(item[0])
                and codec.is_int(item[1], 0, codec.MAX_CHUNK_SIZE)
            ):
                raise FormatError(f"{what} is malformed: a chunk is not [32-byte digest, length]")
        if sum(n for _, n in chunks) != size:
            raise FormatError(f"{what} is malformed: its chunks do not add up to its size")
        return cls(oid, size, tuple((Oid.from_digest(d), n) for d, n in chunks))

    @staticmethod
    def stated_size(data: bytes) -> int | None:
        """The size the encoded manifest ``data`` states, read from its first bytes without decoding (nor
        checking) its list of chunks; None when they do not start the way a manifest's encoding does."""
        if len(data) < 8 or data[:7] != b"\x94\xa4file\x01":  # a 4-array, "file", version 1
            return None
        tag = data[7]
        if tag < 0x80:  # a positive fixint
            return tag
        width = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}.get(tag)
        return int.from_bytes(data[8 : 8 + width], "big") if width and len(data) >= 8 + width else None


class TreeEntry(NamedTuple):
    """One name in a directory. ``oid`` names a file, a tree, or (symlink) the link target's bytes."""

    name: str
    kind: EntryKind
    oid: Oid
    size: int
    executable: bool = False
    target: str | None = None

    def encoded(self) -> list[object]:
        extra = self.target if self.kind == EntryKind.SYMLINK else self.executable
        return [self.name, self.kind, extra, self.oid.digest, self.size]


_name = attrgetter("name")


class Tree:
    """A directory: entries sorted by name. Its id is a derive-key hash of the canonical encoding.

    Built from ``TreeEntry`` values (``build``) or decoded whole (``from_bytes``). A tree held as its encoding,
    read an entry at a time, is an ``EncodedTree``."""

    __slots__ = ("_entries", "_oid", "_bytes", "_size")

    def __init__(self, entries: tuple[TreeEntry, ...]) -> None:
        self._entries = entries
        self._oid: Oid | None = None
        self._bytes: bytes | None = None
        self._size: int | None = None

    @classmethod
    def build(cls, entries: list[TreeEntry]) -> Tree:
        # by name: code point order is UTF-8 byte order (the format's), without encoding every name
        return cls(tuple(sorted(entries, key=_name)))

    @property
    def entries(self) -> tuple[TreeEntry, ...]:
        return self._entries

    def to_bytes(self) -> bytes:
        if self._bytes is None:
            self._bytes = codec.encode(["tree", 1, [e.encoded() for e in self.entries]], maps=False)
        return self._bytes

    @property
    def oid(self) -> Oid:
        if self._oid is None:
            self._oid = hash_object("tree", self.to_bytes())
        return self._oid

    @property
    def size(self) -> int:
        if self._size is None:
            self._size = sum(e.size for e in self.entries)
        return self._size

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tree):
            return NotImplemented
        return self.entries == other.entries

    def __hash__(self) -> int:
        return hash(self.entries)

    def __repr__(self) -> str:
        return f"Tree(entries={self.entries!r})"

    def iter_entries(self) -> Iterator[TreeEntry]:
        """The entries, as ``EncodedTree.iter_entries`` gives them (either kind of tree can be read this way)."""
        return iter(self._entries)

    @staticmethod
    def id_of(encoded: list[list[object]]) -> Oid:
        """The id of the tree whose entries, already encoded (``TreeEntry.encoded``) and sorted by name, are
        ``encoded``: for callers that need only the id (``art status`` rebuilding a folder of many files builds
        no ``TreeEntry`` per file)."""
        return hash_object("tree", codec.encode(["tree", 1, encoded], maps=False))

    @classmethod
    def from_bytes(cls, oid: Oid, data: bytes) -> Tree:
        """Decode a tree and check it (sorted unique names, known kinds, id matches).

        Raises:
            FormatError: when the payload is malformed or does not hash to ``oid``.
        """
        what = f"tree {oid[:10]}"
        if hash_object("tree", data) != oid:
            raise FormatError(f"{what} does not match its id")
        value = codec.decode_canonical(data, what=what, maps=False)
        if not (
            isinstance(value, list)
            and len(value) == 3
            and value[0] == "tree"
            and codec.is_int(value[1], 1, 1)
            and isinstance(value[2], list)
        ):
            raise FormatError(f"{what} is malformed")
        entries = list(_checked(value[2], what))
        names = [e.name for e in entries]  # code point order is UTF-8 byte order (the format's)
        if not all(map(lt, names, names[1:])):
            raise FormatError(f"{what} is malformed: names are not sorted and unique")
        tree = cls(tuple(entries))
        tree._oid = oid
        return tree


class EncodedTree:
    """A tree held as its encoding, read an entry at a time: the one way to hold a tree without a ``TreeEntry``
    per entry. ``scan.walk_tree`` encodes a folder's entries directly into one (a folder of a million files
    costs its encoding, about 60 bytes a file, not a million objects); ``stored`` wraps a tree read from the
    store, its id checked, for a checkout that streams a folder's entries (``iter_entries``) rather than
    decoding the folder whole. ``oid`` and ``to_bytes`` as ``Tree`` has them; ``size`` is None for a stored
    tree (only its entries know it)."""

    __slots__ = ("oid", "size", "_data")

    def __init__(self, data: bytes, size: int | None) -> None:
        self._data = data
        self.oid = hash_object("tree", data)
        self.size = size

    @classmethod
    def stored(cls, oid: Oid, data: bytes) -> EncodedTree:
        """Tree ``oid``'s stored bytes, checked to hash to ``oid`` (its entries are checked as they are read).

        Raises:
            FormatError: when ``data`` does not hash to ``oid``.
        """
        tree = cls(data, None)
        if tree.oid != oid:
            raise FormatError(f"tree {oid[:10]} does not match its id")
        return tree

    def to_bytes(self) -> bytes:
        return self._data

    @property
    def count(self) -> int:
        """How many entries the tree has (``encoded_count``)."""
        return encoded_count(self._data)

    def iter_entries(self) -> Iterator[TreeEntry]:
        """The entries, checked as ``Tree.from_bytes`` checks them, one at a time (``iter_tree_entries``); each
        call decodes them again (nothing is cached: that is the point of holding the encoding)."""
        return _iter_checked(self.oid, self._data)


class BuiltTree(EncodedTree):
    """A tree ``scan.walk_tree`` encoded from a folder it walked: it knows its total ``size``."""

    __slots__ = ()
    size: int

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(data, size)


class SpilledTree(BuiltTree):
    """A walked folder's tree encoded to a temporary file (``spill_tree``): a folder of a million files encodes
    to ~55 MB, which ``art add`` would otherwise hold beside the folder's names and ids until the tree was in
    the pack. ``pieces`` reads it back a MiB at a time (the store writer copies it into the pack,
    ``StoreWriter.put_pieces``); ``close`` lets the file go, and only ``oid`` and ``size`` stay."""

    __slots__ = ("_file", "length", "_start")

    def __init__(self, oid: Oid, size: int, file: BinaryIO, length: int, start: int = 0) -> None:
        self._data = b""
        self.oid, self.size, self.length = oid, size, length
        self._file: BinaryIO | None = file
        self._start = start  # where the encoding starts in the file (``TreeRun``)

    def pieces(self) -> Iterator[bytes]:
        """The encoding, a MiB at a time, from its start.

        Raises:
            OSError: when the file cannot be read; FormatError when it is shorter than it was written.
        """
        f = self._file
        if f is None:
            raise ValueError("the spilled tree was closed")
        f.seek(self._start)
        left = self.length
        while left:
            piece = f.read(min(left, _SPILL_PIECE))
            if not piece:
                raise FormatError(f"the spilled tree {self.oid[:10]} was cut short")
            left -= len(piece)
            yield piece

    def to_bytes(self) -> bytes:
        return b"".join(self.pieces())

    @property
    def count(self) -> int:
        return encoded_count(self.to_bytes())

    def iter_entries(self) -> Iterator[TreeEntry]:
        return _iter_checked(self.oid, self.to_bytes())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


_SPILL_PIECE = 1 << 20


def spill_tree(
    count: int, files: Iterable[EncodedEntry], others: list[EncodedEntry], where: str, size: int, folder: str
) -> SpilledTree:
    """``encode_tree`` into an unnamed temporary file in ``folder`` (removed when closed, or when the process
    ends), hashed as it is written: the encoding is never held whole.

    Raises:
        OSError: when the file cannot be created or written; FormatError as ``encode_tree``.
    """
    import tempfile

    f = tempfile.TemporaryFile(dir=folder, prefix="tree-")  # noqa: SIM115 - owned by the SpilledTree
    try:
        h = ObjectHasher("tree")
        buf = io.BytesIO()
        length = 0

        def write(data: bytes) -> int:
            nonlocal length
            n = buf.write(data)
            if buf.tell() >= _HASH_BUFFER:
                view = buf.getbuffer()
                h.update(view)
                f.write(view)
                length += len(view)
                del view
                buf.seek(0)
                buf.truncate()
            return n

        _write_tree(write, count, files, others, where)
        rest = buf.getvalue()
        h.update(rest)
        f.write(rest)
        f.flush()
        return SpilledTree(h.oid(), size, f, length + len(rest))
    except BaseException:
        f.close()
        raise


AnyTree = Tree | EncodedTree
EncodedEntry = tuple[str, list[object]]  # (name, the entry as Tree encodes it: TreeEntry.encoded)
_TREE_HEAD = b"\x93\xa4tree\x01"  # the encoding of ["tree", 1, ...]: the array of entries follows


class TreeRun:
    """The files of a large folder's tree encoded as the walk goes (``scan.walk_tree``): each batch of files whose
    ids are done is encoded to an unnamed temporary file in ``folder`` and let go, so a folder of a million files
    does not hold its names and ids (~55 bytes a file) until its last file was stored. ``finish`` makes the
    ``SpilledTree``, byte-identical to ``spill_tree`` of the same entries: the head is written at the end of the
    room kept at the start of the file (5 bytes for the array header, as for over 65,535 entries), where the
    encoding starts; or, when the folder got other entries than files (a file replaced by a folder or a symlink
    as it was read), the run is read back and merged with them into a new file."""

    __slots__ = ("_file", "_buf", "_pack", "count", "length", "where")

    _ROOM = len(_TREE_HEAD) + 5

    def __init__(self, folder: str, where: str) -> None:
        import tempfile

        self._file: BinaryIO | None = tempfile.TemporaryFile(dir=folder, prefix="tree-")  # noqa: SIM115
        self._file.write(bytes(self._ROOM))
        self._buf = io.BytesIO()
        self._pack = codec.item_encoder()
        self.count = 0
        self.length = self._ROOM
        self.where = where

    def add(self, entries: Iterable[EncodedEntry]) -> None:
        """Append file entries (in name order, after those added before).

        Raises:
            OSError: when the file cannot be written; FormatError when the tree passes the format's limit.
        """
        buf, pack = self._buf, self._pack
        for _, entry in entries:
            buf.write(pack(entry))
            self.count += 1
        self.length += buf.tell()
        if self.length > codec.MAX_METADATA_SIZE:
            raise FormatError(f"the tree of {self.where} exceeds the format limit of {codec.MAX_METADATA_SIZE} bytes")
        assert self._file is not None
        self._file.write(buf.getbuffer())
        buf.seek(0)
        buf.truncate()

    def finish(self, others: list[EncodedEntry], size: int, folder: str) -> SpilledTree:
        """The tree of the files added and ``others``, as a ``SpilledTree`` (this run is used up).

        Raises:
            OSError: when the file cannot be written or read back; FormatError as ``encode_tree``.
        """
        f, self._file = self._file, None
        assert f is not None
        try:
            if others:  # rare (see the class): read back, merged with the others by name
                import msgpack

                f.flush()
                f.seek(self._ROOM)
                entries = msgpack.Unpacker(f, raw=False, use_list=True, max_buffer_size=codec.MAX_METADATA_SIZE)
                return spill_tree(self.count, ((e[0], e) for e in entries), others, self.where, size, folder)
            header = _TREE_HEAD + codec.array_header(self.count)
            start = self._ROOM - len(header)
            f.seek(start)
            f.write(header)
            f.flush()
            f.seek(start)
            h = ObjectHasher("tree")
            while piece := f.read(_SPILL_PIECE):
                h.update(piece)
            return SpilledTree(h.oid(), size, f, self.length - start, start)
        except BaseException:
            f.close()
            raise
        finally:
            if others:
                f.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def encode_tree(count: int, files: Iterable[EncodedEntry], others: list[EncodedEntry], where: str) -> bytes:
    """The encoding of a tree (``objects.Tree``, byte-identical to ``Tree.to_bytes``) of ``count`` entries from
    ``files`` (in name order) and ``others`` (any order), one entry at a time: no list of every entry.

    Raises:
        FormatError: when it would exceed the format's limit on metadata (``where`` names the folder).
    """
    # a BytesIO hands its buffer over as the result (no copy: a bytearray's ``bytes()`` held the tree twice)
    buf = io.BytesIO()
    _write_tree(buf.write, count, files, others, where)
    return buf.getvalue()


def hash_tree(count: int, files: Iterable[EncodedEntry], others: list[EncodedEntry], where: str) -> Oid:
    """The id of ``encode_tree(...)``, hashed as it is encoded: the encoding is never held whole (``art
    status`` needs only the id of a changed folder's tree; a folder of a million files encodes to ~55 MB).

    Raises:
        FormatError: when the tree would exceed the format's limit on metadata.
    """
    h = ObjectHasher("tree")
    buf = io.BytesIO()

    def write(data: bytes) -> int:
        n = buf.write(data)
        if buf.tell() >= _HASH_BUFFER:
            h.update(buf.getbuffer())
            buf.seek(0)
            buf.truncate()
        return n

    _write_tree(write, count, files, others, where)
    h.update(buf.getbuffer())
    return h.oid()


_HASH_BUFFER = 1 << 16


def _write_tree(
    write: Callable[[bytes], int], count: int, files: Iterable[EncodedEntry], others: list[EncodedEntry], where: str
) -> None:
    others = sorted(others, key=_first)
    pack = codec.item_encoder()
    size = write(_TREE_HEAD) + write(codec.array_header(count + len(others)))
    for _, entry in heapq.merge(files, others, key=_first) if others else files:
        size += write(pack(entry))
        if size > codec.MAX_METADATA_SIZE:
            raise FormatError(f"the tree of {where} exceeds the format limit of {codec.MAX_METADATA_SIZE} bytes")


def _first(item: EncodedEntry) -> str:
    return item[0]


def encoded_count(data: bytes) -> int:
    """How many entries the encoded tree ``data`` has, read from its array header without decoding anything
    (0 when the header is malformed: decoding the tree says so)."""
    at = len(_TREE_HEAD)
    if not data.startswith(_TREE_HEAD) or len(data) <= at:
        return 0
    first = data[at]
    if 0x90 <= first <= 0x9F:
        return first - 0x90
    width = {0xDC: 2, 0xDD: 4}.get(first, 0)
    return int.from_bytes(data[at + 1 : at + 1 + width], "big") if width else 0


DECODED_MAX = 32_768  # a tree of more entries is read an entry at a time (its encoding held), never decoded whole


def read_tree(oid: Oid, data: bytes) -> Tree | EncodedTree:
    """Tree ``oid`` from its stored bytes: decoded whole, or, past ``DECODED_MAX`` entries (one folder of many
    files), held as its encoding (about 60 bytes an entry) and read an entry at a time (``EncodedTree``) rather
    than as a ``TreeEntry`` per entry at once (about 350 bytes each): a million-file folder costs its encoding,
    not 350 MB. Either is read with ``iter_entries``.

    Raises:
        FormatError: when it does not hash to ``oid`` or (as they are read) its entries are malformed.
    """
    return Tree.from_bytes(oid, data) if encoded_count(data) <= DECODED_MAX else EncodedTree.stored(oid, data)


def iter_tree_entries(oid: Oid, data: bytes) -> Iterator[TreeEntry]:
    """The entries of tree ``data``, checked as ``Tree.from_bytes`` checks them (id, canonical encoding, sorted
    unique names), one at a time: a tree of a million entries is never a million objects at once. The id is
    checked first; each entry is checked before it is yielded.

    Raises:
        FormatError: when the payload is malformed or does not hash to ``oid``.
    """
    return EncodedTree.stored(oid, data).iter_entries()


_STREAM_BATCH = 1024  # entries decoded (and checked canonical with one re-encoding) at a time


def _iter_checked(oid: Oid, data: bytes) -> Iterator[TreeEntry]:
    """``iter_tree_entries`` of a tree whose id was checked."""
    what = f"tree {oid[:10]}"
    values = codec.iter_canonical_array(data, what=what, head=2, batch=_STREAM_BATCH)
    if next(values, None) != "tree" or not codec.is_int(next(values, None), 1, 1):
        raise FormatError(f"{what} is malformed")
    last = None
    for batch in values:
        entries = list(_checked(batch, what))
        names = [e.name for e in entries]  # code point order is UTF-8 byte order (the format's)
        if (last is not None and names and names[0] <= last) or not all(map(lt, names, names[1:])):
            raise FormatError(f"{what} is malformed: names are not sorted and unique")
        if names:
            last = names[-1]
        yield from entries


def _checked(items: Iterable[object], what: str) -> Iterator[TreeEntry]:
    """Each encoded entry of ``items`` checked and decoded: a file entry inline (a tree may hold a million),
    the rest by ``_entry``."""
    file, new_oid, longest, biggest = EntryKind.FILE, Oid, codec.MAX_NAME_BYTES, codec.MAX_SIZE
    for item in items:
        if type(item) is list and len(item) == 5:
            name, kind, extra, digest, size = item
            if (
                kind == "file"
                and type(name) is str
                and 0 < len(name) * 4 <= longest  # within the limit however it encodes
                and "\0" not in name
                and type(extra) is bool
                and type(digest) is bytes
                and len(digest) == 32
                and type(size) is int
                and 0 <= size <= biggest
            ):
                yield TreeEntry(name, file, new_oid(digest.hex()), size, extra)
                continue
        yield _entry(item, what)


def _entry(item: object, what: str) -> TreeEntry:
    """Check one encoded tree entry ``[name, kind, extra, digest, size]`` (docs/formats.md, Tree)."""
    if not (isinstance(item, list) and len(item) == 5):
        raise FormatError(f"{what} is malformed: an entry is not a 5-element array")
    name, kind, extra, digest, size = item
    # (whether a name is safe to create, e.g. not "..", is checked where it is created: workspace/checkout)
    if not (codec.is_str(name, codec.MAX_NAME_BYTES, empty=False) and "\0" not in name):
        raise FormatError(f"{what} has an invalid name {str(name)[:80]!r}")
    entry_kind = ENTRY_KINDS.get(kind) if isinstance(kind, str) else None
    if entry_kind is None or not codec.is_digest(digest) or not codec.is_int(size):
        raise FormatError(f"{what} is malformed: bad entry {name!r}")
    if entry_kind is EntryKind.SYMLINK:
        if not (codec.is_str(extra, codec.MAX_TARGET_BYTES, empty=False) and "\0" not in extra) or size != 0:
            raise FormatError(f"{what} is malformed: bad symlink {name!r}")
        return TreeEntry(name, entry_kind, Oid.from_digest(digest), size, target=extra)
    if not isinstance(extra, bool) or (entry_kind is EntryKind.DIR and extra):
        raise FormatError(f"{what} is malformed: bad entry {name!r}")
    return TreeEntry(name, entry_kind, Oid.from_digest(digest), size, executable=extra)


def check_object(oid: Oid, kind: Kind, data: bytes) -> None:
    """Check that ``data`` is object (oid, kind): a chunk by its hash, a tree or run by decoding it (which
    checks its id), a file manifest by its structure (its id names the whole content, checked when the file is
    assembled).

    Raises:
        FormatError: when it is not.
    """
    if kind == Kind.CHUNK:
        actual = hash_bytes(data)
        if actual != oid:
            raise FormatError(f"content hashes to {actual[:10]}")
    elif kind == Kind.TREE:
        Tree.from_bytes(oid, data)
    elif kind == Kind.RUN:
        from .lineage import Run

        Run.from_bytes(oid, data)
    else:
        FileManifest.from_bytes(oid, data)
