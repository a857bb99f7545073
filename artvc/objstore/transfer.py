"""Copy missing objects between the local store and a remote (RemoteStore), in packs, verified on the way in.

``upload``: send the given objects that the remote's indexes do not list, as new packs built from the
local store's stored (already compressed) bytes: chunks first, in local pack order; then, once every chunk
pack is published, the metadata objects (manifests, trees, runs) in packs of their own. Each pack is
published (pack, then index) as soon as it is sealed, so an interrupted upload resumes by sending only what
no index lists yet, and a manifest or tree is never listed on a remote before the content it names.

``download``: walk the closure of some roots, level by level, fetching what the local store lacks with
merged ranged reads. Every object is verified before it is stored: chunks by blake3, trees and runs by
their decoders, file manifests by hashing the concatenation of their chunks once those are stored. Trees,
runs and manifests are written last, so a tree in the local store always has its whole content there too
(that is what lets a later ``download`` skip it without reading it).
"""

from __future__ import annotations

import os
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from itertools import chain, islice
from typing import BinaryIO

from ..errors import CorruptObjectError, FormatError, PackMissingError
from .arrivals import Arrivals
from .delta_fetch import DeltaFetch, has_deltas, verify_chunk
from .faults import fault_point
from .fetch_streams import ManifestStreams, Verified, check_manifest, complete_meta, put_verified
from .fileio import remove_if_present
from .lineage import Run, run_children
from .objects import FileManifest, Kind, Tree
from .oid import Oid
from .pack_ranges import as_entry, copy_rest, distinct, download_whole, read_in_ranges, verified_batches, windows
from .progress import as_progress
from .pulled_tree import FileTree, TreeSpill, spill
from .stage import FileStage
from .store.local import LocalStore
from .store.local_writer import LocalWriter
from .store.pack import EntryTable, PackEntry, by_offset, trailer_lists
from .store.remote import RemoteStore
from .store.remote_read import Located, iter_spans, read_spans, verify_payload
from .transfer_result import TransferResult
from .types import EntryKind, ObjectKey
from .upload_plan import Plan, plan_closure, plan_keys
from .verify import Problem

Progress = Callable[[int], None]  # or a ``progress.Progress``
WALK_BATCH = 8192  # keys a download's walk resolves at a time
AHEAD_ENTRIES = 20_000  # entries of the whole packs in flight held at most (~300 bytes each), beyond the next one
BIG_TREE = 1 << 20  # a tree's encoding over this is decoded an entry at a time (EncodedTree)
HELD_TREES = 8 << 20  # bytes of small trees' encodings a fetch holds; the rest wait in a file (TreeSpill)
_DATA = frozenset({Kind.FILE, Kind.CHUNK})  # keys deduplicated when fetched, not by ``_seen``
_CHUNK = int(Kind.CHUNK)
_KINDS = {int(k): k for k in Kind}


_Verifying = tuple[str, PackEntry, bytes, "Future[bytes | None]"]  # (pack, entry, stored bytes, its verification)
_Listed = Sequence[PackEntry]  # a list, or an EntryTable: encoded entries, decoded as read
_Ahead = tuple[str, _Listed, "Future[tuple[str, BinaryIO | None]]"]  # a whole pack being downloaded
MAX_RETRIES = 10_000


def upload(
    src: LocalStore,
    dest: RemoteStore,
    keys: Iterable[ObjectKey],
    *,
    jobs: int = 4,
    staging_dir: str | None = None,
    progress: Progress | None = None,
    refresh: bool = True,
) -> TransferResult:
    """Send the objects of ``keys`` that ``dest`` lacks, in new packs.

    Args:
        src: the local store holding every key.
        dest: the remote; its indexes are refreshed first (unless ``refresh`` is False: the caller did).
        keys: (oid, kind) pairs, typically a reachability closure.
        jobs: concurrent pack uploads.
        staging_dir: where pack files are built before upload (a local temp dir by default).
        progress: a ``progress.Progress`` (or a byte-count callback): the total is the stored size and number
            of the objects to send, advanced by each pack once it is published.

    Raises:
        StoreIOError: when the remote fails (after the backend's retries and one of ours).
        ObjectNotFoundError: when a key is not in ``src``.
    """
    if refresh:
        dest.refresh()
    with plan_keys(src, dest, keys) as plan:
        return _send(src, dest, plan, jobs, staging_dir, progress)


