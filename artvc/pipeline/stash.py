"""Outputs moved aside while a stage runs (``art repro``), so a failed stage leaves the previous ones."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..workspace.cleanup import STASH_INDEX
from ..workspace.paths import ensure_inside
from ..workspace.repo import Repo


class Stash:
    """Existing outputs moved aside while a stage runs: put back if it fails, deleted if it succeeds.

    The folder is ``.art/tmp/stash-<pid>x<start>-*`` (``objstore/tmpowner``) with a ``paths.json`` naming
    the output each entry came from, so when art is killed while the stage runs the next command that takes
    the lock can settle it (``workspace.cleanup``): an output the workspace no longer has is put back, one
    the killed run already replaced is kept and the stashed copy discarded.
    """

    def __init__(self, repo: Repo, paths: tuple[str, ...]) -> None:
        self.repo, self.paths = repo, paths
        self.dir: Path | None = None
        self.moved: list[tuple[Path, Path]] = []

    def stash(self) -> None:
        from ..objstore.tmpowner import token

        for path in self.paths:  # all checked before any is moved: never move data from outside
            ensure_inside(self.repo.root, self.repo.abspath(path))
        for i, path in enumerate(self.paths):
            full = self.repo.abspath(path)
            if os.path.lexists(full):
                if self.dir is None:
                    self.dir = Path(tempfile.mkdtemp(prefix=f"stash-{token()}-", dir=self.repo.tmp_dir))
                    (self.dir / STASH_INDEX).write_text(json.dumps(dict(enumerate(self.paths))))
                aside = self.dir / str(i)
                shutil.move(full, aside)
                self.moved.append((full, aside))
            full.parent.mkdir(parents=True, exist_ok=True)

    def restore(self) -> None:
        for path in self.paths:
            _remove(self.repo.abspath(path))
        for full, aside in self.moved:
            shutil.move(aside, full)
        self.discard()

    def discard(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def _remove(full: Path) -> None:
    if full.is_dir() and not full.is_symlink():
        shutil.rmtree(full)
    elif os.path.lexists(full):
        full.unlink()
