"""A workspace opened for reading only (``art ui``): nothing under the repository is created, changed or
locked by what reads through it, not even the caches art would normally keep up to date.

- the store is opened ``read_only`` (its index read in place, no registration of the workspace, no rebuild);
- ``state.db`` is a view (``StateDB.view_of``): read in place, or, when the run index in it is missing or
  older than what art records now, copied into memory and the run index rebuilt there from the run records
  in the store, once per ``ReadOnlyRepo``.
"""

from __future__ import annotations

import os

from ..objstore.store.local import LocalStore
from .repo import Repo
from .state import StateDB


class ReadOnlyRepo(Repo):
    """A ``Repo`` whose store and state are read-only; use ``ReadOnlyRepo.find()`` like ``Repo.find()``."""

    @property
    def store(self) -> LocalStore:
        if self._store is None:
            self._store = LocalStore(self.store_dir, read_only=True)
        return self._store

    @property
    def state(self) -> StateDB:
        if self._state is None:
            view = StateDB.view_of(self.art_dir / "state.db", self.root)
            self._state = view
            if not view.runs_indexed():  # a stale index: rebuilt in memory, never on disk
                from .runs import reindex_runs

                reindex_runs(self)
                view.set_runs_indexed()
        return self._state


def open_read_only(start: str | os.PathLike | None = None) -> ReadOnlyRepo:
    """The workspace containing ``start`` (default: the current directory), opened for reading only.

    Raises:
        NotARepoError: when no parent directory has ``.art/``.
    """
    return ReadOnlyRepo(Repo.find(start).root)
