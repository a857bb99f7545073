"""The work of ``art pull`` (``pull.py`` is its click command): no click here, so ``_fast`` runs a plain pull
without loading click."""

from __future__ import annotations

from ._context import absolute, flags
from ._render import Progress, count, emit_json, human, say


def run(
    repo,
    targets: tuple[str, ...],
    *,
    remote: str | None = None,
    jobs: int | None = None,
    force: bool = False,
    all_runs: bool = False,
    lazy: bool | None = None,
) -> None:
    """Fetch what ``targets`` (every tracked artifact when empty) need, check them out and report it.

    ``lazy`` None: the ``core.lazy_pull`` setting decides (false when unset)."""
    if lazy is None:
        lazy = bool(repo.config.core("lazy_pull"))
    if lazy:
        from ..workspace.lazy_pull import lazy_pull as pull
    else:  # lazy_pull's module (remote pack ranges, mmap, its dataclass) is for a lazy pull only
        from ..workspace.pull import pull

    writer = None
    if not lazy:  # forked before the progress bar's thread starts (``workspace/forked_writes.Writer``)
        from ..workspace.pull_writer import fork_writer

        writer = fork_writer(repo)
    try:
        with Progress("fetching", noun="objects") as progress:
            result = pull(
                repo,
                absolute(targets) or None,
                remote=remote,
                jobs=jobs,
                force=force,
                all_runs=all_runs,
                progress=progress,
                checkout_progress=progress,
                **({"writer": writer} if writer is not None else {}),
            )
    finally:
        if writer is not None:
            writer.close()
    if flags().get("json"):
        emit_json(result.as_dict())
        return
    f = result.fetch
    if flags().get("verbose") and result.beside:
        say(f"the checkout beside the fetch stopped ({result.beside}); checked out after the fetch", err=True)
    if f.objects:
        say(f"fetched {count(f.objects, 'object')} ({human(f.bytes)}) from {f.remote}")
    for path in result.checkout.restored:
        say(f"restored: {path}")
    if not f.objects and not result.checkout.restored:
        say("everything is up to date")
