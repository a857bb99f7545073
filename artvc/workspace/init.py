"""``art init``: create ``.art/`` in a git work tree (or a plain directory with ``no_git``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ArtError, GitError
from ..objstore.fileio import atomic_write
from .config import HEADER
from .repo import ART_DIR, Repo
from .runs import ensure_indexed

ART_GITIGNORE = "/config.local\n/store\n/state.db*\n/tmp\n/lock\n/cache\n"


@dataclass(frozen=True, slots=True)
class InitResult:
    root: Path
    created: bool
    git: bool


def init(path: str | Path = ".", *, no_git: bool = False, force: bool = False) -> InitResult:
    """Create an art workspace at ``path``.

    Raises:
        GitError: when ``path`` is not inside a git work tree and ``no_git`` is not set.
        ArtError: when a workspace already exists there (unless ``force``).
    """
    from .scm import Git

    root = Path(path).resolve()
    git = Git.discover(root)
    if git is None and not no_git:
        raise GitError(
            f"{root} is not inside a git work tree",
            hint="run 'git init' first, or 'art init --no-git' for a plain directory",
        )
    art = root / ART_DIR
    if (art / "config").exists() and not force:
        raise ArtError(
            f"{root} is already an art repository",
            hint="use --force to repair .art/ (the config and the store are kept)",
        )
    art.mkdir(parents=True, exist_ok=True)
    if not (art / "config").exists():  # --force repairs the rest but never drops remotes or settings
        atomic_write(art / "config", HEADER + "[core]\n")
    atomic_write(art / ".gitignore", ART_GITIGNORE)
    with Repo(root) as repo:
        _ = repo.store, repo.state  # create the store (recording its format) and the stat cache
        # the run index starts complete (a store shared with other workspaces may hold runs already), so
        # readers that never write (art ui) find it current rather than rebuilding it in memory each time
        ensure_indexed(repo)
    return InitResult(root, True, git is not None)
