"""Directory walks with stat data, shared by ingest (to store) and status (to hash only).

Every walk reads a folder with ``stream_dir``: the folder is opened once and listed through its descriptor,
so each entry's stat is an ``fstatat`` relative to it (no path walk per file), and its own entries are hashed
into its signature as they are read. A folder's signature (``SignedDir.finish``) adds its subfolders'
signatures, so it changes when anything below it does: ``art add`` records the signature of every folder it
stores (``walk_tree``'s ``remember``), and ``art status`` walks the tree again (``signed_walk``) and compares.
A folder's first add opens its folders another way (``listread.ReadAsListed``, ``walk_tree``'s ``opener``):
each file's stat from the open file, the signature hashed from it byte for byte as ``stream_dir`` would.

The walks are iterative and streamed: a tree is built bottom-up one directory at a time, so only the
entries of the directory being read plus the stack of its open ancestors are in memory, however many files
the tree holds (and however deep it is). No chunking or compression here, so ``art status`` never loads them.
"""

from __future__ import annotations

import os
import struct
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from stat import S_IFDIR, S_IFLNK, S_IFREG
from typing import TYPE_CHECKING, Any

from blake3 import blake3

from ..errors import UnsafePathError
from .faults import fault_point
from .hashing import hash_bytes
from .objects import BuiltTree, EncodedEntry, EncodedTree, SpilledTree, TreeRun, encode_tree, spill_tree
from .oid import Oid
from .oserrors import describe, os_errors, safe_name
from .packed import NameList, meta_in_batches, name_order, split_names
from .types import EntryKind

if TYPE_CHECKING:
    from .treepatch import Watch

SKIP_NAMES = frozenset({".git", ".art"})

FileBatch = Callable[[list[tuple[str, Any]]], Iterable[Oid]]  # (path, FileStat or os.stat_result) -> ids
Remember = Callable[[str, bytes, Oid, int], None]  # (folder relative to the top, signature, tree id, tree size)
Opener = Callable[[str, str], "_Open | None"]  # (path, path from the top) -> the folder opened, or None (walk_tree's)

RACY_NS = 100_000_000
_STREAM_BATCH = 4096  # entries hashed at a time: a folder of a million files is never held whole for its signature
SIGNED_DIRS_KEPT = 100_000  # folders whose signature ``signed_walk`` keeps for its caller (a few MB at most)
LISTED_ENTRIES_KEPT = 100_000  # entries of the listings ``signed_walk`` keeps for its caller (~10 MB at most)
DirSig = tuple[bytes, bool]  # a folder's signature (32 bytes) and whether it has subfolders


class FileStat:
    """The stat facts art uses of one entry, in the attribute names of ``os.stat_result`` (the walks hand these
    to the stat cache and to ingest): five integers, without the float times and the rest of a stat result."""

    __slots__ = ("st_ino", "st_mtime_ns", "st_ctime_ns", "st_size", "st_mode")
    FIELDS = __slots__

    def __init__(self, st_ino: int, st_mtime_ns: int, st_ctime_ns: int, st_size: int, st_mode: int) -> None:
        self.st_ino, self.st_mtime_ns, self.st_ctime_ns = st_ino, st_mtime_ns, st_ctime_ns
        self.st_size, self.st_mode = st_size, st_mode

    def __repr__(self) -> str:
        return "FileStat(" + ", ".join(f"{k}={getattr(self, k)}" for k in self.FIELDS) + ")"


_S_IFMT = 0o170000
_FACTS = struct.Struct("=5q")  # inode, mtime, ctime, size, mode of an entry: ``FileStat.FIELDS`` as int64s
_O_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SCAN_FD = os.scandir in os.supports_fd and hasattr(os, "O_DIRECTORY")


