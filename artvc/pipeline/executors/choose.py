"""Pick the executor of a repro from its options and the ``[executor]`` section of ``.art/config``."""

from __future__ import annotations

from collections.abc import Callable

from ...errors import UsageError
from ...workspace.repo import Repo
from ..outcome import ExecutorOptions
from ..spec import Pipeline
from .base import Executor


def kind_of(repo: Repo, options: ExecutorOptions) -> str:
    return options.kind or str(repo.config.executor("kind"))


def open_executor(
    repo: Repo,
    pipeline: Pipeline,
    options: ExecutorOptions,
    git: dict,
    *,
    notice: Callable[[str], None] | None = None,
    default_remote: str | None = None,
):
    """(backend, remote stages) of a distributed executor, or (None, None) for the local one.

    Raises:
        UsageError: dask options with the local executor, or two ways to reach a scheduler.
        NoGitError: without git (exit 1). RemoteNotConfiguredError: no remote for the workers.
        ExecutorSetupError: ``distributed`` is not installed.
    """
    kind = kind_of(repo, options)
    if kind != "dask":
        if options.given:
            raise UsageError(
                "--scheduler, --scheduler-file, --local-cluster and --outputs need --executor dask",
                hint="art repro --executor dask --local-cluster 2",
            )
        return None, None
    from .client import RemoteStages
    from .codeship import NoGitError
    from .dask_backend import DaskExecutor

    if repo.git is None:
        raise NoGitError(
            "--executor dask needs a git repository",
            hint="workers get the files git would commit; run 'git init' (or use --executor local)",
        )
    cfg = repo.config.executor
    ways = [x for x in (options.scheduler, options.scheduler_file, options.local_cluster) if x is not None]
    if len(ways) > 1:
        raise UsageError("give one of --scheduler, --scheduler-file and --local-cluster")
    if ways:
        scheduler, scheduler_file, local = options.scheduler, options.scheduler_file, options.local_cluster
    else:
        scheduler = cfg("scheduler") or None
        scheduler_file = None if scheduler else (cfg("scheduler_file") or None)
        local = None if scheduler or scheduler_file else (int(cfg("local_cluster")) or None)
    if scheduler is None and scheduler_file is None and local is None:
        raise UsageError(
            "--executor dask needs a scheduler: --scheduler, --scheduler-file or --local-cluster",
            hint="or set it once: art config executor.scheduler tcp://HOST:8786",
        )
    outputs = options.outputs or str(cfg("outputs"))
    remote = RemoteStages(repo, pipeline, remote=options.remote or default_remote, outputs=outputs, git=git)
    backend: Executor = DaskExecutor(
        scheduler=scheduler,
        scheduler_file=scheduler_file,
        local_cluster=local,
        retries=int(cfg("retries")),
        wait_notice=float(cfg("wait_notice")),
        notice=notice,
    )
    return backend, remote
