"""Directory layouts: one walk with stat data, reused by ingest (to store) and status (to hash only).

No chunking or compression here, so ``art status`` never loads them.
"""

from __future__ import annotations

import os
import stat as stat_mod
import time
from array import array
from collections.abc import Callable
from pathlib import Path

from .errors import UnsafePathError, WorkspaceError
from .hashing import hash_bytes
from .objects import Tree, TreeEntry
from .oid import Oid

SKIP_NAMES = frozenset({".git", ".art"})

Layout = list  # [(name, kind, stat, children | link target | None)]


def scan_dir(path: str, guard: Path | None = None, *, jobs: int = 2) -> Layout:
    """Walk ``path`` (entries sorted by name, skipping .git/.art); symlinks must stay inside ``guard``.

    Sibling directories at the top are walked by ``jobs`` threads (``stat`` releases the GIL).

    Raises:
        WorkspaceError: when a directory cannot be read.
        UnsafePathError: for a symlink that leaves ``guard``.
    """
    out = _scan_one(path, guard)
    subdirs = [i for i, item in enumerate(out) if item[1] == "dir"]
    if jobs > 1 and len(subdirs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(jobs, thread_name_prefix="art-scan") as pool:
            subs = list(pool.map(lambda i: scan_dir(os.path.join(path, out[i][0]), guard, jobs=1), subdirs))
    else:
        subs = [scan_dir(os.path.join(path, out[i][0]), guard, jobs=1) for i in subdirs]
    for i, sub in zip(subdirs, subs, strict=True):
        out[i] = (*out[i][:3], sub)
    return out


def _scan_one(path: str, guard: Path | None) -> Layout:
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError as exc:
        raise WorkspaceError(f"cannot read directory {path}: {exc.strerror}", path=path) from exc
    out: Layout = []
    for e in entries:
        if e.name in SKIP_NAMES:
            continue
        st = e.stat(follow_symlinks=False)
        mode = st.st_mode
        if stat_mod.S_ISREG(mode):
            out.append((e.name, "file", st, None))
        elif stat_mod.S_ISDIR(mode):
            out.append((e.name, "dir", st, None))
        elif stat_mod.S_ISLNK(mode):
            out.append((e.name, "symlink", st, _link_target(e.path, guard)))
    out.sort(key=_name)
    return out


def _name(item: tuple) -> str:
    return item[0]


def _link_target(path: str, guard: Path | None) -> str:
    target = os.readlink(path)
    if guard is not None:
        resolved = Path(os.path.realpath(path))
        if os.path.isabs(target) or not resolved.is_relative_to(guard.resolve()):
            raise UnsafePathError(f"symlink {path} points outside the workspace ({target})", path=path,
                                  hint="replace the link with the file it points to, or remove it")
    return target


def layout_files(root: str, layout: Layout) -> list[tuple[str, os.stat_result]]:
    """Flatten a layout to (absolute path, stat) of its regular files."""
    out = []
    for name, kind, st, extra in layout:
        full = os.path.join(root, name)
        if kind == "dir":
            out.extend(layout_files(full, extra))
        elif kind == "file":
            out.append((full, st))
    return out


RACY_NS = 100_000_000


def quick_signature(path: str, *, racy_ok: bool = False) -> str | None:
    """A stat-only fingerprint of a directory tree; equal fingerprints mean nothing in it was touched.

    One pass of ``scandir`` + ``lstat`` in directory order (inode, mtime, size and mode of every entry, and
    the names), hashed once: far cheaper than building the layout. None when something was modified within
    ``RACY_NS`` of now (racily clean: a same-size rewrite in the same timestamp tick could be missed), when
    a directory cannot be read, or when ``path`` is not a directory. ``racy_ok`` skips the racy check, for a
    folder art itself has just written and verified (the same trade as ``StatCache.record(written=True)``).
    """
    meta = array("q")
    names: list[str] = []
    stack = [path]
    try:
        while stack:
            d = stack.pop()
            names.append(d)
            with os.scandir(d) as it:
                for e in it:
                    if e.name in SKIP_NAMES:
                        continue
                    st = e.stat(follow_symlinks=False)
                    meta.extend((st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode))
                    names.append(e.name)
                    if stat_mod.S_ISDIR(st.st_mode):
                        stack.append(e.path)
    except OSError:
        return None
    if not racy_ok and meta and max(meta[1::4]) >= time.time_ns() - RACY_NS:
        return None
    return hash_bytes(meta.tobytes() + "\0".join(names).encode("utf-8", "surrogateescape"))


def build_tree(root: str, layout: Layout, file_oid: Callable[[str, os.stat_result], Oid],
               put_tree: Callable[[Tree], None] | None = None) -> tuple[Tree, int]:
    """Build the tree objects for a layout bottom-up; return (root tree, number of files)."""
    entries, files = [], 0
    for name, kind, st, extra in layout:
        full = os.path.join(root, name)
        if kind == "dir":
            sub, n = build_tree(full, extra, file_oid, put_tree)
            entries.append(TreeEntry(name, "dir", sub.oid, sub.size))
            files += n
        elif kind == "symlink":
            entries.append(TreeEntry(name, "symlink", hash_bytes(extra.encode()), 0, target=extra))
        else:
            entries.append(TreeEntry(name, "file", file_oid(full, st), st.st_size,
                                     executable=bool(st.st_mode & 0o111)))
            files += 1
    tree = Tree.build(entries)
    if put_tree is not None:
        put_tree(tree)
    return tree, files
