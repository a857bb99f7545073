"""The tree id of a folder on disk from per-folder signatures, so ``art status`` after a change to one file in a
million rebuilds only the folders on the way to it.

``scan_folder`` is one stat walk (``scan.signed_walk``): the folder's
signature, and each subfolder's. ``art add`` remembered the signature of every folder it stored, so when the
caller's cache knows the top signature, nothing else is done. Otherwise ``resolve_tree`` goes down from the
top: a subfolder whose signature the cache knows gives its tree id at once; one it does not know is rebuilt
from its entries as the walk read them (``scan_folder(listings=True)``; read again, one more ``stream_dir`` of
that folder, when the walk could not keep them) and its tree id computed from its files' ids
(``file_digests``: the stat cache, one query per batch of files, hashing only what it cannot vouch for) and its
subfolders' trees, encoded directly (no object per file). Each rebuilt folder goes to ``remember`` with the
signature of exactly the stat data its tree was built from, unless something in it is racily new
(``scan.RACY_NS``), so a remembered signature never names a tree other than the one on disk when it matches
again. With ``snaps``, a large folder that has a snapshot of its listing is patched instead (``treepatch``),
and each large folder rebuilt or patched leaves one.

Iterative (any depth) and streamed: memory holds the folders on the way down, plus up to
``scan.SIGNED_DIRS_KEPT`` subfolder signatures from the first walk.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from stat import S_IFLNK, S_IFREG
from typing import TYPE_CHECKING, Any

from .faults import fault_point
from .hashing import hash_bytes, hash_object
from .objects import EncodedEntry, encode_tree, hash_tree
from .oid import Oid
from .oserrors import os_errors
from .packed import DECODED_AT_MOST, meta_in_batches, name_order
from .scan import FILE_BATCH, DirSig, FileStat, Remember, SignedDir, check_name, link_target, stream_dir
from .sigwalk import signed_walk
from .types import EntryKind

if TYPE_CHECKING:
    from .treepatch import Snapshot, Snapshots, Tree, Watch

# entries of a folder whose rebuilt tree's encoding its new snapshot keeps (held whole while it is encoded); a
# larger one's snapshot names the store's copy of its tree (``art add`` stored it; until then it is rebuilt)
ENCODED_AT_MOST = 250_000

Known = Callable[[str, bytes], "tuple[Oid, int] | None"]  # (folder relative to the top, signature) -> (tree, size)
Digests = Callable[[list[tuple[str, Any]]], list[bytes]]  # files (path, stat) -> 32-byte ids, in order

_FMT = 0o170000
_FILE, _DIR, _LINK = EntryKind.FILE.value, EntryKind.DIR.value, EntryKind.SYMLINK.value


class FolderScan:
    """What ``scan_folder`` saw: the top signature, the subfolders' (by path relative to the top, "" for the top
    itself), and whether ``sigs`` holds every folder."""

    __slots__ = ("signature", "sigs", "complete", "listings", "watched")

    def __init__(
        self,
        signature: bytes,
        sigs: dict[str, DirSig],
        complete: bool,
        listings: dict[str, SignedDir] | None = None,
        watched: dict[str, Watch] | None = None,
    ) -> None:
        self.signature, self.sigs, self.complete = signature, sigs, complete
        self.listings = listings if listings is not None else {}  # folders' entries as the walk read them
        self.watched = watched if watched is not None else {}  # large folders' listings against their snapshots


def scan_folder(path: str, *, listings: bool = False, snaps: Snapshots | None = None) -> FolderScan:
    """One stat walk of ``path`` (see ``sigwalk.signed_walk``); with ``listings``, the folders' entries as it read
    them too (``scan.LISTED_ENTRIES_KEPT`` at most), so ``resolve_tree`` rebuilds them without reading them again;
    with ``snaps``, each large folder's listing is followed against its snapshot as it is read (``treepatch.Watch``).

    Raises:
        OSError: when a folder or an entry cannot be read.
    """
    sigs: dict[str, DirSig] = {}
    kept: dict[str, SignedDir] | None = {} if listings else None
    watched: dict[str, Watch] = {}
    watch = snaps.watch if snaps is not None else None
    sig, _, complete = signed_walk(path, keep=sigs, listings=kept, watch=watch, watched=watched)
    return FolderScan(sig, sigs, complete, kept, watched)


class _Build:
    """A folder being rebuilt: its own entries (read again, with the stat data its tree is built from) and its
    subfolders' results so far."""

    __slots__ = ("path", "rel", "own", "next", "children", "watch")

    def __init__(self, path: str, rel: str, listed: SignedDir | None = None, watch: Watch | None = None) -> None:
        self.path, self.rel, self.watch = path, rel, watch if watch is not None and watch.usable else None
        fault_point("status.folder-rebuilt")  # tests count the folders a status rebuilds (ART_FAULT_LOG)
        if listed is None or not (listed.whole or self.watch is not None):
            listed = _reread(path, rel)
        self.own: SignedDir = listed
        self.next = 0
        self.children: list[tuple[str, bytes, Oid, int, bool]] = []  # name, signature, tree, size, racy


