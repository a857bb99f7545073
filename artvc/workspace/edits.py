"""What ``art rm`` and ``art mv`` share: finding the pointer artifact a user names, and an undo journal so that a
failure at any step puts every earlier step back (nothing half-done).

The steps are small and local (a rename, a pointer, a ``.gitignore`` line, git's index), so each one records how
to undo itself; when a later step raises, the journal runs the undos newest first and the error propagates.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import PathNotTrackedError, WorkspaceError
from ..objstore.fileio import atomic_write
from .paths import to_repo_path
from .pointers import SUFFIX
from .repo import Repo
from .tracked import TrackedArtifact


def pointer_artifact(repo: Repo, user_path: str, artifacts: list[TrackedArtifact], verb: str) -> TrackedArtifact:
    """The artifact tracked by a pointer file at ``user_path`` (the data's path or its ``.art`` file).

    Raises:
        PathNotTrackedError: when no pointer file tracks the path (also for a path inside a tracked directory).
        WorkspaceError: for a pipeline output (``art.lock`` owns it, not a pointer).
    """
    rel = to_repo_path(repo.root, user_path)
    rel = rel[: -len(SUFFIX)] if rel.endswith(SUFFIX) else rel
    for a in artifacts:
        if a.path == rel and a.source.startswith("art.lock:"):
            raise WorkspaceError(
                f"{rel} is an output of stage {a.source.partition(':')[2]} (art.lock), not an added artifact",
                path=rel,
                hint="change the stage's outs in art.toml instead",
            )
        if a.path == rel:
            return a
    inside = next((a.path for a in artifacts if rel.startswith(a.path + "/")), None)
    if inside:
        raise PathNotTrackedError(
            f"{rel} is inside the tracked directory {inside}, not an artifact of its own",
            path=rel,
            hint=f"{verb} the whole directory: art {verb} {inside}",
        )
    raise PathNotTrackedError(f"{rel} is not tracked by art", path=rel, hint="see 'art ls' for what is tracked")


class Journal:
    """Undo steps, run newest first when the ``with`` block raises (any exception, Ctrl-C included)."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], object]] = []

    def __enter__(self) -> Journal:
        return self

    def on_undo(self, step: Callable[[], object]) -> None:
        self._undo.append(step)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            return
        for step in reversed(self._undo):
            try:
                step()
            except Exception:  # keep undoing the rest; the original error is the one reported
                continue

    def rename(self, src: Path, dest: Path) -> None:
        """Rename ``src`` to ``dest`` (which must not exist); undone by renaming it back."""
        if os.path.lexists(dest):
            raise WorkspaceError(f"{dest} appeared while art was working", hint="try again")
        os.rename(src, dest)
        self.on_undo(lambda: os.rename(dest, src))

    def keep(self, path: Path) -> None:
        """Remember ``path``'s bytes (or its absence) before a step changes it; undone by putting them back."""
        old = path.read_bytes() if path.is_file() else None
        self.on_undo(lambda: atomic_write(path, old) if old is not None else path.unlink(missing_ok=True))

    def makedirs(self, folder: Path) -> None:
        """Create ``folder`` and its missing parents; undone by removing the ones created (when still empty)."""
        made = []
        d = folder
        while not d.exists():
            made.append(d)
            d = d.parent
        for d in reversed(made):
            os.mkdir(d)

        def undo() -> None:
            for d in made:
                d.rmdir()

        self.on_undo(undo)


def git_path(repo: Repo, rel: str) -> str:
    """A workspace path as git's index names it (relative to the git work tree)."""
    prefix = repo.git_prefix
    return f"{prefix}/{rel}" if prefix else rel


def gitignore_of(rel: str) -> str:
    """The ``.gitignore`` (workspace path) that holds ``rel``'s entry."""
    parent = rel.rpartition("/")[0]
    return f"{parent}/.gitignore" if parent else ".gitignore"


def stage_in_git(repo: Repo, journal: Journal, *, remove: list[str], add: list[str]) -> list[str]:
    """Update git's index (workspace paths) and register the undo; return what was staged or unstaged.

    Only paths git tracks are touched: ``remove`` those in the index, ``add`` those given (callers pass a
    ``.gitignore`` only when its work-tree copy matched the index before art edited it, so nothing of the
    user's is staged along).
    """
    git = repo.git
    if git is None:
        return []
    gremove = [git_path(repo, p) for p in remove if git.in_index(git_path(repo, p))]
    gadd = [git_path(repo, p) for p in add]
    if not gremove and not gadd:
        return []
    before = {p: git.index_entry(p) for p in [*gremove, *gadd]}
    git.update_index(remove=gremove, add=gadd)
    journal.on_undo(lambda: git.restore_index(before))
    return [*gremove, *gadd]


def clean_in_git(repo: Repo, rel: str) -> bool:
    """True when git tracks workspace path ``rel`` and its work-tree copy equals the staged one."""
    git = repo.git
    return git is not None and git.matches_index(git_path(repo, rel))