class SignedDir:
    """One folder's own entries, hashed in directory order (``stream_dir``): the part of its signature that is
    not its subfolders'. ``finish`` adds the subfolders' signatures (by name) and returns the signature."""

    __slots__ = ("h", "subdirs", "newest", "listed", "_names", "_raw", "count", "meta", "files", "bytes", "whole")

    def __init__(self) -> None:
        self.h = blake3()  # ``hashing.ContentHasher``'s hash, without its wrapper: a hasher made per folder walked
        self.subdirs: list[str] = []
        self.newest = 0  # the newest mtime among the entries (the racy check, as in the stat cache)
        self.listed = 0  # when the listing ended (time.time_ns)
        # with ``keep``: each entry's name (packed), and its stat facts packed 5 to an entry (``FileStat.FIELDS``):
        # a folder of a million files holds 40 bytes of stat data per entry, not an os.stat_result (~650 bytes)
        self._names: NameList | None = None  # made on use
        self._raw: list[bytes] = []  # batches of names kept as read (``keep_at_most``), packed into ``names`` on use
        self.count = 0  # entries kept
        self.meta = array("q")
        self.files = self.bytes = 0  # regular files and their bytes, when counted
        self.whole = False  # True when ``names`` and ``meta`` hold every entry (``keep``)

    @property
    def names(self) -> NameList:
        """The names of the entries kept, packed, in directory order. ``signed_walk`` keeps each batch's names as
        ``stream_dir`` joined them for the signature (one bytes object a batch, no per-name work) and they are
        packed here on first use: a status that finds nothing changed never uses them."""
        names = self._names
        if names is None:
            self._names = names = NameList()
        raw = self._raw
        if raw:
            for joined in raw:
                text = joined.decode("utf-8", "surrogateescape")
                names.add(text.split("\0"), text, joined)
            raw.clear()
        return names

    @names.setter
    def names(self, value: NameList) -> None:
        self._names, self._raw, self.count = value, [], len(value)

    @property
    def kept(self) -> Iterator[tuple[str, FileStat]]:
        """(name, stat) of each entry kept (``keep``), in directory order; each ``FileStat`` made on demand."""
        meta, names = self.meta, self.names
        for i in range(len(names)):
            yield names[i], FileStat(*meta[5 * i : 5 * i + 5])

    def drop_kept(self) -> None:
        self._names, self._raw, self.count, self.meta, self.whole = None, [], 0, array("q"), False

    def unfinished(self) -> SignedDir:
        """A copy that ``finish`` has not been called on (its hasher copied), sharing the entries kept: the
        listing of a folder ``signed_walk`` read, for ``treecache`` to rebuild its tree without reading it again."""
        out = SignedDir.__new__(SignedDir)  # not ``SignedDir()``: no hasher and lists made only to be replaced
        out.h, out.subdirs, out.newest, out.listed = self.h.copy(), self.subdirs, self.newest, self.listed
        out._names, out._raw, out.count, out.meta = self._names, self._raw, self.count, self.meta
        out.files, out.bytes, out.whole = self.files, self.bytes, self.whole
        return out

    @property
    def racy(self) -> bool:
        """True when an entry was modified within ``RACY_NS`` of the listing (a same-size rewrite inside one
        timestamp tick could follow unseen: such a folder's signature is never remembered)."""
        return self.newest >= self.listed - RACY_NS

    def finish(self, children: list[tuple[str, bytes]]) -> bytes:
        """The signature, given each subfolder's (name, signature) in name order."""
        h = self.h
        h.update(b"\2")
        for name, sig in children:
            h.update(name.encode("utf-8", "surrogateescape") + b"\0" + sig)
        return h.digest()


