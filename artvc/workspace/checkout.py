"""``art checkout``: make the workspace match the pointers, writing only what differs, verified before rename."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConflictError, ObjectNotFoundError, UnsafePathError, WorkspaceError, WouldOverwriteError
from ..objstore.materialize import make_symlink, materialize_file, remove_stale_temps
from ..objstore.objects import TreeEntry
from ..objstore.oid import Oid
from ..objstore.progress import ProgressLike, as_progress
from ..objstore.scan import quick_signature
from ..objstore.tmpowner import note
from .paths import ensure_inside, is_reserved
from .pointers import PointerError
from .repo import Repo
from .safety import DIR, FILE, LINK, OTHER, TreeCache, check_tree, would_lose
from .status import CONFLICT, MISSING, MODIFIED, NOT_IN_STORE, UNCHANGED, ArtifactStatus, status


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    restored: list[str]
    unchanged: list[str]
    files_written: int
    left: list[tuple[str, WorkspaceError]] = field(default_factory=list)  # with ``leave``: what was not touched


def checkout(
    repo: Repo,
    paths: Sequence[str] | None = None,
    *,
    force: bool = False,
    progress: ProgressLike = None,
    leave: bool = False,
) -> CheckoutResult:
    """Restore missing or modified artifacts from the local store.

    Every artifact is checked before anything is written: nothing the store cannot give back is replaced
    without ``force``, and nothing is written where the path leads outside the workspace (not even with
    ``force``). With ``leave``, such artifacts are skipped and listed in ``left`` instead (the hook's way).

    Raises:
        UnsafePathError: when an artifact's path (or a parent) is a symlink leading outside the workspace, or
            a stored tree holds a symlink that would resolve outside it (exit 10; nothing is written).
        ConflictError: when a path holds something of another kind the store cannot give back (a folder of
            unstored files where a file belongs, a symlink, a device) and ``force`` is not set.
        WouldOverwriteError: when an artifact was modified in the workspace and ``force`` is not set.
        ObjectNotFoundError: when the store lacks an object the pointer names.
        CorruptObjectError: when stored data does not hash to its id (the workspace file is untouched).
    """
    with repo.lock:
        current = status(repo, paths).artifacts
        restored, unchanged, written, left = [], [], 0, []
        todo, trees = [], TreeCache()
        for a in current:
            if a.state in (UNCHANGED, NOT_IN_STORE) and a.actual == a.pointer.oid:
                unchanged.append(a.path)
                continue
            problem = _refusal(repo, a, force, trees)
            if problem is not None:
                left.append((a.path, problem))
            else:
                _check_pointer_size(repo, a)
                todo.append(a)
        if left and not leave:
            _raise(left)
        progress = as_progress(progress)
        # totals from the plan: files and missing folders whole; a folder already there once its plan is made
        new = [a for a in todo if a.pointer.kind == "file" or a.where is None or a.where.kind != DIR]
        progress.total(bytes=sum(a.pointer.size for a in new), files=sum(a.pointer.files for a in new))
        for a in todo:
            assert a.state in (MISSING, MODIFIED, CONFLICT)
            written += _restore(repo, a, progress, trees)
            restored.append(a.path)
        repo.state.flush()
    return CheckoutResult(restored, unchanged, written, left)


def _check_pointer_size(repo: Repo, a) -> None:
    """A file pointer whose ``size`` disagrees with the stored file is a bad pointer, not a damaged store.

    Raises:
        PointerError: naming the pointer (or art.lock stage) as the culprit.
    """
    if a.pointer.kind != "file" or not repo.store.has_file(a.pointer.oid):
        return
    actual = repo.store.file_size(a.pointer.oid)
    if actual != a.pointer.size:
        where = a.source if a.source.startswith("art.lock:") else f"pointer {a.source}"
        raise PointerError(
            f"{where} is wrong: size = {a.pointer.size} but the stored file has {actual} bytes",
            path=a.path,
            hint=f"restore the pointer with 'git checkout -- {a.source}', or "
            f"re-add the data with 'art add {a.path}'; the store is fine"
            if not a.source.startswith("art.lock:")
            else "re-run the stage with 'art repro'",
        )


def _refusal(repo: Repo, a: ArtifactStatus, force: bool, trees: TreeCache) -> WorkspaceError | None:
    """Why ``a`` must not be restored now (None when it may): the one rule of ``safety`` applied."""
    if a.unsafe:
        return UnsafePathError(
            f"{a.reason}; art never writes through it",
            path=a.path,
            hint="remove or replace the symlink, then run the command again",
        )
    if a.pointer.kind == "dir":  # a stored tree is checked whole before any of it is written, even with force
        try:
            check_tree(repo, _rel(repo, a), a.pointer.oid, trees)
        except UnsafePathError as exc:
            return exc
        except ObjectNotFoundError:
            pass  # reported by the restore itself, with its hint
    if force:
        return None
    if a.state == CONFLICT:
        return ConflictError(
            f"{a.path} is in the way: {a.reason}", path=a.path, hint="move it elsewhere, or use --force to replace it"
        )
    if a.state == MODIFIED and would_lose(repo, a.where, a.actual, a.pointer.oid, a.pointer.kind):
        return WouldOverwriteError(
            f"{a.path} has changes that are not added", path=a.path, hint="'art add' them to keep them, or use --force"
        )
    return None


def _raise(left: list[tuple[str, WorkspaceError]]) -> None:
    """Raise the gravest refusal (an unsafe path, then a conflict, then unstored changes), counting the rest."""
    order = (UnsafePathError, ConflictError, WouldOverwriteError)
    path, first = min(left, key=lambda item: next(i for i, t in enumerate(order) if isinstance(item[1], t)))
    if len(left) > 1:
        first.message = f"{first.message} (and {len(left) - 1} more)"
        first.args = (first.message,)
    raise first


def _rel(repo: Repo, a: ArtifactStatus) -> str:
    dest = a.where.dest if a.where is not None else repo.abspath(a.path)
    return Path(os.path.relpath(dest, repo.root)).as_posix()


def _restore(repo: Repo, a: ArtifactStatus, progress, trees: TreeCache) -> int:
    """Write artifact ``a``, first clearing what is in its way (the caller has checked it may be dropped)."""
    where, pointer = a.where, a.pointer
    if where.blocker:  # a file (or a dangling link) where a parent folder belongs
        os.unlink(repo.abspath(where.blocker))
    dest = ensure_inside(repo.root, where.dest)
    if pointer.kind == "file":
        remove_stale_temps(dest)
        if where.kind == DIR:
            shutil.rmtree(dest)
        elif where.kind in (LINK, OTHER):
            dest.unlink()
        _write_file(repo, dest, pointer.oid, pointer.size, False, progress)
        return 1
    if where.kind in (FILE, LINK, OTHER):
        dest.unlink()
    if not os.path.lexists(dest):
        written = _restore_new_tree(repo, dest, pointer.oid, progress, trees)
    else:
        written = _restore_tree(repo, dest, pointer.oid, progress, trees)
    sig = quick_signature(str(dest), racy_ok=True)  # the folder now is exactly the pointer's tree
    if sig is not None:
        repo.state.set_dir(a.path, sig, pointer.oid)
    return written


def _restore_new_tree(repo: Repo, dest: Path, oid: Oid, progress, trees: TreeCache) -> int:
    """Build a missing directory beside its place and rename it in whole: files need no rename of their own,
    and a killed checkout leaves only the hidden staging folder (removed by the next one)."""
    staging = dest.parent / f".{dest.name[:40]}.art-tmp-dir"
    note(staging)  # a killed checkout's staging folder is removed by the next command that takes the lock
    if os.path.isdir(staging) and not os.path.islink(staging):
        shutil.rmtree(staging)  # left by a killed checkout
    elif os.path.lexists(staging):
        os.unlink(staging)
    try:
        n = _restore_tree(repo, staging, oid, progress, trees, final=dest)
        os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return n


def _write_file(repo: Repo, dest: Path, oid: Oid, size: int, executable: bool, progress) -> None:
    _check_stored(repo, oid)
    st = materialize_file(repo.store, oid, size, dest, executable=executable, progress=progress)
    progress.advance(files=1)
    repo.state.record(str(dest), st, oid, written=True)


def _check_stored(repo: Repo, oid: Oid) -> None:
    if not repo.store.has_file(oid):
        raise ObjectNotFoundError(oid, "file", hint="run 'art pull' to fetch it from a remote")


def _restore_tree(repo: Repo, dest: Path, oid: Oid, progress, trees: TreeCache, *, final: Path | None = None) -> int:
    """Write a tree into ``dest``, touching only entries that differ and removing extra ones.

    Directories, links and removals are handled in one pass; then the files are written (by ``core.jobs``
    threads when they are large enough for decompression and hashing to dominate). With ``final``, ``dest``
    is a fresh private staging folder that will be renamed to ``final``: files are written in place (no temp
    file each) and recorded under their final paths.
    """
    todo: list[tuple[Path, TreeEntry]] = []
    _plan_tree(repo, dest, oid, todo, trees)
    direct = final is not None
    for _, entry in todo:
        _check_stored(repo, entry.oid)
    if final is None:  # a folder already there: only now is it known which of its files differ
        progress.total(bytes=sum(e.size for _, e in todo), files=len(todo))
    store, jobs = repo.store, max(1, int(repo.config.core("jobs")))

    def write(item: tuple[Path, TreeEntry]) -> os.stat_result:
        target, entry = item
        st = materialize_file(
            store, entry.oid, entry.size, target, executable=entry.executable, progress=progress, direct=direct
        )
        progress.advance(files=1)
        return st

    stats = _write_all(todo, write, jobs)
    for (target, entry), st in zip(todo, stats, strict=True):
        path = final / target.relative_to(dest) if final is not None else target
        repo.state.record(str(path), st, entry.oid, written=True)
    return len(todo)


def _write_all(todo: list[tuple[Path, TreeEntry]], write, jobs: int) -> list[os.stat_result]:
    """Write every planned file; return their stats in ``todo`` order.

    Threads take whole folders (creating files in one folder from two threads contends on that folder's
    lock, while separate folders scale), or single files when they are large enough for decompression and
    hashing to dominate.
    """
    big = sum(e.size for _, e in todo) >= len(todo) * (256 << 10)
    groups: dict[Path, list[int]] = {}
    for i, (target, _) in enumerate(todo):
        groups.setdefault(target.parent, []).append(i)
    if jobs < 2 or len(todo) < 2 or (len(groups) < 2 and not big):
        return [write(item) for item in todo]
    from concurrent.futures import ThreadPoolExecutor

    batches = [[i] for i in range(len(todo))] if big else list(groups.values())
    stats: list = [None] * len(todo)

    def run(batch: list[int]) -> None:
        for i in batch:
            stats[i] = write(todo[i])

    with ThreadPoolExecutor(jobs, thread_name_prefix="art-checkout") as pool:
        list(pool.map(run, batches))
    return stats


def _plan_tree(repo: Repo, dest: Path, oid: Oid, todo: list, trees: TreeCache) -> None:
    """Make the folders, links and removals of tree ``oid`` at ``dest``; queue its files in ``todo``.

    The tree was checked whole before (``safety.check_tree``: names, and links resolved against it).
    Nothing is followed: a symlink in the way is removed, never written through; ``.git``/``.art`` folders
    (which art never stores) are left alone.

    Iterative (a stack of folders still to plan), so any depth the file system allows works.
    """
    stack = [(dest, oid)]
    while stack:
        dest, oid = stack.pop()
        stack.extend(reversed(_plan_level(repo, dest, oid, todo, trees)))


def _plan_level(repo: Repo, dest: Path, oid: Oid, todo: list, trees: TreeCache) -> list[tuple[Path, Oid]]:
    tree = trees.pop(oid, None) or repo.store.get_tree(oid)
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {e.name: e for e in tree.entries}
    with os.scandir(dest) as it:
        extra = [e for e in it if e.name not in wanted and not is_reserved(e.name)]
    for e in extra:
        if e.is_dir(follow_symlinks=False):
            shutil.rmtree(e.path)
        else:
            os.unlink(e.path)
    subdirs = []
    for name, entry in wanted.items():
        target = dest / name
        if entry.kind == "dir":
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            subdirs.append((target, entry.oid))
        elif entry.kind == "symlink":
            if not target.is_symlink() or os.readlink(target) != entry.target:
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                make_symlink(target, entry.target)
        elif not _file_matches(repo, target, entry.oid, entry.executable):
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            todo.append((target, entry))
    return subdirs


def _file_matches(repo: Repo, target: Path, oid: Oid, executable: bool) -> bool:
    try:
        st = os.stat(target, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if not os.path.isfile(target) or target.is_symlink() or bool(st.st_mode & 0o111) != executable:
        return False
    return repo.state.oid_of(str(target), st) == oid
