"""``art exp run``: queue experiments (a grid of ``-S`` values) as commits under ``refs/exps-queue/``, then run
each in its own temporary git worktree that shares the store, and record it under ``refs/exps/``.

Why a worktree: the user's workspace is never written (not its params, not its outputs, not ``art.lock``), so
an experiment cannot lose anything there, even when it is killed. The worktree lives in
``.art/tmp/exps/NAME`` (inside the workspace), is checked out at the queued commit (HEAD's tracked files with
the workspace's uncommitted changes to them and the experiment's params), gets ``core.store`` pointing at the
workspace's store and a copy of its run index, and ``art repro`` runs there in a child process: stages whose
inputs are unchanged are checked out or restored from the run cache, so repeated points execute nothing. The
worktree, its registration in the store and git's record of it are removed whatever happens.

A queued experiment is claimed by an exclusive ``flock`` on ``.art/tmp/exps/NAME.lock`` (released by the
kernel if art dies), so several ``art exp run --run-all`` never run one experiment twice, and one that a killed
run left queued is picked up by the next.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ArtError, UsageError
from ..objstore.faults import fault_point
from ..objstore.fileio import atomic_write
from ..workspace import store_users
from ..workspace.lockfile import LOCK_NAME, read_lock
from ..workspace.repo import Repo
from ..workspace.scm import Git
from .errors import PipelineError
from .exp_metrics import values_at
from .exp_params import grid, resolve, with_values
from .exps import EXPS, QUEUE, Experiment, ExpState, check_name, encode, git_of, now, queue, taken
from .outcome import ExecutorOptions, last_outcome
from .repro import load_pipeline

Event = Callable[[str, str, str], None]  # (event: "start" | "done" | "failed" | "skipped", name, detail)


@dataclass(frozen=True, slots=True)
class ExpRunOptions:
    """What ``art exp run`` was asked: ``sets`` (the ``-S`` texts), a ``name``, ``queue`` only, or
    ``run_all`` queued experiments, ``jobs`` at a time."""

    sets: tuple[str, ...] = ()
    name: str | None = None
    queue: bool = False
    run_all: bool = False
    jobs: int = 1
    executor: ExecutorOptions = ExecutorOptions()  # where each experiment's stages run (--executor dask ...)


@dataclass(frozen=True, slots=True)
class ExpRunResult:
    queued: list[Experiment] = field(default_factory=list)
    finished: list[Experiment] = field(default_factory=list)

    @property
    def failed(self) -> list[Experiment]:
        return [e for e in self.finished if e.state == ExpState.FAILED]


class ExperimentFailedError(PipelineError):
    """At least one experiment failed (it is recorded with state ``failed``); exit code 5."""

    exit_code = 5

    def __init__(self, result: ExpRunResult) -> None:
        first = result.failed[0]
        more = len(result.failed) - 1
        super().__init__(
            f"experiment {first.name} failed: {first.message}" + (f" (and {more} more)" if more else ""),
            hint="see 'art exp show'; the failed experiments are recorded with state failed",
        )
        self.result = result


def exp_run(repo: Repo, options: ExpRunOptions, *, on_event: Event | None = None) -> ExpRunResult:
    """Queue the experiments ``options`` describes and (unless ``options.queue``) run them.

    Raises:
        UsageError: for a bad ``-S`` (a key no stage uses, ...), a name already taken, or ``--run-all`` with
            ``-S`` or ``--name``.
        GitError: outside a git repository or before the first commit.
        ExperimentFailedError: when an experiment failed (the others are recorded); exit code 5.
    """
    event = on_event or (lambda *a: None)
    if options.run_all:
        if options.sets or options.name or options.queue:
            raise UsageError("--run-all runs the queued experiments", hint="queue with -S ... --queue first")
        names = [e.name for e in queue(repo)]
        with _Executor(repo, options.executor) as args:
            result = ExpRunResult([], run_queued(repo, names, jobs=options.jobs, on_event=event, repro_args=args))
    else:
        queued = enqueue(repo, list(options.sets), name=options.name)
        if options.queue:
            return ExpRunResult(queued, [])
        with _Executor(repo, options.executor) as args:
            names = [e.name for e in queued]
            result = ExpRunResult(queued, run_queued(repo, names, jobs=options.jobs, on_event=event, repro_args=args))
    if result.failed:
        raise ExperimentFailedError(result)
    return result


def enqueue(repo: Repo, sets: list[str], *, name: str | None = None) -> list[Experiment]:
    """Queue one experiment per point of the ``-S`` grid: a commit under ``refs/exps-queue/NAME``.

    Raises:
        UsageError: for a bad ``-S`` or an experiment name already taken.
    """
    git = git_of(repo)
    pipeline, _ = load_pipeline(repo)
    points = grid(resolve(pipeline, sets, repo.root)) if sets else [{}]
    baseline = git.head_commit()
    assert baseline is not None  # git_of checked
    changes = git.tracked_changes()
    edits = [_edits(repo, changes, point) for point in points]  # every file first: a bad value queues nothing
    stamp = now()
    with repo.lock:
        names = _names(repo, name, len(points))
        queued: list[Experiment] = []
        try:
            for i, (exp_name, point, files) in enumerate(zip(names, points, edits, strict=True)):
                exp = Experiment(exp_name, "", baseline, ExpState.QUEUED, overrides=point, created=stamp, position=i)
                commit = git.make_commit(baseline, files, encode(exp), [baseline])
                git.set_ref(QUEUE + exp_name, commit)
                queued.append(replace(exp, commit=commit))
        except BaseException:
            for exp in queued:
                git.delete_ref(QUEUE + exp.name)
            raise
    return queued


def _edits(repo: Repo, changes: dict[str, bytes | None], point: dict[str, Any]) -> dict[str, bytes | None]:
    """The files of one queued experiment (paths relative to the git work tree): the workspace's changes to
    tracked files, and each params file with the point's values.

    Raises:
        ParamsError: when a params file is missing or does not parse. UsageError: for a value TOML cannot hold.
    """
    from .errors import ParamsError

    prefix = f"{repo.git_prefix}/" if repo.git_prefix else ""
    files: dict[str, dict[str, Any]] = {}
    for label, value in point.items():
        file, _, key = label.partition(":")
        files.setdefault(file, {})[key] = value
    edits = dict(changes)
    for file, values in files.items():
        raw = edits.get(prefix + file)
        if raw is None:
            try:
                raw = repo.abspath(file).read_bytes()
            except OSError as exc:
                raise ParamsError(f"params file {file} cannot be read: {exc.strerror or exc}", file=file) from exc
        edits[prefix + file] = with_values(file, raw, values)
    return edits


def _names(repo: Repo, name: str | None, n: int) -> list[str]:
    used = taken(repo)
    if name is not None:
        check_name(name)
        names = [name] if n == 1 else [f"{name}-{i}" for i in range(1, n + 1)]
        clash = [x for x in names if x in used]
        if clash:
            raise UsageError(
                f"experiment {clash[0]} exists", hint=f"choose another --name, or: art exp remove {clash[0]}"
            )
        return names
    out: list[str] = []
    while len(out) < n:
        candidate = f"exp-{os.urandom(3).hex()}"
        if candidate not in used and candidate not in out:
            out.append(candidate)
    return out


@dataclass
class _Context:
    root: Path
    prefix: str
    store_root: Path
    exps_dir: Path
    on_event: Event
    repro_args: list[str] = field(default_factory=list)
    git_lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)  # Ctrl-C: start no further experiment


class _Executor:
    """The ``art repro`` options that send each experiment's stages to the executor chosen (none: local).
    ``--local-cluster N`` starts one cluster here, shared by every experiment (closed at the end)."""

    def __init__(self, repo: Repo, options: ExecutorOptions) -> None:
        self.repo, self.options = repo, options
        self.backend: Any = None

    def __enter__(self) -> list[str]:
        o = self.options
        if (o.kind or self.repo.config.executor("kind")) != "dask":
            if o.given:
                raise UsageError("--scheduler, --scheduler-file, --local-cluster and --outputs need --executor dask")
            return []
        args = ["--executor", "dask"]
        if o.local_cluster is not None:
            from .executors.dask_backend import DaskExecutor

            self.backend = DaskExecutor(local_cluster=o.local_cluster)
            self.backend.connect()
            args += ["--scheduler", str(self.backend.cluster.scheduler_address)]
        elif o.scheduler is not None:
            args += ["--scheduler", o.scheduler]
        elif o.scheduler_file is not None:
            args += ["--scheduler-file", str(Path(o.scheduler_file).resolve())]
        if o.outputs is not None:
            args += ["--outputs", o.outputs]
        if o.remote is not None:
            args += ["-r", o.remote]
        return args

    def __exit__(self, *exc: object) -> None:
        if self.backend is not None:
            self.backend.close()


def run_queued(
    repo: Repo, names: list[str], *, jobs: int = 1, on_event: Event | None = None, repro_args: list[str] | None = None
) -> list[Experiment]:
    """Run the queued experiments ``names``, ``jobs`` at a time, each in its own temporary worktree; return
    the recorded experiments (done or failed). One that another process claimed is skipped. ``repro_args``:
    more options of each experiment's ``art repro`` (where its stages run)."""
    git_of(repo)
    exps_dir = repo.tmp_dir / "exps"
    exps_dir.mkdir(exist_ok=True)
    ctx = _Context(
        repo.root, repo.git_prefix, repo.store.root, exps_dir, on_event or (lambda *a: None), list(repro_args or [])
    )
    queued = {e.name: e for e in queue(repo)}
    sweep_worktrees(repo)
    todo = [queued[n] for n in names if n in queued]
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        results = list(pool.map(lambda e: _run_one(ctx, e), todo))
    except BaseException:
        ctx.stop.set()  # the running ones see their repro interrupted too and stay queued
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return [r for r in results if r is not None]