def stream_dir(
    d: str,
    keep: bool = False,
    counts: bool = False,
    *,
    follow: bool = True,
    keep_at_most: int | None = None,
    watch: Watch | None = None,
) -> SignedDir:
    """Hash folder ``d``'s own entries (all but .git/.art) into a ``SignedDir``: inode, mtime, ctime, size and
    mode of each, then the names, a batch at a time in directory order; its subfolders' names in name order;
    with ``keep``, each entry's (name, stat) too (to build its tree from the same stat data); with ``counts``,
    its regular files' number and bytes. The one definition of a folder's own signature, shared by every walk
    here. ``follow=False`` refuses a symlink at ``d`` itself (a subfolder replaced by a link since its parent
    was listed). ``keep_at_most`` keeps the entries of a folder of at most that many, and none of a larger one
    (the kept entries are let go as soon as the listing passes it); their names are kept as each batch was
    hashed and packed only if ``SignedDir.names`` is used. ``watch`` (``treepatch.Watch``) gets each
    batch of entries as it is hashed (``art status`` compares them with a large folder's snapshot).

    Raises:
        OSError: when the folder or an entry cannot be read (``filename`` names the entry).
    """
    fault_point("scan.folder-read")  # tests count the folders a command reads (ART_FAULT_LOG)
    out = SignedDir()
    h = out.h
    subdirs = out.subdirs
    kept_meta = out.meta
    if keep_at_most is not None:
        keep = keep_at_most > 0
        kept: NameList | list[bytes] = out._raw  # kept as batches (``SignedDir.names`` packs them on use)
    else:
        kept = out.names if keep else out._raw  # the names packed as they come (``keep``)
    newest = files = size = 0
    # each entry's facts packed at once (``_FACTS``: the bytes ``array("q").extend`` gave, which converted each
    # integer through the argument parser: a third of the walk's instructions), a batch joined and hashed
    packed: list[bytes] = []
    names: list[str] = []
    pack = _FACTS.pack
    if _SCAN_FD:
        fd = os.open(d, _O_DIR if follow else _O_DIR | _O_NOFOLLOW)
        listing = os.scandir(fd)
    else:  # pragma: no cover - platforms without scandir on a descriptor
        fd, listing = -1, os.scandir(d)
    name = None
    try:
        with listing as it:
            while True:
                # a batch's entries taken by ``islice``: no count compared per entry
                skipped = False
                for e in islice(it, _STREAM_BATCH - len(names)):
                    name = e.name
                    if name in SKIP_NAMES:
                        skipped = True
                        continue
                    st = e.stat(follow_symlinks=False)
                    mode, mtime = st.st_mode, st.st_mtime_ns
                    packed.append(pack(st.st_ino, mtime, st.st_ctime_ns, st.st_size, mode))
                    names.append(name)
                    if mtime > newest:
                        newest = mtime
                    fmt = mode & _S_IFMT
                    if fmt == S_IFDIR:
                        subdirs.append(name)
                    elif counts and fmt == S_IFREG:
                        files += 1
                        size += st.st_size
                if len(names) < _STREAM_BATCH:
                    if skipped:  # the batch is short of the names skipped: maybe not the end of the listing
                        continue
                    break
                _hash_batch(h, packed, names, kept if keep else None, kept_meta, watch)
                if keep:
                    out.count += len(names)
                packed, names = [], []
                if keep and keep_at_most is not None and out.count > keep_at_most:
                    keep = False
                    out.drop_kept()
                    kept_meta = out.meta
    except OSError as exc:
        exc.filename = os.path.join(d, name) if name is not None else d
        raise
    finally:
        if fd >= 0:
            os.close(fd)
    out.listed = time.time_ns()
    if names or watch is not None:
        _hash_batch(h, packed, names, kept if keep else None, kept_meta, watch, True)
        if keep:
            out.count += len(names)
    if keep and keep_at_most is not None and out.count > keep_at_most:
        keep = False
        out.drop_kept()
    out.whole = keep
    subdirs.sort()
    out.newest, out.files, out.bytes = newest, files, size
    return out


def _hash_batch(
    h: blake3,
    packed: list[bytes],
    names: list[str],
    kept: NameList | list[bytes] | None,
    meta: array[int],
    watch: Watch | None = None,
    last: bool = False,
) -> None:
    """Hash a batch of entries read by ``stream_dir`` (their packed facts, then their names); keep them too
    (the names packed into a ``NameList``, or their joined bytes appended to a list); hand them to ``watch``."""
    facts = b"".join(packed)
    text = "\0".join(names)
    joined = text.encode("utf-8", "surrogateescape")
    if watch is not None:
        watch.batch(facts, joined, names, last)
        if not names:
            return
    sign_entries(h, facts, joined)
    if kept is not None:
        if isinstance(kept, NameList):
            kept.add(names, text, joined)
        else:
            kept.append(joined)
        meta.frombytes(facts)


def sign_entries(h: blake3, facts: bytes | bytearray | memoryview, joined: bytes) -> None:
    """Add a batch of a folder's entries to its signature: their stat facts (``_FACTS`` packed, 40 bytes an
    entry), then their names (UTF-8, joined by NULs) and a 1. The one definition of how a folder's own entries
    are signed: ``stream_dir`` and ``listread`` both hash their batches (``_STREAM_BATCH`` entries, in directory
    order) through it, so their signatures are the same byte for byte."""
    h.update(facts)
    h.update(joined + b"\1")


