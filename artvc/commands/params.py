"""``art params diff``."""

import click

from ._errors import SuggestingGroup
from ._options import common, flags, pass_repo
from ._render import emit_json, say
from ._values import change_text, label, old_side, sides, table, value_text


@click.group("params", cls=SuggestingGroup)
def cli() -> None:
    """Compare the pipeline's parameters between revisions.

    \b
    Example:
      art params diff              # HEAD against the workspace
      art params diff v1 v2 --all
    """


@cli.command("diff")
@click.argument("revs", nargs=-1)
@click.option("--all", "show_all", is_flag=True, help="Show unchanged params too.")
@common()
@pass_repo
def diff(repo, revs: tuple[str, ...], show_all: bool) -> None:
    """Show the params that differ between two revisions.

    With no revision: HEAD against the workspace. With one: that revision against the workspace. With two:
    the first against the second. The params are every key of params.yaml, params.toml and each params file
    a stage of art.toml names (nested keys as dotted names); only changed ones unless --all.

    \b
    Examples:
      art params diff
      art params diff HEAD~1 --json
    """
    from ..pipeline.metrics import diff_values
    from ..pipeline.params import params_at

    a, b = sides(revs, "params diff")
    rows = diff_values(old_side(repo, a, params_at), params_at(repo, b), include_unchanged=show_all)
    if flags().get("json"):
        emit_json({"old": a, "new": b, "params": [r.as_dict() for r in rows]})
        return
    if not rows:
        say("no params changed" if not show_all else "no params")
        return
    body = [[r.path, r.key, value_text(r.old), value_text(r.new), change_text(r)] for r in rows]
    for line in table(["Path", "Param", label(a), label(b), "Change"], body):
        say(line)
