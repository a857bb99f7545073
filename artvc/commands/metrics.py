"""``art metrics show | diff``."""

import click

from ._errors import SuggestingGroup
from ._options import common, flags, pass_repo
from ._render import emit_json, say
from ._values import change_text, label, old_side, sides, table, value_text


@click.group("metrics", cls=SuggestingGroup)
def cli() -> None:
    """Show and compare the metrics files stages declare (metrics = [...] in art.toml).

    \b
    Examples:
      art metrics show
      art metrics diff             # HEAD against the workspace
      art metrics diff main exp-1 --md
    """


@cli.command("show")
@click.argument("revs", nargs=-1)
@common()
@pass_repo
def show(repo, revs: tuple[str, ...]) -> None:
    """Show the metrics in the workspace, or at each REV given (one column per revision).

    Nested keys are shown as dotted names (train.loss); floats to 6 significant digits (--json has them
    exactly). At a revision, each metrics file is read from the local store through that commit's art.lock.

    \b
    Examples:
      art metrics show
      art metrics show HEAD~1 HEAD --json
    """
    from ..pipeline.metrics import metrics_at

    wanted: list[str | None] = list(revs) or [None]
    found = [metrics_at(repo, rev) for rev in wanted]
    if flags().get("json"):
        git = repo.git
        emit_json(
            {
                "revisions": [
                    {
                        "rev": label(rev),
                        "commit": git.commit_id(rev) if rev is not None and git is not None else None,
                        "metrics": [{"path": p, "key": k, "value": v} for p, d in m.items() for k, v in d.items()],
                    }
                    for rev, m in zip(wanted, found, strict=True)
                ]
            }
        )
        return
    names = sorted({(p, k) for m in found for p, d in m.items() for k in d})
    if not names:
        say("no metrics" + ("" if any(revs) else " (declare them with metrics = [...] in art.toml, run art repro)"))
        return
    body = [[p, k, *(value_text(m.get(p, {}).get(k)) for m in found)] for p, k in names]
    for line in table(["Path", "Metric", *(label(r) for r in wanted)], body):
        say(line)


@cli.command("diff")
@click.argument("revs", nargs=-1)
@click.option("--all", "show_all", is_flag=True, help="Show unchanged metrics too.")
@click.option("--md", "markdown", is_flag=True, help="Print a markdown table (for a pull request).")
@common()
@pass_repo
def diff(repo, revs: tuple[str, ...], show_all: bool, markdown: bool) -> None:
    """Show the metrics that differ between two revisions, with the absolute and relative change.

    With no revision: HEAD against the workspace. With one: that revision against the workspace. With two:
    the first against the second. Only changed metrics unless --all.

    \b
    Examples:
      art metrics diff
      art metrics diff main HEAD --md
    """
    from ..pipeline.metrics import diff_values, metrics_at

    a, b = sides(revs, "metrics diff")
    rows = diff_values(old_side(repo, a, metrics_at), metrics_at(repo, b), include_unchanged=show_all)
    if flags().get("json"):
        emit_json({"old": a, "new": b, "metrics": [r.as_dict() for r in rows]})
        return
    if not rows and not markdown:
        say("no metrics changed" if not show_all else "no metrics")
        return
    body = [[r.path, r.key, value_text(r.old), value_text(r.new), change_text(r)] for r in rows]
    for line in table(["Path", "Metric", label(a), label(b), "Change"], body, markdown=markdown):
        say(line)
