"""``art status``."""

import click

from ._options import common, pass_repo
from ._status import run


@click.command("status")
@click.argument("paths", nargs=-1)
@click.option(
    "--check", is_flag=True, help="Exit 4 when anything is not unchanged or a stage is stale (for scripts and CI)."
)
@click.option(
    "--remote",
    "remote",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[NAME]",
    help="Compare with a remote (default: core.remote): what is not yet pushed / not yet fetched.",
)
@common()
@pass_repo
def cli(repo, paths: tuple[str, ...], check: bool, remote: str | None) -> None:
    """Show whether tracked artifacts match their pointers, and pipeline stages their art.lock.

    States: unchanged, modified, missing, not-in-store, conflict (something art will not replace without
    --force, or a symlink leading outside the workspace: the reason follows); stages: up-to-date, stale.

    \b
    Examples:
      art status
      art status data/ --json
      art status --check || echo "something changed"
      art status --remote            # not yet pushed / not yet fetched, against the default remote
    """
    run(repo, paths, check, remote)
