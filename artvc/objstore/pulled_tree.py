"""A large tree a fetch verified, held in an unnamed temporary file until it is stored, not in memory.

A pull of a folder of a million files reads a tree of ~55 MB. The fetch's walk verifies it, the checkout beside
the fetch plans and writes from it, and the fetch stores it last (``transfer.py``): held as bytes, those 55 MB
stayed in memory from the walk to the end of the checkout, the largest part of such a pull's peak. The walk
now writes the verified encoding to a ``FileTree`` (``spill``) and lets the bytes go; the plan and the apply
step read its entries a window at a time (``iter_entries``, the same checks as ``EncodedTree``'s), and the
store copies it into a pack a MiB at a time (``pieces``). The file is private to this process (unnamed, in the
store's temp folder: gone when closed or when the process ends), written only from bytes whose id was checked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import FormatError
from .objects import EncodedTree, Tree, TreeEntry, encoded_count
from .oid import Oid
from .types import ENTRY_KINDS, EntryKind

_PIECE = 1 << 20  # bytes a store write or a read of the header takes at a time


class FileBytes:
    """The bytes of a file that does not change, read by slices (``os.pread``: threads share it safely); what
    ``codec.iter_canonical_array`` reads a tree's encoding through."""

    __slots__ = ("base", "fd", "length")

    def __init__(self, fd: int, length: int, base: int = 0) -> None:
        self.fd, self.length, self.base = fd, length, base  # the bytes are the file's from ``base`` on

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, where: slice) -> bytes:
        start, stop, step = where.indices(self.length)
        if step != 1:
            raise ValueError("a step is not supported")
        out = []
        while start < stop:
            piece = os.pread(self.fd, stop - start, self.base + start)
            if not piece:
                raise FormatError("a spilled tree was cut short")
            out.append(piece)
            start += len(piece)
        return b"".join(out)


class FileTree(EncodedTree):
    """A verified tree's encoding in an unnamed temporary file (``spill``): ``iter_entries`` as ``EncodedTree``
    (checked as they are decoded, a window at a time), ``pieces`` for the store; ``size`` is None.

    The fetch's walk reads every entry once, checked (``EncodedTree.iter_entries``: canonical encoding, names
    sorted and unique, every field's type and bound), and then marks the tree ``checked``: the file holds
    exactly those bytes (private to this process, never written again), so the plan and the apply step of the
    checkout beside the fetch read the entries again without checking them a second and third time
    (``_trusted_entries``: half the cost of a decode, ~0.08 CPU s a read at 100,000 files)."""

    __slots__ = ("_file", "checked", "length", "shared")

    def __init__(self, oid: Oid, file: BinaryIO, length: int, base: int = 0) -> None:
        self.oid, self.size, self.length, self._file = oid, None, length, file
        self._data = FileBytes(file.fileno(), length, base)  # type: ignore[assignment]
        self.checked = False  # every entry was read through the checking decoder, without an error
        self.shared = False  # one of many small trees in a ``TreeSpill``'s file (set there)

    def iter_entries(self) -> Iterator[TreeEntry]:
        """The entries: checked as they are decoded, unless the tree is ``checked`` already."""
        return _trusted_entries(self) if self.checked else super().iter_entries()

    def to_bytes(self) -> bytes:
        return self._data[:]

    @property
    def count(self) -> int:
        return encoded_count(self._data[:16])

    def pieces(self) -> Iterator[bytes]:
        """The encoding, a MiB at a time."""
        data: FileBytes = self._data  # type: ignore[assignment]
        for at in range(0, self.length, _PIECE):
            yield data[at : at + _PIECE]

    def close(self) -> None:
        if not self.shared:  # a shared file closes when its last tree is let go
            self._file.close()


def spill(oid: Oid, data: bytes, folder: Path) -> FileTree:
    """Tree ``oid``'s encoding ``data`` (checked to hash to ``oid``) written to an unnamed temporary file in
    ``folder``: the caller lets ``data`` go.

    Raises:
        FormatError: when ``data`` does not hash to ``oid``.
        OSError: when the file cannot be written.
    """
    import tempfile  # here: only a pull of a large folder spills (a plain pull does not load it)

    EncodedTree.stored(oid, data)  # the id first: only checked bytes are written
    folder.mkdir(parents=True, exist_ok=True)
    f = tempfile.TemporaryFile(dir=folder, prefix="pulled-tree-")  # noqa: SIM115 - owned by the FileTree
    try:
        view = memoryview(data)
        for at in range(0, len(data), _PIECE):
            f.write(view[at : at + _PIECE])
        f.flush()
    except BaseException:
        f.close()
        raise
    return FileTree(oid, f, len(data))