def upload_closure(
    src: LocalStore,
    dest: RemoteStore,
    roots: Iterable[ObjectKey],
    *,
    trust_remote: bool = True,
    jobs: int = 4,
    staging_dir: str | None = None,
    progress: Progress | None = None,
) -> tuple[TransferResult, Plan]:
    """Send everything reachable from ``roots`` that ``dest`` lacks (``dest`` is refreshed by the caller).

    The closure is walked level by level with batched lookups (``upload_plan.plan_closure``); with
    ``trust_remote`` an object the remote lists is not descended into (its closure is there). A delta's base
    goes too unless the remote lists it. Objects found nowhere locally are in the plan's ``missing`` (the
    caller asks the remote about them); the caller closes the plan.

    Raises:
        StoreIOError: when the remote fails (after the backend's retries and one of ours).
        CorruptObjectError: when a local tree, manifest or run is damaged.
    """
    plan = plan_closure(src, dest, roots, trust_remote=trust_remote)
    try:
        return _send(src, dest, plan, jobs, staging_dir, progress, view=False), plan
    except BaseException:
        plan.close()
        raise


def _send(
    src: LocalStore,
    dest: RemoteStore,
    plan: Plan,
    jobs: int,
    staging_dir: str | None,
    progress: Progress | None,
    *,
    view: bool = True,
) -> TransferResult:
    """Publish what ``plan`` sends: whole local packs as they are, the rest in new packs; chunks first, level
    by delta level (a delta's base published before it), then metadata children first (see ``upload_plan``).
    ``view=False``: packs of chunks join only the remote's index cache, not its view in memory (a push)."""
    objects, size = plan.count()
    if not objects:
        return TransferResult(present=plan.present)
    progress = as_progress(progress)
    progress.total(bytes=size, files=objects)  # the stored bytes and objects to send
    plan.delta_levels(src)
    plan.tree_heights(src)
    writer = dest.writer(
        staging_dir=dest.staging_dir(staging_dir) if staging_dir else None, jobs=jobs, progress=progress
    )
    writer.track = view  # the plan sends each object once; without ``view``, chunk packs stay out of the view
    try:
        for pack_id, n in plan.whole_candidates(src):
            whole = plan.whole_pack(src, pack_id, n)
            if whole is not None:
                writer.add_pack_file(*whole)
        level, chunks_done = 0, False
        for batch in plan.ordered():
            for item, stored in zip(batch, read_in_ranges(src, [t.loc for t in batch]), strict=True):
                if not item.order and item.height != level:  # deltas on chunks of the level before: those first
                    writer.flush()
                    writer.wait()
                    level = item.height
                if item.order and not chunks_done:
                    writer.flush()
                    writer.wait()  # metadata only after every chunk pack is published
                    writer.serial = True  # then one metadata pack at a time (packs of their own), children first
                    chunks_done = True
                if len(stored) != item.loc.length:
                    raise CorruptObjectError(item.oid, "local pack is truncated", hint="run 'art fsck'")
                writer.put_new(item.oid, item.kind, item.loc.codec, stored, item.loc.raw_length)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return TransferResult(objects=writer.objects, bytes=writer.bytes, packs=len(writer.packs), present=plan.present)