def resolve_tree(
    path: str,
    guard: Path | None,
    scanned: FolderScan,
    file_digests: Digests,
    known: Known,
    remember: Remember,
    snaps: Snapshots | None = None,
) -> Oid:
    """The tree id of folder ``path``, built only where ``known`` does not vouch for a subfolder (see the module
    docstring); ``scanned`` is ``scan_folder(path)``, whose top signature ``known`` did not know. With ``snaps``,
    a large folder with a snapshot is patched (``treepatch``), not rebuilt, and each large folder rebuilt or
    patched leaves its snapshot there.

    Raises:
        FileSystemError: when a folder or an entry cannot be read.
        UnsafePathError: for a symlink that leaves ``guard``, or a name that is not valid UTF-8.
    """
    sigs, listings, watched = scanned.sigs, scanned.listings, scanned.watched
    stack = [_Build(path, "", listings.pop("", None), watched.pop("", None))]
    while True:
        top = stack[-1]
        subdirs = top.own.subdirs
        if top.next < len(subdirs):
            name = subdirs[top.next]
            top.next += 1
            rel = f"{top.rel}/{name}" if top.rel else name
            child = os.path.join(top.path, name)
            seen = sigs.get(rel)
            if seen is None:  # new since the first walk, or beyond what it kept
                with os_errors("read the folder", child):
                    sig = signed_walk(child)[0]
            else:
                sig = seen[0]
            hit = known(rel, sig)
            if hit is not None:
                top.children.append((name, sig, hit[0], hit[1], False))
            else:
                listed, watch = (listings.pop(rel, None), watched.pop(rel, None)) if seen is not None else (None, None)
                stack.append(_Build(child, rel, listed, watch))
            continue
        stack.pop()
        sig, oid, size, racy = _finish(top, guard, file_digests, snaps)
        if not racy:
            remember(top.rel, sig, oid, size)
        if not stack:
            return oid
        stack[-1].children.append((top.rel.rpartition("/")[2], sig, oid, size, racy))


def _reread(path: str, rel: str) -> SignedDir:
    with os_errors("read the folder", path):
        return stream_dir(path, keep=True, follow=not rel)


def _finish(
    b: _Build, guard: Path | None, file_digests: Digests, snaps: Snapshots | None
) -> tuple[bytes, Oid, int, bool]:
    """The folder's signature, tree id, tree size and whether it is racily new, from the stat data ``_Build``
    read (patched from its snapshot when its watch allows, ``treepatch``); the tree is hashed as it is encoded from
    its entries (``objects.hash_tree``), its files' ids asked for a batch at a time (``scan.FILE_BATCH``): a folder
    of a million files holds its names and stat data packed (about 60 bytes a file), never a list of every file's
    path, stat and entry, nor the tree's encoding (unless its snapshot keeps it: ``ENCODED_AT_MOST``)."""
    prefix = os.path.join(b.path, "")
    racy = b.own.racy or any(c[4] for c in b.children)
    if b.watch is not None and snaps is not None:
        done = _patched(b, prefix, file_digests, snaps, racy)
        if done is not None:
            return done
        walked = b.own.subdirs
        b.own = _reread(b.path, b.rel)
        racy = racy or b.own.subdirs != walked  # the folders changed under the status: remember nothing
    names, meta = b.own.names, b.own.meta
    from .treepatch import SNAPSHOT_AT_LEAST

    snapshot = snaps is not None and len(names) >= SNAPSHOT_AT_LEAST and not racy
    if snapshot and snaps is not None:
        from .treepatch import FACTS_CHUNK, Snapshot, facts_digest, names_digest

        facts = memoryview(meta).cast("B")
        listed = (names_digest(names.blob), len(names), facts_digest(facts))  # as read: reordered below
        step = 40 * FACTS_CHUNK
        chunks = ((k, facts[at : at + step].tobytes()) for k, at in enumerate(range(0, len(facts), step)))
        snaps.write_chunks(b.rel, chunks)  # before the facts are put in name order, in place
        del facts
    others: list[EncodedEntry] = []
    files = array("I" if len(names) <= 0xFFFFFFFF else "q")  # the files' positions in the listing, name order
    size = 0
    # the names by position: decoded at once unless the folder is huge (then one at a time, never all held)
    name_at = names.decoded().__getitem__ if len(names) <= DECODED_AT_MOST else names.__getitem__
    ascii_only = names.blob.isascii()  # then every name is valid UTF-8: none to check one by one
    for i in name_order(names):  # in runs, merged: no int object per entry
        if not ascii_only and not names.key(i).isascii():
            check_name(prefix + name_at(i))
        fmt = meta[5 * i + 4] & _FMT
        if fmt == S_IFREG:
            files.append(i)
            size += meta[5 * i + 3]
        elif fmt == S_IFLNK:
            name = name_at(i)
            target = link_target(prefix + name, guard)
            others.append((name, [name, _LINK, target, hash_bytes(target.encode()).digest, 0]))

    count = len(files)
    # the stat data in name order (permuted in place, cut in batches), each batch's let go once hashed
    stats = meta_in_batches(meta, files, FILE_BATCH)
    b.own.meta = meta = array("q")

    def encoded_files() -> Iterator[EncodedEntry]:
        for k, start in enumerate(range(0, count, FILE_BATCH)):
            part = files[start : min(start + FILE_BATCH, count)]
            facts, stats[k] = stats[k], meta
            batch = [(prefix + name_at(i), FileStat(*facts[5 * j : 5 * j + 5])) for j, i in enumerate(part)]
            for i, (_, st), digest in zip(part, batch, file_digests(batch), strict=True):
                name = name_at(i)
                yield name, [name, _FILE, bool(st.st_mode & 0o111), digest, st.st_size]

    children = b.children
    for name, _, oid, n, _ in children:
        others.append((name, [name, _DIR, False, bytes.fromhex(oid), n]))
        size += n
    if not snapshot or snaps is None or len(names) > ENCODED_AT_MOST:
        oid = hash_tree(count, encoded_files(), others, b.path)  # never the whole encoding
        b.own.drop_kept()
        sig = b.own.finish([(name, s) for name, s, _, _, _ in children])
        if snapshot and snaps is not None:  # its tree is the store's once ``art add`` stored it
            _keep(b, snaps, sig, Snapshot("", oid, size, *listed, b"", None), (), None, None)
        return sig, oid, size, racy
    tree = encode_tree(count, encoded_files(), others, b.path)
    oid = hash_object("tree", tree)
    b.own.drop_kept()
    sig = b.own.finish([(name, s) for name, s, _, _, _ in children])
    _keep(b, snaps, sig, Snapshot("", oid, size, *listed, b"", None), (), tree, None)
    return sig, oid, size, racy


