"""Files and directories into a store: chunk, hash each chunk and the whole file, compress, pack.

Each byte is read once. A large file goes through ``ingest_large``'s pipeline (read, chunk, hash, compress and
write at once, on every core). Small files (up to ``SMALL_FILE``) are stored in jobs of ``JOB_FILES`` files or
``JOB_BYTES`` after one stat-cache query per ``BATCH_FILES`` (none for a folder the cache knows nothing under,
``StatCache.knows_under``: a first add asks one range query, not one per batch), each job in the calling thread
as soon as it is full: read and hash its files, claim the objects the store lacks with one query
(``StoreWriter.claim``), compress them and write them to the pack. Not in worker threads: a small file is a few
short system calls, each of which hands the GIL over, so threads spent their time waiting on each other
(``Ingester._submit``). Directories are walked one at a time (``scan.walk_tree``) and one job is held at a time,
so memory does not grow with the number of files. A folder the stat cache knows nothing under is read as it is
listed (``listread.ReadAsListed``: each file opened once, its stat from the open file, its bytes handed on with
it), so a job finds its files' content already read.

Delta candidates (``core.delta``): a file whose previous version the caller knows (``previous``: the workspace
reads what the artifact's pointer tracks at that path) gives the chunks of that version at about the same
offset (``near.Near``) to each of its new chunks; nothing is sketched then. A large file without a previous version
tries no delta at all; a small one is sketched (``sketch.py``: similar files of one release, translations of
one catalog, find each other).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ArtError
from .chunking import Chunker, ChunkerParams
from .faults import fault_point
from .hashing import hash_bytes
from .listread import PROBED_RAW, PROBED_ZSTD, ReadAsListed, ReadStat
from .near import Near
from .objects import BuiltTree, EncodedTree, FileManifest, Kind, SpilledTree
from .oid import Oid
from .oserrors import os_errors
from .progress import ProgressLike, as_progress
from .scan import Remember, walk_tree
from .smallread import FolderReader
from .store.base import StoreWriter
from .store.pack import RAW, Compressor

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from .forked_reads import Reader

# Files up to this size are read whole and processed in batches, one store and stat-cache query per batch.
SMALL_FILE = 1 << 20
BATCH_FILES = 512  # small files per stat-cache query
JOB_FILES = 64  # small files per worker job (one store query, one hand-off)
JOB_BYTES = 4 << 20
TREES_AT_ONCE = 64  # small folders' trees stored together (one claim query)
# A tree encoded larger than this (a folder of ~150,000 files) is stored uncompressed: its 32-byte ids do not
# compress (zstd saves ~25% of it), and compressing it would hold about twice its size (zstd's output buffer is
# sized for the worst case), the peak of an add of one folder of a million files.
RAW_TREE = 8 << 20


StatRows = list[tuple[str, tuple[Any, ...]]]  # a stat cache's rows, (path, its facts), opaque to ingest


class StatCache(Protocol):
    """What ingest needs from a stat cache: a known id for an unchanged file, and a way to remember one."""

    def lookup(self, path: str, st: os.stat_result) -> Oid | None: ...

    def lookup_many(self, items: list[tuple[str, os.stat_result]]) -> list[Oid | None]: ...

    def knows_under(self, folder: str) -> bool:
        """False when the cache remembers no file under ``folder``: ``lookup_many`` would find nothing there."""

    def record(self, path: str, st: os.stat_result, oid: Oid) -> None: ...

    def rows(self, items: list[tuple[str, os.stat_result, Oid]]) -> StatRows:
        """What ``record`` would remember for these files just hashed, computed in any thread..."""

    def record_rows(self, rows: StatRows) -> None:
        """...and remembered here, in the thread that owns the cache."""


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
        reader: an add's reading process (``forked_reads.Reader``): the files of a folder nothing is known of
            are read and hashed there (``listread.ReadAsListed``) while this process stores them.
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
        previous: Callable[[list[str]], list[Oid | None]] | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.writer = writer
        self.params = params
        self.compressor = compressor
        self.cache = cache
        self.guard = guard
        self.progress = as_progress(progress)
        self.previous = previous
        self.reader = reader
        self.stats = IngestStats()
        self._jobs = max(1, jobs)
        self._pool: ThreadPoolExecutor | None = None  # for large files, made with the first (``_stream_large``)
        self._submitted = 0  # small-file jobs done (each read, hashed and stored as it was handed over)
        # the next job, filling: small files of one folder or of several (a tree of folders of 100 files gets
        # jobs of ``JOB_FILES`` as one folder does, not a short job per folder), with where each id goes
        self._next: list[tuple[str, os.stat_result]] = []
        self._next_to: list[tuple[list[Oid | None], int]] = []
        self._next_bytes = 0
        # trees waiting to be stored (``_put_tree``): one claim query for many small folders' trees
        self._trees: list[EncodedTree] = []
        self._trees_bytes = 0
        self._cold = False  # while add_tree walks a folder the stat cache knows nothing under

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Ingester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- per chunk -----------------------------------------------------------------------------------

    def _prepare(self, data: bytes, near: list[Oid] | None = None) -> Prepared:
        oid = hash_bytes(data)
        if self.writer.has(oid, Kind.CHUNK):
            return Prepared(oid, 0, None, len(data))
        codec, stored = self.compressor.pack(data, oid, near)
        return Prepared(oid, codec, stored, len(data))

    def _previous(self, paths: list[str]) -> list[Oid | None]:
        """The previous version of each of ``paths`` the stat cache knows (None: none known)."""
        if self.previous is None or not getattr(self.compressor, "depth", 0):  # not known, or no deltas
            return [None] * len(paths)
        return self.previous(paths)

    def _previous_chunks(self, oid: Oid | None) -> Near | None:
        """The chunks of the stored file ``oid`` (None: no such file, or not readable: no candidates)."""
        store = getattr(self.writer, "store", None)
        if oid is None or store is None:
            return None
        try:
            if store.has(oid, Kind.FILE):
                return Near(FileManifest.from_bytes(oid, store.get(oid, Kind.FILE)).chunks)
            if store.has(oid, Kind.CHUNK):
                return Near([(oid, store.locate(oid, Kind.CHUNK).raw_length)])
        except ArtError:
            pass  # only compression is lost
        return None

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
        previous = self._previous_chunks(self._previous([path])[0])
        if st.st_size <= SMALL_FILE:
            oid, size, chunks, prepared = self._read_small(path, previous)
            for p in prepared:
                self._store(p)
            self.progress.advance(bytes=size)
        else:
            oid, size, chunks = self._stream_large(path, previous)
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

    def _read_small(self, path: str, previous: Near | None) -> tuple[Oid, int, list[tuple[Oid, int]], list[Prepared]]:
        oid, pieces = self._read_hash(path)
        walk = previous.walk(0, sum(len(d) for _, d in pieces)) if previous else None
        prepared = [self._prepare(data, walk.next(c, len(data)) if walk else None) for c, data in pieces]
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

    def _stream_large(self, path: str, previous: Near | None) -> tuple[Oid, int, list[tuple[Oid, int]]]:
        """A large file through ``ingest_large``'s pipeline, on the pool (made here: an add of small files alone
        loads neither, nor ``concurrent.futures`` and ``logging``, 30 M instructions of imports)."""
        from concurrent.futures import ThreadPoolExecutor

        from .ingest_large import stream_large

        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._jobs, thread_name_prefix="art-ingest")
        return stream_large(
            path,
            self.writer,
            self.params,
            self.compressor,
            self._pool,
            progress=self.progress,
            stats=self.stats,
            previous=previous,
        )

    def add_tree(self, root: str | os.PathLike[str], remember: Remember | None = None) -> tuple[BuiltTree, int]:
        """Store a directory recursively, one directory at a time; return (its tree, number of files).

        ``remember`` gets each folder's signature with its tree (``scan.walk_tree``), so ``art status`` finds
        the folder as add left it with one stat walk. Each file's stat data went into its folder's signature
        before the file was read, so what was stored is at least as new as the signature says: a change during
        the add that shows in stat data makes the signature differ later, and one that does not (a same-size
        rewrite in the same timestamp tick) is what the racy rule is for.
        """
        root = os.fspath(root)
        # a folder the stat cache knows nothing under (a first add) is not looked up file by file
        self._cold = self.cache is not None and not self.cache.knows_under(root)
        try:
            spill = getattr(self.writer, "temp_folder", None)
            # nothing known of the folder: each file is read as it is listed, its stat from the open file
            opener = None
            if self.cache is None or self._cold:
                level = self.compressor.level if self.reader is not None else 0
                opener = ReadAsListed(
                    self.guard, self._file_batch, SMALL_FILE, self.reader, self.params, level, spill=spill
                )
            try:
                built = walk_tree(
                    root, self.guard, self._file_batch, self._put_tree, remember=remember, spill=spill, opener=opener
                )
            finally:
                if opener is not None:
                    opener.close()
            self._put_trees()
            return built
        finally:
            self._cold = False
            self._next, self._next_to, self._next_bytes = [], [], 0  # left by a walk that failed
            self._trees, self._trees_bytes = [], 0

    def _put_tree(self, tree: EncodedTree) -> None:
        """Store a folder's tree: a small one with the next ones (``TREES_AT_ONCE``), one claim query for all."""
        if isinstance(tree, SpilledTree) and tree.length > RAW_TREE:  # copied from its file a MiB at a time
            if self.writer.put_pieces(tree.oid, Kind.TREE, RAW, tree.pieces(), tree.length, tree.length):
                self.stats.new_objects += 1
            return
        data = tree.to_bytes()
        if len(data) > RAW_TREE:  # stored as it is: no compressed copy beside it (nor zstd's bound-sized buffer)
            if self.writer.put_stored(tree.oid, Kind.TREE, RAW, data, len(data)):
                self.stats.new_objects += 1
            return
        if isinstance(tree, SpilledTree):  # its file is closed once this returns: its bytes are kept instead
            tree = BuiltTree(data, tree.size)
        self._trees.append(tree)
        self._trees_bytes += len(data)
        if len(self._trees) >= TREES_AT_ONCE or self._trees_bytes >= JOB_BYTES:
            self._put_trees()

    def _put_trees(self) -> None:
        trees = {tree.oid: tree for tree in self._trees}
        self._trees, self._trees_bytes = [], 0
        if not trees:
            return
        pack = self.compressor.pack
        objects: list[_NewObject] = []
        for oid, _ in self.writer.claim([(oid, _TREE) for oid in trees]):
            data = trees[oid].to_bytes()
            codec, stored = pack(data)
            objects.append((oid, _TREE, codec, stored, len(data)))
        self.writer.put_claimed_many(objects)
        self.stats.new_objects += len(objects)

    def _file_batch(self, files: list[tuple[str, os.stat_result]]) -> _DirOids:
        """Start storing one directory's files; return their ids in order, filled as the jobs finish.

        Small files go to the workers in jobs (``JOB_FILES``/``JOB_BYTES``) after one stat-cache query per
        ``BATCH_FILES``; a large file is streamed here, after the jobs queued before it are done.
        """
        oids: list[Oid | None] = [None] * len(files)
        for start in range(0, len(files), BATCH_FILES):
            part = range(start, min(start + BATCH_FILES, len(files)))
            small = [i for i in part if files[i][1].st_size <= SMALL_FILE]
            items, targets = self._next, self._next_to
            size = self._next_bytes
            for i in self._unknown(files, small, oids):
                item = files[i]
                items.append(item)
                targets.append((oids, i))
                size += item[1].st_size
                if len(items) >= JOB_FILES or size >= JOB_BYTES:
                    self._next_bytes = size
                    self._submit()
                    items, targets, size = self._next, self._next_to, 0
            self._next_bytes = size
            for i in part:
                if files[i][1].st_size > SMALL_FILE:
                    self._submit()
                    oids[i] = self.add_file(*files[i])[0]
        # the job that will hold this folder's last small file: the one filling now, when it holds any
        return _DirOids(oids, self, self._submitted + (1 if self._next else 0))

    def _unknown(self, files: list[tuple[str, os.stat_result]], batch: list[int], oids: list[Oid | None]) -> list[int]:
        """Fill the ids the stat cache knows (and the store holds) among ``batch``; return the others."""
        self.stats.files += len(batch)
        if self.cache is None or not batch or self._cold:
            return batch
        known = self.cache.lookup_many([files[i] for i in batch])
        if not any(known):
            return batch
        present = self.writer.present([(o, k) for o in known if o is not None for k in (Kind.FILE, Kind.CHUNK)])
        todo = []
        size = hits = 0
        for i, oid in zip(batch, known, strict=True):
            if oid is not None and self._complete(oid, present):
                oids[i] = oid
                size += files[i][1].st_size
                hits += 1
            else:
                todo.append(i)
        self.progress.advance(bytes=size, files=hits)
        return todo

    def _submit(self) -> None:
        """Read, hash and store the job filling now (if it holds a file), in this thread: a small file's work is
        a few short system calls and a hash of a few KiB, and each call hands the GIL over, so worker threads
        only wait on each other and on this one (20,000 files of 1-8 KiB on tmpfs, both cores free: 1.0 s and
        1.5 CPU s with the pool of two, 0.65 s and 0.68 CPU s here; compressible text 3.2 s against 2.1 s)."""
        items, targets = self._next, self._next_to
        if not items:
            return
        self._next, self._next_to, self._next_bytes = [], [], 0
        previous = self._previous([path for path, _ in items])
        self._submitted += 1
        self._finish(self._read_job(items, previous), items, targets)

    def _finish_through(self, seq: int) -> None:
        """Do every job up to the ``seq``-th (the ones a directory's ids wait for): the job filling now, when it
        is that one."""
        if self._submitted < seq:
            self._submit()

    def _finish(
        self, job: _Done, items: list[tuple[str, os.stat_result]], targets: list[tuple[list[Oid | None], int]]
    ) -> None:
        """Write a job's new objects and record its files."""
        done, objects, rows = job
        stats = self.stats
        if objects:
            self.writer.put_claimed_many(objects)
            stats.new_objects += len(objects)
            # new_bytes counts chunks (file data), as for large files
            stats.new_bytes += sum(len(obj[3]) for obj in objects if obj[1] == _CHUNK)
        size = 0
        for (oids, i), oid in zip(targets, done, strict=True):
            oids[i] = oid
        for _, st in items:
            size += st.st_size
        stats.hashed += len(items)
        stats.bytes_read += size
        if self.cache is not None and rows is not None:
            self.cache.record_rows(rows)
        self.progress.advance(bytes=size, files=len(items))

    def _read_job(self, items: list[tuple[str, os.stat_result]], previous: list[Oid | None]) -> _Done:
        """Read and hash a job's files, claim what the store lacks, compress it (``previous``: the
        files' previous versions, whose chunks are the delta candidates of theirs).

        Returns the files' ids, the new objects to write (``put_claimed`` arguments) and the stat cache's rows.
        """
        min_size = self.params.min_size
        files: list[Oid] = []
        data_of: dict[Oid, bytes] = {}
        keys: list[tuple[Oid, int]] = []
        manifests: dict[Oid, list[tuple[Oid, int]]] = {}
        chunks_of: list[list[tuple[Oid, int]]] = []
        probed: dict[Oid, int] = {}  # the reading process's zstd probe of a chunk (``ReadStat.probed``)
        near_wanted = any(p is not None for p in previous)  # else no file of the job has delta candidates
        with FolderReader() as reader:  # each file opened relative to its folder
            read = reader.read
            for path, st in items:
                data = known = None
                if isinstance(st, ReadStat):  # read as its folder was listed (and hashed, by a reading process)
                    data, known = st.data, st.oid
                if data is None:
                    data = read(path, st.st_size)
                if len(data) <= min_size:
                    oid = known or hash_bytes(data)
                    data_of[oid] = data
                    keys.append((oid, _CHUNK))
                    if known is not None:
                        probed[oid] = st.probed
                    if near_wanted:
                        chunks_of.append([(oid, len(data))])
                else:
                    if known is not None and st.pieces is not None:  # cut, hashed and probed by the reading process
                        pieces, at = [], 0
                        for c, n, verdict in st.pieces:
                            pieces.append((c, data[at : at + n]))
                            probed[c] = verdict
                            at += n
                    else:
                        pieces = [(hash_bytes(piece), piece) for piece in Chunker(self.params).split(data)]
                    oid = pieces[0][0] if len(pieces) == 1 else known or hash_bytes(data)
                    for c, piece in pieces:
                        data_of[c] = piece
                        keys.append((c, _CHUNK))
                    chunks_of.append([(c, len(piece)) for c, piece in pieces])
                    if len(pieces) != 1:
                        manifests[oid] = chunks_of[-1]
                        keys.append((oid, _FILE))
                files.append(oid)
        fault_point("ingest.files-read")  # a job's files are read and hashed, nothing of them stored yet
        objects: list[_NewObject] = []
        pack = self.compressor.pack
        claimed = list(self.writer.claim(keys))
        near = self._near_of(claimed, chunks_of, previous) if near_wanted else {}
        for oid, kind in claimed:
            if kind == _CHUNK:
                data = data_of[oid]
                verdict = probed.get(oid, 0) if probed else 0
                if verdict == PROBED_RAW:  # the reading process's probe: no zstd attempt (``Compressor.pack``)
                    codec, stored = RAW, data
                else:
                    codec, stored = pack(data, oid, near.get(oid), tested=verdict == PROBED_ZSTD)
            else:
                chunks = manifests[oid]
                data = FileManifest(oid, sum(n for _, n in chunks), tuple(chunks)).to_bytes()
                codec, stored = pack(data)
            objects.append((oid, kind, codec, stored, len(data)))
        rows = (
            None
            if self.cache is None
            else self.cache.rows([(p, st, o) for (p, st), o in zip(items, files, strict=True)])
        )
        return files, objects, rows

    def _near_of(
        self, claimed: list[tuple[Oid, int]], chunks_of: list[list[tuple[Oid, int]]], previous: list[Oid | None]
    ) -> dict[Oid, list[Oid]]:
        """The delta candidates of each new chunk of a file with a previous version (by position in it)."""
        new = {oid for oid, kind in claimed if kind == _CHUNK}
        out: dict[Oid, list[Oid]] = {}
        for chunks, prev in zip(chunks_of, previous, strict=True):
            if prev is None or not any(c in new for c, _ in chunks):
                continue
            old = self._previous_chunks(prev)
            if not old:
                continue
            walk = old.walk(0, sum(n for _, n in chunks))
            for c, n in chunks:
                out.setdefault(c, walk.next(c, n))
        return out


_CHUNK, _FILE, _TREE = int(Kind.CHUNK), int(Kind.FILE), int(Kind.TREE)
_NewObject = tuple[Oid, int, int, bytes, int]  # put_claimed's arguments: oid, kind, codec, stored, raw length
_Done = tuple[list[Oid], list[_NewObject], "StatRows | None"]  # a job's file ids, new objects, stat cache rows


class _DirOids:
    """One directory's file ids; iterating them first does the job that holds its last files when that job is
    still filling (``walk_tree`` iterates when it closes the directory: a tree of folders of 100 files gets jobs
    of ``JOB_FILES`` as one folder does)."""

    __slots__ = ("_oids", "_ingester", "_seq")

    def __init__(self, oids: list[Oid | None], ingester: Ingester, seq: int) -> None:
        self._oids, self._ingester, self._seq = oids, ingester, seq

    def __iter__(self) -> Iterator[Oid]:
        self._ingester._finish_through(self._seq)
        return iter(self._oids)  # type: ignore[arg-type]  # every None was filled


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
