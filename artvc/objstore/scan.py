"""Directory walks with stat data, shared by ingest (to store) and status (to hash only).

The walks are iterative and streamed: a tree is built bottom-up one directory at a time, so only the
entries of the directory being read plus the stack of its open ancestors are in memory, however many files
the tree holds (and however deep it is). No chunking or compression here, so ``art status`` never loads them.
"""

from __future__ import annotations

import os
import stat as stat_mod
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR, S_ISREG

from ..errors import UnsafePathError
from .hashing import ContentHasher, hash_bytes
from .objects import Tree, TreeEntry
from .oid import Oid
from .oserrors import describe, os_errors, safe_name
from .types import EntryKind

SKIP_NAMES = frozenset({".git", ".art"})

Entry = tuple[str, str, os.stat_result, str | None]  # (name, "file" | "dir" | "symlink", stat, link target)
FileBatch = Callable[[list[tuple[str, os.stat_result]]], Iterable[Oid]]


def scan_one(path: str, guard: Path | None) -> list[Entry]:
    """One directory's entries, sorted by name, skipping .git/.art; symlinks must stay inside ``guard``.

    Raises:
        FileSystemError: when the directory or an entry cannot be read (permission denied, I/O error...).
        UnsafePathError: for a symlink that leaves ``guard``, or a name that is not valid UTF-8.
    """
    return _scan(path, guard, None)[0]


def _scan(path: str, guard: Path | None, fingerprint: Fingerprint | None) -> tuple[list[Entry], list[str]]:
    """``scan_one``, plus the subdirectories' names in listing order; feeds ``fingerprint`` when given."""
    out: list[Entry] = []
    subdirs: list[str] = []
    meta, names = array("q"), [path]
    check_name(path)
    prefix = os.path.join(path, "")
    # listed through a descriptor: each entry's stat is an fstatat relative to it (no path walk per file)
    with os_errors("read the folder", path):
        fd = os.open(path, _O_DIR) if _SCAN_FD else None
        try:
            with os.scandir(path if fd is None else fd) as it:
                entries = list(it)
        except BaseException:
            if fd is not None:
                os.close(fd)
            raise
    name = None
    try:
        for e in entries:
            name = e.name
            if name in SKIP_NAMES:
                continue
            if not name.isascii():
                check_name(prefix + name)
            st = e.stat(follow_symlinks=False)
            mode = st.st_mode
            if fingerprint is not None:
                meta.extend((st.st_ino, st.st_mtime_ns, st.st_size, mode))
                names.append(name)
            fmt = mode & _S_IFMT
            if fmt == _S_IFREG:
                out.append((name, "file", st, None))
            elif fmt == _S_IFDIR:
                out.append((name, "dir", st, None))
                subdirs.append(name)
            elif fmt == _S_IFLNK:
                out.append((name, "symlink", st, _link_target(prefix + name, guard)))
    except OSError as exc:  # one handler for the whole folder: a context manager per entry costs a microsecond
        if isinstance(exc, (BlockingIOError, InterruptedError)) or name is None:
            raise
        raise describe(exc, "read", prefix + name) from exc
    finally:
        if fd is not None:
            os.close(fd)
    if fingerprint is not None:
        fingerprint.add(meta, names)
    out.sort(key=_name)
    return out, subdirs


_SCAN_FD = os.scandir in os.supports_fd and hasattr(os, "O_DIRECTORY")
_O_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


_S_IFMT, _S_IFREG, _S_IFDIR, _S_IFLNK = 0o170000, stat_mod.S_IFREG, stat_mod.S_IFDIR, stat_mod.S_IFLNK


def _name(item: Entry) -> str:
    return item[0]


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


def _link_target(path: str, guard: Path | None) -> str:
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


