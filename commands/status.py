"""``art status``."""

import click

from ._options import absolute, common, flags, pass_repo
from ._render import emit_json, say


@click.command("status")
@click.argument("paths", nargs=-1)
@click.option("--check", is_flag=True, help="Exit 4 when anything is not unchanged (for scripts and CI).")
@common()
@pass_repo
def cli(repo, paths: tuple[str, ...], check: bool) -> None:
    """Show whether tracked artifacts match their pointers.

    States: unchanged, modified, missing, not-in-store.

    \b
    Examples:
      art status
      art status data/ --json
      art status --check || echo "something changed"
    """
    from ..objstore.errors import StaleError
    from ..workspace.status import status

    result = status(repo, absolute(paths) or None)
    if flags().get("json"):
        emit_json({"artifacts": [a.as_dict() for a in result.artifacts]})
    else:
        if not result.artifacts:
            say("no tracked artifacts (use 'art add PATH')")
        for a in result.artifacts:
            say(f"{a.state:>13}  {a.path}")
        if result.artifacts and result.clean:
            say("everything is up to date")
    if check and not result.clean:
        changed = [a.path for a in result.artifacts if a.state != "unchanged"]
        raise StaleError(f"{len(changed)} artifact(s) out of date: {', '.join(changed[:5])}",
                         items=changed, hint="run 'art add' for modified data, 'art checkout' for missing data")