def check_name(path: str) -> None:
    """Refuse a path that is not valid UTF-8: ids, pointers and git all record names as UTF-8 text.

    Raises:
        UnsafePathError: naming the path with its undecodable bytes escaped (``\\xff``).
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePathError(
            f"the name {safe_name(path)} is not valid UTF-8; art records names as UTF-8",
            path=safe_name(path),
            hint="rename it (e.g. with convmv), or move it out of the folder",
        ) from None


def link_target(path: str, guard: Path | None) -> str:
    """The target of symlink ``path``, refused when it leaves ``guard``.

    Raises:
        FileSystemError: when the link cannot be read.
        UnsafePathError: when the target leaves ``guard`` or is not valid UTF-8.
    """
    with os_errors("read the symlink", path):
        target = os.readlink(path)
    check_name(target)
    if guard is not None:
        resolved = Path(os.path.realpath(path))
        if os.path.isabs(target) or not resolved.is_relative_to(guard.resolve()):
            raise UnsafePathError(
                f"symlink {path} points outside the workspace ({target})",
                path=path,
                hint="replace the link with the file it points to, or remove it",
            )
    return target


def _read(path: str, follow: bool = True) -> SignedDir:
    """``stream_dir(path, keep=True)``, its errors described."""
    check_name(path)
    try:
        return stream_dir(path, keep=True, follow=follow)
    except OSError as exc:
        if isinstance(exc, (BlockingIOError, InterruptedError)):
            raise
        raise describe(exc, "read the folder" if exc.filename == path else "read") from exc


FILE_BATCH = 4096  # files of one folder handed to ``file_oids`` at a time (walk_tree)
_FILE, _DIR, _LINK = EntryKind.FILE.value, EntryKind.DIR.value, EntryKind.SYMLINK.value


class _Batch:
    """Up to ``FILE_BATCH`` regular files of a walked folder, in name order: their names (packed: each one's
    UTF-8 and a NUL, ``_names``), sizes and executable bits, and their ids (what ``file_oids`` returned;
    packed, 32 bytes each, once they are done)."""

    __slots__ = ("names", "sizes", "execs", "oids")

    def __init__(self) -> None:
        self.names = b""
        self.sizes = array("q")
        self.execs = bytearray()
        self.oids: Iterable[Oid] | bytes = b""


class _Open:
    """A directory whose subdirectories are still being walked: its regular files in batches (``_Batch``), its
    symlinks' and closed subfolders' encoded entries."""

    __slots__ = ("path", "rel", "batches", "files", "size", "others", "subdirs", "own", "sigs", "racy", "run")

    def __init__(self, path: str, rel: str, own: SignedDir) -> None:
        self.path, self.rel, self.own = path, rel, own
        self.batches: list[_Batch | None] = []  # each let go once encoded
        self.files = self.size = 0  # the regular files' number and bytes
        self.others: list[EncodedEntry] = []  # symlinks, then the subfolders as they close
        self.subdirs = own.subdirs[::-1]  # popped from the end: walked in name order
        self.sigs: list[tuple[str, bytes]] = []  # the subfolders' (name, signature), in name order
        self.racy = own.racy
        self.run: TreeRun | None = None  # a large folder's files encoded as they are done (``settle``)

    def settle(self, done: int, spill: str | None, plain: bool) -> None:
        """A batch was handed on: the ``done`` batches before the one before it are done by now, the last of them
        gets its ids packed (32 bytes a file). In a
        folder of over ``SPILL_FILES`` files with nothing but files (``plain``; ``spill``: where the tree is
        spilled), every done batch is encoded to the folder's ``TreeRun`` and let go: a folder of a million files
        then holds its names and ids for a few batches only, not ~55 MB of them until it closes."""
        batches = self.batches
        if done < 1:
            return
        _pack_oids(batches[done - 1])
        run = self.run
        if run is None:
            if spill is None or not plain or self.files <= SPILL_FILES or self.others:
                return
            self.run = run = TreeRun(spill, self.path)
        for k in range(done):
            batch = batches[k]
            if batch is not None:
                batches[k] = None
                run.add(_batch_entries(batch))


def walk_tree(
    root: str,
    guard: Path | None,
    file_oids: FileBatch,
    put_tree: Callable[[EncodedTree], None] | None = None,
    *,
    remember: Remember | None = None,
    spill: str | None = None,
    opener: Opener | None = None,
) -> tuple[BuiltTree, int]:
    """Build the tree objects of ``root`` bottom-up; return (root tree, number of files).

    ``file_oids`` gets the regular files of one directory at a time, as (absolute path, stat) in name order,
    in batches of at most ``FILE_BATCH`` (a folder of a million files is never one list of paths and stats),
    and returns their ids in the same order: callers look a batch up (stat cache, store) in one query. What it
    returns is iterated only after the next batch was handed over, or when the directory is closed (after its
    subdirectories), so it may be filled in the meantime (ingest stores files while the walk goes on). Each
    folder's tree is encoded directly from its packed entries (no ``TreeEntry`` per file), each batch let go
    as it is encoded, goes to ``put_tree`` and is then dropped. ``remember`` gets each folder's signature (as
    ``signed_walk`` computes it, from the stat data this walk read, before any file was read) with its tree,
    unless something in the folder or below it is racily new. With ``spill`` (a folder for temporary files), the
    tree of a folder of more than ``SPILL_FILES`` files is encoded to a file there (``objects.SpilledTree``):
    ``put_tree`` gets it to copy into the store, and then it is closed (only its id and size stay). ``opener``
    opens a folder its own way, handing its files to ``file_oids`` as it reads them (``listread.ReadAsListed``:
    a first add reads each file as it is listed), or returns None to leave it to the walk.

    Raises:
        FileSystemError: when a directory cannot be read.
        UnsafePathError: for a symlink that leaves ``guard``, or a name that is not valid UTF-8.
    """

    run_in = spill if put_tree is not None else None  # where a large folder's tree is encoded as it goes

    def open_dir(path: str, rel: str) -> _Open:
        if opener is not None and (opened := opener(path, rel)) is not None:
            return opened
        own = _read(path, follow=not rel)
        top = _Open(path, rel, own)
        listed, meta = own.names, own.meta
        prefix = os.path.join(path, "")
        files = array("I" if len(listed) <= 0xFFFFFFFF else "q")  # the files' positions in the listing, name order
        batch = _Batch()
        raws: list[bytearray] = []  # the names of the batch being filled, joined once it is full
        for i in name_order(listed):
            raw = listed.raw_at(i)
            if not raw.isascii():
                check_name(prefix + listed[i])
            mode = meta[5 * i + 4]
            fmt = mode & _S_IFMT
            if fmt == S_IFREG:
                files.append(i)
                if len(batch.sizes) == FILE_BATCH:
                    batch.names, raws = b"".join(raws), []
                    top.batches.append(batch)
                    batch = _Batch()
                raws.append(raw)
                batch.sizes.append(meta[5 * i + 3])
                batch.execs.append(1 if mode & 0o111 else 0)
            elif fmt == S_IFLNK:
                name = listed[i]
                target = link_target(prefix + name, guard)
                top.others.append((name, [name, _LINK, target, hash_bytes(target.encode()).digest, 0]))
        if batch.sizes:
            batch.names, raws = b"".join(raws), []
            top.batches.append(batch)
        # the listing's names are in the batches now, in name order: the listing's own copy goes; so does its
        # stat data, once put in the batches' order (in place): each batch's part goes once it was handed on
        own.names = listed = NameList()
        top.files = len(files)
        plain = not top.others and not top.subdirs  # only files: a large one's tree may be encoded as it goes
        stats = meta_in_batches(meta, files, FILE_BATCH)
        own.drop_kept()
        del meta, files
        batches = top.batches
        for k, part in enumerate(batches):  # only once every name and link was accepted
            assert part is not None
            top.size += sum(part.sizes)
            facts = stats[k]
            stats[k] = _NO_FACTS
            listing = [
                (prefix + name, FileStat(*facts[5 * j : 5 * j + 5])) for j, name in enumerate(split_names(part.names))
            ]
            del facts
            part.oids = file_oids(listing)
            del listing
            top.settle(k - 1, run_in, plain)  # the batch before last is done by now
        return top

    def close(top: _Open, parent: _Open | None) -> BuiltTree:
        tree = _encode(top, spill if put_tree is not None else None)
        if put_tree is not None:
            try:
                put_tree(tree)
            finally:
                if isinstance(tree, SpilledTree):
                    tree.close()
        sig = top.own.finish(top.sigs)
        name = top.rel.rpartition("/")[2]
        if parent is not None:
            parent.others.append((name, [name, _DIR, False, tree.oid.digest, tree.size]))
            parent.sigs.append((name, sig))
            parent.racy = parent.racy or top.racy
        if remember is not None and not top.racy:
            remember(top.rel, sig, tree.oid, tree.size)
        return tree

    stack = [open_dir(root, "")]
    # folders walked but not closed yet, with their parents: a folder is closed (its ids read) only after the
    # next one was opened, so callers that fill ids later keep working while the walk reads the next folder;
    # a folder is walked after all its subfolders, so they are closed before it (in name order)
    walked: deque[tuple[_Open, _Open | None]] = deque()
    total = 0
    while True:
        top = stack[-1]
        if top.subdirs:
            name = top.subdirs.pop()
            stack.append(open_dir(os.path.join(top.path, name), f"{top.rel}/{name}" if top.rel else name))
            continue
        stack.pop()
        total += top.files
        walked.append((top, stack[-1] if stack else None))
        while len(walked) > _CLOSE_LAG or (walked and not stack):
            tree = close(*walked.popleft())
        if not stack:
            return tree, total


_NO_FACTS = array("q")


def _pack_oids(batch: _Batch | None) -> None:
    """Replace a batch's ids (what ``file_oids`` returned) by their 32-byte digests, packed."""
    if batch is not None and not isinstance(batch.oids, bytes):
        # the ids are hex text: joined and converted in two calls, not a ``digest`` property call per file
        batch.oids = bytes.fromhex("".join(batch.oids))


