"""``art diff``."""

import click

from ._options import common, flags, pass_repo
from ._render import emit_json, human, say


@click.command("diff")
@click.argument("revs", nargs=-1)
@common()
@pass_repo
def cli(repo, revs: tuple[str, ...]) -> None:
    """Show artifacts added, removed or modified between revisions.

    With no revision: HEAD against the workspace. With one: that revision against the workspace.
    With two: the first against the second.

    \b
    Examples:
      art diff
      art diff HEAD~1
      art diff v1.0 v2.0 --json
    """
    from ..errors import UsageError
    from ..workspace.diff import diff

    if len(revs) > 2:
        raise UsageError("art diff takes at most two revisions", hint="art diff [REV [REV]]")
    changes = diff(repo, revs[0] if revs else None, revs[1] if len(revs) > 1 else None)
    if flags().get("json"):
        emit_json({"changes": [c.as_dict() for c in changes]})
        return
    if not changes:
        say("no changes")
    for c in changes:
        sizes = {
            "added": human(c.new_size),
            "removed": human(c.old_size),
            "modified": f"{human(c.old_size)} -> {human(c.new_size)}",
        }[c.change]
        say(f"{c.change:>9}  {c.path}  ({sizes})")
        for f in c.files or []:
            say(f"           {f['change']:>9}  {c.path}/{f['path']}")
