"""Files and directories into a store: chunk, hash each chunk and the whole file, compress, pack.

Each byte is read once. The chunker and the whole-file hash run in the calling thread while a second
thread hashes and compresses chunks (blake3 and zstd release the GIL), so both cores work.
"""

from __future__ import annotations

import os
import stat as stat_mod
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .chunking import Chunker, ChunkerParams
from .errors import UnsafePathError, WorkspaceError
from .hashing import ContentHasher, hash_bytes
from .objects import FileManifest, Kind, Tree, TreeEntry
from .oid import Oid
from .store.base import StoreWriter
from .store.pack import Compressor

# Files up to this size are read whole and processed in a worker thread, many files at a time.
SMALL_FILE = 1 << 20
_INFLIGHT = 16
SKIP_NAMES = frozenset({".git", ".art"})


class StatCache(Protocol):
    """What ingest needs from a stat cache: a known id for an unchanged file, and a way to remember one."""

    def lookup(self, path: str, st: os.stat_result) -> Oid | None: ...

    def record(self, path: str, st: os.stat_result, oid: Oid) -> None: ...


Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Prepared:
    oid: Oid
    codec: int
    stored: bytes | None
    length: int


@dataclass(slots=True)
class IngestStats:
    """What an ingest did: files seen, files read, bytes read, objects and bytes newly stored."""

    files: int = 0
    hashed: int = 0
    bytes_read: int = 0
    new_objects: int = 0
    new_bytes: int = 0


class Ingester:
    """Store files and directory trees through a ``StoreWriter``.

    Args:
        writer: where objects go (dedup against the store happens there).
        params: chunker parameters of the target store.
        compressor: per-chunk zstd/raw decision.
        cache: optional stat cache; a hit whose object is stored skips reading the file.
        guard: when set, symlinks must resolve inside this directory.
        progress: called with the number of bytes processed, as they are.
    """

    def __init__(self, writer: StoreWriter, params: ChunkerParams, compressor: Compressor, *,
                 cache: StatCache | None = None, guard: Path | None = None,
                 progress: Progress | None = None, jobs: int = 2) -> None:
        self.writer = writer
        self.params = params
        self.compressor = compressor
        self.cache = cache
        self.guard = guard
        self.progress = progress or (lambda n: None)
        self.stats = IngestStats()
        self.last_signature: str | None = None
        self._chunker = Chunker(params)
        self._pool = ThreadPoolExecutor(max(1, jobs), thread_name_prefix="art-ingest")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Ingester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- per chunk -----------------------------------------------------------------------------------

    def _prepare(self, data: bytes) -> Prepared:
        oid = hash_bytes(data)
        if self.writer.has(oid, Kind.CHUNK):
            return Prepared(oid, 0, None, len(data))
        codec, stored = self.compressor.pack(data)
        return Prepared(oid, codec, stored, len(data))

    def _store(self, p: Prepared) -> None:
        if p.stored is not None and self.writer.put_stored(p.oid, Kind.CHUNK, p.codec, p.stored, p.length):
            self.stats.new_objects += 1
            self.stats.new_bytes += len(p.stored)

    def _finish_file(self, oid: Oid, size: int, chunks: list[tuple[Oid, int]]) -> None:
        if len(chunks) != 1 and self.writer.put(oid, Kind.FILE, FileManifest(oid, size, tuple(chunks)).to_bytes()):
            self.stats.new_objects += 1

    # -- files ---------------------------------------------------------------------------------------

    def add_file(self, path: str | os.PathLike, st: os.stat_result | None = None) -> tuple[Oid, int]:
        """Store one regular file; return (file id, size)."""
        path = os.fspath(path)
        st = st or os.stat(path)
        known = self._known(path, st)
        if known is not None:
            return known, st.st_size
        if st.st_size <= SMALL_FILE:
            oid, size, chunks, prepared = self._read_small(path)
            for p in prepared:
                self._store(p)
        else:
            oid, size, chunks = self._stream_large(path)
        self._finish_file(oid, size, chunks)
        self._remember(path, st, oid)
        return oid, size

    def _known(self, path: str, st: os.stat_result) -> Oid | None:
        self.stats.files += 1
        if self.cache is None:
            return None
        oid = self.cache.lookup(path, st)
        if oid is not None and (self.writer.has(oid, Kind.FILE) or self.writer.has(oid, Kind.CHUNK)):
            self.progress(st.st_size)
            return oid
        return None

    def _remember(self, path: str, st: os.stat_result, oid: Oid) -> None:
        self.stats.hashed += 1
        self.stats.bytes_read += st.st_size
        if self.cache is not None:
            self.cache.record(path, st, oid)

    def _read_small(self, path: str) -> tuple[Oid, int, list[tuple[Oid, int]], list[Prepared]]:
        with open(path, "rb", buffering=0) as f:
            data = f.read()
        if len(data) <= self.params.min_size:
            p = self._prepare(data)
            self.progress(len(data))
            return p.oid, len(data), [(p.oid, len(data))], [p]
        prepared = [self._prepare(piece) for piece in Chunker(self.params).split(data)]
        self.progress(len(data))
        return hash_bytes(data), len(data), [(p.oid, p.length) for p in prepared], prepared

    def _stream_large(self, path: str) -> tuple[Oid, int, list[tuple[Oid, int]]]:
        hasher = ContentHasher()
        inflight: deque[Future[Prepared]] = deque()
        chunks: list[tuple[Oid, int]] = []
        size = 0

        def drain(limit: int) -> None:
            while len(inflight) > limit:
                p = inflight.popleft().result()
                self._store(p)
                chunks.append((p.oid, p.length))
                self.progress(p.length)

        with open(path, "rb", buffering=0) as f:
            for view in self._chunker.chunks(f):
                data = bytes(view)
                size += len(data)
                hasher.update(data)
                inflight.append(self._pool.submit(self._prepare, data))
                drain(_INFLIGHT)
        drain(0)
        return hasher.oid(), size, chunks

    # -- directories ---------------------------------------------------------------------------------

    def add_tree(self, root: str | os.PathLike) -> tuple[Tree, int]:
        """Store a directory recursively; return (its tree, number of files)."""
        root = os.fspath(root)
        layout = scan_dir(root, self.guard)
        small = [(p, st) for p, st in layout_files(root, layout) if st.st_size <= SMALL_FILE]
        known = self._ingest_small_files(small)

        def file_oid(path: str, st: os.stat_result) -> Oid:
            return known.get(path) or self.add_file(path, st)[0]

        tree, files = build_tree(root, layout, file_oid, self._put_tree)
        self.last_signature = layout_signature(root, layout) if settled(layout) else None
        return tree, files

    def _put_tree(self, tree: Tree) -> None:
        if self.writer.put(tree.oid, Kind.TREE, tree.to_bytes()):
            self.stats.new_objects += 1

    def _ingest_small_files(self, small: list[tuple[str, os.stat_result]]) -> dict[str, Oid]:
        results: dict[str, Oid] = {}
        todo = []
        for path, st in small:
            known = self._known(path, st)
            if known is not None:
                results[path] = known
            else:
                todo.append((path, st))
        for path, st, (oid, size, chunks, prepared) in zip(
                (t[0] for t in todo), (t[1] for t in todo),
                self._pool.map(lambda t: self._read_small(t[0]), todo, chunksize=64), strict=True):
            for p in prepared:
                self._store(p)
            self._finish_file(oid, size, chunks)
            self._remember(path, st, oid)
            results[path] = oid
        return results


