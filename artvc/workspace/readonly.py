"""A workspace opened for reading only (``art ui``): nothing under the repository is created, changed or
locked by what reads through it, not even the caches art would normally keep up to date.

- the store is opened ``read_only`` (its index read in place, no registration of the workspace, no rebuild);
- ``state.db`` is a view (``StateDB.view_of``): read in place, or, when the run index in it is missing or
  older than what art records now, copied into memory and the run index rebuilt there from the run records
  in the store. The rebuilt database is kept in this process (serialized) while ``state.db`` and the store's
  index stay as they were, so a server opening a ``ReadOnlyRepo`` per request rebuilds it once.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

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
            db_path = self.art_dir / "state.db"
            key = (str(self.art_dir), _fingerprint(db_path, self.store_dir / "index.db"))
            with _REBUILT_LOCK:
                kept = _REBUILT.get(key[0])
            if kept is not None and kept[0] == key[1]:  # rebuilt before, nothing written since
                self._state = StateDB.view_of(db_path, self.root, image=kept[1])
                return self._state
            view = StateDB.view_of(db_path, self.root)
            self._state = view
            if not view.runs_indexed():  # a stale index: rebuilt in memory, never on disk
                from .runs import reindex_runs

                reindex_runs(self)
                view.set_runs_indexed()
                image = bytearray(view.db.serialize())
                image[18:20] = b"\x01\x01"  # a rollback-journal image: a WAL one would look for its -wal
                with _REBUILT_LOCK:
                    _REBUILT[key[0]] = (key[1], bytes(image))
        return self._state


_REBUILT: dict[str, tuple[tuple, bytes]] = {}  # .art folder -> (fingerprint, the rebuilt state.db)
_REBUILT_LOCK = threading.Lock()


def _fingerprint(*paths: Path) -> tuple:
    """(size, mtime) of each database and its write-ahead log: any write changes one of them."""
    out: list[tuple[int, int] | None] = []
    for p in paths:
        for f in (p, p.with_name(p.name + "-wal")):
            try:
                st = f.stat()
                out.append((st.st_size, st.st_mtime_ns))
            except OSError:
                out.append(None)
    return tuple(out)


def open_read_only(start: str | os.PathLike | None = None) -> ReadOnlyRepo:
    """The workspace containing ``start`` (default: the current directory), opened for reading only.

    Raises:
        NotARepoError: when no parent directory has ``.art/``.
    """
    return ReadOnlyRepo(Repo.find(start).root)