def download(
    src: RemoteStore,
    dest: LocalStore,
    roots: Iterable[tuple[str, int]],
    *,
    jobs: int = 4,
    progress: Progress | None = None,
    refresh: bool = True,
    stage: FileStage | None = None,
) -> TransferResult:
    """Fetch everything reachable from ``roots`` that ``dest`` lacks; verify each object before storing it.

    ``stage``: the wanted files are also written there as their chunks stream by, proved (``stage.py``).

    A root or object that ``dest`` already has is trusted to have its whole closure there (see the module
    docstring), so a download with nothing to do does not contact the remote at all. ``refresh=False``: the
    caller knows ``src``'s view lists the roots (it just refreshed, or looked them up).

    Raises:
        StoreIOError: when the remote fails (after retries); what was verified and stored so far stays.
    """
    pending = [ObjectKey(Oid(o), Kind(k)) for o, k in roots if not _have(dest, Oid(o), Kind(k))]
    if not pending:
        return TransferResult(present=len(set(roots)))
    if refresh or not all(src.has(*k) for k in pending):
        src.refresh()
    done = TransferResult()
    gen = dest.complete_generation()  # read before anything is verified: a loss after it voids the memo below
    # each retry leaves out one more damaged pack or copy (``avoid``), so the loop ends: the bound is a guard
    for _ in range(MAX_RETRIES):
        state = _Download(src, dest, jobs, progress, stage)
        try:
            state.walk(pending)
            trees = {} if state.trusted else {o: d for (o, k), d in state.meta.items() if k == Kind.TREE}
            state.arrivals.walked(trees)  # a checkout beside this fetch plans from them (none trusted)
            state.fetch_chunks()
            state.store_metadata(gen)
        except PackMissingError as exc:  # read the objects from other packs that list them, if any
            src.avoid(exc.pack)
            done = _add(done, state)
            continue
        finally:
            if state.streams is not None:
                state.streams.close()  # staged files of streams that did not complete are removed
        retry = [(oid, kind, pack) for oid, kind, pack in state.bad if src.avoid(pack, (oid, kind))]
        done = _add(done, state)
        if not retry:
            break
    return TransferResult(
        done.objects,
        done.bytes,
        done.packs,
        done.present,
        state.missing,
        state.problems,
        done.fetched_runs,
        sorted(src.lost_packs),
    )


def _add(done: TransferResult, state: _Download) -> TransferResult:
    """Counts of an earlier (partial) download pass plus this one's."""
    return TransferResult(
        done.objects + state.stored,
        done.bytes + state.bytes,
        done.packs + len(state.packs),
        max(done.present, state.present),
        fetched_runs=done.fetched_runs + state.runs,
    )


def _keys(digests: bytes, kinds: bytes) -> Iterator[ObjectKey]:
    """The keys of a tree's children, from their digests and kinds: a level of the walk is every child of the
    trees above it, which a million files in folders of 100 made a million ``ObjectKey``s at once (~250 MB)."""
    for i, k in enumerate(kinds):
        yield ObjectKey(Oid(digests[32 * i : 32 * i + 32].hex()), _KINDS[k])


def _have(store: LocalStore, oid: Oid, kind: Kind) -> bool:
    return store.has(oid, kind) or (kind == Kind.FILE and store.has(oid, Kind.CHUNK))


