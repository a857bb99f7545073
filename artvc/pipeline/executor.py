"""Bring planned stages up to date for ``art repro`` — from the run cache when possible, else by running them
(independent stages in parallel) — recording outputs, a run object and the ``art.lock`` entry per stage.

Bookkeeping (hashing, store writes, lock and index updates) happens on the calling thread only; worker
threads just wait for processes. A failed stage leaves its previous outputs and lock entry as they were: its
outputs are moved aside into ``.art/tmp`` (``stash.py``) before it runs and moved back if it fails.

Locking: the repository lock is held only while outputs are stored or restored and ``art.lock`` and
``.gitignore`` are rewritten, never while a command runs; ``art.lock`` is re-read under it, so concurrent
repros of different stages both land. A running stage holds its stage lock (``stagelock.py``): a second repro
of the same stage waits for it and then checks it again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtError
from ..objstore.faults import fault_point
from ..workspace.lockfile import read_lock, write_lock
from ..workspace.provenance import git_facts
from ..workspace.repo import Repo
from .dag import Graph
from .outcome import CACHED, FAILED, RAN, SKIPPED, UP_TO_DATE, Event, ReproOptions, StageOutcome
from .plan import PlanItem
from .spec import PIPELINE_NAME, Pipeline, Stage, load
from .stagelock import Held, StageLocks
from .staleness import Context, Facts, own_reasons
from .stash import Stash

if TYPE_CHECKING:  # the runner's modules load only when a stage has to be brought up to date (no-op speed)
    from ..objstore.lineage import Run
    from ..workspace.remote_runcache import RemoteRunCache
    from . import runner
    from .executors.base import Executor as BaseExecutor
    from .executors.client import RemoteStages

POLL = 0.2  # seconds between tries of a stage lock held by another art repro
COMMIT_WAIT = 600.0  # seconds a finished stage waits for the repository lock to record its outputs


@dataclass(slots=True)
class _Launch:
    item: PlanItem
    facts: Facts
    reasons: tuple[str, ...]
    stash: Stash | None  # None for a remote stage: the workspace is only touched once its result is in
    held: Held
    task: Any = None  # the executor's task (a protocol spec for a remote executor)


class Executor:
    def __init__(
        self,
        repo: Repo,
        pipeline: Pipeline,
        graph: Graph,
        lock: dict,
        ctx: Context,
        options: ReproOptions,
        on_event: Event,
        on_output: runner.Output | None,
        backend: BaseExecutor | None = None,
        remote: RemoteStages | None = None,
        remote_cache: RemoteRunCache | None = None,
    ) -> None:
        self.repo, self.pipeline, self.graph, self.lock, self.ctx = repo, pipeline, graph, lock, ctx
        # where stages run (default: this machine's thread pool); ``remote`` is the client half of a
        # distributed executor (code shipping, remote run cache, adopting results)
        self.backend, self.remote = backend, remote
        self.options, self.on_event, self.on_output = options, on_event, on_output
        self.remote_cache = remote_cache  # art repro --pull: the remote's run-key markers after a local miss
        self._provenance: tuple[dict[str, Any], bytes] | None = None
        self.status: dict[str, str] = {}
        self.stage_locks = StageLocks(repo.art_dir)
        self.waiting: set[str] = set()
        self._toml_key = _stat_key(repo.root / PIPELINE_NAME)

    def execute(self, items: list[PlanItem]) -> list[StageOutcome]:
        from .executors.local import LocalExecutor

        self.planned = {i.name for i in items}
        git = self.repo.git  # the commit and dirtiness runs record: as they were when the repro started
        self._git = git_facts(git)
        pending = list(items)
        outcomes: dict[str, StageOutcome] = {}
        running: dict[Any, _Launch] = {}
        stop = False
        backend = self.backend or LocalExecutor(self.options.jobs)
        try:
            while pending or running:
                deferred = not stop and self._launch_ready(backend, pending, running, outcomes)
                if not running:
                    if deferred:  # another art repro holds a stage lock we need: try again shortly
                        time.sleep(POLL)
                        continue
                    for item in pending:  # stopped after a failure
                        self._record(
                            outcomes,
                            StageOutcome(item.name, SKIPPED, item.reasons, message="not run after a failure"),
                        )
                    break
                for handle, done in backend.wait_any(list(running), POLL if deferred else None):
                    launch = running.pop(handle)
                    try:
                        outcome = self._finish(launch, done)
                    finally:
                        launch.held.release()
                    self._record(outcomes, outcome)
                    stop = stop or (outcome.status == FAILED and not self.options.keep_going)
        except BaseException:  # interrupted (or art failed): stop what runs, put back the outputs it had stashed
            backend.cancel_all()
            for launch in running.values():
                if launch.stash is not None:
                    launch.stash.restore()
                launch.held.release()
            raise
        finally:
            if self.backend is None:
                backend.close()
        return [outcomes[i.name] for i in items if i.name in outcomes]

    def _launch_ready(self, backend: BaseExecutor, pending: list[PlanItem], running: dict, outcomes: dict) -> bool:
        """Start (or settle without running) every pending stage whose planned upstream stages are done.

        Return True when a ready stage had to wait for a stage lock held by another ``art repro``.
        """
        from .executors.local import LocalTask

        progressed, deferred = True, False
        while progressed and len(running) < self.options.jobs:
            progressed, deferred = False, False
            for item in pending:
                ups = self.graph.upstream[item.name] & self.planned
                if any(u not in self.status for u in ups):
                    continue
                blocked = [u for u in ups if self.status[u] in (FAILED, SKIPPED)]
                if blocked:
                    pending.remove(item)
                    self._record(
                        outcomes,
                        StageOutcome(item.name, SKIPPED, item.reasons, message=f"upstream stage {blocked[0]} failed"),
                    )
                    progressed = True
                    break
                held = self.stage_locks.try_take(item.name, self.graph.upstream[item.name])
                if held is None:
                    deferred = True
                    if item.name not in self.waiting:
                        self.waiting.add(item.name)
                        self.on_event("waiting", item.name, "another art repro is running it or a stage it reads")
                    continue
                pending.remove(item)
                progressed = True
                try:
                    launch = self._begin(item, outcomes, held)
                except BaseException:
                    held.release()
                    raise
                if launch is None:
                    held.release()
                else:
                    stage = self.pipeline.stages[item.name]
                    task = launch.task if self.remote else LocalTask(stage, self.repo.root, self.on_output)
                    try:
                        running[backend.submit(task)] = launch
                    except BaseException:
                        if launch.stash is not None:
                            launch.stash.restore()
                        held.release()
                        raise
                    fault_point("repro.stage-started")  # outputs stashed, command running, no lock entry yet
                break
        return deferred

    def _record(self, outcomes: dict, outcome: StageOutcome) -> None:
        outcomes[outcome.name] = outcome
        self.status[outcome.name] = outcome.status
        self.on_event(outcome.status, outcome.name, outcome.message)

    # -- before a stage: still stale? cached? else stash its outputs and launch ---------------------------

    def _begin(self, item: PlanItem, outcomes: dict, held: Held) -> _Launch | None:
        stage = self.pipeline.stages[item.name]
        # another art repro may have run this stage, or one it reads, since the plan: look again
        fresh = read_lock(self.repo.root)
        if any(fresh.get(n) != self.lock.get(n) for n in (item.name, *self.graph.upstream[item.name])):
            self.ctx.forget((*stage.deps, *stage.outs))
        self.lock = fresh
        facts = self.ctx.facts(stage)
        reasons = item.reasons
        if not item.forced:
            own = own_reasons(stage, facts, self.lock.get(stage.name), self.ctx)
            if not own:
                upstream_only = all(r.startswith("upstream stage ") for r in item.reasons)
                self._record(
                    outcomes,
                    StageOutcome(
                        stage.name,
                        UP_TO_DATE,
                        item.reasons,
                        message="upstream outputs did not change"
                        if upstream_only
                        else "another art repro brought it up to date",
                    ),
                )
                return None
            reasons = tuple(own)
        if self.options.run_cache and not item.forced:
            cached = self._from_cache(stage, facts, reasons)
            if cached is not None:
                self._record(outcomes, cached)
                return None
        if self.remote is not None:
            from .executors.remote_repro import prepare

            spec = prepare(self, item, stage, facts, reasons, outcomes)
            return None if spec is None else _Launch(item, facts, reasons, None, held, spec)
        stash = Stash(self.repo, stage.outs)
        stash.stash()
        fault_point("repro.outputs-stashed")
        self.ctx.forget(stage.outs)
        self.on_event("start", stage.name, stage.command)
        return _Launch(item, facts, reasons, stash, held)

    def _from_cache(self, stage: Stage, facts: Facts, reasons: tuple[str, ...]) -> StageOutcome | None:
        from . import runcache

        with self.repo.lock:  # gc may not drop the objects while they are restored
            run = runcache.lookup(self.repo, facts.run_key, stage.outs)
            if run is None and self.remote_cache is not None and self.remote_cache.get(facts.run_key, stage.outs):
                # adopted from the remote (record and outputs now stored here): restored like a local hit
                run = runcache.lookup(self.repo, facts.run_key, stage.outs)
            if run is None:
                return None
            self.restore_run(stage, facts, run)
        return StageOutcome(
            stage.name, CACHED, reasons, run=str(run.oid), message=f"Using cached version of {stage.name}"
        )

    def restore_run(self, stage: Stage, facts: Facts, run: Run, *, checkout: bool = True) -> None:
        """Check out the outputs of ``run`` (stored here) in place of the stage's current ones (unless not
        ``checkout``: a lazy remote result) and record it in art.lock. The caller holds the repository lock."""
        from . import runcache
        from .runrecord import lock_outs

        if checkout:
            stash = Stash(self.repo, stage.outs)
            stash.stash()
            self.ctx.forget(stage.outs)
            try:
                for out in run["outputs"]:
                    runcache.restore(self.repo, out)
            except BaseException:
                stash.restore()
                raise
            stash.discard()
        self._commit_lock(stage, facts, str(run.oid), lock_outs(run))

    # -- after a stage: store outputs, write its run, update art.lock --------------------------------------

    def _finish(self, launch: _Launch, done: Any) -> StageOutcome:
        stage = self.pipeline.stages[launch.item.name]
        if self.remote is not None:
            from .executors.remote_repro import finish

            return finish(self, launch, stage, done)
        base: dict[str, Any] = dict(
            reasons=launch.reasons,
            duration=done.duration,
            returncode=done.returncode,
            stderr_tail=tuple(done.stderr_tail),
            stdout_tail=tuple(done.stdout_tail),
        )
        fault_point("repro.stage-finished")
        missing = [o for o in stage.outs if not os.path.lexists(self.repo.abspath(o))]
        assert launch.stash is not None
        if done.returncode != 0 or missing:
            launch.stash.restore()
            self.ctx.forget(stage.outs)
            if done.returncode != 0:
                return StageOutcome(stage.name, FAILED, message=f"exit status {done.returncode}", **base)
            message = f"the command succeeded (exit status 0) but did not write {', '.join(missing)}"
            return StageOutcome(stage.name, FAILED, message=message, missing=tuple(missing), **base)
        try:
            # the store (gc), the run index, art.lock and .gitignore; a finished stage's work is worth waiting for
            with self.repo.lock.patiently(COMMIT_WAIT):
                run_oid = self._store_outputs(stage, launch.facts, done)
        except BaseException:
            launch.stash.restore()
            self.ctx.forget(stage.outs)
            raise
        launch.stash.discard()
        return StageOutcome(stage.name, RAN, run=run_oid, message=f"{done.duration:.2f} s", **base)

    def _store_outputs(self, stage: Stage, facts: Facts, done: runner.Finished) -> str:
        from ..objstore.ingest import Ingester
        from ..objstore.objects import Kind

        repo = self.repo
        store, state = repo.store, repo.state
        outs = []
        with store.writer() as writer:
            with Ingester(
                writer, store.params, store.compressor, cache=state, guard=repo.root, jobs=int(repo.config.core("jobs"))
            ) as ing:
                for path in stage.outs:
                    full = repo.abspath(path)
                    if full.is_dir():
                        tree, files = ing.add_tree(full, state.folders_under(path))
                        outs.append(
                            {"path": path, "id": str(tree.oid), "kind": "dir", "size": tree.size, "files": files}
                        )
                    else:
                        oid, size = ing.add_file(full)
                        outs.append({"path": path, "id": str(oid), "kind": "file", "size": size, "files": 1})
            run = self._run_record(stage, facts, done, outs, writer)
            writer.put(run.oid, Kind.RUN, run.to_bytes())
        # the pack is sealed: only now may the index and art.lock name its objects
        fault_point("repro.outputs-stored")
        from ..workspace.runs import record_run

        record_run(repo, run)
        self._commit_lock(stage, facts, str(run.oid), outs)
        return str(run.oid)

    def _commit_lock(self, stage: Stage, facts: Facts, run_oid: str, outs: list[dict]) -> None:
        from ..workspace.gitignore import ignore

        entry: dict[str, Any] = {"cmd": stage.cmd} if stage.cmd is not None else {"call": stage.call}
        entry.update(
            {
                "code_hash": facts.code_hash,
                "run": run_oid,
                "run_key": facts.run_key,
                **({"code": facts.code} if facts.code else {}),
                **({"params": facts.params} if facts.params else {}),
                "deps": [
                    {"path": p, "id": oid or "missing", "kind": kind or "missing"}
                    for p, (kind, oid) in facts.deps.items()
                ],
                "outs": outs,
            }
        )
        with self.repo.lock:
            # ignored first: a crash before art.lock names them must not leave outputs for git to commit
            for o in outs:
                ignore(self.repo.root, o["path"])
            fault_point("repro.outputs-ignored")
            # read again under the lock: another art repro may have written other stages' entries meanwhile
            current = read_lock(self.repo.root)
            current[stage.name] = entry
            write_lock(self.repo.root, {n: current[n] for n in self._lock_order() if n in current})
        self.lock = current
        for o in outs:
            self.ctx.remember(o["path"], o["kind"], o["id"])

    def _lock_order(self) -> list[str]:
        """The stages art.lock keeps, in topological order: those of art.toml as it is now (it may have been
        edited while stages ran), falling back to the pipeline this repro loaded."""
        if _stat_key(self.repo.root / PIPELINE_NAME) == self._toml_key:
            return self.graph.order
        try:
            current = load(self.repo.root, check_deps=False)
            return Graph(current.stages).order if current is not None else self.graph.order
        except ArtError:
            return self.graph.order

    def _run_record(self, stage: Stage, facts: Facts, done: runner.Finished, outs: list[dict], writer) -> Run:
        from .runrecord import provenance, stage_run, store_packages

        if self._provenance is None:  # the same for every run of this repro: computed once
            self._provenance = provenance(self.repo.art_dir / "cache", self._git)
        prov, packages = self._provenance
        store_packages(writer, packages)
        return stage_run(
            stage=stage.name,
            cmd=stage.cmd,
            call=stage.call,
            code_hash=facts.code_hash,
            code=facts.code,
            params=facts.params,
            inputs=self.inputs(facts),
            outs=outs,
            run_key=facts.run_key,
            returncode=done.returncode,
            tails={"stdout_tail": list(done.stdout_tail), "stderr_tail": list(done.stderr_tail)},
            started=done.started,
            duration=done.duration,
            facts=prov,
        )

    def inputs(self, facts: Facts) -> list[dict[str, Any]]:
        """The run record's inputs: each dep with the run that produced it."""
        return [
            {"path": p, "oid": oid, "kind": kind, "run": self._producing_run(p, oid)}
            for p, (kind, oid) in facts.deps.items()
        ]

    def _producing_run(self, path: str, oid: str | None) -> str | None:
        if oid is None:
            return None
        producer = self.graph.producer_of(path)
        if producer is not None:
            return self.lock.get(producer, {}).get("run")
        return _added_run(self.repo, path, oid)


def _stat_key(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _added_run(repo: Repo, path: str, oid: str) -> str | None:
    """The ``art add`` run behind a dep that is (or lies inside) an added artifact, else None."""
    from ..workspace.pointers import SUFFIX, read_pointer
    from ..workspace.runs import producing_run

    parts = path.split("/")
    for i in range(len(parts), 0, -1):
        base = "/".join(parts[:i])
        pf = repo.abspath(base + SUFFIX)
        if pf.is_file():
            try:
                pointer = read_pointer(pf, where=base + SUFFIX)
            except ArtError:
                return None
            run = producing_run(repo, str(pointer.oid), base)
            return str(run.oid) if run is not None else None
    return None
