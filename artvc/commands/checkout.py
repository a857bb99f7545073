"""``art checkout``."""

import click

from ._options import common, pass_repo


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
    from ._checkout import run

    run(repo, paths, force)
