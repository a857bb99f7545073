"""``art pull --lazy``: a pull that writes each large file once, into the workspace, and keeps only its manifest.

A plain pull stores every chunk and writes the file too: two writes of every byte, about twice ``cp`` + ``sync``
on a disk without reflinks. A lazy pull (docs/design.md, "A pull at one write: promised objects"):

1. reads the trees and file manifests the selection needs from the remote (trees verified by their id);
2. writes each file with a manifest (a file of more than one chunk) from the remote's packs into a temp file
   of the pull's stage (``objstore/stage.py``, in ``.art/tmp``: the workspace's filesystem), spans written in
   parallel at their offsets and the whole file hashed once, in order (``objstore/remote_file.py``; blake3:
   the file's id); chunks are neither stored nor hashed one by one, since only the whole-file hash is needed
   to prove the bytes written;
3. records each proved file's manifest as *promised* by that remote (``objstore/promised.py``), then stores the
   manifest; a file that does not hash to its id is discarded with nothing written (exit 3);
4. runs the ordinary fetch for the rest (trees, one-chunk files, runs: it finds the manifests stored and does
   not look below them), then checks the workspace out, renaming the proved temp files into place under the
   checkout's rules (nothing overwritten without ``force``, nothing written outside the workspace).

A killed or interrupted lazy pull resumes: the files it had proved are kept and taken by the next one once
hashed again (``lazy_resume``). What is left promised is fetched when a checkout needs it again
(``lazy_fetch``), or with ``art fetch --promised``; ``art fsck``, ``art gc`` and ``art push`` know the rules
(see ``promised.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice

from ..errors import ArtError, FormatError
from ..objstore.objects import FileManifest, Kind, Tree
from ..objstore.oid import Oid
from ..objstore.progress import ProgressLike, as_progress
from ..objstore.promised import promise
from ..objstore.remote_file import stream_file
from ..objstore.stage import FileStage
from ..objstore.store.delta import DELTA
from ..objstore.store.local import LocalStore
from ..objstore.store.pack import PackEntry
from ..objstore.store.remote_read import verify_payload
from ..objstore.types import EntryKind, ObjectKey
from ..objstore.verify import Problem
from . import lazy_resume
from .checkout import CheckoutResult, checkout
from .fetch import damaged, fetch, raise_for
from .pull import PullResult
from .remote import open_remote, transfer_jobs
from .repo import Repo
from .tracked import TrackedArtifact, select

WALK_BATCH = 4096  # keys looked up on the remote at once while reading the trees
TREES_KEPT = 16 << 20  # bytes of trees read by the walk kept to be stored (beyond that, the fetch reads them again)


@dataclass(slots=True)
class LazyFiles:
    """What the lazy part of a pull did: files written straight from the remote and promised by it."""

    remote: str = ""
    files: list[Oid] = field(default_factory=list)
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)
    objects: int = 0  # fetched and stored the ordinary way by ``_complete`` (trees, small files)
    kept: int = 0  # of ``files``, those a killed pull had proved (``lazy_resume``): not written again
    fetched: int = 0  # their bytes as stored


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
    from .pull import pull_parts

    with repo.lock:
        if targets:
            from .partial import split_targets

            everything = repo.artifacts()
            whole, parts = split_targets(repo, list(targets), everything)
            if parts:  # files inside tracked folders: the ordinary partial pull (it reads only what it needs)
                return pull_parts(repo, whole, parts, everything, remote=remote, jobs=jobs, force=force)
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
            lazy_resume.clear(lazy_resume.kept_dir(repo.art_dir))  # what they named is in place (or not wanted)
    if lazy.problems:
        raise damaged(lazy.remote, lazy.problems, "file(s)", "written")
    raise_for(fetched)
    total = replace(
        fetched,
        objects=fetched.objects + len(lazy.files) + lazy.objects,
        bytes=fetched.bytes + lazy.bytes + lazy.fetched,
    )
    return PullResult(total, done)


def _write_lazy(
    repo: Repo, arts: list[TrackedArtifact], stage: FileStage, *, remote: str | None, jobs: int | None, progress
) -> LazyFiles:
    """Steps 1-3 of the module docstring: the files with manifests below ``arts`` that the local store lacks are
    written to ``stage``, proved, and their manifests stored as promised by the remote."""
    # a store without a pack file (a fresh clone's) holds nothing: its index is created (sqlite, fsyncs: 0.1-0.2 s
    # on a busy disk) on a thread of its own while the remote is read and the files written, and is first
    # needed to record them; the workspace's state.db, which the checkout needs last, is opened (in a fresh
    # clone: created, with its own fsyncs) on that thread too, not after the files were written, when each of
    # its fsyncs waits behind their writeback
    empty = _empty_store(repo)
    opening = _Opening(repo, store=empty) if empty or getattr(repo, "_state", None) is None else None
    try:
        return _write_files(repo, arts, stage, remote, jobs, progress, opening if empty else None)
    finally:
        if opening is not None:
            opening.wait()


def _write_files(
    repo: Repo, arts: list[TrackedArtifact], stage: FileStage, remote, jobs, progress, opening: _Opening | None
) -> LazyFiles:
    store = open_remote(repo, remote)
    out = LazyFiles(store.name)
    kept = lazy_resume.kept_dir(repo.art_dir)
    try:
        store.refresh()
        local = None if opening is not None else repo.store
        walked = _walk(local, store, [a.key for a in arts], transfer_jobs(repo, jobs))
        manifests = walked.manifests
        if not manifests:
            return out  # nothing to write lazily: the ordinary fetch does it all
        bar = as_progress(progress)
        bar.phase("fetching", noun="files")
        bar.total(bytes=sum(m.size for m, _ in manifests.values()), files=len(manifests))
        proved: dict[Oid, bytes] = {}
        for oid, (manifest, data) in manifests.items():
            located = _locate(store, manifest)
            if located is None:
                continue  # a chunk stored as a delta, or not listed: the ordinary fetch brings it
            if lazy_resume.reuse(kept, oid, manifest.size, stage):  # proved by a pull that was killed
                proved[oid] = data
                out.files.append(oid)
                out.kept += 1
                bar.advance(bytes=manifest.size, files=1)
                continue
            reason = stream_file(
                store, manifest, located, stage, transfer_jobs(repo, jobs), _bytes(bar), direct=repo.direct_writes
            )
            if reason is None and oid not in stage.ready():
                continue  # writing the temp file failed: the ordinary fetch and checkout bring it
            if reason is None:
                lazy_resume.keep(kept, oid, stage)
                proved[oid] = data
                out.files.append(oid)
                out.bytes += manifest.size
            else:
                out.problems.append(Problem(oid, "file", f"remote {store.name!r}: {reason}", True))
            bar.advance(files=1)
        if opening is not None:
            opening.wait()
        promise(repo.store, proved, store.name)  # before the manifests: a stored manifest is always explained
        writer = repo.store.writer()
        try:
            for oid, data in proved.items():
                writer.put(oid, Kind.FILE, data)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        if proved and not out.problems:
            out.objects, out.fetched = _complete(repo, store, walked, proved, transfer_jobs(repo, jobs), progress)
    finally:
        store.close()
    return out


def _bytes(bar) -> Callable[[int], object]:
    return lambda n: bar.advance(bytes=n)


class _Opening:
    """``repo.store`` (when ``store``) and ``repo.state`` opened on a thread of its own; ``wait`` joins it (and
    raises what opening raised). The caller touches them only after ``wait``."""

    def __init__(self, repo: Repo, *, store: bool) -> None:
        import threading

        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._open, args=(repo, store), name="art-open-store", daemon=True)
        self._thread.start()

    def _open(self, repo: Repo, store: bool) -> None:
        try:
            if store:
                repo.store  # noqa: B018 (opened on first use)
            repo.state  # noqa: B018
        except BaseException as exc:  # raised again by ``wait``, on the caller's thread
            self._failed = exc

    def wait(self) -> None:
        self._thread.join()
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed


def _empty_store(repo: Repo) -> bool:
    """True when the store is not open yet and has no pack file (every object lives in a pack: it holds none)."""
    if getattr(repo, "_store", None) is not None:
        return False
    packs = repo.store_dir / "packs"
    try:
        return not any(True for sub in packs.iterdir() for _ in sub.glob("*.pack"))
    except FileNotFoundError:  # no store yet (a fresh clone): opening creates it, empty
        return True
    except OSError:
        return False  # unreadable: opened the ordinary way, which reports it


@dataclass(slots=True)
class _Walked:
    """What the walk below the roots found that the local store lacks."""

    manifests: dict[Oid, tuple[FileManifest, bytes]] = field(default_factory=dict)  # to write lazily
    files: list[Oid] = field(default_factory=list)  # every file met (manifest or one chunk), once
    trees: dict[Oid, bytes] | None = field(default_factory=dict)  # verified; None: not all kept, or not all read
    kept: int = 0  # bytes of ``trees``


def _walk(local: LocalStore | None, store, roots: Iterable[ObjectKey], jobs: int) -> _Walked:
    """The file manifests below ``roots`` that neither the local store holds nor an earlier level named, read
    from the remote, decoded and bounded (their ids are proved later, by the file's hash), and the trees read
    on the way (checked against their ids), kept to be stored once what they name is (``_complete``). Trees the
    local store holds are read from it. Anything missing or damaged is left for the ordinary fetch, which
    reports it (the trees are then not kept: the fetch walks them again). ``local`` None: the store holds
    nothing (``_empty_store``)."""
    out = _Walked()
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
            have = (
                set()
                if local is None
                else local.has_many([*batch, *((o, Kind.CHUNK) for o, k in batch if k == Kind.FILE)])
            )
            need: list[ObjectKey] = []
            for key in batch:
                oid, kind = key
                if kind == Kind.TREE and (oid, int(kind)) in have:
                    assert local is not None
                    below += _tree_children(local.get_tree(oid))
                elif (
                    kind in (Kind.TREE, Kind.FILE)
                    and (oid, int(kind)) not in have
                    and not (kind == Kind.FILE and (oid, int(Kind.CHUNK)) in have)  # a one-chunk file
                ):
                    need.append(key)
                    if kind == Kind.FILE:
                        out.files.append(oid)
            found = store.locate_many(need)
            if any(k.kind == Kind.TREE and k not in found for k in need):
                out.trees = None  # a tree the remote does not list: the ordinary fetch reports it
            for _pack, entry, stored in store.read_objects([found[k] for k in need if k in found], jobs=jobs):
                try:
                    data = verify_payload(entry, stored, check=False)
                    if entry.kind == Kind.FILE:
                        manifest = FileManifest.from_bytes(entry.oid, data)
                        out.manifests[entry.oid] = (manifest, data)
                    elif entry.kind == Kind.TREE:
                        below += _tree_children(Tree.from_bytes(entry.oid, data))
                        _keep(out, entry.oid, data)
                except (ArtError, FormatError):
                    out.trees = None  # the ordinary fetch reads it again and reports it
        level = below
    # a file needed at two places is fetched the ordinary way: the stage gives each proved file to one path
    out.manifests = {oid: m for oid, m in out.manifests.items() if oid not in again}
    return out


def _keep(out: _Walked, oid: Oid, data: bytes) -> None:
    if out.trees is None:
        return
    out.kept += len(data)
    if out.kept > TREES_KEPT:
        out.trees = None  # a large folder's trees are not held: the ordinary fetch reads them again
    else:
        out.trees[oid] = data


def _complete(repo: Repo, store, walked: _Walked, proved: dict[Oid, bytes], jobs: int, progress) -> tuple[int, int]:
    """Fetch the files of the walk that were not written lazily (one-chunk files, files met twice, chunks stored
    as deltas), verified as a fetch verifies, then store the walk's trees: the ordinary fetch that follows finds
    its roots here and reads no tree again. Nothing is kept when anything is missing or fails (the fetch then
    walks and reports as usual). Return the objects and stored bytes fetched."""
    from ..objstore.transfer import download

    if walked.trees is None:
        return 0, 0
    rest = [ObjectKey(o, Kind.FILE) for o in dict.fromkeys(walked.files) if o not in proved]
    got = download(store, repo.store, rest, jobs=jobs, progress=progress, refresh=False) if rest else None
    if got is not None and (got.missing or got.problems or got.lost_packs):
        return got.objects, got.bytes
    if walked.trees:
        writer = repo.store.writer()  # after what they name: a stored tree's closure is here (or promised)
        try:
            for oid, data in walked.trees.items():
                writer.put(oid, Kind.TREE, data)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    return (got.objects if got else 0) + len(walked.trees), got.bytes if got else 0


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
