"""``art pull --lazy``: a pull that writes each large file once, into the workspace, and keeps only its manifest.

A plain pull stores every chunk and writes the file too: two writes of every byte, about twice ``cp`` + ``sync``
on a disk without reflinks. A lazy pull (docs/design.md, "A pull at one write: promised objects"):

1. reads the trees and file manifests the selection needs from the remote (trees verified by their id);
2. streams each file with a manifest (a file of more than one chunk) from the remote's packs, in file order,
   into a temp file of the pull's stage (``objstore/stage.py``, in ``.art/tmp``: the workspace's filesystem),
   decompressing and hashing the whole file once (blake3: the file's id); chunks are neither stored nor hashed
   one by one, since only the whole-file hash is needed to prove the bytes written;
3. records each proved file's manifest as *promised* by that remote (``objstore/promised.py``), then stores the
   manifest; a file that does not hash to its id is discarded with nothing written (exit 3);
4. runs the ordinary fetch for the rest (trees, one-chunk files, runs: it finds the manifests stored and does
   not look below them), then checks the workspace out, renaming the proved temp files into place under the
   checkout's rules (nothing overwritten without ``force``, nothing written outside the workspace).

What is left promised is fetched when a checkout needs it again (``lazy_fetch``), or with
``art fetch --promised``; ``art fsck``, ``art gc`` and ``art push`` know the rules (see ``promised.py``).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import BinaryIO

from ..errors import ArtError, FormatError
from ..objstore.faults import fault_point
from ..objstore.fileio import kernel_copy, pwrite_all, remove_if_present, start_writeback
from ..objstore.hashing import ContentHasher
from ..objstore.objects import FileManifest, Kind, Tree
from ..objstore.oid import Oid
from ..objstore.pack_ranges import open_remote_pack
from ..objstore.progress import ProgressLike, as_progress
from ..objstore.promised import promise
from ..objstore.stage import FileStage
from ..objstore.store.delta import DELTA
from ..objstore.store.pack import RAW, PackEntry, check_entry, unpack_payload
from ..objstore.store.remote_read import Span, verify_payload
from ..objstore.types import EntryKind, ObjectKey
from ..objstore.verify import Problem
from .checkout import CheckoutResult, checkout
from .fetch import damaged, fetch, raise_for
from .pull import PullResult
from .remote import open_remote, transfer_jobs
from .repo import Repo
from .tracked import TrackedArtifact, select

WALK_BATCH = 4096  # keys looked up on the remote at once while reading the trees
SPAN = 4 << 20  # bytes of a pack read or copied at once (contiguous chunks of one file), and decompressed
AHEAD = 2  # spans read ahead while one is hashed and written


@dataclass(slots=True)
class LazyFiles:
    """What the lazy part of a pull did: files written straight from the remote and promised by it."""

    remote: str = ""
    files: list[Oid] = field(default_factory=list)
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)


def lazy_pull(
    repo: Repo,
    targets: Sequence[str] | None = None,
    *,
    remote: str | None = None,
    jobs: int | None = None,
    force: bool = False,
    progress: ProgressLike = None,
    checkout_progress: ProgressLike = None,
    all_runs: bool = False,
) -> PullResult:
    """Pull with promised objects (see the module docstring); return what ``pull`` returns, the lazily written
    files counted in the fetch's objects and bytes.

    Raises:
        IntegrityError: a file from the remote did not hash to its id (it was not written, nothing was stored
            for it), or objects failed verification in the ordinary fetch.
        plus the errors of ``pull``.
    """
    from .pull import pull

    with repo.lock:
        if targets:
            from .partial import split_targets

            everything = repo.artifacts()
            whole, parts = split_targets(repo, list(targets), everything)
            if parts:  # files inside tracked folders: the ordinary partial pull (it reads only what it needs)
                return pull(repo, targets, remote=remote, jobs=jobs, force=force, all_runs=all_runs)
            targets = whole
        paths = list(targets) if targets else None
        arts = select(repo, paths)
        with FileStage(repo.art_dir / "tmp" / "stage", ()) as stage:
            lazy = _write_lazy(repo, arts, stage, remote=remote, jobs=jobs, progress=progress)
            fetched = fetch(
                repo,
                paths,
                remote=remote,
                jobs=jobs,
                progress=progress,
                check=False,
                artifacts=arts,
                all_runs=all_runs,
            )
            as_progress(checkout_progress).phase("checking out", noun="files")
            # after a failure, what the store cannot give is left alone (leave=True) and the failure raised below
            failed = bool(fetched.problems or fetched.missing or lazy.problems)
            done = (
                checkout(
                    repo, paths, force=force, progress=checkout_progress, artifacts=arts, staged=stage, leave=failed
                )
                if arts
                else CheckoutResult([], [], 0)
            )
    if lazy.problems:
        raise damaged(lazy.remote, lazy.problems, "file(s)", "written")
    raise_for(fetched)
    f = fetched
    total = type(f)(
        f.remote,
        f.url,
        f.roots,
        f.objects + len(lazy.files),
        f.bytes + lazy.bytes,
        f.packs,
        f.present,
        f.runs,
        f.requests,
        f.missing,
        f.problems,
        f.lost_packs,
    )
    return PullResult(total, done)


def _write_lazy(
    repo: Repo, arts: list[TrackedArtifact], stage: FileStage, *, remote: str | None, jobs: int | None, progress
) -> LazyFiles:
    """Steps 1-3 of the module docstring: the files with manifests below ``arts`` that the local store lacks are
    written to ``stage``, proved, and their manifests stored as promised by the remote."""
    store = open_remote(repo, remote)
    out = LazyFiles(store.name)
    try:
        store.refresh()
        manifests = _manifests(repo, store, [a.key for a in arts], transfer_jobs(repo, jobs))
        if not manifests:
            return out
        bar = as_progress(progress)
        bar.phase("fetching", noun="files")
        bar.total(bytes=sum(m.size for m, _ in manifests.values()), files=len(manifests))
        proved: dict[Oid, bytes] = {}
        for oid, (manifest, data) in manifests.items():
            located = _locate(store, manifest)
            if located is None:
                continue  # a chunk stored as a delta, or not listed: the ordinary fetch brings it
            reason = _stream(store, manifest, located, stage, transfer_jobs(repo, jobs), bar)
            if reason is None and oid not in stage.ready():
                continue  # writing the temp file failed: the ordinary fetch and checkout bring it
            if reason is None:
                proved[oid] = data
                out.files.append(oid)
                out.bytes += manifest.size
            else:
                out.problems.append(Problem(oid, "file", f"remote {store.name!r}: {reason}", True))
            bar.advance(files=1)
        promise(repo.store, proved, store.name)  # before the manifests: a stored manifest is always explained
        writer = repo.store.writer()
        try:
            for oid, data in proved.items():
                writer.put(oid, Kind.FILE, data)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    finally:
        store.close()
    return out


def _manifests(repo: Repo, store, roots: Iterable[ObjectKey], jobs: int) -> dict[Oid, tuple[FileManifest, bytes]]:
    """The file manifests below ``roots`` that neither the local store holds nor an earlier level named, read
    from the remote, decoded and bounded (their ids are proved later, by the file's hash). Trees the local store
    holds are read from it; trees from the remote are checked against their ids. Anything missing or damaged is
    left for the ordinary fetch, which reports it."""
    local = repo.store
    out: dict[Oid, tuple[FileManifest, bytes]] = {}
    seen: set[ObjectKey] = set()
    again: set[Oid] = set()  # files met more than once
    level: list[ObjectKey] = list(roots)
    while level:
        below: list[ObjectKey] = []
        it = iter(level)
        while part := list(islice(it, WALK_BATCH)):
            again.update(k.oid for k in part if k.kind == Kind.FILE and k in seen)
            batch = list(dict.fromkeys(k for k in part if k not in seen))
            again.update(k.oid for k in _twice(part) if k.kind == Kind.FILE)
            seen.update(batch)
            have = local.has_many([*batch, *((o, Kind.CHUNK) for o, k in batch if k == Kind.FILE)])
            need: list[ObjectKey] = []
            for key in batch:
                oid, kind = key
                if kind == Kind.TREE and (oid, int(kind)) in have:
                    below += _tree_children(local.get_tree(oid))
                elif (
                    kind in (Kind.TREE, Kind.FILE)
                    and (oid, int(kind)) not in have
                    and not (kind == Kind.FILE and (oid, int(Kind.CHUNK)) in have)  # a one-chunk file
                ):
                    need.append(key)
            found = store.locate_many(need)
            for _pack, entry, stored in store.read_objects([found[k] for k in need if k in found], jobs=jobs):
                try:
                    data = verify_payload(entry, stored, check=False)
                    if entry.kind == Kind.FILE:
                        manifest = FileManifest.from_bytes(entry.oid, data)
                        out[entry.oid] = (manifest, data)
                    elif entry.kind == Kind.TREE:
                        below += _tree_children(Tree.from_bytes(entry.oid, data))
                except (ArtError, FormatError):
                    continue  # the ordinary fetch reads it again and reports it
        level = below
    # a file needed at two places is fetched the ordinary way: the stage gives each proved file to one path
    return {oid: m for oid, m in out.items() if oid not in again}


def _twice(keys: list[ObjectKey]) -> list[ObjectKey]:
    seen: set[ObjectKey] = set()
    out = []
    for k in keys:
        if k in seen:
            out.append(k)
        seen.add(k)
    return out


def _tree_children(tree: Tree) -> list[ObjectKey]:
    return [ObjectKey(e.oid, e.kind.object_kind) for e in tree.iter_entries() if e.kind != EntryKind.SYMLINK]


def _locate(store, manifest: FileManifest) -> list[tuple[str, PackEntry]] | None:
    """Where each chunk of ``manifest`` is on the remote, in file order; None when one is not listed or is a
    delta (a delta needs its base verified and stored: the ordinary fetch does that)."""
    found = store.locate_many({(c, Kind.CHUNK) for c, _ in manifest.chunks})
    out: list[tuple[str, PackEntry]] = []
    for oid, length in manifest.chunks:
        loc = found.get((oid, Kind.CHUNK))
        if loc is None or loc.entry.codec == DELTA or loc.entry.raw_length != length:
            return None
        out.append((loc.pack, loc.entry))
    return out


def _spans(located: list[tuple[str, PackEntry]]) -> Iterator[Span]:
    """Runs of chunks stored back to back in one pack, in file order, of at most ``SPAN`` bytes stored and
    decompressed (or one chunk, which its entry check bounds)."""
    run: list[PackEntry] = []
    pack = ""
    raw = 0
    for p, e in located:
        if run and (
            p != pack
            or e.offset != run[-1].offset + run[-1].length
            or e.offset + e.length - run[0].offset > SPAN
            or raw + e.raw_length > SPAN  # decompressed, a span stays within SPAN too
        ):
            yield pack, run[0].offset, run[-1].offset + run[-1].length, run
            run, raw = [], 0
        pack = p
        run.append(e)
        raw += e.raw_length
    if run:
        yield pack, run[0].offset, run[-1].offset + run[-1].length, run


def _stream(store, manifest: FileManifest, located, stage: FileStage, jobs: int, bar) -> str | None:
    """Write ``manifest``'s file to a temp file of ``stage`` from the remote and hash it whole; None when it is
    proved (the file is then the stage's, ready), else why not (the temp file is removed).

    From a directory remote, spans of raw chunks (incompressible data) are copied by the kernel
    (``copy_file_range``, as ``cp`` does) and hashed from the written file, mapped: the bytes never pass through
    a buffer of art's. Other spans are read (a few ahead, on ``jobs`` threads), compressed chunks decompressed
    one by one (bounded by their entry), hashed and written. Each span's writeback is started as it is hashed
    (``start_writeback``), so the disk writes while the rest is copied."""
    oid = manifest.oid
    path = stage.temp_path()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    # blake3's own threads pay off on the large mapped spans of raw chunks, and cost 3x the CPU on the pieces
    # of decompressed chunks (80 KiB updates)
    hasher = ContentHasher(threaded=all(e.codec == RAW for _, e in located))
    hashing = _InOrder()
    local: dict[str, BinaryIO | None] = {}
    pos = 0
    proved = False
    try:
        for (pack, start, end, entries), data in _read_ahead(store, _spans(located), jobs, local):
            fault_point("lazy.file-writing")
            if data is None:  # raw chunks of a directory remote's pack: the kernel copies them
                _check_entries(entries)
                n = _copy_span(local[pack], fd, start, end, pos)
                if n != end - start:
                    return f"remote pack {pack[:10]} is truncated ({n} of {end - start} bytes at offset {start})"
                hashing.add(_hash_written, hasher, fd, pos, n)  # hashed from the file while the next is copied
            else:
                n = 0
                for piece in data:
                    pwrite_all(fd, memoryview(piece), pos + n)
                    n += len(piece)
                hashing.add(_hash_pieces, hasher, fd, data, pos, n)
            pos += n
            bar.advance(bytes=sum(e.raw_length for e in entries))
            if pos > manifest.size:
                return f"it has more bytes than its manifest says ({manifest.size})"
        hashing.wait()
        if pos != manifest.size:
            return f"it has {pos} bytes, its manifest says {manifest.size}"
        got = hasher.oid()
        if got != oid:
            return f"content hashes to {got[:10]}"
        proved = True
        return None
    except FormatError as exc:
        return str(exc)
    except OSError:  # writing failed (disk full...): not adopted; the ordinary fetch and checkout report it
        return None
    finally:
        hashing.close()
        for f in local.values():
            if f is not None:
                f.close()
        try:
            os.close(fd)
        except OSError:
            proved = False
        if proved:
            stage.adopt(oid, path)
        else:
            remove_if_present(path)


class _InOrder:
    """Tasks run one after the other on one thread, in the order given (the file's hash is fed in order), at
    most ``AHEAD`` waiting: the copy of a span overlaps the hashing of the one before."""

    def __init__(self) -> None:
        from collections import deque
        from concurrent.futures import Future, ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="art-lazy-hash")
        self._pending: deque[Future[None]] = deque()

    def add(self, fn, *args) -> None:
        self._pending.append(self._pool.submit(fn, *args))
        while len(self._pending) > AHEAD:
            self._pending.popleft().result()

    def wait(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        for fut in self._pending:
            fut.cancel()
        self._pool.shutdown(wait=True)


def _hash_pieces(hasher: ContentHasher, fd: int, pieces: list[bytes | memoryview], at: int, n: int) -> None:
    for piece in pieces:
        hasher.update(piece)
    start_writeback(fd, at, n)


def _copy_span(src: BinaryIO | None, dest: int, start: int, end: int, at: int) -> int:
    """Copy bytes [start, end) of the pack file ``src`` to ``dest`` at ``at``: by the kernel, else read and
    written; the bytes copied (fewer when the pack ends first)."""
    assert src is not None
    n = kernel_copy(src.fileno(), dest, end - start, start, at)
    if n is None:
        data = os.pread(src.fileno(), end - start, start)
        pwrite_all(dest, memoryview(data), at)
        n = len(data)
    return n


def _hash_written(hasher: ContentHasher, fd: int, at: int, n: int) -> None:
    """Hash ``n`` bytes of ``fd`` from ``at`` (just written: read from the page cache, mapped), then ask the
    kernel to start writing them to the disk."""
    if n:
        base = at - at % mmap.ALLOCATIONGRANULARITY
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)  # the pages mapped at once, not faulted in
        with mmap.mmap(fd, at + n - base, flags, mmap.PROT_READ, offset=base) as mapped:
            view = memoryview(mapped)
            try:
                hasher.update(view[at - base :])
            finally:
                view.release()
        start_writeback(fd, at, n)


def _check_entries(entries: list[PackEntry]) -> None:
    """Raise FormatError for an entry the format forbids or that is not a chunk (the remote index is hostile)."""
    for e in entries:
        check_entry(e.kind, e.codec, e.offset, e.length, e.raw_length)
        if e.kind != Kind.CHUNK:
            raise FormatError(f"the remote index lists {e.oid[:10]} as another kind than a chunk")


def _load_span(store, span: Span) -> list[bytes | memoryview]:
    """The file's bytes that ``span`` holds, in pieces: read in one request, each chunk checked and
    decompressed (on a worker thread: zstd and the read run beside the hashing). At most ``SPAN`` bytes raw
    (``_spans``)."""
    pack, start, end, entries = span
    buf = store.read_range(pack, start, end)
    if len(buf) != end - start:
        raise FormatError(f"remote pack {pack[:10]} is truncated ({len(buf)} of {end - start} bytes at offset {start})")
    _check_entries(entries)
    if all(e.codec == RAW for e in entries):
        return [buf]
    view = memoryview(buf)
    pieces: list[bytes | memoryview] = []
    for e in entries:
        a, b = e.offset - start, e.offset - start + e.length
        pieces.append(view[a:b] if e.codec == RAW else unpack_payload(e.codec, buf[a:b], e.raw_length, e.kind))
    return pieces


def _read_ahead(
    store, spans: Iterator[Span], jobs: int, local: dict[str, BinaryIO | None]
) -> Iterator[tuple[Span, list[bytes | memoryview] | None]]:
    """Each span with its content (``_load_span``), in order, up to ``jobs`` (at least ``AHEAD``, at most 8)
    spans in flight on worker threads (memory: a few spans); None instead of the content for a span of raw
    chunks in a pack of a directory remote (opened into ``local``), which the caller copies in the kernel."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    ahead = max(AHEAD, min(jobs, 8))  # a bucket's latency is hidden by a few requests in flight
    with ThreadPoolExecutor(max_workers=ahead) as pool:
        pending: deque[tuple[Span, Future[list[bytes | memoryview]] | None]] = deque()
        try:
            for span in spans:
                pack = span[0]
                if pack not in local:
                    local[pack] = open_remote_pack(store, pack)
                raw = local[pack] is not None and all(e.codec == RAW for e in span[3])
                pending.append((span, None if raw else pool.submit(_load_span, store, span)))
                if len(pending) > ahead:
                    first, fut = pending.popleft()
                    yield first, None if fut is None else fut.result()
            while pending:
                first, fut = pending.popleft()
                yield first, None if fut is None else fut.result()
        finally:
            for _, fut in pending:
                if fut is not None:
                    fut.cancel()
