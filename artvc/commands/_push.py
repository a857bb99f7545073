"""The work of ``art push`` (``push.py`` is its click command): no click here, so ``_fast`` runs a plain push
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
    all_commits: bool = False,
    revs: list[str] | None = None,
    full: bool = False,
) -> None:
    """Push what ``targets`` (every tracked artifact when empty) reference and report it.

    Raises:
        ObjectNotFoundError: when objects to push are neither in the local store nor on the remote (everything
            else was pushed).
    """
    from ..errors import ObjectNotFoundError
    from ..workspace.push import push

    with Progress("pushing", noun="objects") as progress:
        result = push(
            repo,
            absolute(targets) or None,
            remote=remote,
            jobs=jobs,
            all_commits=all_commits,
            revs=revs,
            progress=progress,
            full=full,
        )
    if flags().get("json"):
        emit_json(result.as_dict())
    elif result.objects:
        say(
            f"pushed {count(result.objects, 'object')} ({human(result.bytes)}) in {count(result.packs, 'pack')} "
            f"to {result.remote}"
        )
    else:
        say(f"everything is already on {result.remote}")
    if result.missing:
        oid, kind = result.missing[0]
        raise ObjectNotFoundError(
            oid,
            kind.label,
            hint=f"{count(len(result.missing), 'object')} {'is' if len(result.missing) == 1 else 'are'} neither in "
            f"the local store nor on {result.remote}; everything else was pushed. Run 'art fsck', or 'art add' "
            "the data again",
        )