class _Download:
    def __init__(
        self, src: RemoteStore, dest: LocalStore, jobs: int, progress: Progress | None, stage: FileStage | None
    ) -> None:
        self.src, self.dest, self.jobs, self.progress, self.stage = src, dest, jobs, as_progress(progress), stage
        self.arrivals = (stage.arrivals if stage is not None else None) or Arrivals()  # a checkout beside it, if any
        self.streams: ManifestStreams | None = None
        self.meta: dict[ObjectKey, Verified] = {}  # verified trees and runs, stored last (large trees in files)
        self._tree_spill = TreeSpill(dest.root / "tmp", HELD_TREES)  # small trees past the first 8 MiB: a file
        self.manifests: dict[Oid, tuple[FileManifest, Located, bytes]] = {}  # checked after the chunks
        # the chunks to fetch, by pack: their offsets and lengths (16 bytes a chunk, not a Located each)
        self.chunks: dict[str, tuple[array[int], array[int]]] = {}
        # chunks the local store holds already (a manifest's stream reads those from it; fetch_streams): a set
        # of what is there, not of what is fetched, so a large file's tens of thousands of chunks are not held
        self._local_chunks: set[Oid] = set()
        self.missing: list[ObjectKey] = []
        self.problems: list[Problem] = []
        self.bad: list[tuple[Oid, Kind, str]] = []  # (oid, kind, pack) of copies that failed verification
        self.runs: list[Oid] = []
        self.packs: set[str] = set()
        self.present = 0
        self.trusted = False  # a tree, run or manifest was found local: its closure is trusted, not seen here
        self.stored = 0
        self.bytes = 0
        self._seen: set[ObjectKey] = set()  # trees, manifests and runs met (not the files and chunks: many)
        self.deltas = DeltaFetch(src, dest, jobs)  # set aside until their bases are local
        # a store without a pack (a fresh clone's) holds nothing: the walk asks it nothing (it stores nothing)
        self._empty = not dest.pack_names()

    def walk(self, roots: list[ObjectKey]) -> None:
        """Resolve the closure level by level, ``WALK_BATCH`` keys at a time: what the local store has is asked
        in one query per batch, where the remote has the rest in one lookup (``locate_many``), and the batch's
        metadata is fetched in one set of reads. A level is not a list: it is the children of the trees and
        manifests read in the level above, decoded as they are walked (a tree of a million files is never a
        million keys at once). Chunks are only noted (``chunks``) and deduplicated when fetched; trees,
        manifests and runs met twice are read once (``_seen``)."""
        level: list[Iterable[ObjectKey]] = [roots]
        while level:
            below: list[Iterable[ObjectKey]] = []
            keys = chain.from_iterable(level)
            while batch := list(islice(keys, WALK_BATCH)):
                wanted = self._resolve(batch)
                for pack, entry, stored in self.src.read_objects(wanted, jobs=self.jobs, progress=self.progress):
                    self.packs.add(pack)
                    self.bytes += len(stored)
                    below.append(self._children(pack, entry, stored))
            level = below

    def _resolve(self, batch: list[ObjectKey]) -> list[Located]:
        """Note the chunks of ``batch`` to fetch; return where its trees, manifests and runs to read are."""
        seen = self._seen
        fresh = [k for k in batch if k[1] in _DATA or k not in seen]
        need = fresh if self._empty else self._absent(fresh)  # a store without a pack (a fresh clone's) has none
        # one batched lookup (the view may be a file: remote_view.py), a file as a chunk too, as rows: a chunk's
        # only adds its offset and length to its pack's arrays (no object per chunk; the arrays of the pack of
        # the row before, nearly always the same, kept at hand)
        rows = self.src.locate_rows(need, [bytes.fromhex(o) for o, _ in need])
        wanted: list[Located] = []
        chunks, chunk, last, offsets, lengths = self.chunks, _CHUNK, None, array("q"), array("q")
        for key, row in zip(need, rows, strict=True):
            if row is None:
                self.missing += [] if key in self.missing else [key]
                continue
            if row[1] == chunk:
                if row[0] != last:
                    last = row[0]
                    offsets, lengths = chunks.get(last) or chunks.setdefault(last, (array("q"), array("q")))
                offsets.append(row[3])
                lengths.append(row[4])
            elif key not in seen:
                pack, kind, codec, offset, length, raw = row
                seen.add(key)
                wanted.append(Located(pack, PackEntry(key[0], kind, codec, offset, length, raw)))
        return wanted

    def _absent(self, fresh: list[ObjectKey]) -> list[ObjectKey]:
        """The keys of ``fresh`` the local store lacks (one query); note those it has."""
        have = self.dest.has_many([*fresh, *((o, Kind.CHUNK) for o, k in fresh if k == Kind.FILE)])
        need = []
        for key in fresh:
            if key in have or (key[1] == Kind.FILE and (key[0], Kind.CHUNK) in have):
                self.present += 1
                if key[1] == Kind.CHUNK:
                    self._local_chunks.add(key[0])
                elif key in have:  # not a one-chunk file: an object with a closure the walk does not look into
                    self.trusted = True
            else:
                need.append(key)
        return need

    def _children(self, pack: str, entry: PackEntry, stored: bytes) -> Iterable[ObjectKey]:
        oid, kind = entry.oid, Kind(entry.kind)
        try:
            data = verify_payload(entry, stored, check=False)  # the decoders below check the id: one parse
            try:
                if kind == Kind.FILE:
                    manifest = FileManifest.from_bytes(oid, data)
                    self.manifests[oid] = (manifest, Located(pack, entry), data)
                    return [ObjectKey(c, Kind.CHUNK) for c, _ in manifest.chunks]
                if kind == Kind.TREE and len(data) > BIG_TREE:  # in a file, decoded as walked (stored if it checks)
                    return self._big_tree(pack, spill(oid, data, self.dest.root / "tmp"))
                if kind == Kind.TREE:  # checked whole; its children kept as 33 bytes each until walked
                    entries = [e for e in Tree.from_bytes(oid, data).entries if e.kind != EntryKind.SYMLINK]
                    digests = b"".join(bytes.fromhex(e.oid) for e in entries)
                    children: Iterable[ObjectKey] = _keys(digests, bytes(e.kind.object_kind for e in entries))
                else:
                    children = [ObjectKey(o, k) for o, k in run_children(Run.from_bytes(oid, data))]
            except FormatError as exc:
                raise CorruptObjectError(oid, f"remote copy: {exc}") from exc
        except CorruptObjectError as exc:
            self._refuse(oid, kind, pack, exc)
            return []
        self.meta[ObjectKey(oid, kind)] = self._tree_spill.keep(oid, data) if kind == Kind.TREE else data
        return children

    def _big_tree(self, pack: str, tree: FileTree) -> Iterator[ObjectKey]:
        """The children of a tree of many entries, decoded once, an entry at a time, as the walk reads them; the
        tree is kept for storing only once every entry checked (the objects below a malformed one are fetched
        and verified each on its own, and the tree is reported, never stored)."""
        try:
            for e in tree.iter_entries():
                if e.kind != EntryKind.SYMLINK:
                    yield ObjectKey(e.oid, e.kind.object_kind)
        except FormatError as exc:
            self._refuse(tree.oid, Kind.TREE, pack, CorruptObjectError(tree.oid, f"remote copy: {exc}"))
            return
        tree.checked = True  # every entry read and checked: later reads of it need not check again
        self.meta[ObjectKey(tree.oid, Kind.TREE)] = tree

    def _refuse(self, oid: Oid, kind: Kind, pack: str, exc: CorruptObjectError) -> None:
        self.problems.append(Problem(oid, kind.label, f"remote pack {pack[:10]}: {exc}"))
        self.bad.append((oid, kind, pack))

    def fetch_chunks(self) -> None:
        """Download the needed chunks, verify each, and store them (stored bytes kept as they came)."""
        if not self.chunks:
            return
        from concurrent.futures import ThreadPoolExecutor

        self.streams = ManifestStreams(
            {oid: m for oid, (m, _, _) in self.manifests.items()}, self._local_chunks, self.dest, self.stage
        )
        needed: dict[str, int] = {}
        size = 0
        for p, (offsets, lengths) in self.chunks.items():  # a chunk met twice is fetched once
            needed[p], in_pack = distinct(offsets, lengths)
            size += in_pack
        self.progress.phase(bytes=size, files=sum(needed.values()))
        whole: set[str] = set()  # filled as the whole packs are found; ``_ranged`` reads it after them
        ranged = self._ranged(whole)
        writer = self.dest.writer()
        try:
            # verification (zstd + blake3, both without the GIL) runs on a few threads beside the reads
            with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
                n = max(1, min(self.jobs, 4))
                with ThreadPoolExecutor(max_workers=n) as downloads:
                    ahead: deque[_Ahead] = deque()
                    try:
                        # each index decoded once; up to ``n`` packs in flight, or fewer when their entries are many
                        for name, entries in self._whole(needed):
                            whole.add(name)
                            ahead.append((name, entries, downloads.submit(self._download_pack, name)))
                            while len(ahead) > n or (len(ahead) > 1 and sum(len(a[1]) for a in ahead) > AHEAD_ENTRIES):
                                self._import_next(writer, pool, ahead, needed)
                        while ahead:
                            self._import_next(writer, pool, ahead, needed)
                    finally:
                        for _, _, fut in ahead:  # downloaded but not imported (a failure): not left behind
                            if not fut.cancel() and fut.exception() is None:
                                tmp, src = fut.result()
                                remove_if_present(tmp)
                                if src is not None:
                                    src.close()
                window: list[_Verifying] = []
                # spans planned as the ranged chunks come, a pack at a time (iter_spans), not all at once
                for pack, entry, stored in read_spans(
                    self.src.read_range, iter_spans(ranged), self.jobs, self.progress
                ):
                    self.packs.add(pack)
                    window.append((pack, entry, stored, pool.submit(verify_chunk, entry, stored)))
                    if len(window) >= 64:
                        self._store_chunks(writer, window[:32])
                        del window[:32]
                self._store_chunks(writer, window)
            writer.commit()
            self.arrivals.arrived()
        except BaseException:
            writer.commit()  # keep what was verified: a re-run resumes from there
            raise
        d = self.deltas
        d.resolve(self._feed_stream)  # verify and store the deltas set aside, with their bases (delta_fetch)
        self.problems, self.bad, self.packs = self.problems + d.problems, self.bad + d.bad, self.packs | d.packs
        self.stored, self.bytes = self.stored + d.stored, self.bytes + d.bytes

    def _whole(self, needed: dict[str, int]) -> Iterator[tuple[str, _Listed]]:
        """The packs whose chunks to fetch are all of them, none a delta, with their entries sorted by offset:
        only the entries of the few packs in flight are held, as their encoded table (``EntryTable``, in offset
        order as sealed: no object per entry, decoded as they are read)."""
        for pack, n in needed.items():
            if n > 1:
                entries = self.src.pack_entries(pack)
                if n == len(entries) and not has_deltas(entries):
                    del self.chunks[pack]  # its index lists them: 16 bytes a chunk not held to the end (1M: 16 MB)
                    yield pack, by_offset(entries)

    def _import_next(self, writer: LocalWriter, pool: Executor, ahead: deque[_Ahead], needed: dict[str, int]) -> None:
        name, entries, fut = ahead[0]
        tmp, src = fut.result()
        ahead.popleft()
        self._import_pack(writer, pool, name, tmp, src, entries)
        self.progress.advance(files=needed[name])

    def _ranged(self, whole: set[str]) -> Iterator[Located]:
        """The chunks to read by ranges (those of the packs not fetched whole), a pack at a time, in offset order:
        each pack's entries come from its index (cached), and only a pack's wanted ones are held."""
        for pack in sorted(self.chunks.keys() - whole):
            offsets = set(self.chunks.pop(pack)[0])
            for e in by_offset(self.src.pack_entries(pack)):
                if e.offset in offsets and e.kind == Kind.CHUNK:
                    yield Located(pack, e)

    def _feed_stream(self, chunk: Oid, data: bytes | memoryview) -> None:
        if self.streams is not None:
            self.streams.feed(chunk, data)

    def _download_pack(self, name: str) -> tuple[str, BinaryIO | None]:
        return download_whole(self.src, name, self.dest.root / "tmp", self.progress)

    def _import_pack(
        self, writer: LocalWriter, pool: Executor, name: str, tmp: str, src: BinaryIO | None, entries: _Listed
    ) -> None:
        """Verify every object of a downloaded whole pack; adopt the file when all pass (no rewrite). ``src``:
        the remote's pack file, copied to ``tmp`` window by window and verified from the copy (``verified_windows``).

        Objects are read back in windows of at most MAX_SPAN bytes, so a pack is never held in memory.
        When something fails, the good objects are stored one by one and the bad ones reported.
        """
        from .store.remote_read import MAX_SPAN

        self.packs.add(name)
        try:
            with open(tmp, "r+b") as f:
                fd = f.fileno()
                bad: set[Oid] = set()
                source = fd if src is None else src.fileno()
                feed = self.streams is not None and self.streams.expects_chunks  # else nothing to do per object
                for window, results, failed in verified_batches(
                    pool, source, entries, copy_to=None if src is None else fd
                ):
                    if feed or failed:
                        for e, data in zip(window, results, strict=True):
                            if data is None:
                                bad.add(as_entry(e).oid)
                            else:
                                self._feed_stream(as_entry(e).oid, data)
                if src is not None:
                    copy_rest(source, fd, entries)
                    fault_point("fetch.pack-copied")
                    if self.progress:
                        self.progress(os.fstat(fd).st_size)
                    if self.dest.fsync:
                        os.fsync(fd)
                if trailer_lists(f, os.fstat(fd).st_size, entries) and not bad:
                    if self.stage is not None:  # a checkout in this pull need not hash its objects again
                        self.stage.proved_packs.add(name)
                    self.dest.import_pack(tmp, name, entries)
                    self.arrivals.arrived()  # a checkout beside this fetch writes what came
                    fault_point("fetch.pack-imported")
                    self.stored += len(entries)
                    known = entries.stored if isinstance(entries, EntryTable) else -1  # from the table's check
                    self.bytes += known if known >= 0 else sum(e.length for e in entries)
                    return
                for window in windows(entries, MAX_SPAN):  # keep the good objects, report the others
                    self._store_chunks(
                        writer,
                        [
                            (name, e, stored, pool.submit(verify_payload, e, stored))
                            for e in window
                            for stored in (os.pread(fd, e.length, e.offset),)
                        ],
                    )
        finally:
            if src is not None:
                src.close()
            remove_if_present(tmp)

    def _store_chunks(self, writer: LocalWriter, batch: list[_Verifying]) -> None:
        self.progress.advance(files=len(batch))
        for pack, entry, stored, fut in batch:
            try:
                data = fut.result()
            except CorruptObjectError as exc:
                self.problems.append(Problem(entry.oid, "chunk", f"remote pack {pack[:10]}: {exc.reason}"))
                self.bad.append((entry.oid, Kind.CHUNK, pack))
                continue
            if data is None:  # a delta: verified once its base is here
                self.deltas.add(pack, entry, stored)
                continue
            self._feed_stream(entry.oid, data)
            if writer.put_stored(entry.oid, Kind.CHUNK, entry.codec, stored, entry.raw_length):
                self.stored += 1
                self.bytes += len(stored)

    def store_metadata(self, gen: int | None = None) -> None:
        """Check each manifest against its chunks (now local), then store manifests, trees and runs; a proved
        manifest (its chunks all stored) goes into the completeness memo, unless objects were lost since ``gen``:
        a pull's checkout then does not walk its chunks again (a 4 GiB file: ~50,000). So do the trees stored
        when this download met everything below them itself (nothing missing or failed, and no tree, run or
        manifest found local, whose closure is only trusted): a pull's checkout then checks no file of a
        folder it fetched for presence again (``checkout_plan._plan_tree``; 100,000 files: ~50 queries)."""
        bad: set[Oid] = set()
        proved: list[ObjectKey] = []
        writer = self.dest.writer()
        try:
            for oid, (manifest, loc, data) in self.manifests.items():
                streamed = self.streams.result(manifest) if self.streams is not None else None
                reason = check_manifest(self.dest, manifest) if streamed is None else streamed or None
                if reason:
                    self.problems.append(Problem(oid, "file", f"remote pack {loc.pack[:10]}: {reason}"))
                    if reason.startswith("content hashes"):  # its own fault, not its chunks'
                        self.bad.append((oid, Kind.FILE, loc.pack))
                    bad.add(oid)
                    continue
                if writer.put(oid, Kind.FILE, data):
                    self.stored += 1
                proved.append(ObjectKey(oid, Kind.FILE))
            broken = bad | {o for o, _ in self.missing} | {p.oid for p in self.problems}
            whole = not (self.trusted or broken)  # everything below the trees was met here, and is stored
            for (oid, kind), verified in complete_meta(self.meta, broken):
                if put_verified(writer, oid, kind, verified):
                    self.stored += 1
                    if kind == Kind.RUN:
                        self.runs.append(oid)
                if whole and kind == Kind.TREE:
                    proved.append(ObjectKey(oid, kind))
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        self.dest.remember_complete(proved, gen)
