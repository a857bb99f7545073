"""``art checkout``: make the workspace match the pointers, writing only what differs, checked before rename.

Two steps: ``checkout_plan.plan_checkout`` decides everything without touching the workspace (what to write,
what to delete, what is refused, whether the store holds every object needed); ``apply_plan`` then carries out a
plan with nothing refused and nothing lacking. A missing object or a refusal therefore leaves the workspace
exactly as it was.

Every folder the checkout creates is built in a private staging folder beside it and renamed into place whole,
so its files are written with one open/write/close each and never appear half-written under their final names;
files in folders that are there take a temp file and a rename each.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from ..errors import ArtError, ConflictError, ObjectNotFoundError, UnsafePathError, WorkspaceError, WouldOverwriteError
from ..objstore.faults import fault_point
from ..objstore.materialize import forkable, make_symlink, materialize_file, materialize_small, remove_stale_temps
from ..objstore.objects import Kind
from ..objstore.oid import Oid
from ..objstore.progress import Progress, ProgressLike, as_progress
from ..objstore.signed_writes import WrittenStats, signed_written
from ..objstore.stage import FileStage
from ..objstore.store.base import ObjectStore
from ..objstore.tmpowner import note, token
from ..objstore.treecache import scan_folder
from ..objstore.types import EntryKind
from . import forked_writes, pull_writer
from .checkout_plan import LOCATED_AT_MOST, ArtifactPlan, CheckoutPlan, Folder, Op, Write, plan_checkout
from .forked_writes import Stat
from .paths import ensure_inside
from .repo import Repo
from .safety import TreeCache
from .tracked import TrackedArtifact


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    restored: list[str]
    unchanged: list[str]
    files_written: int
    left: list[tuple[str, ArtError]] = field(default_factory=list)  # with ``leave``: what was not touched


def checkout(
    repo: Repo,
    paths: Sequence[str] | None = None,
    *,
    force: bool = False,
    progress: ProgressLike = None,
    leave: bool = False,
    artifacts: list[TrackedArtifact] | None = None,
    staged: FileStage | None = None,
) -> CheckoutResult:
    """Restore missing or modified artifacts from the local store.

    Every artifact is planned before anything is written: nothing the store cannot give back is replaced
    without ``force``, nothing is written where the path leads outside the workspace (not even with ``force``),
    and nothing at all is written unless the store holds every object the plan needs. With ``leave``, refused
    artifacts and artifacts whose objects are not all stored are skipped and listed in ``left`` instead (the
    hook's way), and the others are written. ``artifacts`` is a selection made already (the workspace is then
    not walked for pointer files again). ``staged``: pull's stage of files written and proved while they were
    fetched; a file planned for writing that it holds is renamed into place instead of read from the store.
    A file the store lacks because a remote promised it (a lazy pull's, ``objstore/promised.py``) is fetched
    from that remote first, verified (``lazy_fetch``).

    Raises:
        UnsafePathError: when an artifact's path (or a parent) is a symlink leading outside the workspace, or
            a stored tree holds a symlink that would resolve outside it (exit 10; nothing is written).
        ConflictError: when a path holds something of another kind the store cannot give back (a folder of
            unstored files where a file belongs, a symlink, a device) and ``force`` is not set.
        WouldOverwriteError: when an artifact was modified in the workspace and ``force`` is not set.
        ObjectNotFoundError: when the store lacks an object the checkout needs (nothing is written).
        CorruptObjectError: when stored data does not hash to its id (the workspace file is untouched), or an
            object needed was quarantined by ``art fsck``.
    """
    with repo.lock:
        if paths:
            from .partial import checkout_parts, split_targets

            everything = artifacts if artifacts is not None else repo.artifacts()
            whole, parts = split_targets(repo, list(paths), everything)
            if parts:  # files inside tracked folders: written one by one (partial.py)
                part = checkout_parts(repo, parts, force=force)
                first = (
                    checkout(repo, whole, force=force, progress=progress, leave=leave, artifacts=everything)
                    if whole
                    else CheckoutResult([], [], 0)
                )
                return CheckoutResult(
                    first.restored + part.restored,
                    first.unchanged + part.unchanged,
                    first.files_written + part.files_written,
                    first.left,
                )
            paths, artifacts = whole, everything
        ready = staged.ready() if staged is not None else frozenset()
        plan = plan_checkout(repo, paths, force=force, artifacts=artifacts, ready=ready)
        if plan.lacking and (leave or not plan.refused):  # promised files (a lazy pull's): from their remote
            from .lazy_fetch import fetch_for_checkout

            try:
                fetched = fetch_for_checkout(repo, [path for path, _ in plan.lacking], artifacts)
            except ArtError:
                if not leave:
                    raise
                fetched = False  # the hook's way: what cannot be fetched is left, listed as lacking
            if fetched:
                plan = plan_checkout(repo, paths, force=force, artifacts=artifacts, ready=ready)
        left: list[tuple[str, ArtError]] = list(plan.refused)
        if plan.lacking:
            left.extend((path, _lacking_error([(path, key)])) for path, key in plan.lacking)
        if left and not leave:
            if plan.refused:
                _raise(plan.refused)
            raise _lacking_error(plan.lacking)
        written = apply_plan(repo, plan, progress, staged)
    return CheckoutResult([a.path for a in plan.todo], plan.unchanged, written, left)


def check_plan(plan: CheckoutPlan) -> None:
    """Raise what ``checkout`` raises for a plan with refusals or objects the store lacks (before any write).

    Raises:
        UnsafePathError, ConflictError, WouldOverwriteError, ObjectNotFoundError: as ``checkout``.
    """
    if plan.refused:
        _raise(list(plan.refused))
    if plan.lacking:
        raise _lacking_error(plan.lacking)


def apply_plan(repo: Repo, plan: CheckoutPlan, progress: ProgressLike = None, staged: FileStage | None = None) -> int:
    """Carry out ``plan.todo`` (its refused and lacking artifacts are not touched); return the files written.

    ``progress`` gets the plan's exact totals first (bytes and files to write), then each file as it lands.
    """
    progress = as_progress(progress)
    progress.total(bytes=sum(a.size for a in plan.todo), files=plan.files)
    written = 0
    fault_point("checkout.planned")
    for a in plan.todo:
        written += _apply(repo, a, progress, plan.trees, staged)
    repo.state.flush()
    return written


def _lacking_error(lacking: Sequence[tuple[str, tuple[Oid, Kind]]]) -> ObjectNotFoundError:
    path, (oid, kind) = lacking[0]
    more = f" (and {len(lacking) - 1} more artifact(s))" if len(lacking) > 1 else ""
    exc = ObjectNotFoundError(oid, Kind(kind).label, hint="run 'art pull' to fetch it from a remote")
    exc.message = f"{Kind(kind).label} {oid[:10]} of {path} is not in the local store{more}; nothing was changed"
    exc.args = (exc.message,)
    return exc


def _raise(left: list[tuple[str, WorkspaceError]]) -> None:
    """Raise the gravest refusal (an unsafe path, then a conflict, then unstored changes), counting the rest."""
    order = (UnsafePathError, ConflictError, WouldOverwriteError)
    path, first = min(left, key=lambda item: next(i for i, t in enumerate(order) if isinstance(item[1], t)))
    if len(left) > 1:
        first.message = f"{first.message} (and {len(left) - 1} more)"
        first.args = (first.message,)
    raise first


def _apply(repo: Repo, a: ArtifactPlan, progress: Progress, trees: TreeCache, staged: FileStage | None) -> int:
    """Write artifact ``a`` as planned, first clearing what is in its way (the plan checked it may go)."""
    if a.blocker:  # a file (or a dangling link) where a parent folder belongs
        os.unlink(repo.abspath(a.blocker))
    dest = ensure_inside(repo.root, a.dest)
    pointer = a.status.pointer
    if pointer.kind == "file":
        remove_stale_temps(dest)
        _clear(dest, a.clear)
        st = materialize_file(repo.store, pointer.oid, pointer.size, dest, progress=progress, staged=staged)
        progress.advance(files=1)
        repo.state.record(str(dest), st, pointer.oid, written=True)
        return 1
    seen = WrittenStats() if a.fresh else None
    if a.fresh:
        written = _apply_fresh(repo, a, dest, progress, trees, staged, seen)
    else:
        written = _apply_tree(repo, a, dest, dest, progress, trees, staged)
    _remember_folders(repo, a.path, dest, pointer.oid, pointer.size, trees, seen)
    return written


def _remember_folders(
    repo: Repo, path: str, dest: Path, oid: Oid, size: int, trees: TreeCache, seen: WrittenStats | None = None
) -> None:
    """Remember the signature of every folder of ``dest``, which is now exactly tree ``oid``, with its tree (read
    from the store, as the checkout did), so the next status is one stat walk. The walk's stat data is trusted
    though just written, as the stat cache trusts the files checkout wrote (``StateDB.record(written=True)``).
    ``seen``: the stat data of the files written into a folder built whole (``_apply_fresh``); its signatures
    are then made from those and one listing of names per folder (``signed_writes``), not a stat of every file."""
    try:
        if seen is not None and not seen.full:
            sigs = signed_written(str(dest), seen)
        else:
            sigs = scan_folder(str(dest)).sigs
    except OSError:  # the next status rebuilds what it cannot read
        return
    remember = repo.state.folders_under(path)
    stack = [("", oid, size)]
    while stack:
        rel, tree_oid, tree_size = stack.pop()
        got = sigs.get(rel)
        if got is None:
            continue
        remember(rel, got[0], tree_oid, tree_size)
        if got[1]:
            tree = trees.read(repo.store, tree_oid)
            stack.extend(
                (f"{rel}/{e.name}" if rel else e.name, e.oid, e.size)
                for e in tree.iter_entries()
                if e.kind == EntryKind.DIR
            )


def _clear(dest: Path, op: Op | None) -> None:
    if op is Op.RMTREE:
        shutil.rmtree(dest)
    elif op is Op.UNLINK:
        dest.unlink()


def _apply_fresh(
    repo: Repo,
    a: ArtifactPlan,
    dest: Path,
    progress: Progress,
    trees: TreeCache,
    staged: FileStage | None,
    seen: WrittenStats | None = None,
) -> int:
    """Build a folder that is not there beside its place and rename it in whole: files need no rename of their
    own, and a killed checkout leaves only the hidden staging folder (removed by the next one). What is in the
    way (a file, a link) is removed only once the folder is complete."""
    staging = dest.parent / f".{dest.name[:40]}.art-tmp-dir"
    note(staging)  # a killed checkout's staging folder is removed by the next command that takes the lock
    if os.path.isdir(staging) and not os.path.islink(staging):
        shutil.rmtree(staging)  # left by a killed checkout
    elif os.path.lexists(staging):
        os.unlink(staging)
    try:
        staging.mkdir(parents=True)
        n = _apply_tree(repo, a, staging, dest, progress, trees, staged, seen)
        if staged is not None and staged.arrivals is not None:  # a fetch beside: in place only once it ended whole
            staged.arrivals.settle()
        _clear(dest, a.clear)
        os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return n


def _apply_tree(
    repo: Repo,
    a: ArtifactPlan,
    into: Path,
    final: Path,
    progress: Progress,
    trees: TreeCache,
    staged: FileStage | None = None,
    seen: WrittenStats | None = None,
) -> int:
    """Carry out a folder's steps, then write its files (by ``core.jobs`` threads when there is more than one
    slice of work). With ``into`` != ``final``, ``into`` is a fresh private staging folder renamed to ``final``
    afterwards: files are written in place (no temp file each) and recorded under their final paths. In a
    folder that is there, each new subfolder is built the same way (``_apply_steps``): in a private staging
    folder beside it, renamed into place once all its files are written; only files in folders that were there
    take a temp file and a rename each. The files of ``a.folders`` are listed from their trees one folder at a
    time (``trees``: those the plan decoded already) and handed out in slices of ``_SLICE`` files, so memory
    does not grow with the number of files and both threads keep busy even on one flat folder.
    """
    fresh = into != final
    new_dirs: dict[str, str] = {}
    try:
        _apply_steps(a, into, fresh, new_dirs)
        _write_files(repo, a, str(into), str(final), fresh, new_dirs, progress, trees, staged, seen)
        for rel, staging in new_dirs.items():  # each new subfolder appears whole, with every file written
            os.rename(staging, f"{final}/{rel}")
            new_dirs[rel] = ""
    except BaseException:
        for staging in new_dirs.values():
            if staging:
                shutil.rmtree(staging, ignore_errors=True)
        raise
    return a.files


def _apply_steps(a: ArtifactPlan, into: Path, fresh: bool, new_dirs: dict[str, str]) -> None:
    """Change the folder structure as planned. In a folder that is there (not ``fresh``), a folder to create
    becomes a hidden staging folder beside it (``new_dirs`` gets its path inside the artifact -> the staging
    folder), and everything planned inside it goes there."""
    for op, rel, target in a.steps:
        path = into / rel
        if not fresh:
            inside = _staged_under(new_dirs, rel)
            if inside is not None:
                path = Path(inside)
            elif op is Op.MKDIR:
                new_dirs[rel] = str(_new_staging(path))
                continue
        if op is Op.MKDIR:
            path.mkdir(exist_ok=True)
        elif op is Op.LINK:
            make_symlink(path, target or "")
        elif op is Op.RMTREE:
            shutil.rmtree(path)
        else:
            os.unlink(path)


def _staged_under(new_dirs: dict[str, str], rel: str) -> str | None:
    """Where ``rel`` (a path inside the artifact) is built when it lies in a new folder being staged; None when not."""
    if not new_dirs:
        return None
    at = 0
    while at >= 0:
        at = rel.find("/", at + 1)
        top = rel if at < 0 else rel[:at]
        staging = new_dirs.get(top)
        if staging:
            return staging + rel[len(top) :]
    return None


def _new_staging(dest: Path) -> Path:
    """A new, empty, private folder beside ``dest`` that becomes ``dest`` by a rename (noted for cleanup)."""
    staging = dest.parent / f".{dest.name[:40]}.{token()}-{next(_serial)}.art-tmp-dir"
    note(staging)  # a killed checkout's staging folder is removed by the next command that takes the lock
    staging.mkdir()
    return staging


def _write_files(
    repo: Repo,
    a: ArtifactPlan,
    into: str,
    final: str,
    fresh: bool,
    new_dirs: dict[str, str],
    progress: Progress,
    trees: TreeCache,
    staged: FileStage | None = None,
    seen: WrittenStats | None = None,
) -> None:
    """Write ``a.writes`` and every file of ``a.folders`` (see ``_apply_tree``); with ``seen`` (a folder built
    whole), note each file's stat data there by folder and name."""
    store, state, jobs = repo.store, repo.state, max(1, int(repo.config.core("jobs")))
    lock = threading.Lock()

    def place(folder: str) -> tuple[str, bool]:
        """The folder the files of ``folder`` (inside the artifact) are written in, and whether it is private."""
        if fresh:
            return (f"{into}/{folder}" if folder else into), True
        inside = _staged_under(new_dirs, folder) if folder else None
        if inside is not None:
            return inside, True
        return (f"{final}/{folder}" if folder else final), False

    def start(job: _Job) -> _Place:
        """A job's folder (inside the artifact), where its files are written, whether that is private, the files."""
        items = job[0]
        folder = items[0][0].rpartition("/")[0]
        where, direct = place(folder)
        cut = len(folder) + 1 if folder else 0
        return folder, where, direct, [(f"{where}/{rel[cut:]}", e.oid, e.size, e.executable) for rel, e in items]

    def landed(job: _Job, at: _Place, got: Sequence[tuple[int, os.stat_result]], size: int = 0) -> None:
        """Record files of ``job`` (written ``at``) that landed (``size``: their bytes, when the writer did not
        tell the progress)."""
        items, (folder, where, _, files) = job[0], at
        rows = state.rows([(f"{final}/{items[k][0]}", st, files[k][1]) for k, st in got], written=True)
        with lock:  # the stat cache is one sqlite connection: rows are made outside, buffered inside
            state.record_rows(rows)
            if seen is not None:
                seen.add(folder, [(files[k][0][len(where) + 1 :], st) for k, st in got])
        progress.advance(bytes=size, files=len(got))

    def write(job: _Job) -> None:  # files of one folder (and their index rows)
        at = start(job)
        _, where, direct, files = at
        # a private folder is opened once per slice: each file is created relative to it (no path walk per file)
        fd = os.open(where, _O_FOLDER) if direct else None
        try:
            for got in materialize_small(
                store, files, direct=direct, progress=progress, staged=staged, folder_fd=fd, rows=job[1]
            ):
                landed(job, at, got)
        finally:
            if fd is not None:
                os.close(fd)

    def there(job: _Job) -> Iterator[list[tuple[int, os.stat_result]]]:  # in the forked writer: no progress
        _, where, _, files = start(job)
        # ``staged``: a pull's, so files of packs its fetch did not prove are hashed, as in this process
        yield from pull_writer.write_there(store, staged, where, files, job[1])

    def from_there(job: _Job, got: list[tuple[int, Stat]]) -> None:  # the forked writer's report of a job
        stats = cast("list[tuple[int, os.stat_result]]", got)  # a ``Stat`` has every field the records read
        landed(job, start(job), stats, sum(job[0][k][1].size for k, _ in got))

    def slices(job: Folder, each: bool) -> Iterator[tuple[list[Write], array[int] | None]]:
        rel, oid = job
        tree = trees.read(store, oid, take=True)  # one folder's entries at a time, streamed when it is large
        rows = a.located.pop(rel, None)  # where the plan found each file (five ints a file, in tree order)
        prefix = f"{rel}/" if rel else ""
        part: list[Write] = []
        at = 0
        for e in tree.iter_entries():
            if e.kind == EntryKind.FILE:
                part.append((prefix + e.name, e))
                if each or len(part) >= _SLICE:
                    yield part, None if rows is None else rows[at : at + 5 * len(part)]
                    at += 5 * len(part)
                    part = []
        if part:
            yield part, None if rows is None else rows[at : at + 5 * len(part)]

    big = bool(a.writes) and sum(e.size for _, e in a.writes) >= len(a.writes) * _BIG
    each = a.folder_bytes >= a.folder_files * _BIG  # large files: a thread each (decompression and hashing)

    def work() -> Iterator[tuple[list[Write], array[int] | None]]:
        if a.writes:
            yield from ((w, None) for w in (([w] for w in a.writes) if big else _by_folder(a.writes)))
        for job in a.folders:
            yield from slices(job, each)

    def in_two(todo: Iterable[_Job], here: Callable[[_Job], None]) -> None:
        """Small files in two processes (``forked_writes``: threads only wait on each other): every other job
        the plan located as one-chunk raw or zstd objects goes to the child, its packs opened here first."""
        listed = [job if job[1] is not None else (job[0], _locate(store, job[0])) for job in todo]
        theirs, turn = [], False
        for job in listed:
            mine = place(job[0][0][0].rpartition("/")[0])[1] and forkable(job[1])
            theirs.append(mine and turn)
            turn ^= mine
        _open_packs(store, [job[1] for job, t in zip(listed, theirs, strict=True) if t and job[1] is not None])
        forked_writes.split_run(listed, theirs, here, there, from_there)

    split = (  # at most ``LOCATED_AT_MOST`` files (the plan's bound of located rows): the jobs may be listed
        forked_writes.can_fork()
        and jobs >= 2
        and staged is None
        and forked_writes.FORK_AT <= a.folder_files <= LOCATED_AT_MOST
    )
    todo = work()
    head = list(itertools.islice(todo, 2))
    # a pull's checkout beside its fetch (``pull_overlap``): once the fetch ended whole, the rest in two processes
    beside = staged.arrivals if staged is not None and fresh and not each else None
    if jobs >= 2 and len(head) >= 2 and (big or (each and a.folder_files)):
        _in_threads(write, itertools.chain(head, todo), jobs)
    elif split and not each:
        in_two((*head, *todo), write)
    elif beside is not None:
        # the writer forked as the pull started (``pull_writer``): the jobs go to it while the fetch goes on
        writer = getattr(staged, "writer", None) if jobs >= 2 and a.files >= forked_writes.FORK_AT else None
        if writer is None or staged is None:
            later, rest = in_two if jobs >= 2 else None, itertools.chain(head, todo)
            return forked_writes.beside_fetch(beside, rest, write, later, a.files, _files_of)

        def from_writer(key: object, got: list[tuple[int, Stat]]) -> None:
            job, at = cast("tuple[_Job, _Place]", key)
            landed(job, at, cast("list[tuple[int, os.stat_result]]", got), sum(job[0][k][1].size for k, _ in got))

        def send(job: _Job, fetching: bool) -> bool:
            """Hand ``job`` to the writer once its objects are located (``forked_writes.beside_fetch``); False when
            it is busy and the fetch is over. A job it may not write (``forkable``) is written here."""
            writer.drain(from_writer)
            if writer.busy >= 2:
                if not fetching:
                    return False
                while writer.busy >= 2:
                    writer.drain(from_writer, wait=True)
            rows = job[1] if job[1] is not None else pull_writer.arrived(store, [e.oid for _, e in job[0]], beside)
            at = start(job)
            if not (at[2] and forkable(rows)):
                write((job[0], rows))
                return True
            packs = {p: store.pack_name(p) for p in set(rows[0::5])}
            writer.send((job, at), (at[1], at[3], rows, packs, sorted(staged.proved_packs & set(packs.values()))))
            return True

        def flush() -> None:
            writer.flush(from_writer)

        jobs_all = itertools.chain(head, todo)
        try:
            forked_writes.beside_fetch(beside, jobs_all, write, None, a.files, _files_of, send, flush)
        except BaseException:
            writer.kill()  # it writes nothing more into the staging folder the caller removes
            raise
    else:  # small files by this thread alone: each is a few short system calls, and every one of them hands the
        for items in itertools.chain(head, todo):  # GIL over, so a second thread only waits on this one
            write(items)


