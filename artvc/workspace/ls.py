"""``art ls``: the tracked artifacts, in the workspace or at a git revision (read through pygit2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import GitError
from .lockfile import LOCK_NAME, lock_outputs, parse_lock_text
from .paths import check_relpath
from .pointers import SUFFIX, Pointer, parse_pointer
from .repo import Repo

if TYPE_CHECKING:
    from .scm import Git


@dataclass(frozen=True, slots=True)
class Listed:
    path: str
    pointer: Pointer
    source: str

    def as_dict(self) -> dict:
        return {"path": self.path, "source": self.source, **self.pointer.as_dict()}


def artifacts_at(repo: Repo, rev: str | None) -> dict[str, Listed]:
    """Return the artifacts tracked in the workspace (``rev`` None) or in git commit ``rev``, by path.

    Raises:
        GitError: when there is no git repository or ``rev`` names no commit.
    """
    if rev is None:
        return {p: Listed(p, ptr, src) for p, ptr, src in repo.artifacts()}
    git = repo.git
    if git is None:
        raise GitError("this art repository is not in a git work tree", hint="revisions need git")
    return listed_in(git, rev, repo.git_prefix)


def listed_in(git: Git, rev: str, prefix: str) -> dict[str, Listed]:
    """The artifacts that pointer files and art.lock track in git revision ``rev``, below ``prefix``, by path."""
    out: dict[str, Listed] = {}
    for path, data in git.files_at(rev, prefix, (SUFFIX, LOCK_NAME)):
        if path.endswith(SUFFIX):
            rel = check_relpath(path[: -len(SUFFIX)], where=f"{rev}:{path}")
            out[rel] = Listed(rel, parse_pointer(data, where=f"{rev}:{path}"), path)
        elif path == LOCK_NAME:
            for p, ptr, stage in lock_outputs(parse_lock_text(data)):
                out[p] = Listed(p, ptr, f"art.lock:{stage}")
    return dict(sorted(out.items()))


def ls(repo: Repo, *, rev: str | None = None) -> list[Listed]:
    """List tracked artifacts, sorted by path."""
    return list(artifacts_at(repo, rev).values())
