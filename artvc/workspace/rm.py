"""``art rm``: stop tracking artifacts (pointer, ``.gitignore`` entry, git's index), keeping the data unless asked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import WorkspaceError, WouldOverwriteError
from ..objstore.faults import fault_point
from ..objstore.oserrors import os_errors
from .edits import Journal, clean_in_git, gitignore_of, pointer_artifact, stage_in_git
from .gitignore import unignore
from .paths import check_write
from .pointers import SUFFIX, Pointer
from .repo import Repo
from .safety import ABSENT, FILE, place, would_lose
from .status import current_oid


@dataclass(frozen=True, slots=True)
class RemovedArtifact:
    path: str
    pointer: Pointer
    deleted: bool  # its data was deleted from the workspace


@dataclass(frozen=True, slots=True)
class RmResult:
    artifacts: list[RemovedArtifact]
    git: list[str]  # paths (relative to the git work tree) whose index entry changed


def rm(repo: Repo, paths: Sequence[str], *, delete: bool = False, force: bool = False) -> RmResult:
    """Stop tracking the artifacts at ``paths``: remove each pointer file and its ``.gitignore`` entry, and take
    the pointer out of git's index when git tracks it (``git rm --cached``). All or nothing: when a step fails,
    every earlier one is undone.

    Args:
        repo: the workspace.
        paths: artifacts (their data's path or their pointer file), absolute or relative to the workspace root.
        delete: also delete the data from the workspace (after everything else succeeded).
        force: with ``delete``, delete data even when the store cannot give it back.

    Raises:
        PathNotTrackedError: for a path no pointer file tracks (nothing is changed).
        WorkspaceError: for a pipeline output (art.lock owns it).
        WouldOverwriteError: ``delete`` without ``force`` when the workspace copy differs from what is stored.
        GitError: when git's index cannot be written (everything is put back).
    """
    if not paths:
        raise WorkspaceError("nothing to remove", hint="name one or more tracked artifacts")
    with repo.lock:
        arts = repo.artifacts()
        chosen = list({a.path: a for a in (pointer_artifact(repo, p, arts, "rm") for p in paths)}.values())
        doomed = [a.path for a in chosen if delete and place(repo, a.path, a.pointer.kind).kind is not ABSENT]
        if not force:
            for path in doomed:
                _check_recoverable(repo, next(a for a in chosen if a.path == path))
        ignores = sorted({gitignore_of(a.path) for a in chosen})
        for a in chosen:
            check_write(repo.root, repo.abspath(a.path + SUFFIX))
        for gi in ignores:
            check_write(repo.root, repo.abspath(gi))
        clean = [gi for gi in ignores if clean_in_git(repo, gi)]  # staging these stages only art's edit
        with Journal() as journal, os_errors("update", repo.root):
            for a in chosen:
                journal.keep(repo.abspath(a.path + SUFFIX))
                os.unlink(repo.abspath(a.path + SUFFIX))
                fault_point("rm.pointer-removed")
            for gi in ignores:
                journal.keep(repo.abspath(gi))
            for a in chosen:
                unignore(repo.root, a.path)
            fault_point("rm.ignore-updated")
            staged = stage_in_git(repo, journal, remove=[a.path + SUFFIX for a in chosen], add=clean)
            fault_point("rm.index-written")
        for path in doomed:  # the one step that cannot be undone comes last; the store still holds the data
            _delete(repo, path)
    return RmResult([RemovedArtifact(a.path, a.pointer, a.path in doomed) for a in chosen], staged)


def _check_recoverable(repo: Repo, a) -> None:
    where = place(repo, a.path, a.pointer.kind)
    actual = current_oid(repo, a.path, a.pointer.kind) if where.kind == a.pointer.kind else None
    if actual != a.pointer.oid and would_lose(repo, where, actual, a.pointer.oid, a.pointer.kind):
        raise WouldOverwriteError(
            f"{a.path} holds data the store does not have; deleting it would lose it",
            path=a.path,
            hint=f"'art add {a.path}' first, leave out --delete to keep it, or pass --force to delete it anyway",
        )


def _delete(repo: Repo, path: str) -> None:
    full = repo.abspath(path)
    with os_errors("delete", full):
        if place(repo, path, FILE).kind == "dir":
            shutil.rmtree(full)
        else:
            os.unlink(full)
