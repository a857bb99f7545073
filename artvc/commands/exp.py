"""``art exp``: run, show, diff, apply, branch and remove experiments."""

import csv
import io
import threading

import click

from ._errors import SuggestingGroup
from ._executor import executor_choice, executor_options
from ._options import common, flags, pass_repo
from ._render import emit_json, say


@click.group("exp", cls=SuggestingGroup)
def cli() -> None:
    """Run the pipeline with changed params without touching the workspace, and compare the results.

    Each experiment runs in a temporary git worktree that shares the store and is recorded as a git ref
    (refs/exps/NAME): its params, metrics, art.lock and run ids. 'git push origin "refs/exps/*"' shares the
    refs, 'art push --exps' their data.

    \b
    Examples:
      art exp run -S train.C=0.1,1,10          # three experiments
      art exp run -S train.C=1 -S train.gamma=0.01,0.1 --queue
      art exp run --run-all -j 2
      art exp show --sort-by accuracy --only-changed
      art exp apply exp-3fa9c1
    """


@cli.command("run")
@click.option(
    "-S",
    "--set-param",
    "sets",
    multiple=True,
    metavar="[FILE:]KEY=VALUE[,VALUE...]",
    help="Set a param a stage uses; comma-separated values and several -S make a grid (repeatable).",
)
@click.option("-n", "--name", help="The experiment's name (with a grid: NAME-1, NAME-2, ...); default: exp-XXXXXX.")
@click.option("--queue", is_flag=True, help="Only queue the experiments; run them later with --run-all.")
@click.option("--run-all", is_flag=True, help="Run every queued experiment.")
@click.option(
    "-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Experiments run at the same time."
)
@executor_options
@common()
@pass_repo
def run(
    repo,
    sets: tuple[str, ...],
    name: str | None,
    queue: bool,
    run_all: bool,
    jobs: int,
    executor: str | None,
    scheduler: str | None,
    scheduler_file: str | None,
    local_cluster: int | None,
    outputs: str | None,
    remote: str | None,
) -> None:
    """Run the pipeline with changed params in a temporary worktree and record it as an experiment.

    The workspace is not written. Stages whose inputs did not change are restored from the store or the
    run cache, so a repeated point runs nothing. A failed experiment is recorded as failed; art exits with
    status 5.
    """
    from ..pipeline.exp_run import ExperimentFailedError, ExpRunOptions, exp_run

    options = ExpRunOptions(
        sets=sets,
        name=name,
        queue=queue,
        run_all=run_all,
        jobs=jobs,
        executor=executor_choice(executor, scheduler, scheduler_file, local_cluster, outputs, remote),
    )
    lock = threading.Lock()
    f = flags()
    loud = not f.get("quiet") and not f.get("json")  # read here: the events come from worker threads

    def event(kind: str, exp: str, detail: str) -> None:
        line = {
            "start": f"Running experiment {exp}" + (f": {detail}" if detail else ""),
            "done": f"Experiment {exp} done: {detail}",
            "failed": f"Experiment {exp} failed: {detail}",
            "skipped": f"Skipping experiment {exp}: {detail}",
        }[kind]
        if loud:
            with lock:
                click.echo(line)

    try:
        result = exp_run(repo, options, on_event=event)
    except ExperimentFailedError as exc:
        if flags().get("json"):
            _emit_run(exc.result)
            exc.reported = True  # the JSON result above lists the failed experiments with their messages
        elif not f.get("quiet"):
            for failed in exc.result.failed:
                if failed.log:
                    click.echo(f"last lines of experiment {failed.name}'s failed stage (stderr):", err=True)
                    for line in failed.log:
                        click.echo(f"  {line}", err=True)
        raise
    if flags().get("json"):
        _emit_run(result)
        return
    if queue:
        for exp in result.queued:
            say(f"Queued experiment {exp.name}: {_overrides(exp)}")
        say("Run them with: art exp run --run-all")
    elif not result.finished:
        say("No queued experiment to run.")


def _overrides(exp) -> str:
    return ", ".join(f"{k}={v}" for k, v in exp.overrides.items()) or "no params changed"


def _emit_run(result) -> None:
    emit_json(
        {
            "queued": [e.as_dict() for e in result.queued if e.name not in {f.name for f in result.finished}],
            "experiments": [e.as_dict() for e in result.finished],
        }
    )


