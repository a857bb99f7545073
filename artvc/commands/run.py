"""``art run``."""

import click

from ._executor import executor_options
from ._options import common, flags, pass_repo
from ._render import emit_json, say


@click.command("run")
@click.argument("target")
@click.option(
    "-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="A pipeline parameter (JSON, else a string)."
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Run up to N independent steps at the same time (threads; with --executor dask: steps in flight).",
)
@click.option("--no-cache", is_flag=True, help="Run every step; never reuse the outputs of a past run.")
@executor_options(what="stale steps", pull=False)
@common()
@pass_repo
def cli(
    repo,
    target: str,
    params: tuple[str, ...],
    jobs: int,
    no_cache: bool,
    executor: str | None,
    scheduler: str | None,
    scheduler_file: str | None,
    local_cluster: int | None,
    outputs: str | None,
    remote: str | None,
) -> None:
    """Run a Python pipeline (a function decorated with @pipeline) in this repository.

    TARGET is MODULE:PIPELINE; the module is imported with the workspace root first on sys.path. Each step
    whose code, parameters and inputs match a past run is not run again ("Using cached version of STEP.");
    the others run and their outputs are stored as artifact versions (art artifacts). A failing step is
    recorded with its traceback, the steps after it are skipped, and art exits with status 5.

    \b
    Examples:
      art run pipelines:digits_pipeline
      art run pipelines:digits_pipeline -p gamma=0.01 -j 2
      art run pipelines:digits_pipeline --no-cache --json
      art run pipelines:digits_pipeline --executor dask --local-cluster 2   # steps on 2 Dask workers
    """
    from ..pipeline.flow.engine import LINES
    from ..pipeline.flow.target import load_target, parse_params

    pipe = load_target(repo.root, target)
    values = parse_params(pipe, list(params))
    f = flags()
    loud = not f.get("quiet") and not f.get("json")

    def event(kind: str, name: str, detail: str) -> None:
        if loud:
            click.echo(LINES[kind].format(name=name, detail=detail), err=True)

    dask = {
        "scheduler": scheduler,
        "scheduler_file": scheduler_file,
        "local_cluster": local_cluster,
        "outputs": outputs,
        "remote": remote,
    }
    dask = {k: v for k, v in dask.items() if v is not None}
    kind = executor or repo.config.executor("kind") or "local"
    if kind == "local" and dask:
        flag = "--" + sorted(dask)[0].replace("_", "-")
        raise click.UsageError(f'{flag} needs --executor dask (or [executor] kind = "dask" in .art/config)')
    pipe = pipe.with_options(cache=not no_cache, jobs=jobs, root=repo.root, on_event=event, executor=kind, **dask)
    run = pipe(**values)
    if f.get("json"):
        emit_json(run.as_dict())
        return
    counts = ", ".join(f"{len(getattr(run, s))} {s}" for s in ("executed", "cached") if getattr(run, s))
    say(f"Pipeline {run.name} finished: {counts} in {run.duration:.2f} s (run {str(run.oid)[:10]}).")
