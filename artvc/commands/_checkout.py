"""The work of ``art checkout`` (``checkout.py`` is its click command): no click here, so ``_fast`` runs a plain
checkout without loading click."""

from __future__ import annotations

from ._context import absolute, flags
from ._render import Progress, emit_json, say


def run(repo, paths: tuple[str, ...], force: bool) -> None:
    """Restore ``paths`` (every tracked artifact when empty) and report what was restored."""
    from ..workspace.checkout import checkout

    with Progress("checking out") as progress:
        result = checkout(repo, absolute(paths) or None, force=force, progress=progress)
    if flags().get("json"):
        emit_json({"restored": result.restored, "unchanged": result.unchanged, "files_written": result.files_written})
        return
    for p in result.restored:
        say(f"restored: {p}")
    say(f"{len(result.restored)} restored, {len(result.unchanged)} already up to date")
