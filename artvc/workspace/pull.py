"""``art pull``: fetch from a remote, then check the workspace out (only what fetched completely)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..objstore.progress import as_progress
from .checkout import CheckoutResult
from .fetch import FetchResult, fetch, raise_for
from .repo import Repo


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
    progress: Callable[[int], None] | None = None,
    checkout_progress: Callable[[int], None] | None = None,
) -> PullResult:
    """Fetch, then check out the artifacts (all, or ``targets``) whose objects are now all local.

    Artifacts that could not be fetched completely are left as they are; the fetch's problems are raised
    after the checkout of the others.

    Raises:
        IntegrityError: objects failed verification (they were not stored and nothing was written from them).
        TransferError: objects are on neither side.
        WouldOverwriteError: local changes that are not added would be lost (use ``force``).
        plus the errors of ``fetch``.
    """
    from .checkout import checkout
    from .status import in_store as complete
    from .status import select

    with repo.lock:
        fetched = fetch(repo, targets, remote=remote, jobs=jobs, progress=progress, check=False)
        paths = list(targets) if targets else None
        as_progress(checkout_progress).phase("checking out", noun="files")  # the same bar may have shown the fetch
        if fetched.problems or fetched.missing:
            paths = [str(repo.abspath(p)) for p, ptr, _ in select(repo, paths) if complete(repo, ptr)]
        done = (
            checkout(repo, paths, force=force, progress=checkout_progress) if paths != [] else CheckoutResult([], [], 0)
        )
    raise_for(fetched)
    return PullResult(fetched, done)
