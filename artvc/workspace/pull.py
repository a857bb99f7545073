"""``art pull``: fetch from a remote, then check the workspace out (only what fetched completely)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..objstore.progress import ProgressLike, as_progress
from .checkout import CheckoutResult, checkout
from .fetch import FetchResult, fetch, raise_for
from .repo import Repo
from .tracked import ObjectKey, incomplete, incomplete_keys, select


@dataclass(frozen=True, slots=True)
class PullResult:
    fetch: FetchResult
    checkout: CheckoutResult

    def as_dict(self) -> dict:
        return {
            **self.fetch.as_dict(),
            "restored": self.checkout.restored,
            "unchanged": self.checkout.unchanged,
            "files_written": self.checkout.files_written,
        }


def pull(
    repo: Repo,
    targets: Sequence[str] | None = None,
    *,
    remote: str | None = None,
    jobs: int | None = None,
    force: bool = False,
    progress: ProgressLike = None,
    checkout_progress: ProgressLike = None,
) -> PullResult:
    """Fetch, then check out the artifacts (all, or ``targets``) whose objects are now all local.

    The workspace is walked for pointer files once: the fetch and the checkout share one selection. Artifacts
    that could not be fetched completely (``tracked.incomplete``) are left as they are; the fetch's problems
    are raised after the checkout of the others.

    Raises:
        IntegrityError: objects failed verification (they were not stored and nothing was written from them).
        TransferError: objects are on neither side.
        WouldOverwriteError: local changes that are not added would be lost (use ``force``).
        plus the errors of ``fetch``.
    """
    with repo.lock:
        paths = list(targets) if targets else None
        arts = select(repo, paths)
        below: list[ObjectKey] = []  # what stored artifacts lack (a lost pack, a quarantined object): fetch it too
        incomplete_keys(repo.store, {a.key for a in arts}, lacking=below)
        fetched = fetch(
            repo, paths, remote=remote, jobs=jobs, progress=progress, check=False, artifacts=arts, lacking=below
        )
        as_progress(checkout_progress).phase("checking out", noun="files")  # the same bar may have shown the fetch
        if fetched.problems or fetched.missing:  # else everything asked for (and what is below it) arrived
            lacking = incomplete(repo.store, [a.pointer for a in arts])
            arts = [a for a in arts if a.pointer.oid not in lacking]
        done = (
            checkout(repo, paths, force=force, progress=checkout_progress, artifacts=arts)
            if arts
            else CheckoutResult([], [], 0)
        )
    raise_for(fetched)
    return PullResult(fetched, done)