# -- directory layouts (shared by ingest and by status, which hashes without storing) --------------------

Layout = list  # [(name, kind, stat, children | link target | None)]


def scan_dir(path: str, guard: Path | None = None) -> Layout:
    """Walk ``path`` (sorted, skipping .git/.art); symlinks must stay inside ``guard`` when it is set.

    Raises:
        WorkspaceError: when a directory cannot be read.
        UnsafePathError: for a symlink that leaves ``guard``.
    """
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as exc:
        raise WorkspaceError(f"cannot read directory {path}: {exc.strerror}", path=path) from exc
    out: Layout = []
    for e in entries:
        if e.name in SKIP_NAMES:
            continue
        st = e.stat(follow_symlinks=False)
        if stat_mod.S_ISLNK(st.st_mode):
            out.append((e.name, "symlink", st, _link_target(e.path, guard)))
        elif stat_mod.S_ISDIR(st.st_mode):
            out.append((e.name, "dir", st, scan_dir(e.path, guard)))
        elif stat_mod.S_ISREG(st.st_mode):
            out.append((e.name, "file", st, None))
    return out


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


def settled(layout: Layout, margin_ns: int = 100_000_000) -> bool:
    """True when nothing in the layout was modified within ``margin_ns`` of now (not racily clean)."""
    limit = time.time_ns() - margin_ns

    def ok(items: Layout) -> bool:
        return all(st.st_mtime_ns < limit and (kind != "dir" or ok(extra)) for _, kind, st, extra in items)

    return ok(layout)


def layout_signature(root: str, layout: Layout) -> str:
    """A cheap fingerprint of a directory's stat data: equal signatures mean nothing was touched."""
    parts = []

    def visit(base: str, items: Layout) -> None:
        for name, kind, st, extra in items:
            parts.append(f"{base}{name}\0{kind}\0{st.st_ino}\0{st.st_mtime_ns}\0{st.st_size}\0{st.st_mode}")
            if kind == "dir":
                visit(f"{base}{name}/", extra)
            elif kind == "symlink":
                parts.append(extra)

    visit("", layout)
    return hash_bytes("\n".join(parts).encode())


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
