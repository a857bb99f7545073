"""``art ls``."""

import click

from ._options import common, flags, pass_repo
from ._render import emit_json, human, say


@click.command("ls")
@click.option("--rev", help="A git revision (branch, tag, commit); default: the workspace.")
@common()
@pass_repo
def cli(repo, rev: str | None) -> None:
    """List tracked artifacts (from pointer files and art.lock).

    \b
    Examples:
      art ls
      art ls --rev v1.0 --json
    """
    from ..workspace.ls import ls

    items = ls(repo, rev=rev)
    if flags().get("json"):
        emit_json({"artifacts": [i.as_dict() for i in items]})
        return
    for i in items:
        p = i.pointer
        say(f"{p.oid[:10]}  {p.kind:4}  {human(p.size):>10}  {p.files:>7}  {i.path}")