def sweep_worktrees(repo: Repo) -> list[str]:
    """Remove the worktrees in ``.art/tmp/exps`` that no running ``art exp run`` holds and whose experiment is
    no longer queued (a killed run's, whose experiment was removed since); return their names."""
    exps_dir = repo.art_dir / "tmp" / "exps"
    if not exps_dir.is_dir():
        return []
    git = git_of(repo)
    queued = set(git.refs_under(QUEUE))
    removed = []
    for name in sorted(os.listdir(exps_dir)):
        wt = exps_dir / name
        if name.endswith(".lock") or QUEUE + name in queued or not wt.is_dir():
            continue
        claim = _claim(exps_dir / f"{name}.lock")
        if claim is None:
            continue  # being run right now
        try:
            git.worktree_remove(wt)
            store_users.unregister(repo.store.root, wt / repo.git_prefix if repo.git_prefix else wt)
            removed.append(name)
        finally:
            _release(claim, exps_dir / f"{name}.lock")
    return removed


def _run_one(ctx: _Context, exp: Experiment) -> Experiment | None:
    if ctx.stop.is_set():
        return None
    claim = _claim(ctx.exps_dir / f"{exp.name}.lock")
    if claim is None:
        ctx.on_event("skipped", exp.name, "another 'art exp run' is running it")
        return None
    wt = ctx.exps_dir / exp.name
    git = Git.discover(ctx.root)
    assert git is not None
    ws_root = wt / ctx.prefix if ctx.prefix else wt
    try:
        if git.refs_under(QUEUE).get(QUEUE + exp.name) != exp.commit:
            return None  # run (or removed) meanwhile
        if EXPS + exp.name in git.refs_under(EXPS):  # recorded by a run killed before it dequeued
            git.delete_ref(QUEUE + exp.name)
            return None
        with ctx.git_lock:
            git.worktree_remove(wt)  # a killed run's leftover
            git.worktree_add(wt, exp.commit)
        fault_point("exp.worktree-added")
        ctx.on_event("start", exp.name, ", ".join(f"{k}={v}" for k, v in exp.overrides.items()))
        try:
            _prepare(ctx, ws_root)
            proc = _repro(ws_root, exp.name, ctx.repro_args)
            if proc.returncode in (130, -signal.SIGINT) or ctx.stop.is_set():
                return None  # interrupted: it stays queued for the next --run-all
            state, message, log = _state_of(proc)
        except ArtError as exc:
            state, message, log = ExpState.FAILED, str(exc), []
        done = _record(ctx, exp, wt, ws_root, state, message, log)
        ctx.on_event(str(done.state), exp.name, message or _summary(done))
        return done
    finally:
        with ctx.git_lock:
            git.worktree_remove(wt)
        store_users.unregister(ctx.store_root, ws_root)
        _release(claim, ctx.exps_dir / f"{exp.name}.lock")