def iter_files(root: str, guard: Path | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """Yield (absolute path, stat) of every regular file under ``root``, one directory at a time."""
    stack = [root]
    while stack:
        d = stack.pop()
        subdirs = []
        for name, kind, st, _ in scan_one(d, guard):
            if kind == "file":
                yield os.path.join(d, name), st
            elif kind == "dir":
                subdirs.append(os.path.join(d, name))
        stack.extend(reversed(subdirs))


class _Open:
    """A directory whose subdirectories are still being walked."""

    __slots__ = ("path", "name", "entries", "subdirs", "files", "oids")

    def __init__(
        self,
        path: str,
        name: str,
        entries: list[TreeEntry],
        subdirs: list[str],
        files: list[_File],
        oids: Iterable[Oid],
    ) -> None:
        self.path, self.name, self.entries, self.subdirs = path, name, entries, subdirs
        self.files, self.oids = files, oids


_File = tuple[str, int, bool]  # a file of an open directory: (name, size, executable)


def walk_tree(
    root: str,
    guard: Path | None,
    file_oids: FileBatch,
    put_tree: Callable[[Tree], None] | None = None,
    *,
    fingerprint: Fingerprint | None = None,
) -> tuple[Tree, int]:
    """Build the tree objects of ``root`` bottom-up; return (root tree, number of files).

    ``file_oids`` gets the regular files of one directory at a time, as (absolute path, stat) in name order,
    and returns their ids in the same order: a batch per directory, so callers can look them up (stat cache,
    store) in one query. What it returns is iterated only when the directory is closed (after its
    subdirectories), so it may be filled in the meantime (ingest stores files while the walk goes on). Each
    finished tree goes to ``put_tree`` and is then dropped. ``fingerprint`` is fed the walk's stat data, in
    ``quick_signature``'s order (the walk visits directories in that order).

    Raises:
        FileSystemError: when a directory cannot be read.
        UnsafePathError: for a symlink that leaves ``guard``.
    """

    def open_dir(path: str, name: str) -> _Open:
        items, subdirs = _scan(path, guard, fingerprint)
        entries: list[TreeEntry] = []
        files, stats = [], []
        prefix = os.path.join(path, "")
        for n, kind, st, extra in items:
            if kind == "file":
                files.append((n, st.st_size, bool(st.st_mode & 0o111)))
                stats.append((prefix + n, st))
            elif kind == "symlink":
                assert extra is not None  # scan_one read the link's target
                entries.append(TreeEntry(n, EntryKind.SYMLINK, hash_bytes(extra.encode()), 0, target=extra))
        return _Open(path, name, entries, subdirs, files, file_oids(stats) if stats else ())

    def close(top: _Open, parent: _Open | None) -> Tree:
        entries = top.entries
        for (n, size, executable), oid in zip(top.files, top.oids, strict=True):
            entries.append(TreeEntry(n, EntryKind.FILE, oid, size, executable=executable))
        tree = Tree.build(entries)
        if put_tree is not None:
            put_tree(tree)
        if parent is not None:
            parent.entries.append(TreeEntry(top.name, EntryKind.DIR, tree.oid, tree.size))
        return tree

    stack = [open_dir(root, "")]
    # folders walked but not closed yet, with their parents: a folder is closed (its ids read) only after the
    # next one was opened, so callers that fill ids later keep working while the walk reads the next folder;
    # a folder is walked after all its subfolders, so they are closed before it
    walked: deque[tuple[_Open, _Open | None]] = deque()
    total = 0
    while True:
        top = stack[-1]
        if top.subdirs:  # the last listed first, as quick_signature's stack does
            name = top.subdirs.pop()
            stack.append(open_dir(os.path.join(top.path, name), name))
            continue
        stack.pop()
        total += len(top.files)
        walked.append((top, stack[-1] if stack else None))
        while len(walked) > _CLOSE_LAG or (walked and not stack):
            tree = close(*walked.popleft())
        if not stack:
            return tree, total


_CLOSE_LAG = 1


RACY_NS = 100_000_000
_STREAM_BATCH = 4096  # entries hashed at a time: a folder of a million files is never held whole for its signature
SIGNED_DIRS_KEPT = 100_000  # folders whose signature ``signed_walk`` keeps for its caller (a few MB at most)

DirSig = tuple[bytes, bool]  # a folder's signature (32 bytes) and whether it has subfolders


@dataclass(frozen=True, slots=True)
class TreeWalk:
    """What one stat walk of a directory tree saw: its ``quick_signature`` and its regular files' count and size."""

    signature: str | None
    files: int
    bytes: int


def tree_walk(path: str) -> TreeWalk:
    """``quick_signature`` of ``path`` plus the number and total size of its regular files, from the same walk
    (``art add`` takes the totals of its progress bar from the stat walk it does anyway)."""
    counts = [0, 0]
    try:
        sig, newest, _ = signed_walk(path, counts=counts)
    except OSError:
        return TreeWalk(None, counts[0], counts[1])
    return TreeWalk(None if _racy(newest) else sig.hex(), counts[0], counts[1])


def quick_signature(path: str, *, racy_ok: bool = False) -> str | None:
    """A stat-only fingerprint of a directory tree; equal fingerprints mean nothing in it was touched.

    The root of ``signed_walk``'s per-folder signatures (a Merkle hash of inode, mtime, ctime, size and mode of
    every entry, and the names): far cheaper than building the trees, flat in memory at any file count. None
    when something was modified within ``RACY_NS`` of now (racily clean: a same-size
    rewrite in the same timestamp tick could be missed), when a directory cannot be read, or when ``path`` is
    not a directory. ``racy_ok`` skips the racy check, for a folder art itself has just written and verified
    (the same trade as ``StateDB.record(written=True)``).
    """
    return _signature(path, racy_ok, None)


class Fingerprint:
    """The running hash behind ``quick_signature``, fed one directory at a time in its walk's order: a
    directory, then its subdirectories depth first, the last listed first. ``walk_tree`` feeds one from the
    stat data it reads anyway, so ``art add`` needs no walk of its own to fingerprint what it read."""

    __slots__ = ("_h", "_newest")

    def __init__(self) -> None:
        self._h = ContentHasher()
        self._newest = 0

    def add(self, meta: array[int], names: list[str]) -> None:
        """One directory: ``meta`` holds (inode, mtime, size, mode) of each entry, ``names`` the directory's
        path then the entries' names, both in listing order, ``.git``/``.art`` left out."""
        if meta:
            self._newest = max(self._newest, max(meta[1::4]))
        self._h.update(meta.tobytes())
        self._h.update("\0".join(names).encode("utf-8", "surrogateescape") + b"\1")

    def value(self, *, racy_ok: bool = False) -> str | None:
        """The fingerprint; None when something was modified within ``RACY_NS`` of now (unless ``racy_ok``)."""
        if not racy_ok and self._newest >= time.time_ns() - RACY_NS:
            return None
        return str(self._h.oid())


def _signature(path: str, racy_ok: bool, counts: list[int] | None) -> str | None:
    fp = Fingerprint()
    stack = [path]
    try:
        while stack:
            d = stack.pop()
            meta, names = array("q"), [d]
            with os.scandir(d) as it:
                for e in it:
                    if e.name in SKIP_NAMES:
                        continue
                    st = e.stat(follow_symlinks=False)
                    meta.extend((st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode))
                    names.append(e.name)
                    if stat_mod.S_ISDIR(st.st_mode):
                        stack.append(e.path)
                    elif counts is not None and stat_mod.S_ISREG(st.st_mode):
                        counts[0] += 1
                        counts[1] += st.st_size
            fp.add(meta, names)
    except OSError:
        return None
    return fp.value(racy_ok=racy_ok)


def link_target(path: str, guard: Path | None) -> str:
    """The target of symlink ``path``, refused when it leaves ``guard`` (as ``scan_one`` reads it).

    Raises:
        FileSystemError: when the link cannot be read.
        UnsafePathError: when the target leaves ``guard`` or is not valid UTF-8.
    """
    return _link_target(path, guard)


def _racy(newest: int) -> bool:
    return newest >= time.time_ns() - RACY_NS


class SignedDir:
    """One folder's own entries, hashed in directory order (``stream_dir``): the part of its signature that is
    not its subfolders'. ``finish`` adds the subfolders' signatures (by name) and returns the signature."""

    __slots__ = ("h", "subdirs", "newest", "kept")

    def __init__(self) -> None:
        self.h = ContentHasher()
        self.subdirs: list[str] = []
        self.newest = 0  # the newest mtime among the entries (the racy check, as in the stat cache)
        self.kept: list[tuple[str, os.stat_result]] = []

    def finish(self, children: list[tuple[str, bytes]]) -> bytes:
        """The signature, given each subfolder's (name, signature) in name order."""
        h = self.h
        h.update(b"\2")
        for name, sig in children:
            h.update(name.encode("utf-8", "surrogateescape") + b"\0" + sig)
        return h.digest()


def stream_dir(d: str, keep: bool = False, counts: list[int] | None = None) -> SignedDir:
    """Hash folder ``d``'s own entries (all but .git/.art) into a ``SignedDir``: inode, mtime, ctime, size and
    mode of each, then the names, a batch at a time in directory order; its subfolders' names in name order;
    with ``keep``, each entry's (name, stat) too (to build its tree from the same stat data). The one
    definition of a folder's own signature, shared by every walk here.

    Raises:
        OSError: when the folder or an entry cannot be read.
    """
    out = SignedDir()
    h = out.h
    subdirs = out.subdirs
    kept = out.kept
    newest = 0
    meta, names = array("q"), []
    with os.scandir(d) as it:
        for e in it:
            name = e.name
            if name in SKIP_NAMES:
                continue
            st = e.stat(follow_symlinks=False)
            mode = st.st_mode
            meta.extend((st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, mode))
            names.append(name)
            if keep:
                kept.append((name, st))
            if S_ISDIR(mode):
                subdirs.append(name)
            elif counts is not None and S_ISREG(mode):
                counts[0] += 1
                counts[1] += st.st_size
            if len(names) >= _STREAM_BATCH:
                newest = max(newest, max(meta[1::5]))
                h.update(meta.tobytes())
                h.update("\0".join(names).encode("utf-8", "surrogateescape") + b"\1")
                meta, names = array("q"), []
    if names:
        newest = max(newest, max(meta[1::5]))
        h.update(meta.tobytes())
        h.update("\0".join(names).encode("utf-8", "surrogateescape") + b"\1")
    subdirs.sort()
    out.newest = newest
    return out


class _SigFrame:
    __slots__ = ("path", "rel", "own", "next", "children")

    def __init__(self, path: str, rel: str, own: SignedDir) -> None:
        self.path, self.rel, self.own, self.next = path, rel, own, 0
        self.children: list[tuple[str, bytes]] = []


def signed_walk(
    path: str, *, counts: list[int] | None = None, keep: dict[str, DirSig] | None = None
) -> tuple[bytes, int, bool]:
    """One stat walk of the tree under ``path``: (its signature, the newest mtime in it, whether ``keep``
    holds every folder). A folder's signature hashes its own entries (``stream_dir``) and then its subfolders'
    signatures, so it changes when anything below it does, and equal signatures mean an untouched folder.

    Iterative and streamed: memory holds the open folders' subfolder names and signatures only. ``keep`` gets
    each folder's (signature, has subfolders) by path relative to ``path`` ("" for ``path`` itself), up to
    ``SIGNED_DIRS_KEPT`` folders.

    Raises:
        OSError: when a folder or an entry cannot be read.
    """
    stack = [_SigFrame(path, "", stream_dir(path, counts=counts))]
    newest = 0
    complete = True
    while True:
        top = stack[-1]
        own = top.own
        if top.next < len(own.subdirs):
            name = own.subdirs[top.next]
            top.next += 1
            rel = f"{top.rel}/{name}" if top.rel else name
            stack.append(
                _SigFrame(os.path.join(top.path, name), rel, stream_dir(os.path.join(top.path, name), counts=counts))
            )
            continue
        stack.pop()
        sig = own.finish(top.children)
        newest = max(newest, own.newest)
        if keep is not None:
            if len(keep) < SIGNED_DIRS_KEPT:
                keep[top.rel] = (sig, bool(own.subdirs))
            else:
                complete = False
        if not stack:
            return sig, newest, complete
        stack[-1].children.append((top.rel.rpartition("/")[2], sig))
