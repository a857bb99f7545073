"""``art remote compact``: fold a remote's per-pack indexes into a checkpoint (remote index v2), so clients
find objects with a few ranged reads instead of loading every index (objstore/remote_compact.py)."""

from __future__ import annotations

from ..objstore.remote_compact import CompactResult
from .remote import open_remote
from .repo import Repo


def compact_remote(repo: Repo, remote: str | None = None, *, rebuild: bool = False) -> CompactResult:
    """Compact ``remote`` (default: the default remote) under its shared lock; ``rebuild`` writes the
    checkpoint again from every per-pack index (after a damaged checkpoint).

    Raises:
        RemoteNotConfiguredError: unknown remote / no default.
        RepoLockedError: a remote gc holds the remote.
        StoreIOError: the remote fails.
        FormatError: an existing checkpoint table is damaged (``rebuild`` repairs it).
    """
    from ..objstore.gc import RemoteLock
    from ..objstore.remote_compact import compact

    store = open_remote(repo, remote)
    try:
        with RemoteLock(store, exclusive=False, holder="art remote compact") as lock:
            return compact(store, rebuild=rebuild, staging=str(repo.tmp_dir / "compact"), check=lock.check)
    finally:
        store.close()


def compact_after_push(repo: Repo, store, lock) -> CompactResult | None:
    """The opportunistic compaction of a push that sent something (objstore/remote_compact.should_compact);
    a failure only skips it (the push has landed; the next one tries again)."""
    from ..errors import ArtError
    from ..objstore.remote_compact import compact, should_compact

    if repo.config.core("compact") is False or not should_compact(store):
        return None
    try:
        return compact(store, staging=str(repo.tmp_dir / "compact"), check=lock.check)
    except ArtError:
        return None
