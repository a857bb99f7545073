"""``art runs`` and ``art runs show ID``."""

import click

from ._errors import SuggestingGroup
from ._options import common, flags, pass_repo
from ._render import emit_json, say


@click.group("runs", cls=SuggestingGroup, invoke_without_command=True)
@click.option("-n", "--limit", type=click.IntRange(1), default=20, show_default=True, help="Show the newest N runs.")
@click.option("--pipeline", "name", metavar="P", help="Only runs of pipeline P (art.toml for art repro).")
@click.option("--stage", metavar="S", help="Only runs with a step or stage named S.")
@click.option("--branch", metavar="B", help="Only runs made on git branch B.")
@common()
@click.pass_context
def cli(ctx: click.Context, limit: int, name: str | None, stage: str | None, branch: str | None) -> None:
    """List recent runs, newest first: Python pipelines (art run, or called from Python), art repro (pipeline
    art.toml), the repro of each art exp run, and art add; with the git commit and branch, who ran it, how
    many steps ran, were cached or failed, and how long.

    \b
    Examples:
      art runs
      art runs -n 5 --pipeline digits_pipeline --json
      art runs --stage train --branch main
      art runs show 3fa9c1d2
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(_list, limit=limit, name=name, stage=stage, branch=branch)


@pass_repo
def _list(repo, limit: int, name: str | None, stage: str | None, branch: str | None) -> None:
    from ..pipeline.flow.history import recent_runs

    runs = recent_runs(repo, limit, name, stage=stage, branch=branch)
    if flags().get("json"):
        emit_json({"pipeline_runs": runs})
        return
    if not runs:
        say("No runs yet: run a pipeline with 'art run MODULE:PIPELINE' or 'art repro'.")
        return
    say(
        f"{'RUN':<10}  {'KIND':<8}  {'PIPELINE':<24}  {'STARTED':<20}  {'COMMIT':<10}  {'BRANCH':<12}  "
        f"{'EXEC':>4} {'CACHED':>6} {'FAILED':>6}  TIME"
    )
    for r in runs:
        commit = (r["commit"] or "-")[:10] + ("*" if r["dirty"] else "")
        label = r.get("experiment") or r["pipeline"]
        say(
            f"{r['oid'][:10]:<10}  {r['kind']:<8}  {label[:24]:<24}  {str(r['started'])[:19]:<20}  {commit:<10}  "
            f"{(r['branch'] or '-')[:12]:<12}  {r['executed']:>4} {r['cached']:>6} {r['failed']:>6}  "
            f"{r['duration']:.2f} s"
        )


@cli.command("show")
@click.argument("run_id", metavar="ID")
@common()
@pass_repo
def show(repo, run_id: str) -> None:
    """Show run ID (or the first 4 or more hex digits of it): a pipeline run's steps, their states and the
    edges between them, and per step its code hash, params, inputs, outputs, environment and the tail of its
    output; or a single stage, step or add run.

    \b
    Examples:
      art runs show 3fa9c1d2
      art runs show 3fa9c1d2 --json
    """
    from ..ui.data import run_data

    data = run_data(repo, run_id)
    if flags().get("json"):
        emit_json(data)
        return
    run = data["run"]
    commit = (run["commit"] or "-")[:10] + ("*" if run["dirty"] else "")
    say(f"run {run['oid']}  {run['kind']}  {run.get('experiment') or run['pipeline']}")
    say(
        f"    started {run['started']}, {run['duration']:.2f} s, git {commit} on {run['branch'] or '-'}, "
        f"by {run['user'] or '?'}"
    )
    ups: dict[str, list[str]] = {}
    for a, b in data["dag"]["edges"]:
        ups.setdefault(b, []).append(a)
    for node in data["dag"]["nodes"]:
        step = data["steps"].get(node["name"], {})
        after = f"  after {', '.join(ups[node['name']])}" if node["name"] in ups else ""
        took = f"  {step['duration']:.2f} s" if isinstance(step.get("duration"), int | float) else ""
        say(f"  {node['name']:<20} {node['state']:<10} {str(node['run_oid'] or '-')[:10]}{took}{after}")
        for line in step.get("stderr_tail") or []:
            say(f"      ! {line}")
