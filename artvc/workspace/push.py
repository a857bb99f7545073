"""``art push``: send the objects a workspace needs (and the runs that made them) to a remote, in packs.

Also ``remote_status``: which artifacts are not yet pushed / not yet fetched (``art status --remote``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ..objstore.objects import Kind
from ..objstore.oid import Oid
from ..objstore.reachability import closure
from ..objstore.types import ObjectKey
from .remote import open_remote, transfer_jobs
from .repo import Repo
from .roots import transfer_roots
from .tracked import select


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a push did: objects/bytes/packs sent, objects the remote already had, and what was missing."""

    remote: str
    url: str
    roots: int
    objects: int = 0
    bytes: int = 0
    packs: int = 0
    present: int = 0
    requests: int = 0
    missing: list[ObjectKey] = field(default_factory=list)
    markers: int = 0

    def as_dict(self) -> dict:
        return {
            "remote": self.remote,
            "url": self.url,
            "roots": self.roots,
            "objects": self.objects,
            "size": self.bytes,
            "packs": self.packs,
            "already_on_remote": self.present,
            "requests": self.requests,
            "missing": [{"oid": str(o), "kind": k.label} for o, k in self.missing],
            "markers": self.markers,
        }


def push(
    repo: Repo,
    targets: Sequence[str] | None = None,
    *,
    remote: str | None = None,
    jobs: int | None = None,
    all_commits: bool = False,
    revs: Iterable[str] | None = None,
    progress: Callable[[int], None] | None = None,
    full: bool = False,
) -> PushResult:
    """Send what the remote lacks for the workspace's artifacts (or ``targets``, or ``revs``, or every commit).

    The whole push holds the remote's shared lock (a remote gc, which takes it exclusively, runs before or
    after, never between "the remote has this" and the end of the push). After the data, the push writes a
    root record naming every root it relied on (``objstore/remote_roots.py``), so a remote gc within the grace
    period keeps those objects even in old packs, before the clone's commits reach git (docs/gc.md). Last,
    the run-key markers of the pushed runs whose outputs are on the remote (``push_runkeys.py``): the remote
    run cache of other clones (``art repro --pull``).

    A root the remote already lists is trusted to be complete there (objects are published children first);
    ``full`` first repairs the remote's structure (indexes whose pack is missing or damaged, see
    ``objstore/remote_repair.py``: what they listed is sent again from the local store), then walks every root
    anyway, reads every index from the remote (not from the local cache) and sends whatever no valid index
    lists. Damaged object content is only found by ``art fsck --remote NAME --read-data --repair``.

    Objects the local store lacks but the remote has are fine (e.g. old commits pushed from elsewhere); those
    missing on both sides are listed in ``PushResult.missing`` and everything else is still sent.

    Raises:
        RemoteNotConfiguredError: unknown remote / no default remote.
        BackendMissingError: the backend for the remote's URL is not installed.
        StoreIOError: the remote failed (a re-run resumes: it sends only what no remote index lists).
        RepoLockedError: a remote gc runs; or this push's lock was broken as stale meanwhile (nothing is
            recorded then; a re-run sends whatever is gone).
    """
    from ..objstore.gc import RemoteLock
    from ..objstore.remote_roots import record_roots
    from ..objstore.transfer import upload_closure
    from .lazy_fetch import refuse_unsent
    from .push_runkeys import publish_markers

    roots = transfer_roots(repo, targets, all_commits=all_commits, revs=revs)
    store = open_remote(repo, remote)
    try:
        if full:  # takes the remote's lock exclusively itself, so before our shared one
            _repair_structure(repo, store, jobs, progress)
        if not roots:
            return PushResult(store.name, store.url, 0)
        with RemoteLock(store, exclusive=False, holder="art push") as lock:
            # under the lock: what the remote lists now stays there until the root record is written
            store.refresh(use_cache=not full)
            refuse_unsent(repo, store, roots)  # promised files (a lazy pull's) go only where they are listed
            # an object a remote index lists has its whole closure there (objstore/transfer.py publishes
            # children first), so the walk does not descend into what the remote lists: a push with nothing
            # to send reads no trees, and a push of one changed file reads only the trees above it
            result, plan = upload_closure(
                repo.store,
                store,
                roots,
                trust_remote=not full,
                jobs=transfer_jobs(repo, jobs),
                staging_dir=str(repo.tmp_dir / "push"),
                progress=progress,
            )
            with plan:
                missing = plan.missing
                lock.check()  # a gc that broke our lock may have removed what we found on the remote
                record_roots(store, roots)
                # last: a marker names a run whose record and outputs are committed (their indexes published)
                markers = publish_markers(repo, store, roots, uploaded=plan, trust_cache=not full)
            if result.objects:
                from .compact import compact_after_push

                compact_after_push(repo, store, lock)
        lost = [k for k in missing if not _remote_has(store, k)]
        return PushResult(
            store.name,
            store.url,
            len(roots),
            result.objects,
            result.bytes,
            result.packs,
            result.present,
            store.requests,
            lost,
            markers,
        )
    finally:
        store.close()


