"""``art repro``."""

import shlex
import threading

import click

from ..objstore.progress import Progress
from ._executor import executor_choice, executor_options
from ._options import common, flags, pass_repo
from ._render import emit_json, say, warn

_LINES = {
    "waiting": "Waiting for stage {name}: {detail}",
    "start": "Running stage {name}: {detail}",
    "ran": "Ran stage {name} ({detail})",
    "cached": "Using cached version of {name}",
    "up-to-date": "Stage {name} is up to date ({detail})",
    "failed": "Stage {name} failed: {detail}",
    "not-run": "Not running stage {name}: {detail}",
}


@click.command("repro")
@click.argument("stages", nargs=-1)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 1024),
    default=1,
    show_default=True,
    help="Run up to N independent stages at the same time (with --executor dask: stages in flight).",
)
@click.option(
    "-f",
    "--force",
    is_flag=True,
    help="Run the named stages (all without names) even if up to date; skips the run cache for them.",
)
@click.option("--downstream", is_flag=True, help="With STAGE names: also the stages after them, not before.")
@click.option("-k", "--keep-going", is_flag=True, help="After a failure, go on with stages that do not need it.")
@click.option("--no-run-cache", is_flag=True, help="Always run stale stages; never restore outputs of past runs.")
@click.option("-n", "--dry-run", is_flag=True, help="Print the plan with reasons; run nothing.")
@click.option(
    "--pull",
    is_flag=True,
    help="On a run-cache miss, look for the run on a remote (one listing per stage) and restore it from there.",
)
@executor_options
@common()
@pass_repo
def cli(
    repo,
    stages: tuple[str, ...],
    jobs: int,
    force: bool,
    downstream: bool,
    keep_going: bool,
    no_run_cache: bool,
    dry_run: bool,
    pull: bool,
    executor: str | None,
    scheduler: str | None,
    scheduler_file: str | None,
    local_cluster: int | None,
    outputs: str | None,
    remote: str | None,
) -> None:
    """Bring the pipeline in art.toml up to date: run the stale stages only.

    A stage is stale when its command or code, a dependency, a listed param, or an output changed since
    art.lock was written, or when a stage before it is stale. Before running a stale stage, art looks for a
    past run with the same inputs and restores its outputs instead ("Using cached version of ..."). Each
    stage's outputs are stored, a run record is written, and art.lock is updated. A failing stage keeps its
    previous outputs and lock entry; art exits with status 5.

    \b
    Examples:
      art repro                 # everything that is stale
      art repro train           # train and the stale stages it needs
      art repro -n              # show the plan and the reasons, run nothing
      art repro -j 4 -k         # 4 stages at a time, continue past failures
      art repro --pull          # also reuse runs pushed from other clones
      art repro --executor dask --local-cluster 4 -j 16   # on 4 local Dask workers
      art repro --executor dask --scheduler tcp://10.0.0.5:8786 -r origin
    """
    from ..pipeline.errors import StageFailedError
    from ..pipeline.outcome import ReproOptions
    from ..pipeline.repro import repro

    f = flags()
    loud = not f.get("quiet") and not f.get("json")
    counter = _Counter()
    options = ReproOptions(
        targets=stages,
        jobs=jobs,
        force=force,
        downstream=downstream,
        keep_going=keep_going,
        run_cache=not no_run_cache,
        dry_run=dry_run,
        pull=pull,
        remote=remote,
        executor=executor_choice(executor, scheduler, scheduler_file, local_cluster, outputs, remote),
    )
    if remote and not pull and (executor or repo.config.executor("kind")) != "dask":
        from ..errors import UsageError

        raise UsageError("-r/--remote needs --pull or --executor dask", hint="art repro --pull -r REMOTE")
    try:
        result = repro(
            repo,
            options,
            on_event=counter.event if loud else None,
            on_output=_printer(jobs > 1) if loud else None,
            progress=counter,
            warn=warn,
        )
    except StageFailedError as exc:
        if not loud and not f.get("json") and exc.stderr_tail:
            click.echo(f"last lines of {exc.stage}'s stderr:", err=True)
            for line in exc.stderr_tail:
                click.echo(f"  {line}", err=True)
        raise
    if f.get("json"):
        emit_json(
            {
                "dry_run": result.dry_run,
                "plan": [i.as_dict() for i in result.plan],
                "stages": [o.as_dict() for o in result.outcomes],
                **({"remote_cache": result.remote_cache} if result.remote_cache is not None else {}),
            }
        )
        return
    if dry_run:
        if not result.plan:
            say("Nothing to do: every stage is up to date.")
        for item in result.plan:
            say(f"would {'force' if item.forced else 'bring up to date'}: {item.name}")
            for reason in item.reasons:
                say(f"    {reason}")
        return
    _summary(repo, result)


class _Counter(Progress):
    """Numbers the stages as they start (or settle without running): ``[2/5] Running stage train: ...``.

    The library tells the planned count through ``total(files=N)``; with one stage there is no number.
    """

    def __init__(self) -> None:
        self.planned = 0
        self.numbers: dict[str, int] = {}

    def total(self, *, bytes: int = 0, files: int = 0) -> None:
        self.planned += files

    def event(self, event: str, name: str, detail: str) -> None:
        line = _LINES[event].format(name=name, detail=detail or "?")
        if self.planned > 1 and event != "waiting":
            n = self.numbers.setdefault(name, len(self.numbers) + 1)
            line = f"[{n}/{self.planned}] {line}"
        say(line)


def _printer(prefixed: bool):
    lock = threading.Lock()

    def output(name: str, line: str, is_err: bool) -> None:
        with lock:
            click.echo(f"[{name}] {line}" if prefixed else line, err=is_err)

    return output


def _summary(repo, result) -> None:
    if not result.plan:
        say("Pipeline is up to date: nothing to reproduce.")
        return
    parts = [
        f"{result.count(s)} {label}"
        for s, label in (("ran", "ran"), ("cached", "restored from the run cache"), ("up-to-date", "up to date"))
        if result.count(s)
    ]
    say(f"Done: {', '.join(parts)}.")
    say(f"To record this state in git: git add {' '.join(_to_commit(repo, result))}")


def _to_commit(repo, result) -> list[str]:
    """The files a repro changed that git should record: art.lock, art.toml, and the .gitignore beside each
    output of a stage that ran or was restored (repro adds the output there)."""
    from ..pipeline.repro import load_pipeline

    stages = load_pipeline(repo)[0].stages
    done = [o.name for o in result.outcomes if o.status in ("ran", "cached") and o.name in stages]
    ignores = {f"{out.rpartition('/')[0]}/.gitignore".lstrip("/") for name in done for out in stages[name].outs}
    return [shlex.quote(p) for p in ["art.lock", "art.toml", *sorted(ignores, key=lambda p: (p.count("/"), p))]]