def _batch_entries(batch: _Batch) -> Iterator[EncodedEntry]:
    """The encoded entries of a batch's files, in name order, its ids packed first."""
    _pack_oids(batch)
    digests, sizes, execs = batch.oids, batch.sizes, batch.execs
    assert isinstance(digests, bytes)
    if len(digests) != 32 * len(sizes):
        raise AssertionError("file_oids returned a different number of ids")
    # the batch's names decoded as one str and cut one at a time (no list of them all beside the encoding)
    text = batch.names.decode("utf-8", "surrogateescape")
    find, at = text.find, 0
    for i in range(len(sizes)):
        end = find("\0", at)
        name = text[at:end]
        at = end + 1
        yield name, [name, _FILE, bool(execs[i]), digests[32 * i : 32 * i + 32], sizes[i]]


def _encode(top: _Open, spill: str | None) -> BuiltTree:
    """The tree of a walked folder, encoded entry by entry in name order (byte-identical to ``Tree.to_bytes``
    of the same entries), and the sum of its entries' sizes. Each batch of files is let go once encoded: a
    folder of a million files does not hold its names and ids whole beside the whole encoding (and those of a
    folder with a ``TreeRun`` were encoded as they were done, ``_Open.settle``)."""
    batches = top.batches
    run = top.run
    top.run = None
    before = run.count if run is not None else 0  # files encoded as they were done

    def files() -> Iterator[EncodedEntry]:
        count = 0
        for k, batch in enumerate(batches):
            if batch is None and run is not None:  # in the run already
                continue
            assert batch is not None
            batches[k] = None
            yield from _batch_entries(batch)
            count += len(batch.sizes)
        if before + count != top.files:
            raise AssertionError("the batches hold a different number of files")

    size = top.size + sum(e[1][4] for e in top.others)  # type: ignore[misc]
    if run is not None:
        assert spill is not None
        try:
            with os_errors("write a temporary file in", spill):
                run.add(files())
                return run.finish(top.others, size, spill)
        finally:
            run.close()
            top.batches, top.others = [], []
    if spill is not None and top.files > SPILL_FILES:
        try:
            with os_errors("write a temporary file in", spill):
                return spill_tree(top.files, files(), top.others, top.path, size, spill)
        finally:
            top.batches, top.others = [], []
    data = encode_tree(top.files, files(), top.others, top.path)
    top.batches, top.others = [], []
    return BuiltTree(data, size)


SPILL_FILES = 210_000  # over this many files (40+ bytes an entry: over ingest.RAW_TREE), a tree is spilled


_CLOSE_LAG = 1