def _summary(exp: Experiment) -> str:
    counts = {s: list(exp.stages.values()).count(s) for s in ("ran", "cached", "up-to-date")}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to run"


def _claim(path: Path) -> int | None:
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _release(fd: int, path: Path) -> None:
    path.unlink(missing_ok=True)  # while still held: a later claimer finds the queue ref gone and stops
    os.close(fd)


def _prepare(ctx: _Context, ws_root: Path) -> None:
    """Make the worktree a workspace of the shared store, with the run index, and check its artifacts out."""
    from ..workspace.checkout import checkout

    art = ws_root / ".art"
    art.mkdir(parents=True, exist_ok=True)
    for name in ("config", ".gitignore"):  # when .art was never committed
        if not (art / name).is_file() and (ctx.root / ".art" / name).is_file():
            atomic_write(art / name, (ctx.root / ".art" / name).read_bytes())
    atomic_write(art / "config.local", f"[core]\nstore = {json.dumps(str(ctx.store_root))}\n")
    with Repo(ctx.root) as main:
        index = main.state.run_index()
    with Repo(ws_root) as ws:
        ws.state.merge_run_index(index)
        checkout(ws, leave=True)


def _repro(ws_root: Path, name: str, args: list[str]) -> subprocess.CompletedProcess:
    """``art repro`` in the worktree (with ``args``: the executor's options), in a child process of its own (its
    output captured); its pipeline-run record names the experiment."""
    from .flow.records import EXPERIMENT_ENV

    return subprocess.run(
        [sys.executable, "-m", "artvc", "-q", "repro", *args],  # -q: stage output captured, its stderr tail on failure
        cwd=ws_root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, EXPERIMENT_ENV: name},
    )


