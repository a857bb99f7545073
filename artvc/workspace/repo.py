"""Repo: one art workspace on disk (its root, ``.art/``, config, store, stat cache, lock and git)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import LocalStoreError, NotARepoError
from ..objstore.faults import fault_point
from ..objstore.store.local import LocalStore
from .config import Config
from .lock import RepoLock, StoreLock
from .lockfile import lock_outputs, read_lock
from .pointers import SUFFIX, read_pointer
from .state import StateDB
from .tracked import TrackedArtifact

if TYPE_CHECKING:
    from .fsmonitor import Changes

ART_DIR = ".art"
PRUNE = frozenset({".git", ART_DIR, "node_modules", "__pycache__", ".venv", ".tox", ".mypy_cache"})


class Repo:
    """An art workspace. Use ``Repo.find()``; close it (or use ``with``) to release files.

    Args:
        root: the directory that holds ``.art/``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.art_dir = self.root / ART_DIR
        # the store lock is taken shared with the repository lock; gc takes it exclusively (lock.py)
        self.store_lock = StoreLock(lambda: self.store_dir / "lock")
        self.lock = RepoLock(self.art_dir / "lock", store_lock=self.store_lock)
        self.lock.on_acquire.append(self._sweep)
        self.config = Config(self.art_dir, lock=self.lock)
        self._store: LocalStore | None = None
        self._state: StateDB | None = None
        self._git = False  # not looked up yet; then a scm.Git or None
        self.monitor: Changes | None = None  # the file-system monitor's answer in a status session (fsmonitor.py)
        self.monitoring = False  # a status session runs (it holds the lock)

    @classmethod
    def find(cls, start: str | os.PathLike | None = None) -> Repo:
        """Find the workspace containing ``start`` (default: the current directory).

        Raises:
            NotARepoError: when no parent directory has ``.art/``.
        """
        here = Path(start or Path.cwd()).resolve()
        for d in (here, *here.parents):
            if (d / ART_DIR / "config").is_file():
                return cls(d)
        raise NotARepoError(
            f"not an art repository (or any parent up to /): {here}",
            hint="run 'art init' at the top of your git repository",
        )

    # -- parts, opened on first use --------------------------------------------------------------------

    @property
    def store_dir(self) -> Path:
        """The store's directory: ``core.store`` from ``.art/config.local`` (relative to the root), or
        ``.art/store``."""
        configured = self.config.core("store")
        return (self.root / configured) if configured else self.art_dir / "store"

    @property
    def direct_writes(self) -> bool:
        """Whether large files are written around the page cache: ``core.direct_writes``, which
        ``ART_DIRECT_WRITES`` overrides (``fileio.direct_writes``)."""
        from ..objstore.fileio import direct_writes

        return direct_writes(bool(self.config.core("direct_writes")))

    @property
    def store(self) -> LocalStore:
        """The local store, opened on first use; the workspace registers itself in it (store_users.py)."""
        if self._store is None:
            from . import store_users

            core = self.config.core
            store = LocalStore(
                self.store_dir,
                fsync=bool(core("fsync")),
                notice=_notice,
                delta=bool(core("delta")),
                delta_depth=int(core("delta_depth")),
                direct=self.direct_writes,
            )
            if not store.read_only and not store_users.is_registered(store.root, self.root):
                try:
                    with self.store_lock:
                        store_users.register(store.root, self.root)
                except OSError as exc:
                    store.close()
                    raise LocalStoreError(
                        f"cannot register this workspace in the store {store.root}: {exc.strerror or exc}",
                        hint="the store must be writable by everyone who uses it",
                    ) from exc
                except BaseException:
                    store.close()
                    raise
            self._store = store
        return self._store

    def _sweep(self) -> None:
        """Settle what killed commands left behind (``workspace/cleanup.py``); runs when the lock is taken."""
        from ..objstore.tmpowner import set_journal
        from .cleanup import sweep_leftovers

        sweep_leftovers(self.root, self.art_dir, self.store_dir)
        tmp = self.art_dir / "tmp"
        set_journal(tmp if tmp.is_dir() or _mkdir(tmp) else None)

    @property
    def state(self) -> StateDB:
        """``.art/state.db`` (the stat cache and the run index), opened on first use."""
        if self._state is None:
            self._state = StateDB(self.art_dir / "state.db", self.root, fsync=bool(self.config.core("fsync")))
            self._state.locked = self.lock.held
        return self._state

    @property
    def git(self):
        """The git work tree around the workspace (a ``scm.Git``), or None; pygit2 loads on first use."""
        if self._git is False:
            from .scm import Git

            self._git = Git.discover(self.root)
        return self._git

    @property
    def git_prefix(self) -> str:
        """The workspace root relative to the git work tree ("" when they coincide)."""
        git = self.git
        if git is None:
            return ""
        rel = self.root.relative_to(git.workdir).as_posix()
        return "" if rel == "." else rel

    @property
    def tmp_dir(self) -> Path:
        d = self.art_dir / "tmp"
        d.mkdir(exist_ok=True)
        return d

    def abspath(self, path: str) -> Path:
        return self.root / path

    # -- what is tracked -------------------------------------------------------------------------------

    def pointer_files(self) -> Iterator[str]:
        """Yield the repo-relative path of every ``*.art`` pointer in the workspace, sorted.

        A folder's listing is streamed: only its subfolders and its pointer files are kept, so a folder of a
        million data files costs no memory per file (it was a tuple and a set entry each, ~190 bytes a file).
        """
        found: list[str] = []
        stack = [(str(self.root), "")]
        while stack:  # iterative (os.walk recurses): any depth the file system allows
            folder, base = stack.pop()
            dirs: list[tuple[str, bool]] = []
            pointers: set[str] = set()
            try:
                with os.scandir(folder) as it:
                    for e in it:
                        name = e.name
                        if _is_dir(e):
                            dirs.append((name, e.is_symlink()))
                        elif name.endswith(SUFFIX) and len(name) > len(SUFFIX):
                            pointers.add(name)
            except OSError:
                continue  # unreadable folders are skipped, as os.walk does
            for name, is_link in dirs:
                if not is_link and name not in PRUNE and f"{name}{SUFFIX}" not in pointers:
                    stack.append((os.path.join(folder, name), f"{base}{name}/"))
            found.extend(base + name for name in pointers)
        fault_point("workspace.pointers-walked")  # tests count the walks a command makes (ART_FAULT_LOG)
        return iter(sorted(found))

    def artifacts(self) -> list[TrackedArtifact]:
        """Every tracked artifact: pointer files (one walk of the workspace), then art.lock outputs.

        ``source`` is the pointer file's path or ``art.lock:STAGE``. Select from it with ``tracked.select``
        and hand the selection on, rather than calling this again in the same command.
        """
        out = []
        for pf in self.pointer_files():
            out.append(TrackedArtifact(pf[: -len(SUFFIX)], read_pointer(self.root / pf, where=pf), pf))
        for path, pointer, stage in lock_outputs(read_lock(self.root)):
            out.append(TrackedArtifact(path, pointer, f"art.lock:{stage}"))
        return out

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Repo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _notice(message: str) -> None:
    """One line on stderr for something art repaired on its own (e.g. a rebuilt store index)."""
    from ..objstore.oserrors import notice

    notice(message)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _mkdir(path: Path) -> bool:
    try:
        path.mkdir()
        return True
    except OSError:
        return False
