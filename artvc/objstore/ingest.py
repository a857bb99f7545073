"""Files and directories into a store: chunk, hash each chunk and the whole file, compress, pack.

Each byte is read once. A large file is chunked and hashed in the calling thread while a second thread
hashes and compresses chunks (blake3 and zstd release the GIL), so both cores work. Small files go in
batches (per directory, bounded in count and bytes): one stat-cache query and one store query per batch, reads
and hashes split across the workers, then only the chunks the store lacks are compressed. Directories are
walked one at a time (``scan.walk_tree``), so memory does not grow with the number of files.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from ..errors import ArtError
from .chunking import Chunker, ChunkerParams
from .hashing import ContentHasher, hash_bytes
from .objects import FileManifest, Kind, Tree
from .oid import Oid
from .oserrors import os_errors
from .progress import ProgressLike, as_progress
from .scan import TreeWalk, quick_signature, walk_tree
from .store.base import StoreWriter
from .store.pack import Compressor

# Files up to this size are read whole and processed in batches, one store and stat-cache query per batch.
SMALL_FILE = 1 << 20
_INFLIGHT = 16
_T = TypeVar("_T")
_R = TypeVar("_R")
BATCH_FILES = 512
BATCH_BYTES = 16 << 20


class StatCache(Protocol):
    """What ingest needs from a stat cache: a known id for an unchanged file, and a way to remember one."""

    def lookup(self, path: str, st: os.stat_result) -> Oid | None: ...

    def lookup_many(self, items: list[tuple[str, os.stat_result]]) -> list[Oid | None]: ...

    def record(self, path: str, st: os.stat_result, oid: Oid) -> None: ...


Progress = Callable[[int], None]  # the older callback form; a ``progress.Progress`` is accepted too


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
        progress: a ``progress.Progress`` (or a byte-count callback): bytes as they are read, including
            each chunk of a large file as it streams, and one file as each file is done.
    """

    def __init__(
        self,
        writer: StoreWriter,
        params: ChunkerParams,
        compressor: Compressor,
        *,
        cache: StatCache | None = None,
        guard: Path | None = None,
        progress: ProgressLike = None,
        jobs: int = 2,
    ) -> None:
        self.writer = writer
        self.params = params
        self.compressor = compressor
        self.cache = cache
        self.guard = guard
        self.progress = as_progress(progress)
        self.stats = IngestStats()
        self.last_signature: str | None = None
        self._chunker = Chunker(params)
        self._jobs = max(1, jobs)
        self._pool = ThreadPoolExecutor(self._jobs, thread_name_prefix="art-ingest")

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
        codec, stored = self.compressor.pack(data, oid)
        return Prepared(oid, codec, stored, len(data))

    def _store(self, p: Prepared) -> None:
        if p.stored is not None and self.writer.put_stored(p.oid, Kind.CHUNK, p.codec, p.stored, p.length):
            self.stats.new_objects += 1
            self.stats.new_bytes += len(p.stored)

    def _finish_file(self, oid: Oid, size: int, chunks: list[tuple[Oid, int]]) -> None:
        if len(chunks) != 1 and self.writer.put(oid, Kind.FILE, FileManifest(oid, size, tuple(chunks)).to_bytes()):
            self.stats.new_objects += 1

    # -- files ---------------------------------------------------------------------------------------

    def add_file(self, path: str | os.PathLike[str], st: os.stat_result | None = None) -> tuple[Oid, int]:
        """Store one regular file; return (file id, size).

        Raises:
            FileSystemError: when the file cannot be read (permission denied, I/O error, ...).
        """
        path = os.fspath(path)
        with os_errors("read", path):
            return self._add_file(path, st or os.stat(path))

    def _add_file(self, path: str, st: os.stat_result) -> tuple[Oid, int]:
        known = self._known(path, st)
        if known is not None:
            return known, st.st_size
        if st.st_size <= SMALL_FILE:
            oid, size, chunks, prepared = self._read_small(path)
            for p in prepared:
                self._store(p)
            self.progress.advance(bytes=size)
        else:
            oid, size, chunks = self._stream_large(path)
        self._finish_file(oid, size, chunks)
        self.progress.advance(files=1)
        self._remember(path, st, oid)
        return oid, size

    def _known(self, path: str, st: os.stat_result) -> Oid | None:
        self.stats.files += 1
        if self.cache is None:
            return None
        oid = self.cache.lookup(path, st)
        if oid is not None and self._complete(oid):
            self.progress.advance(bytes=st.st_size, files=1)
            return oid
        return None

    def _complete(self, oid: Oid, stored: set[tuple[Oid, int]] | None = None) -> bool:
        """True when file ``oid`` is stored (``stored``: what ``writer.present`` found for it, when asked
        already). While the store holds quarantined (damaged) objects, a manifest's chunks are checked too, so
        re-adding an unchanged file replaces a damaged chunk."""
        if stored is None:
            stored = self.writer.present([(oid, Kind.FILE), (oid, Kind.CHUNK)])
        is_file = (oid, int(Kind.FILE)) in stored
        if (oid, int(Kind.CHUNK)) in stored and not is_file:
            return True
        if not is_file:
            return False
        store = getattr(self.writer, "store", None)
        if store is None or not getattr(store, "has_quarantine", False):
            return True
        try:
            chunks = store.file_chunks(oid, 0)
        except ArtError:
            return False
        return all(self.writer.has(c, Kind.CHUNK) for c, _ in chunks)

    def _remember(self, path: str, st: os.stat_result, oid: Oid) -> None:
        self.stats.hashed += 1
        self.stats.bytes_read += st.st_size
        if self.cache is not None:
            self.cache.record(path, st, oid)

    def _read_small(self, path: str) -> tuple[Oid, int, list[tuple[Oid, int]], list[Prepared]]:
        oid, pieces = self._read_hash(path)
        prepared = [self._prepare(data) for _, data in pieces]
        return oid, sum(len(d) for _, d in pieces), [(p.oid, p.length) for p in prepared], prepared

    def _read_hash(self, path: str) -> tuple[Oid, list[tuple[Oid, bytes]]]:
        """Read a small file whole; return its id and its chunks with their ids (nothing compressed yet)."""
        with os_errors("read", path), open(path, "rb", buffering=0) as f:
            data = f.read()
        if len(data) <= self.params.min_size:
            oid = hash_bytes(data)
            return oid, [(oid, data)]
        pieces = [(hash_bytes(piece), piece) for piece in Chunker(self.params).split(data)]
        return (pieces[0][0] if len(pieces) == 1 else hash_bytes(data)), pieces

    def _stream_large(self, path: str) -> tuple[Oid, int, list[tuple[Oid, int]]]:
        """Chunk and hash in this thread, hash+compress chunks in the pool, write packs in a writer thread."""
        hasher = ContentHasher()
        inflight: deque[Future[Prepared]] = deque()
        chunks: list[tuple[Oid, int]] = []
        size = 0
        with _OrderedSink(self._store) as sink, open(path, "rb", buffering=0) as f:
            for view in self._chunker.chunks(f):
                data = bytes(view)
                size += len(data)
                hasher.update(data)
                self.progress.advance(bytes=len(data))
                inflight.append(self._pool.submit(self._prepare, data))
                while len(inflight) > _INFLIGHT or (inflight and inflight[0].done()):
                    p = inflight.popleft().result()
                    chunks.append((p.oid, p.length))
                    sink.put(p)
            while inflight:
                p = inflight.popleft().result()
                chunks.append((p.oid, p.length))
                sink.put(p)
        return hasher.oid(), size, chunks

    # -- directories ---------------------------------------------------------------------------------

    def add_tree(self, root: str | os.PathLike[str], walked: TreeWalk | None = None) -> tuple[Tree, int]:
        """Store a directory recursively, one directory at a time; return (its tree, number of files).

        ``walked``: the caller's ``scan.tree_walk`` of ``root`` taken just before (its totals fed a progress
        bar), so the stat walk is not done twice.
        """
        root = os.fspath(root)
        before = walked.signature if walked is not None else quick_signature(root)
        tree, files = walk_tree(root, self.guard, self._file_batch, self._put_tree)
        # the fingerprint status compares against: only when nothing changed while the tree was read
        self.last_signature = before if before is not None and quick_signature(root) == before else None
        return tree, files

    def _put_tree(self, tree: Tree) -> None:
        if self.writer.put(tree.oid, Kind.TREE, tree.to_bytes()):
            self.stats.new_objects += 1

    def _file_batch(self, files: list[tuple[str, os.stat_result]]) -> list[Oid]:
        """Store one directory's files; return their ids in order. Small ones go in bounded batches."""
        oids: list[Oid | None] = [None] * len(files)
        batch: list[int] = []
        size = 0
        for i, (_, st) in enumerate(files):
            if st.st_size > SMALL_FILE:
                continue
            batch.append(i)
            size += st.st_size
            if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
                self._small_batch(files, batch, oids)
                batch, size = [], 0
        if batch:
            self._small_batch(files, batch, oids)
        for i, (path, st) in enumerate(files):
            if oids[i] is None:
                oids[i] = self.add_file(path, st)[0]
        return oids  # type: ignore[return-value]

    def _map(self, fn: Callable[[list[_T]], list[_R]], items: list[_T]) -> list[_R]:
        """``fn`` over ``items`` split into one slice per worker (one hand-off per slice, not per item)."""
        if self._jobs < 2 or len(items) < 16:
            return fn(items)
        step = -(-len(items) // self._jobs)
        parts = self._pool.map(fn, [items[i : i + step] for i in range(0, len(items), step)])
        return [x for part in parts for x in part]

    def _small_batch(self, files: list[tuple[str, os.stat_result]], batch: list[int], oids: list[Oid | None]) -> None:
        """Store a batch of small files: two store queries in all, whatever the number of files."""
        self.stats.files += len(batch)
        todo = batch
        if self.cache is not None:
            known = self.cache.lookup_many([files[i] for i in batch])
            present = self.writer.present([(o, k) for o in known if o is not None for k in (Kind.FILE, Kind.CHUNK)])
            todo = []
            for i, oid in zip(batch, known, strict=True):
                if oid is not None and self._complete(oid, present):
                    oids[i] = oid
                    self.progress.advance(bytes=files[i][1].st_size, files=1)
                else:
                    todo.append(i)
        if not todo:
            return
        read = self._map(lambda part: [self._read_hash(files[i][0]) for i in part], todo)
        keys = {(c, Kind.CHUNK) for _, pieces in read for c, _ in pieces}
        keys.update((oid, Kind.FILE) for oid, pieces in read if len(pieces) != 1)
        present = self.writer.present(keys)
        new: dict[Oid, bytes] = {}
        for _, pieces in read:
            for c, data in pieces:
                if (c, Kind.CHUNK) not in present:
                    new.setdefault(c, data)
        packed = self._map(lambda part: [self.compressor.pack(data, c) for c, data in part], list(new.items()))
        for (c, data), (codec, stored) in zip(new.items(), packed, strict=True):
            if self.writer.put_new(c, Kind.CHUNK, codec, stored, len(data)):
                self.stats.new_objects += 1
                self.stats.new_bytes += len(stored)
        for i, (oid, pieces) in zip(todo, read, strict=True):
            path, st = files[i]
            size = sum(len(d) for _, d in pieces)
            if len(pieces) != 1 and (oid, Kind.FILE) not in present:
                manifest = FileManifest(oid, size, tuple((c, len(d)) for c, d in pieces)).to_bytes()
                codec, stored = self.compressor.pack(manifest)
                if self.writer.put_new(oid, Kind.FILE, codec, stored, len(manifest)):
                    self.stats.new_objects += 1
            self.progress.advance(bytes=size, files=1)
            self._remember(path, st, oid)
            oids[i] = oid


class _OrderedSink:
    """Feed prepared chunks, in order, to ``store`` on a dedicated writer thread (writes overlap chunking)."""

    def __init__(self, store: Callable[[Prepared], None]) -> None:
        self._store = store
        self._queue: queue.Queue[Prepared | None] = queue.Queue(maxsize=_INFLIGHT * 2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="art-pack-writer", daemon=True)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._store(item)
                except BaseException as exc:  # re-raised in the producer
                    self._error = exc

    def put(self, item: Prepared) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def __enter__(self) -> _OrderedSink:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc_type is None:
            raise self._error


def chunk_list(path: str | os.PathLike[str], params: ChunkerParams) -> list[tuple[Oid, int]]:
    """The (chunk id, length) list ``add`` would store for the file at ``path``, streamed, nothing stored.

    Used to compare a workspace file with a stored one chunk by chunk (``art diff``'s bytes added/removed).

    Raises:
        FileSystemError: when the file cannot be read.
    """
    out: list[tuple[Oid, int]] = []
    with os_errors("read", path), open(path, "rb", buffering=0) as f:
        for view in Chunker(params).chunks(f):
            out.append((hash_bytes(view), len(view)))
    return out
