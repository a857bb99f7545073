"""``art checkout``."""

import click

from ._options import absolute, common, flags, pass_repo
from ._render import Progress, emit_json, say


@click.command("checkout")
@click.argument("paths", nargs=-1)
@click.option(
    "-f",
    "--force",
    is_flag=True,
    help="Also replace modified artifacts and what is in a conflicting path (never a symlink that "
    "leads outside the workspace).",
)
@common()
@pass_repo
def cli(repo, paths: tuple[str, ...], force: bool) -> None:
    """Restore tracked artifacts from the store to match their pointers.

    Each file is written to a temporary file, verified against its blake3 id, then renamed into place.

    \b
    Examples:
      art checkout
      art checkout data/train.csv --force
    """
    from ..workspace.checkout import checkout

    with Progress("checking out") as progress:
        result = checkout(repo, absolute(paths) or None, force=force, progress=progress)
    if flags().get("json"):
        emit_json({"restored": result.restored, "unchanged": result.unchanged, "files_written": result.files_written})
        return
    for p in result.restored:
        say(f"restored: {p}")
    say(f"{len(result.restored)} restored, {len(result.unchanged)} already up to date")