def _state_of(proc: subprocess.CompletedProcess) -> tuple[ExpState, str, list[str]]:
    """(state, error message, last lines of the failed stage's stderr) from the child ``art -q repro``."""
    if proc.returncode == 0:
        return ExpState.DONE, "", []
    lines = (proc.stderr or "").splitlines()
    errors = [line[len("art: error: ") :] for line in lines if line.startswith("art: error: ")]
    message = errors[-1] if errors else f"art repro exited with status {proc.returncode}"
    log = [line[2:] for line in lines if line.startswith("  ")]  # repro -q prints the tail indented
    return ExpState.FAILED, message, [line[:MAX_LOG_LINE] for line in log[-MAX_LOG:]]


MAX_LOG, MAX_LOG_LINE = 20, 500  # the stderr tail a failed experiment keeps: lines, characters per line


def _record(
    ctx: _Context, exp: Experiment, wt: Path, ws_root: Path, state: ExpState, message: str, log: list[str]
) -> Experiment:
    """Commit the worktree's results (parent: the baseline) and point ``refs/exps/NAME`` at it."""
    params: dict[str, dict[str, Any]] = {}
    metrics: dict[str, dict[str, Any]] = {}
    stages: dict[str, str] = {}
    runs: dict[str, str] = {}
    if (ws_root / ".art" / "config").is_file():
        with Repo(ws_root) as ws:
            stages = last_outcome(ws)
            lock = _lock_or_empty(ws_root)
            runs = {s: str(e["run"]) for s, e in lock.items() if isinstance(e, dict) and e.get("run")}
            params, metrics = values_at(ws, None)
            index = ws.state.run_index()
        with Repo(ctx.root) as main:
            main.state.merge_run_index(index)
    done = replace(exp, state=state, params=params, metrics=metrics, stages=stages, runs=runs, message=message, log=log)
    wt_git = Git.discover(wt)
    assert wt_git is not None
    changes = wt_git.new_files(_wanted)
    with Repo(ctx.root) as main:
        git = Git.discover(ctx.root)
        assert git is not None
        commit = git.make_commit(exp.commit, changes, encode(done), [exp.baseline])
        with main.lock:
            git.set_ref(EXPS + exp.name, commit, force=True)
            fault_point("exp.recorded")
            git.delete_ref(QUEUE + exp.name)
    return replace(done, commit=commit)


def _wanted(path: str) -> bool:
    """The new files an experiment's commit takes from its worktree: what ``art repro`` writes for git."""
    name = path.rsplit("/", 1)[-1]
    return (
        not path.startswith(".art/")
        and "/.art/" not in path
        and (name in (LOCK_NAME, ".gitignore") or name.endswith(".art"))
    )


def _lock_or_empty(ws_root: Path) -> dict[str, Any]:
    try:
        return read_lock(ws_root)
    except ArtError:
        return {}
