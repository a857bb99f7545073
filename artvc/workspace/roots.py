"""The roots of what a workspace needs: its pointers and art.lock outputs (now, or at git revisions), and the
runs that art.lock names. Push sends their closure, gc keeps it."""

from __future__ import annotations

from collections.abc import Iterable

from ..objstore.objects import Kind
from ..objstore.oid import Oid, is_oid
from .lockfile import LOCK_NAME, parse_lock_text, read_lock
from .ls import artifacts_at
from .pointers import Pointer
from .repo import Repo

Key = tuple[Oid, Kind]


def pointer_key(pointer: Pointer) -> Key:
    return (pointer.oid, Kind.TREE if pointer.kind == "dir" else Kind.FILE)


def _lock_runs(stages: dict) -> set[Key]:
    return {(Oid(s["run"]), Kind.RUN) for s in stages.values() if is_oid(s.get("run"))}


def workspace_roots(repo: Repo, paths: Iterable[str] | None = None) -> set[Key]:
    """Roots for the workspace as it is (optionally only the artifacts under ``paths``)."""
    from .status import select

    roots = {pointer_key(ptr) for _, ptr, _ in select(repo, list(paths) if paths else None)}
    if not paths:
        roots |= _lock_runs(read_lock(repo.root))
    return roots


def revision_roots(repo: Repo, revs: Iterable[str]) -> set[Key]:
    """Roots for the artifacts tracked at each git revision in ``revs``."""
    roots: set[Key] = set()
    git = repo.git
    for rev in revs:
        roots |= {pointer_key(item.pointer) for item in artifacts_at(repo, rev).values()}
        if git is not None:
            for path, data in git.files_at(rev, repo.git_prefix, (LOCK_NAME,)):
                if path == LOCK_NAME:
                    roots |= _lock_runs(parse_lock_text(data))
    return roots


def all_commit_roots(repo: Repo, *, all_refs: bool = True) -> set[Key]:
    """Roots for every commit reachable from every branch and tag (or HEAD only)."""
    git = repo.git
    if git is None:
        return workspace_roots(repo)
    return revision_roots(repo, git.revisions(all_refs=all_refs)) | workspace_roots(repo)
