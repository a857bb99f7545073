"""``art repro``: plan, then bring stale stages up to date — from the run cache when possible, else by running
them (independent stages in parallel, ``executor.py``) — recording outputs, a run object and the ``art.lock``
entry per stage.

A failed stage leaves its previous outputs and lock entry as they were: its outputs are moved aside into
``.art/tmp`` (``stash.py``) before it runs and moved back if it fails (docs/pipelines.md). Options, outcomes
and the last-outcome cache are in ``outcome.py``; bookkeeping and locking are described in ``executor.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from ..objstore.oid import is_oid
from ..objstore.progress import ProgressLike, as_progress
from ..workspace.lockfile import read_lock
from ..workspace.repo import Repo
from .dag import Graph
from .errors import SpecError, StageFailedError
from .executor import Executor
from .outcome import Event, ReproOptions, ReproResult, StageOutcome, save_last
from .plan import plan
from .spec import Pipeline, load, pointer_overlaps
from .staleness import Context, evaluate


def load_pipeline(repo: Repo) -> tuple[Pipeline, Graph]:
    """Load ``art.toml`` and its graph.

    Raises:
        SpecError: when there is no ``art.toml`` or it is invalid (CycleError, MissingDependencyError too).
    """
    pipeline = load(repo.root)
    if pipeline is None:
        raise SpecError(f"no art.toml in {repo.root}", hint="add a stage: art stage add NAME -d DEP -o OUT -- CMD")
    return pipeline, Graph(pipeline.stages)


def repro(
    repo: Repo,
    options: ReproOptions = ReproOptions(),
    *,
    on_event: Event | None = None,
    on_output: Callable[[str, str, bool], None] | None = None,
    progress: ProgressLike = None,
    warn: Callable[[str], None] | None = None,
) -> ReproResult:
    """Bring the pipeline (or ``options.targets``) up to date; ``progress`` learns the planned stage count.

    With ``options.pull`` a local run-cache miss looks at the remote's run-key markers (``options.remote``,
    else the default remote) and adopts a run found there; a remote that cannot be used becomes one
    ``warn`` message (default: a line on stderr) and the repro goes on with the local run cache.

    Raises:
        SpecError: for an invalid ``art.toml`` or params file; UnknownStageError for an unknown target.
        StageFailedError: when a stage fails (``.result`` holds the outcomes); exit code 5.
    """
    pipeline, graph = load_pipeline(repo)
    backend = remote = None
    if not options.dry_run:
        from .executors.choose import open_executor

        git = repo.git
        facts = {"commit": git.head_commit(), "dirty": git.is_dirty(), "branch": git.head_branch()} if git else {}
        backend, remote = open_executor(repo, pipeline, options.executor, facts, default_remote=options.remote)
        _settle_leftovers(repo)
    try:
        return _repro(repo, options, pipeline, graph, backend, remote, on_event, on_output, progress, warn)
    finally:
        if backend is not None:
            backend.close()
        if remote is not None:
            remote.close()


def _repro(repo: Repo, options: ReproOptions, pipeline, graph, backend, remote, on_event, on_output, progress, warn):
    ctx = Context(repo)
    lock = read_lock(repo.root)
    states = evaluate(ctx, pipeline, graph, lock)
    items = plan(
        graph, states, targets=pipeline.resolve(options.targets), downstream=options.downstream, force=options.force
    )
    if options.dry_run:
        repo.state.flush()
        return ReproResult(items, [], True)
    outcomes: list[StageOutcome] = []
    remote_stats: dict | None = None
    started, t0 = time.time(), time.monotonic()
    if items:
        pointer_overlaps(pipeline, repo.root, [i.name for i in items])
        as_progress(progress).total(files=len(items))
        # a distributed executor asks the remote's markers itself (and may leave outputs there: --outputs lazy)
        remote_cache = _remote_cache(repo, options, warn) if remote is None else None
        executor = Executor(
            repo,
            pipeline,
            graph,
            lock,
            ctx,
            options,
            on_event or (lambda *a: None),
            on_output,
            backend=backend,
            remote=remote,
            remote_cache=remote_cache,
        )
        try:
            outcomes = executor.execute(items)
        finally:
            repo.state.flush()
            if remote_cache is not None:
                remote_cache.close()
                remote_stats = remote_cache.stats()
    else:
        repo.state.flush()
    result = ReproResult(items, outcomes, remote_cache=remote_stats)
    save_last(repo, graph, states, outcomes)
    _record_pipeline_run(repo, graph, outcomes, started, time.monotonic() - t0)
    if result.failed:
        first = result.failed[0]
        err = StageFailedError(
            first.name,
            first.returncode if first.returncode is not None else 1,
            stderr_tail=list(first.stderr_tail),
            failed=[o.name for o in result.failed],
            missing=list(first.missing),
        )
        err.result = result
        raise err
    return result


def _remote_cache(repo: Repo, options: ReproOptions, warn: Callable[[str], None] | None):
    if not (options.pull and options.run_cache):
        return None
    from ..workspace.remote_runcache import RemoteRunCache

    return RemoteRunCache(repo, options.remote, warn or _stderr_warning)


def _stderr_warning(text: str) -> None:
    import sys

    print(f"art: warning: {text}", file=sys.stderr)


def _settle_leftovers(repo: Repo) -> None:
    """Put back what a killed repro had stashed before planning (taking the lock settles it), so stages are
    judged on the outputs the user had; skipped, not waited for, when another command holds the lock."""
    from ..errors import FileSystemError, RepoLockedError

    try:
        repo.lock.acquire(wait=0)
    except (RepoLockedError, FileSystemError):
        return
    repo.lock.release()


def _record_pipeline_run(repo: Repo, graph: Graph, outcomes: list[StageOutcome], started: float, took: float) -> None:
    """Write this repro's pipeline-run record (pipeline ``art.toml``; every stage in order: executed, cached
    (restored, or up to date: the run art.lock names), failed, or skipped), so ``art runs`` lists it."""
    from .flow.records import EXPERIMENT_ENV, record_repro

    done = {o.name: o for o in outcomes}
    lock = read_lock(repo.root)
    stages: list[tuple[str, str | None, str]] = []
    for name in graph.order:
        o = done.get(name)
        if o is not None:
            run = o.run or lock.get(name, {}).get("run") if o.status != "failed" else None
            stages.append((name, run if is_oid(run) else None, o.status))
        else:
            run = lock.get(name, {}).get("run")
            stages.append((name, run, "up-to-date") if is_oid(run) else (name, None, "not-run"))
    after = {name: sorted(graph.upstream.get(name, ())) for name in graph.order}
    experiment = os.environ.get(EXPERIMENT_ENV) or None
    # a failed stage writes no run record: its pipeline-run entry keeps its exit status and output tails
    failed = {
        o.name: {"exit_status": o.returncode, "stdout_tail": list(o.stdout_tail), "stderr_tail": list(o.stderr_tail)}
        for o in outcomes
        if o.status == "failed"
    }
    record_repro(repo, stages, started=started, duration=took, after=after, experiment=experiment, failed=failed)