@cli.command("show")
@click.option("--sort-by", metavar="KEY", help="Sort the experiments by a param or metric ([FILE:]KEY).")
@click.option("--sort-order", type=click.Choice(["asc", "desc"]), default="asc", show_default=True)
@click.option("--only-changed", is_flag=True, help="Only the columns whose value is not the same in every row.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the table as CSV.")
@common()
@pass_repo
def show(repo, sort_by: str | None, sort_order: str, only_changed: bool, as_csv: bool) -> None:
    """A table of the baseline (HEAD) and every experiment: state, params and metrics."""
    from ..pipeline.exp_show import exp_show

    table = exp_show(repo, sort_by=sort_by, descending=sort_order == "desc", only_changed=only_changed)
    if flags().get("json"):
        emit_json(
            {
                "experiments": [r.as_dict() for r in table.rows],
                "param_columns": table.param_columns,
                "metric_columns": table.metric_columns,
            }
        )
        return
    header = ["experiment", "state", *table.param_columns, *table.metric_columns]
    rows = [
        [
            r.name,
            r.state or "",
            *[_cell(r.params.get(c)) for c in table.param_columns],
            *[_cell(r.metrics.get(c)) for c in table.metric_columns],
        ]
        for r in table.rows
    ]
    if as_csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
        return
    names = [_short(h) for h in header]
    widths = [max(len(x) for x in col) for col in zip(names, *rows, strict=True)]
    for line in [names, *rows]:
        say("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _short(column: str) -> str:
    """A column's header: the key without its file (the file is in --json and --csv)."""
    return column.split(":", 1)[1] if ":" in column else column


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@cli.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--all", "all_rows", is_flag=True, help="Also the params and metrics that did not change.")
@common()
@pass_repo
def diff(repo, a: str, b: str, all_rows: bool) -> None:
    """Compare the params and metrics of experiments A and B ('baseline' is HEAD)."""
    from ..pipeline.exp_show import exp_diff

    result = exp_diff(repo, a, b, all_rows=all_rows)
    if flags().get("json"):
        emit_json(
            {
                "old": a,
                "new": b,
                "params": [r.as_dict() for r in result.params],
                "metrics": [r.as_dict() for r in result.metrics],
            }
        )
        return
    rows = [("param", r) for r in result.params] + [("metric", r) for r in result.metrics]
    if not rows:
        say(f"no param or metric differs between {a} and {b}")
        return
    names = [f"{r.path}:{r.key}" for _, r in rows]
    width = max(len(n) for n in names)
    for (section, r), name in zip(rows, names, strict=True):
        change = f"  ({r.change:+.6g})" if r.change is not None else ""
        say(f"{section:<6}  {name.ljust(width)}  {_cell(r.old)} -> {_cell(r.new)}{change}")


@cli.command("apply")
@click.argument("name")
@click.option("-f", "--force", is_flag=True, help="Overwrite uncommitted changes to the files it writes.")
@common()
@pass_repo
def apply(repo, name: str, force: bool) -> None:
    """Write experiment NAME's params, art.lock and outputs into the workspace."""
    from ..pipeline.exp_apply import exp_apply

    result = exp_apply(repo, name, force=force)
    if flags().get("json"):
        emit_json({"name": result.name, "changed": result.files, "restored": result.restored})
        return
    say(f"Applied experiment {name}: {', '.join(result.files) or 'no file changed'}")
    if result.restored:
        say(f"restored {', '.join(result.restored)}")
    say(f"To keep it: git add {' '.join(result.files)} && git commit")


@cli.command("branch")
@click.argument("name")
@click.argument("branch")
@common()
@pass_repo
def branch(repo, name: str, branch: str) -> None:
    """Create git branch BRANCH at experiment NAME's commit."""
    from ..pipeline.exp_apply import exp_branch

    commit = exp_branch(repo, name, branch)
    if flags().get("json"):
        emit_json({"name": name, "branch": branch, "commit": commit})
        return
    say(f"Created branch {branch} at experiment {name} ({commit[:10]})")


@cli.command("remove")
@click.argument("names", nargs=-1)
@click.option("--all", "all_exps", is_flag=True, help="Remove every experiment, queued ones too.")
@click.option("--queue", "queued", is_flag=True, help="Remove the queued experiments.")
@common()
@pass_repo
def remove(repo, names: tuple[str, ...], all_exps: bool, queued: bool) -> None:
    """Remove experiments (their refs; 'art gc' then frees what only they used)."""
    from ..pipeline.exp_apply import exp_remove

    removed = exp_remove(repo, list(names), all_exps=all_exps, queued=queued)
    if flags().get("json"):
        emit_json({"removed": removed})
        return
    say(f"Removed {', '.join(removed)}" if removed else "No experiment to remove.")