def _in_threads(fn: Callable[[_Job], None], todo: Iterator[_Job], jobs: int) -> None:
    """Run ``fn`` on each item of ``todo`` in ``jobs`` threads, each taking the next item when it is free (the
    items are made as they are needed, one at a time); the first failure (or an interrupt of this thread)
    stops the rest after the item each is writing, and is raised once they end. Plain threads: an executor
    costs a checkout of small files the import of ``concurrent.futures`` (and ``logging``)."""
    lock = threading.Lock()
    failed: list[BaseException] = []

    def run() -> None:
        while True:
            with lock:  # the items come from one generator: one thread at a time advances it
                if failed:
                    return
                try:
                    items = next(todo)
                except StopIteration:
                    return
                except BaseException as exc:
                    failed.append(exc)
                    return
            try:
                fn(items)
            except BaseException as exc:
                with lock:
                    failed.append(exc)
                return

    threads = [threading.Thread(target=run, name="art-checkout", daemon=True) for _ in range(jobs)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except BaseException as exc:  # Ctrl-C here: the threads stop after their current item
        with lock:
            failed.insert(0, exc)
        for t in threads:
            t.join()
    if failed:
        raise failed[0]


_Job = tuple[list[Write], "array[int] | None"]
# a job's folder (inside the artifact), where its files are written, whether that is private, and the files
_Place = tuple[
    str, str, bool, list[tuple[str, Oid, int, bool]]
]  # files of one folder, and their index rows when the plan kept them
_BIG = 256 << 10  # files this large on average are written a thread each, not a slice of a folder per thread
_SLICE = 512  # files of one folder handed to a thread at a time (two threads may share a folder: while one
# waits in the kernel for the folder's lock to create a file, the other reads and writes)
_serial = itertools.count()
_O_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _locate(store: ObjectStore, items: list[Write]) -> array[int] | None:
    """The index rows of these files, as the plan keeps them (five ints a file, the pack -1 for a file not
    stored as one chunk), found with one query per few hundred (the write's own lookups, made before the fork);
    None when the store cannot locate chunks."""
    locate = getattr(store, "locate_chunks", None)
    if locate is None:
        return None
    rows = array("q")
    for row in locate([e.oid for _, e in items]):
        rows.extend(_NOT_A_CHUNK if row is None else row)
    return rows


_NOT_A_CHUNK = (-1, 0, 0, 0, 0)


def _files_of(job: _Job) -> int:
    return len(job[0])


def _open_packs(store: ObjectStore, rows: Sequence[array[int]]) -> None:
    """Open (and learn the names of) the packs these located rows read, before a fork: the forked writer then
    reads through the store's descriptors and asks its index nothing (no sqlite connection crosses a fork)."""
    pack_fd = getattr(store, "pack_fd", None)
    if pack_fd is not None:
        for pack in {p for r in rows for p in r[0::5]}:
            pack_fd(pack)


def _by_folder(todo: list[Write]) -> list[list[Write]]:
    groups: dict[str, list[Write]] = {}
    for w in todo:
        groups.setdefault(w[0].rpartition("/")[0], []).append(w)
    return list(groups.values())