def _patched(
    b: _Build, prefix: str, file_digests: Digests, snaps: Snapshots, racy: bool
) -> tuple[bytes, Oid, int, bool] | None:
    """``_finish`` of a folder patched from its snapshot (``treepatch.patch_tree``); None when it cannot be."""
    from .treepatch import Snapshot, patch_tree

    w = b.watch
    assert w is not None and w.old is not None
    source = snaps.tree(w.old)
    if source is None:
        return None
    subs = [(c[0], c[1], c[2], c[3]) for c in b.children]
    done = patch_tree(w.old, w, subs, prefix, file_digests, source)
    if done is None:
        getattr(source, "close", _nothing)()
        return None
    fault_point("status.folder-patched")
    sig = b.own.finish([(c[0], c[1]) for c in b.children])
    if not racy:
        names, facts = w.digests()
        snap = Snapshot("", done.oid, done.size, names, w.count, facts, b"", None)
        _keep(b, snaps, sig, snap, w.settled(), done, w.old)
    getattr(source, "close", _nothing)()
    return sig, done.oid, done.size, racy


def _nothing() -> None:
    pass


def _keep(
    b: _Build,
    snaps: Snapshots,
    sig: bytes,
    snap: Snapshot,
    chunks: Iterable[tuple[int, bytes]],
    tree: Tree,
    base: Snapshot | None,
) -> None:
    """Give ``snaps`` the folder's ``snap``, its signature and subfolders' filled in here."""
    snaps.put(b.rel, snap._replace(sig=sig.hex(), subsigs=b"".join(c[1] for c in b.children)), chunks, tree, base)


def keep_snapshots(scanned: FolderScan, known: Known, snaps: Snapshots) -> int:
    """After a walk whose top signature was known (nothing changed): give each large folder it followed
    (``FolderScan.watched``) a snapshot for its signature, unless it has one; the stored facts are made the
    listing's (the few entries that differ; the walk wrote the rest when they departed). Its tree is the one the
    snapshot had when the id is the same, else the store's copy. Return how many were written."""
    from .treepatch import Snapshot

    made = 0
    for rel, w in scanned.watched.items():
        seen = scanned.sigs.get(rel)
        own = scanned.listings.get(rel)
        if seen is None or own is None or own.racy or w.small:
            continue
        old = w.old
        if old is not None and old.sig == seen[0].hex() and w.unchanged:
            continue
        hit = known(rel, seen[0])
        if hit is None:
            continue
        subs = [scanned.sigs.get(f"{rel}/{name}" if rel else name) for name in own.subdirs]
        if any(s is None for s in subs):
            continue
        subsigs = b"".join(s[0] for s in subs if s is not None)
        names, facts = w.digests()
        snap = Snapshot(seen[0].hex(), hit[0], hit[1], names, w.count, facts, subsigs, None)
        kept = old.tree if old is not None and old.oid == hit[0] else None
        snaps.put(rel, snap, w.settled(), kept, old)
        made += 1
    return made
