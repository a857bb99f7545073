"""``art runs``."""

import click

from ._options import common, flags, pass_repo
from ._render import emit_json, say


@click.command("runs")
@click.option("-n", "--limit", type=click.IntRange(1), default=20, show_default=True, help="Show the newest N runs.")
@click.option("--pipeline", "name", metavar="P", help="Only runs of pipeline P (art.toml for art repro).")
@common()
@pass_repo
def cli(repo, limit: int, name: str | None) -> None:
    """List recent pipeline runs, newest first: Python pipelines (art run, or called from Python) and art
    repro (pipeline art.toml), with the git commit, how many steps ran, were cached or failed, and how long.

    \b
    Examples:
      art runs
      art runs -n 5 --pipeline digits_pipeline --json
    """
    from ..pipeline.flow.history import recent_runs

    runs = recent_runs(repo, limit, name)
    if flags().get("json"):
        emit_json({"pipeline_runs": runs})
        return
    if not runs:
        say("No pipeline runs yet: run one with 'art run MODULE:PIPELINE' or 'art repro'.")
        return
    say(
        f"{'RUN':<10}  {'PIPELINE':<24}  {'STARTED':<20}  {'COMMIT':<10}  {'EXEC':>4} {'CACHED':>6} {'FAILED':>6}  TIME"
    )
    for r in runs:
        commit = (r["commit"] or "-")[:10] + ("*" if r["dirty"] else "")
        say(
            f"{r['oid'][:10]:<10}  {r['pipeline'][:24]:<24}  {r['started'][:19]:<20}  {commit:<10}  "
            f"{r['executed']:>4} {r['cached']:>6} {r['failed']:>6}  {r['duration']:.2f} s"
        )
