"""``art add``."""

import click

from ._options import common, pass_repo


@click.command("add")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 64),
    help="Worker threads for large files; 1: new folders read in one process.",
)
@common()
@pass_repo
def cli(repo, paths: tuple[str, ...], jobs: int | None) -> None:
    """Store files or directories and write PATH.art pointers for git.

    Only chunks the store does not have yet are written; unchanged files are not even re-read.

    \b
    Examples:
      art add data/train.csv
      art add images/ models/model.pt
    """
    from ._add import run

    run(repo, paths, jobs)
