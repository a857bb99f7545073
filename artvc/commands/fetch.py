"""``art fetch``."""

import click

from ._options import absolute, common, flags, pass_repo
from ._render import Progress, count, emit_json, human, say


@click.command("fetch")
@click.argument("targets", nargs=-1)
@click.option("-r", "--remote", help="Remote name (default: core.remote).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), help="Concurrent downloads.")
@click.option("--all-commits", is_flag=True, help="Fetch what every commit of every branch and tag references.")
@common()
@pass_repo
def cli(repo, targets: tuple[str, ...], remote: str | None, jobs: int | None, all_commits: bool) -> None:
    """Download missing objects into the local store (the workspace is not touched).

    Only the needed parts of remote packs are read, and every object is verified against its id before it
    is stored.

    \b
    Examples:
      art fetch
      art fetch models/ -r backup
    """
    from ..workspace.fetch import fetch

    with Progress("fetching", noun="objects") as progress:
        result = fetch(
            repo, absolute(targets) or None, remote=remote, jobs=jobs, all_commits=all_commits, progress=progress
        )
    if flags().get("json"):
        emit_json(result.as_dict())
    elif result.objects:
        say(f"fetched {count(result.objects, 'object')} ({human(result.bytes)}) from {result.remote}")
    else:
        say("everything is already in the local store")
