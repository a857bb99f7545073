"""Folder signatures of a folder a checkout has just written, from the stat data of its own writes.

``scan.signed_walk`` signs a folder by listing it and stat-ing every entry (``scan.stream_dir``). After a
checkout built the folder, it holds the ``fstat`` of every file it wrote; ``WrittenStats`` keeps those
(packed as ``stream_dir`` packs them, 40 bytes an entry, up to ``KEPT_AT_MOST`` files) and
``signed_written`` signs the folder with one listing of names per folder (no ``stat`` of a file the checkout
wrote: only subfolders, symlinks and anything else found are ``lstat``-ed). The signatures are exactly those
``signed_walk`` computes when nothing changed since the writes; a file changed since its write differs in its
stat data, so its folder's signature then matches no later walk (the next status rebuilds that folder: never
a wrong tree, only the old cost).
"""

from __future__ import annotations

import os
import stat as stat_mod

from .scan import _FACTS, _O_DIR, _O_NOFOLLOW, _STREAM_BATCH, SKIP_NAMES, DirSig, SignedDir, _hash_batch

KEPT_AT_MOST = 100_000  # files whose stat data is kept (~180 bytes each: 18 MB at most); beyond, walked again


class WrittenStats:
    """The stat data of the files written into a new folder, by folder (relative to the top) and name; let go
    (``full``) once more than ``KEPT_AT_MOST`` files were written, so memory stays bounded."""

    __slots__ = ("by_folder", "count", "full")

    def __init__(self) -> None:
        self.by_folder: dict[str, dict[str, bytes]] = {}
        self.count = 0
        self.full = False

    def add(self, folder: str, landed: list[tuple[str, os.stat_result]]) -> None:
        """Note files written in ``folder`` (name, stat); the caller serialises calls."""
        if self.full:
            return
        self.count += len(landed)
        if self.count > KEPT_AT_MOST:
            self.full, self.by_folder = True, {}
            return
        pack = _FACTS.pack
        into = self.by_folder.setdefault(folder, {})
        for name, st in landed:
            into[name] = pack(st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode)


def signed_written(path: str, written: WrittenStats) -> dict[str, DirSig]:
    """Every folder's (signature, has subfolders) under ``path`` by path relative to it ("" for ``path``), as
    ``signed_walk(path, keep=...)`` gives them, the stat data of files in ``written`` taken from it.

    Raises:
        OSError: when a folder or an entry cannot be read.
    """
    out: dict[str, DirSig] = {}
    stack: list[tuple[str, str, SignedDir, list[tuple[str, bytes]]]] = [
        (path, "", _own(path, written.by_folder.get("", {}), True), [])
    ]
    while stack:
        d, rel, own, children = stack[-1]
        if own.subdirs:
            name = own.subdirs.pop()  # name order, reversed: ``children`` is sorted before use
            sub = f"{rel}/{name}" if rel else name
            child = os.path.join(d, name)
            stack.append((child, sub, _own(child, written.by_folder.get(sub, {}), False), []))
            own.files += 1  # counts the subfolders (``own.subdirs`` is emptied as they are walked)
            continue
        stack.pop()
        children.sort()
        out[rel] = (own.finish(children), bool(own.files))
        if stack:
            stack[-1][3].append((rel.rpartition("/")[2], out[rel][0]))
    return out


def _own(d: str, known: dict[str, bytes], follow: bool) -> SignedDir:
    """``stream_dir(d)``'s hash of its own entries, in directory order, with the stat data in ``known`` used
    for the names it holds (every other entry ``lstat``-ed); ``files`` is left 0 (the caller counts subfolders)."""
    out = SignedDir()
    h, subdirs = out.h, out.subdirs
    pack, get = _FACTS.pack, known.get
    packed: list[bytes] = []
    names: list[str] = []
    fd = os.open(d, _O_DIR if follow else _O_DIR | _O_NOFOLLOW)
    try:
        for name in os.listdir(fd):
            if name in SKIP_NAMES:
                continue
            facts = get(name)
            if facts is None:
                st = os.lstat(name, dir_fd=fd)
                facts = pack(st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode)
                if stat_mod.S_ISDIR(st.st_mode):
                    subdirs.append(name)
            packed.append(facts)
            names.append(name)
            if len(names) >= _STREAM_BATCH:
                _hash_batch(h, packed, names, None, out.meta)
                packed, names = [], []
    finally:
        os.close(fd)
    if names:
        _hash_batch(h, packed, names, None, out.meta)
    subdirs.sort(reverse=True)
    return out