class TreeSpill:
    """The small trees a fetch verified, past the first ``held`` bytes of them, in one unnamed temporary file.

    A pull of a million files in folders of a hundred reads ~10,000 trees of ~5.5 KB: ~55 MB of encodings the
    fetch held from its walk to the end of its store (and the checkout beside it from its plan to its apply
    step), as it held one large tree's before ``spill``. Each tree past ``held`` is appended to the file as it
    is verified and decoded by the walk (``Tree.from_bytes``: every entry checked, so it is ``checked``), and
    stands as a ``FileTree`` reading its slice of the file; the store writes it as it wrote the bytes (``put``,
    compressed as before: ``FileTree.shared``). The file is private to the process and closed when the last of
    its trees is let go (each holds the file object), or when the process ends.
    """

    def __init__(self, folder: Path, held: int) -> None:
        self.folder, self.left = folder, held
        self._file: BinaryIO | None = None
        self._end = 0

    def keep(self, oid: Oid, data: bytes) -> bytes | FileTree:
        """``data`` (tree ``oid``'s encoding, checked whole by the caller) while the budget lasts, else a
        ``FileTree`` of its copy in the file.

        Raises:
            OSError: when the file cannot be written.
        """
        if len(data) <= self.left:
            self.left -= len(data)
            return data
        if self._file is None:
            import tempfile

            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = tempfile.TemporaryFile(dir=self.folder, prefix="pulled-trees-")  # noqa: SIM115
        self._file.write(data)
        self._file.flush()
        tree = FileTree(oid, self._file, len(data), self._end)
        tree.shared = tree.checked = True
        self._end += len(data)
        return tree


class CheckedTree(Tree):
    """A tree decoded, without the checks, from bytes the fetch's walk decoded and checked whole (its id is
    the one the walk checked): what the checkout beside the fetch plans from (``checked_tree``)."""

    __slots__ = ()

    def __init__(self, oid: Oid, entries: tuple[TreeEntry, ...]) -> None:
        super().__init__(entries)
        self._oid = oid


def checked_tree(oid: Oid, data: bytes | FileTree) -> Tree:
    """Tree ``oid`` decoded whole from what the fetch's walk verified: ``data``, the bytes it decoded with
    ``Tree.from_bytes`` (every entry checked, the id matched), or a ``FileTree`` it read whole (``checked``);
    decoded again without those checks (a third of the cost). A ``FileTree`` not ``checked`` is decoded with
    them.

    Raises:
        FormatError: when an unchecked ``FileTree`` is malformed.
    """
    if isinstance(data, FileTree):
        if not data.checked:
            return Tree.from_bytes(oid, data.to_bytes())
        return CheckedTree(oid, tuple(_trusted_entries(data)))
    import msgpack

    return CheckedTree(oid, tuple(_entry(item) for item in msgpack.unpackb(data, raw=False, use_list=True)[2]))


def _entry(item: list[Any]) -> TreeEntry:
    """A checked encoded entry as a ``TreeEntry`` (as ``objects._checked`` makes it)."""
    name, kind, extra, digest, size = item
    if kind == "file":
        return TreeEntry(name, EntryKind.FILE, Oid(digest.hex()), size, extra)
    entry_kind = ENTRY_KINDS[kind]
    if entry_kind is EntryKind.SYMLINK:
        return TreeEntry(name, entry_kind, Oid(digest.hex()), size, target=extra)
    return TreeEntry(name, entry_kind, Oid(digest.hex()), size, extra)


def _trusted_entries(tree: FileTree) -> Iterator[TreeEntry]:
    """The entries of a tree whose every entry was read once through the checking decoder (``checked``),
    decoded without those checks, a window of the file at a time.

    Raises:
        FormatError: when the file no longer reads as the tree it held (it cannot change: a bug guard).
    """
    import msgpack

    data: FileBytes = tree._data  # type: ignore[assignment]
    up = msgpack.Unpacker(raw=False, use_list=True)
    n, fed = tree.length, 0
    file, new_oid = EntryKind.FILE, Oid

    def unpack(read: Callable[[], Any]) -> Any:
        nonlocal fed
        while True:
            try:
                return read()
            except msgpack.OutOfData:
                if fed >= n:
                    raise FormatError(f"tree {tree.oid[:10]}: its spilled copy was cut short") from None
                up.feed(data[fed : fed + _PIECE])
                fed += _PIECE

    unpack(up.read_array_header)
    unpack(up.unpack)  # "tree", then the format's version: both checked by the walk
    unpack(up.unpack)
    for _ in range(unpack(up.read_array_header)):
        item = unpack(up.unpack)
        if item[1] == "file":  # inline: a folder of a million files
            yield TreeEntry(item[0], file, new_oid(item[3].hex()), item[4], item[2])
        else:
            yield _entry(item)
