"""A large folder's tree after a few of its entries changed, patched in its encoding instead of rebuilt (``art
status`` after a change to one file in a folder of thousands).

A ``Snapshot`` is what a folder's tree was built from, remembered with the tree: its listing exactly as
``scan.stream_dir`` read it (the names, packed, and each entry's stat facts, 40 bytes an entry, in directory
order), its subfolders' signatures (name order) and the tree's encoding. When the folder's listing has the
same names in the same order, the entries whose facts differ are found by comparing the two buffers of facts
(C-level comparisons of halves, never an object per entry), and only their encoded entries are replaced:
a changed file's id comes from the caller (the stat cache, or hashing it), a subfolder's from the walk. The
tree's id is then the hash of the patched encoding. Anything else (an entry added, removed, renamed or of
another kind, a symlink changed, more than ``PATCHED_AT_MOST`` entries) answers None: the caller rebuilds.

Each entry is found in the old encoding by its head (array of 5, its name, its kind), which must occur exactly
once; the entry is parsed from there and checked, so a damaged snapshot gives None, never a wrong tree.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable
from stat import S_IFDIR, S_IFREG
from typing import TYPE_CHECKING, Any, NamedTuple

from . import codec
from .hashing import hash_bytes, hash_object
from .oid import Oid
from .scan import FileStat
from .types import EntryKind

PATCHED_AT_MOST = 64  # changed entries: more, and the folder is rebuilt

_FACT = 40  # bytes of stat facts an entry: inode, mtime, ctime, size, mode (``scan._FACTS``)
_FMT = 0o170000
_FILE, _DIR = EntryKind.FILE.value, EntryKind.DIR.value
_ENTRY = b"\x95"  # an array of 5 items: every tree entry
_DIGEST = b"\xc4\x20"  # bin 8 of 32 bytes
_INT_WIDTH = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}

if TYPE_CHECKING:  # a Protocol class costs ~1 M instructions at import, and a status of a large folder imports this
    from typing import Protocol

    class Snapshots(Protocol):
        """Where ``treecache`` finds and keeps the snapshots of the folders of one walk, by path relative to its
        top."""

        def get(self, rel: str) -> Snapshot | None: ...

        def sig(self, rel: str) -> str | None: ...

        def put(self, rel: str, snap: Snapshot, base: Snapshot | None = None) -> None: ...


Digests = Callable[[list[tuple[str, Any]]], list[bytes]]  # files (path, stat) -> 32-byte ids, in order


class Snapshot(NamedTuple):
    """A folder's listing as its tree was built from it (see the module docstring)."""

    sig: str  # the folder's signature (hex) for this listing
    oid: str  # the tree's id
    size: int  # the tree's size (the sum of its entries')
    names: bytes  # the blake3 digest of ``NameList.blob`` (each name's UTF-8 and a NUL, directory order)
    facts: bytes  # 5 int64 an entry (``FileStat.FIELDS``), directory order
    subsigs: bytes  # the subfolders' signatures, 32 bytes each, name order
    tree: bytes  # the tree's encoding


class Patched:
    """A patched tree: its id, size and encoding, and how many files' ids were asked for."""

    __slots__ = ("oid", "size", "tree", "files")

    def __init__(self, oid: Oid, size: int, tree: bytes, files: int) -> None:
        self.oid, self.size, self.tree, self.files = oid, size, tree, files


def names_digest(names: bytes | bytearray) -> bytes:
    """What a snapshot keeps of a listing's names: their digest (the listing's own names are compared with it)."""
    return hash_bytes(memoryview(names)).digest


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


def patch_tree(
    old: Snapshot,
    names: bytes | bytearray,
    ends: array[int],
    meta: array[int],
    children: list[tuple[str, bytes, Oid, int]],
    prefix: str,
    file_digests: Digests,
) -> Patched | None:
    """The tree of a folder whose listing (``names``, ``ends`` and ``meta``, as ``SignedDir`` keeps them) and
    subfolders (``children``: name, signature, tree, size, in name order) differ from ``old`` in a few entries;
    ``prefix`` is the folder's path and a slash. None when it must be rebuilt instead."""
    if names_digest(names) != old.names or len(meta) * 8 != len(old.facts) or len(children) * 32 != len(old.subsigs):
        return None
    facts = memoryview(meta).cast("B")
    changed = differing(old.facts, facts, _FACT, PATCHED_AT_MOST)
    if changed is None:
        return None
    files: list[tuple[str, Any]] = []
    for i in changed:
        was, now = _mode(old.facts, i), meta[5 * i + 4]
        if was & _FMT == now & _FMT == S_IFDIR:
            continue  # a subfolder's own stat data: its tree comes with ``children``
        if not (was & _FMT == now & _FMT == S_IFREG):
            return None  # a symlink, or an entry of another kind now
        key = names[ends[i - 1] if i else 0 : ends[i] - 1]
        files.append((prefix + bytes(key).decode("utf-8", "surrogateescape"), FileStat(*meta[5 * i : 5 * i + 5])))
    sigs = [c[1] for c in children]
    moved = differing(old.subsigs, b"".join(sigs), 32, PATCHED_AT_MOST)
    if moved is None or len(moved) + len(files) > PATCHED_AT_MOST:
        return None
    pack = codec.item_encoder()
    entries: list[tuple[str, str, list[object]]] = []
    digests = file_digests(files) if files else []
    n = len(prefix)
    for (path, st), digest in zip(files, digests, strict=True):
        name = path[n:]
        entries.append((name, _FILE, [name, _FILE, bool(st.st_mode & 0o111), digest, st.st_size]))
    for k in moved:
        name, _, oid, size = children[k]
        entries.append((name, _DIR, [name, _DIR, False, bytes.fromhex(oid), size]))
    tree = old.tree
    spans: list[tuple[int, int, bytes]] = []
    size = old.size
    for name, kind, entry in entries:
        found = _span(tree, pack(name), pack(kind))
        if found is None:
            return None
        start, end, was_size = found
        spans.append((start, end, pack(entry)))
        size += entry[4] - was_size  # type: ignore[operator]
    spans.sort()
    pieces: list[bytes] = []
    at = 0
    for start, end, encoded in spans:
        pieces += (tree[at:start], encoded)
        at = end
    pieces.append(tree[at:])
    out = b"".join(pieces)
    if len(out) > codec.MAX_METADATA_SIZE:
        return None
    return Patched(hash_object("tree", out), size, out, len(files))


def _mode(facts: bytes, i: int) -> int:
    mode: int = _MODE.unpack_from(facts, _FACT * i + 32)[0]
    return mode


_MODE = struct.Struct("=q")


def _span(tree: bytes, name: bytes, kind: bytes) -> tuple[int, int, int] | None:
    """Where the file or folder entry named ``name`` (encoded) is in ``tree``, and its size: (start, end, size),
    or None unless its head occurs exactly once and the entry parses."""
    head = _ENTRY + name + kind
    start = tree.find(head)
    if start < 0 or tree.find(head, start + 1) >= 0:
        return None
    at = start + len(head)
    if tree[at : at + 1] not in (b"\xc2", b"\xc3") or tree[at + 1 : at + 3] != _DIGEST:
        return None
    at += 3 + 32
    if at >= len(tree):
        return None
    first = tree[at]
    if first < 0x80:
        return start, at + 1, first
    width = _INT_WIDTH.get(first)
    if width is None or at + 1 + width > len(tree):
        return None
    return start, at + 1 + width, int.from_bytes(tree[at + 1 : at + 1 + width], "big")
