"""``art checkout``: make the workspace match the pointers, writing only what differs, verified before rename."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..objstore.errors import ObjectNotFoundError, WouldOverwriteError
from ..objstore.materialize import make_symlink, materialize_file, remove_stale_temps
from ..objstore.objects import Kind, TreeEntry
from ..objstore.oid import Oid
from ..objstore.scan import iter_files, quick_signature
from .paths import check_name, ensure_inside
from .pointers import Pointer, PointerError
from .repo import Repo
from .status import MISSING, MODIFIED, NOT_IN_STORE, UNCHANGED, status


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    restored: list[str]
    unchanged: list[str]
    files_written: int


def checkout(repo: Repo, paths: Sequence[str] | None = None, *, force: bool = False,
             progress: Callable[[int], None] | None = None) -> CheckoutResult:
    """Restore missing or modified artifacts from the local store.

    Raises:
        WouldOverwriteError: when an artifact was modified in the workspace and ``force`` is not set
            (nothing is written then).
        ObjectNotFoundError: when the store lacks an object the pointer names.
        CorruptObjectError: when stored data does not hash to its id (the workspace file is untouched).
    """
    with repo.lock:
        current = status(repo, paths).artifacts
        blocked = [a.path for a in current if a.state == MODIFIED and _would_lose(repo, a)] if not force else []
        if blocked:
            raise WouldOverwriteError(f"{blocked[0]} has changes that are not added"
                                      + (f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""),
                                      path=blocked[0], hint="'art add' them to keep them, or use --force")
        restored, unchanged, written = [], [], 0
        for a in current:
            if a.state in (UNCHANGED, NOT_IN_STORE) and a.actual == a.pointer.oid:
                unchanged.append(a.path)
                continue
            assert a.state in (MISSING, MODIFIED)
            _check_pointer_size(repo, a)
            written += _restore(repo, a.path, a.pointer, progress)
            restored.append(a.path)
        repo.state.flush()
    return CheckoutResult(restored, unchanged, written)


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
        raise PointerError(f"{where} is wrong: size = {a.pointer.size} but the stored file has {actual} bytes",
                           path=a.path, hint=f"restore the pointer with 'git checkout -- {a.source}', or "
                                             f"re-add the data with 'art add {a.path}'; the store is fine"
                           if not a.source.startswith("art.lock:") else "re-run the stage with 'art repro'")


def _would_lose(repo: Repo, a) -> bool:
    """True when restoring ``a`` would drop content the store does not hold (unstored edits, extra files).

    Content that is already in the store (an older or newer version that was added) is not lost: switching
    versions after ``git checkout`` of a pointer needs no ``--force``.
    """
    store = repo.store
    if a.pointer.kind == "file":
        return a.actual is None or not store.has_file(a.actual)
    if a.actual is not None and store.has(a.actual, Kind.TREE):
        return False
    dest = repo.abspath(a.path)
    if not dest.is_dir():
        return dest.exists() and not (a.actual and store.has_file(a.actual))
    return any(not store.has_file(repo.state.oid_of(path, st)) for path, st in iter_files(str(dest), repo.root))


def _restore(repo: Repo, path: str, pointer: Pointer, progress) -> int:
    dest = ensure_inside(repo.root, repo.abspath(path))
    if pointer.kind == "file":
        remove_stale_temps(dest)
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        _write_file(repo, dest, pointer.oid, pointer.size, False, progress)
        return 1
    if dest.exists() and not dest.is_dir():
        dest.unlink()
    if not os.path.lexists(dest):
        written = _restore_new_tree(repo, dest, pointer.oid, progress)
    else:
        written = _restore_tree(repo, dest, pointer.oid, progress)
    sig = quick_signature(str(dest), racy_ok=True)  # the folder now is exactly the pointer's tree
    if sig is not None:
        repo.state.set_dir(path, sig, pointer.oid)
    return written


def _restore_new_tree(repo: Repo, dest: Path, oid: Oid, progress) -> int:
    """Build a missing directory beside its place and rename it in whole: files need no rename of their own,
    and a killed checkout leaves only the hidden staging folder (removed by the next one)."""
    staging = dest.parent / f".{dest.name[:40]}.art-tmp-dir"
    if os.path.lexists(staging):
        shutil.rmtree(staging)
    try:
        n = _restore_tree(repo, staging, oid, progress, final=dest)
        os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return n


def _write_file(repo: Repo, dest: Path, oid: Oid, size: int, executable: bool, progress) -> None:
    _check_stored(repo, oid)
    st = materialize_file(repo.store, oid, size, dest, executable=executable, progress=progress)
    repo.state.record(str(dest), st, oid, written=True)


def _check_stored(repo: Repo, oid: Oid) -> None:
    if not repo.store.has_file(oid):
        repo.store.raise_if_quarantined(oid, Kind.FILE, Kind.CHUNK)
        raise ObjectNotFoundError(oid, "file", hint="run 'art pull' to fetch it from a remote")


def _restore_tree(repo: Repo, dest: Path, oid: Oid, progress, *, final: Path | None = None) -> int:
    """Write a tree into ``dest``, touching only entries that differ and removing extra ones.

    Directories, links and removals are handled in one pass; then the files are written (by ``core.jobs``
    threads when they are large enough for decompression and hashing to dominate). With ``final``, ``dest``
    is a fresh private staging folder that will be renamed to ``final``: files are written in place (no temp
    file each) and recorded under their final paths.
    """
    todo: list[tuple[Path, TreeEntry]] = []
    _plan_tree(repo, dest, oid, todo)
    direct = final is not None
    for _, entry in todo:
        _check_stored(repo, entry.oid)
    store, jobs = repo.store, max(1, int(repo.config.core("jobs")))

    def write(item: tuple[Path, TreeEntry]) -> os.stat_result:
        target, entry = item
        return materialize_file(store, entry.oid, entry.size, target, executable=entry.executable,
                                progress=progress, direct=direct)

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


def _plan_tree(repo: Repo, dest: Path, oid: Oid, todo: list) -> None:
    tree = repo.store.get_tree(oid)
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {check_name(e.name): e for e in tree.entries}
    with os.scandir(dest) as it:
        extra = [e for e in it if e.name not in wanted]
    for e in extra:
        if e.is_dir(follow_symlinks=False):
            shutil.rmtree(e.path)
        else:
            os.unlink(e.path)
    for name, entry in wanted.items():
        target = dest / name
        if entry.kind == "dir":
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            _plan_tree(repo, target, entry.oid, todo)
        elif entry.kind == "symlink":
            if not target.is_symlink() or os.readlink(target) != entry.target:
                _check_link(repo, target, entry.target)
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                make_symlink(target, entry.target)
        elif not _file_matches(repo, target, entry.oid, entry.executable):
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            todo.append((target, entry))


def _check_link(repo: Repo, target: Path, link: str) -> None:
    from ..objstore.errors import UnsafePathError

    resolved = Path(os.path.normpath(target.parent / link))
    if os.path.isabs(link) or not resolved.is_relative_to(repo.root):
        raise UnsafePathError(f"symlink {target} would point outside the workspace ({link})", path=str(target),
                              hint="the stored tree is unsafe; it was not written")


def _file_matches(repo: Repo, target: Path, oid: Oid, executable: bool) -> bool:
    try:
        st = os.stat(target, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if not os.path.isfile(target) or target.is_symlink() or bool(st.st_mode & 0o111) != executable:
        return False
    return repo.state.oid_of(str(target), st) == oid
