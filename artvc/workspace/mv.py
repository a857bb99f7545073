"""``art mv``: move an artifact's data, pointer and ``.gitignore`` entry together, staging the move in git as
``git mv`` would when git tracks the pointer."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import UnsafePathError, WorkspaceError, WouldOverwriteError
from ..objstore.faults import fault_point
from ..objstore.oserrors import os_errors
from .edits import Journal, clean_in_git, git_path, gitignore_of, pointer_artifact, stage_in_git
from .gitignore import check_ignorable, ignore, unignore
from .paths import check_write, is_reserved, to_repo_path
from .pointers import SUFFIX, Pointer
from .repo import Repo
from .tracked import TrackedArtifact


@dataclass(frozen=True, slots=True)
class MvResult:
    path: str  # the old workspace path
    new_path: str
    pointer: Pointer
    moved_data: bool  # False when the data was not in the workspace (only the pointer moved)
    git: list[str]  # paths (relative to the git work tree) whose index entry changed


def mv(repo: Repo, src: str, dest: str) -> MvResult:
    """Move the artifact at ``src`` to ``dest``: its data (when present), its pointer file and its ``.gitignore``
    entry; when git tracks the pointer, stage the move (the old pointer out of the index, the new one in, and
    the ``.gitignore`` files art edited when they held nothing else unstaged). Missing folders of ``dest`` are
    created. All or nothing: when a step fails, every earlier one is undone.

    Raises:
        PathNotTrackedError: ``src`` is not an artifact tracked by a pointer file.
        WouldOverwriteError: ``dest`` (or its pointer file) exists, or is tracked: art never moves onto a path.
        UnsafePathError: ``dest`` leaves the workspace, is in ``.git``/``.art``, or cannot be ignored by git.
        GitError: git's index cannot be written (everything is put back).
    """
    with repo.lock:
        arts = repo.artifacts()
        a = pointer_artifact(repo, src, arts, "mv")
        new = _destination(repo, a, dest, arts)
        old_gi, new_gi = gitignore_of(a.path), gitignore_of(new)
        for p in (new, new + SUFFIX, new_gi, old_gi):
            check_write(repo.root, repo.abspath(p))
        git = repo.git
        tracked = git is not None and git.in_index(git_path(repo, a.path + SUFFIX))
        fresh_gi = not os.path.lexists(repo.abspath(new_gi))
        stage_ignores = [gi for gi in sorted({old_gi, new_gi}) if clean_in_git(repo, gi)]
        if tracked and fresh_gi:  # the new pointer is staged: so is the entry that keeps its data out of git
            stage_ignores.append(new_gi)
        present = os.path.lexists(repo.abspath(a.path))
        with Journal() as journal, os_errors("move", repo.abspath(a.path)):
            journal.makedirs(repo.abspath(new).parent)
            if present:
                journal.rename(repo.abspath(a.path), repo.abspath(new))
                fault_point("mv.data-moved")
            journal.rename(repo.abspath(a.path + SUFFIX), repo.abspath(new + SUFFIX))
            fault_point("mv.pointer-moved")
            for gi in sorted({old_gi, new_gi}):
                journal.keep(repo.abspath(gi))
            unignore(repo.root, a.path)
            ignore(repo.root, new)
            fault_point("mv.ignore-updated")
            staged = (
                stage_in_git(repo, journal, remove=[a.path + SUFFIX], add=[new + SUFFIX, *stage_ignores])
                if tracked
                else stage_in_git(repo, journal, remove=[], add=stage_ignores)
            )
            fault_point("mv.index-written")
        if present:
            _keep_stat_cache(repo, a, new)
        repo.state.copy_produced(str(a.pointer.oid), a.path, new)  # art lineage NEW finds the run
    return MvResult(a.path, new, a.pointer, present, staged)


def _destination(repo: Repo, a: TrackedArtifact, dest: str, arts: list[TrackedArtifact]) -> str:
    new = check_ignorable(to_repo_path(repo.root, dest))
    new = new[: -len(SUFFIX)] if new.endswith(SUFFIX) else new
    if any(is_reserved(part) for part in new.split("/")) or new in ("", "."):
        raise UnsafePathError(f"art will not move anything to {new}", path=new)
    if new == a.path or new.startswith(a.path + "/"):
        raise WorkspaceError(f"cannot move {a.path} into itself", path=new, hint="choose a path outside it")
    for other in arts:
        if new == other.path or new.startswith(other.path + "/") or other.path.startswith(new + "/"):
            what = "is tracked" if new == other.path else f"overlaps the tracked artifact {other.path}"
            raise WouldOverwriteError(
                f"{new} {what}", path=new, hint="choose another destination, or 'art rm' that artifact first"
            )
    for p in (new, new + SUFFIX):
        if os.path.lexists(repo.abspath(p)):
            raise WouldOverwriteError(
                f"{p} already exists: art mv never moves onto a path",
                path=p,
                hint="choose another destination (a full new name, not a folder to move into), or remove it first",
            )
    blocker = next(
        (p for p in _parents(new) if os.path.lexists(repo.abspath(p)) and not repo.abspath(p).is_dir()), None
    )
    if blocker:
        raise WouldOverwriteError(f"{blocker} is a file, not a folder", path=blocker, hint="choose another destination")
    return new


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _keep_stat_cache(repo: Repo, a: TrackedArtifact, new: str) -> None:
    """A rename keeps inode, size and mtime: carry the stat-cache row over so the next status reads nothing."""
    state = repo.state
    if a.pointer.kind == "file":
        full, moved = repo.abspath(a.path), repo.abspath(new)
        st = os.stat(moved)
        oid = state.lookup(str(full), st)
        if oid is not None:
            state.record(str(moved), st, oid)
    else:
        state.move_trees(a.path, new)  # only a hint: a signature that no longer matches is recomputed
    state.flush()
