"""``art repack``: rewrite the local store's packs with deltas (``objstore/repack.py``), under the store lock."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import UsageError
from ..objstore.repack import MAX_DEPTH, RepackResult, repack
from .repo import Repo


def repack_store(
    repo: Repo, *, level: int | None = None, depth: int | None = None, progress: Callable[[int], None] | None = None
) -> RepackResult:
    """Repack the local store: every chunk's encoding chosen afresh, newest first (deltas unless ``core.delta`` is
    false, chains of at most ``depth``, default ``core.delta_depth`` capped at ``MAX_DEPTH``) and, with
    ``level``, full chunks recompressed at that zstd level.

    Raises:
        UsageError: for a level outside 1-19 or a depth outside 1-MAX_DEPTH.
        RepoLockedError: when another art command holds the repository or the store.
        CorruptObjectError: when a stored object is damaged (nothing is removed then).
    """
    if level is not None and not 1 <= level <= 19:
        raise UsageError(f"--level must be between 1 and 19, not {level}")
    if depth is not None and not 1 <= depth <= MAX_DEPTH:
        raise UsageError(f"--depth must be between 1 and {MAX_DEPTH}, not {depth}")
    deltas = bool(repo.config.core("delta"))
    depth = depth if depth is not None else int(repo.config.core("delta_depth"))
    # the store lock, exclusive: no art command in any workspace sharing the store runs meanwhile
    with repo.lock, repo.store_lock.exclusive():
        store = repo.store
        store.reindex()
        return repack(store, deltas=deltas, depth=depth, level=level, progress=progress)