def _repair_structure(repo: Repo, store, jobs: int | None, progress) -> None:
    from ..objstore.remote_repair import repair_remote
    from ..objstore.store.remote_check import check_remote

    found = check_remote(store, read_data=False)
    if found.bad_packs:
        repair_remote(
            repo.store,
            store,
            found,
            jobs=transfer_jobs(repo, jobs),
            staging_dir=str(repo.tmp_dir / "push"),
            progress=progress,
        )


def _remote_has(store, key: ObjectKey) -> bool:
    oid, kind = key
    if kind == Kind.FILE:
        return store.has(oid, Kind.FILE) or store.has(oid, Kind.CHUNK)
    return store.has(oid, kind)


@dataclass(frozen=True, slots=True)
class RemoteArtifact:
    """One artifact compared with a remote: ``state`` is synced, not-pushed, not-fetched or missing."""

    path: str
    state: SyncState
    oid: Oid
    kind: str
    objects_to_push: int = 0

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "state": self.state,
            "oid": str(self.oid),
            "kind": self.kind,
            "objects_to_push": self.objects_to_push,
        }


@dataclass(frozen=True, slots=True)
class RemoteStatusResult:
    remote: str
    url: str
    artifacts: list[RemoteArtifact]

    def count(self, state: str) -> int:
        return sum(1 for a in self.artifacts if a.state == state)


class SyncState(StrEnum):
    """An artifact's objects here and on a remote (``state`` in ``art remote status --json``)."""

    SYNCED = "synced"
    NOT_PUSHED = "not-pushed"
    NOT_FETCHED = "not-fetched"
    MISSING = "missing"


SYNCED, NOT_PUSHED, NOT_FETCHED, MISSING = SyncState


def remote_status(repo: Repo, remote: str | None = None, targets: Sequence[str] | None = None) -> RemoteStatusResult:
    """Compare every tracked artifact's objects with a remote's indexes (one listing; indexes are cached).

    States: ``synced`` (local and remote complete), ``not-pushed`` (local objects the remote lacks),
    ``not-fetched`` (on the remote, not in the local store), ``missing`` (in neither).
    """
    store = open_remote(repo, remote)
    try:
        store.refresh()
        out = []
        for a in select(repo, list(targets) if targets else None):
            path, pointer, root = a.path, a.pointer, a.key
            todo = 0
            if _remote_has(store, root):  # then its whole closure is there
                state = SYNCED if _remote_has(repo.store, root) else NOT_FETCHED
            else:
                lost: list[ObjectKey] = []
                keys = closure(repo.store, [root], missing=lost)
                todo = sum(1 for k in keys if not store.has(*k))
                state = MISSING if lost and not todo else NOT_PUSHED
            out.append(RemoteArtifact(path, state, pointer.oid, pointer.kind, todo))
        return RemoteStatusResult(store.name, store.url, out)
    finally:
        store.close()
