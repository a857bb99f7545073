"""Steps of a Python pipeline on a Dask cluster (``executor="dask"``, ``art run --executor dask``).

The planning stays here, on the client, exactly as in a local run (``engine.py``): run keys, the local run
cache, then the remote's run-key markers (``objstore/remote_runkeys.py``; a hit is adopted: its record, and
with ``outputs="fetch"`` its outputs, come into the local store, the step is *cached* and nothing is
submitted). Each step that misses both is a task of kind ``"step"`` (``executors/protocol.py``) for the Dask
executor (``executors/dask_backend.py``): the code tree (the files git would commit, ``executors/codeship.py``)
and the step's inputs are pushed to the remote first when it lacks them; the worker runs the step in a fresh
process (``executors/stepmain.py``), stores and pushes its outputs and run record and publishes the marker
(``executors/steptask.py``); the result is adopted here like a remote cache hit, so the pipeline-run record,
``state.db``'s artifact versions and the ``PipelineRun`` look as after a local run. A step that raised on the
worker is recorded here as a failed step run with the worker's traceback and machine facts (nothing is
published on the remote); the steps after it are skipped, and the run raises ``StepFailedError`` (exit 5).

The cluster is reached (or a local one started) only when the first step has to run: a fully cached re-run
starts nothing and submits nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import FlowError
from .result import EXECUTED, FAILED, StepResult
from .stepcall import Done

if TYPE_CHECKING:
    from ...objstore.lineage import Run
    from ..executors.dask_backend import DaskExecutor
    from .api import Invocation
    from .engine import _Runner

OUTPUTS = ("fetch", "lazy")
SETTINGS = ("scheduler", "scheduler_file", "local_cluster", "remote", "outputs", "retries", "wait_notice", "worker_env")


CLUSTER = ("scheduler", "scheduler_file", "local_cluster")


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Dask settings as given (``with_options``, ``art run`` flags), checked one by one: known names,
    ``local_cluster`` a number of workers, ``outputs`` "fetch" or "lazy". Unset (None) ones are dropped.

    Raises:
        FlowError: for an unknown setting or a value of the wrong kind.
    """
    settings = {k: v for k, v in settings.items() if v is not None}
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise FlowError(f"unknown executor option {unknown[0]!r}", hint=f"known: {', '.join(SETTINGS)}")
    lc = settings.get("local_cluster")
    if lc is not None and (isinstance(lc, bool) or not isinstance(lc, int) or lc < 1):
        raise FlowError(f"local_cluster must be a number of workers (at least 1), not {lc!r}")
    if settings.get("outputs", "fetch") not in OUTPUTS:
        raise FlowError(f"outputs must be 'fetch' or 'lazy', not {settings['outputs']!r}")
    return settings


def resolve_settings(config: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The settings of one run: ``given`` over the ``[executor]`` section of ``.art/config`` (whose cluster
    choice counts only when ``given`` names none), with exactly one of ``scheduler``, ``scheduler_file`` or
    ``local_cluster`` in the end.

    Raises:
        FlowError: when none or several of those are set.
    """
    given = check_settings(given)
    out: dict[str, Any] = {}
    for key in ("remote", "outputs", "retries", "wait_notice", *([] if any(k in given for k in CLUSTER) else CLUSTER)):
        value = config.executor(key)
        if value not in (None, "", 0) or key == "retries":
            out[key] = value
    out.update(given)
    chosen = [k for k in CLUSTER if out.get(k) not in (None, "", 0)]
    if len(chosen) != 1:
        raise FlowError(
            "executor 'dask' needs exactly one of scheduler, scheduler_file or local_cluster"
            + (f" (got {', '.join(chosen)})" if chosen else ""),
            hint="art run --executor dask --local-cluster 2 (--scheduler tcp://HOST:PORT), "
            "with_options(executor='dask', local_cluster=2), or [executor] scheduler in .art/config",
        )
    out = {k: v for k, v in out.items() if k not in CLUSTER or k == chosen[0]}
    out.setdefault("outputs", "fetch")
    return check_settings(out)


class DaskSteps:
    """The Dask back-end of the flow engine (see the module docstring)."""

    def __init__(self, runner: _Runner, settings: dict[str, Any]) -> None:
        import os

        from ...workspace.remote import open_remote, resolve
        from ..executors.protocol import looks_secret

        self.runner = runner
        self.repo = runner.repo
        self.settings = resolve_settings(self.repo.config, settings)
        if self.repo.git is None:
            from ..executors.codeship import NoGitError

            raise NoGitError(
                "--executor dask needs a git repository",
                hint="workers get the files git would commit; run 'git init' (or use --executor local)",
            )
        self.store = open_remote(self.repo, self.settings.get("remote"))
        info = resolve(self.repo, self.store.name)
        url = info.url if "://" in info.url or os.path.isabs(info.url) else str(self.repo.root / info.url)
        # what workers get: the URL and the options that are not credentials (they use their own)
        self.remote_spec = {
            "url": url,
            "options": {
                k: v
                for k, v in info.options.items()
                if k not in info.secret_keys and not looks_secret(k) and k != "url"
            },
            "name": info.name,
        }
        self.fetch = self.settings["outputs"] == "fetch"
        self.executor: DaskExecutor | None = None
        self.code_tree: str | None = None
        self.submitted = 0

    # -- the second cache level: the remote's run-key markers ---------------------------------------------

    def lookup(self, inv: Invocation, facts: dict[str, Any]) -> StepResult | None:
        from ...objstore import remote_runkeys
        from .store_io import usable_run

        for run in remote_runkeys.lookup(self.store, facts["run_key"]):
            if usable_run(run, facts["output_names"]):
                self._adopt(run)
                return self.runner.cached_result(inv, run)
        return None

    def _adopt(self, run: Run) -> None:
        """With ``outputs="fetch"``: download ``run`` with what it reaches (its outputs, verified) into the
        local store and index it, under the repository lock. With ``"lazy"`` nothing is stored: a step run
        reaches its outputs, and the local store never holds a run without what it reaches (``art fetch
        --run RUN`` brings both)."""
        from ...objstore.objects import Kind
        from ...objstore.transfer import download
        from ...workspace.fetch import FetchResult, raise_for
        from ...workspace.runs import record_run
        from .records import COMMIT_WAIT

        if not self.fetch:
            return
        with self.repo.lock.patiently(COMMIT_WAIT):
            got = download(self.store, self.repo.store, [(run.oid, Kind.RUN)], jobs=4)
            raise_for(FetchResult(self.store.name, self.store.url, 1, missing=got.missing, problems=got.problems))
            record_run(self.repo, run)

    # -- submitting a step ---------------------------------------------------------------------------------

    def _executor(self) -> DaskExecutor:
        if self.executor is None:
            from ..executors.dask_backend import DaskExecutor

            s = self.settings
            self.executor = DaskExecutor(
                scheduler=s.get("scheduler"),
                scheduler_file=s.get("scheduler_file"),
                local_cluster=s.get("local_cluster"),
                retries=int(s.get("retries", 2)),
                wait_notice=float(s.get("wait_notice", 30.0)),
                worker_env=s.get("worker_env"),
            )
        return self.executor

    def _push(self, roots: list[tuple[str, Any]]) -> list[str]:
        """Send what the remote lacks of ``roots`` (the code tree, a step's inputs), under its shared lock;
        return the ids of those neither the remote nor the local store has (nothing is sent then)."""
        from ...objstore.gc import RemoteLock
        from ...objstore.oid import Oid
        from ...objstore.reachability import closure
        from ...objstore.remote_roots import record_roots
        from ...objstore.transfer import upload
        from ...objstore.types import ObjectKey
        from ...workspace.remote import transfer_jobs

        keys = [ObjectKey(Oid(o), k) for o, k in roots]
        with RemoteLock(self.store, exclusive=False, holder="art run") as lock:
            self.store.refresh()
            todo = [k for k in keys if not _remote_has(self.store, k)]
            lacking = [str(k[0]) for k in todo if not self.repo.store.has(k[0], k[1])]
            if lacking:
                return lacking
            if todo:
                upload(
                    self.repo.store,
                    self.store,
                    closure(self.repo.store, todo),
                    jobs=transfer_jobs(self.repo, None),
                    staging_dir=str(self.repo.tmp_dir / "push"),
                    refresh=False,
                )
                lock.check()
                record_roots(self.store, todo)
        return []

    def _code(self) -> str:
        if self.code_tree is None:
            from ...objstore.types import Kind
            from ..executors.codeship import build

            with self.repo.lock.patiently(600.0):
                oid = build(self.repo, None).oid
            if self._push([(str(oid), Kind.TREE)]):  # built into the local store just now: never
                raise FlowError("the code tree vanished from the local store")
            self.code_tree = str(oid)
        return self.code_tree

    def submit(self, inv: Invocation, facts: dict[str, Any]) -> Any:
        from ..._version import __version__
        from ...objstore.types import Kind
        from ..executors.steptask import input_dir

        modules = _modules(inv, self.runner.pipeline)
        inputs = facts["inputs"]
        code_tree = self._code()
        roots = [(ref.oid, Kind.TREE if ref.kind == "dir" else Kind.FILE) for _, ref in sorted(inputs.items())]
        lacking = self._push(roots)
        if lacking:
            name = next(ref.name for ref in inputs.values() if ref.oid == lacking[0])
            raise FlowError(
                f"the input {name} of step {inv.name} is neither in the local store nor on remote {self.store.name!r}",
                hint="art pull it, or run with --no-cache",
            )
        executor = self._executor()
        git = self.runner.prov.git
        spec = {
            "v": 1,
            "art": __version__,
            "session": executor.session,
            "kind": "step",
            "name": inv.name,
            "run_key": facts["run_key"],
            "code_hash": facts["code_hash"],
            "params": dict(inv.params),
            "code_tree": code_tree,
            "argv": None,
            "call": inv.step.call,
            "code": dict(facts["code"]),
            "deps": [
                {"path": input_dir(p), "oid": ref.oid, "kind": "dir" if ref.kind == "dir" else "file", "run": ref.run}
                for p, ref in sorted(inputs.items())
            ],
            "outs": list(facts["output_names"]),
            "env": {},
            "remote": dict(self.remote_spec),
            "git": {"commit": git.get("commit"), "dirty": git.get("dirty"), "branch": None},
            "resources": {},
            "extra": {
                "rerun": not (self.runner.options.cache and inv.step.cache),
                "step": {
                    "pipeline": self.runner.pipeline.name,
                    "modules": modules,
                    "inputs": [
                        {
                            "param": p,
                            "path": ref.name,
                            "oid": ref.oid,
                            "kind": ref.kind,
                            "run": ref.run,
                            "materializer": ref.materializer,
                        }
                        for p, ref in sorted(inputs.items())
                    ],
                    "outputs": [o.name for o in inv.step.outputs[0]],
                },
            },
        }
        self.submitted += 1
        return executor.submit(spec)

    def wait_any(self, handles: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
        assert self.executor is not None
        return self.executor.wait_any(handles, None)

    # -- a result ------------------------------------------------------------------------------------------

    def finish(self, inv: Invocation, facts: dict[str, Any], handle: Any, result: dict[str, Any]) -> StepResult:
        from ...objstore import remote_runkeys

        if result.get("ok"):
            run_oid = result["run_oid"]
            run = next((r for r in remote_runkeys.lookup(self.store, facts["run_key"]) if str(r.oid) == run_oid), None)
            if run is None:
                return self._failed(
                    inv, facts, result, f"the worker reported run {run_oid[:10]}, but the remote has no marker for it"
                )
            self._adopt(run)
            done = self.runner.cached_result(inv, run)
            if result.get("cached"):
                return done
            where = f"{result.get('host') or '?'} pid {result.get('pid') or '?'}"
            duration = float(result.get("duration") or run.get("duration") or 0.0)
            done.status, done.duration, done.message = EXECUTED, duration, f"{duration:.2f} s on {where}"
            return done
        if result.get("cancelled"):
            raise KeyboardInterrupt
        return self._failed(inv, facts, result, None)

    def _failed(self, inv: Invocation, facts: dict[str, Any], result: dict[str, Any], why: str | None) -> StepResult:
        """Record the failed step run here (the worker published nothing) and return its result."""
        from .records import COMMIT_WAIT, MAX_ERROR, write_run

        step = (result.get("extra") or {}).get("step") or {}
        tail = "\n".join(result.get("stderr_tail") or [])
        summary = why or str(step.get("summary") or result.get("error") or f"exit status {result.get('returncode')}")
        error = str(step.get("error") or "") or "\n".join(x for x in (summary, tail) if x)
        raw = step.get("metadata")
        metadata: dict[str, Any] = raw if isinstance(raw, dict) else {}
        done = Done(float(result.get("started") or 0.0), float(result.get("duration") or 0.0), metadata=metadata)
        done.tails = {k: list(result.get(k) or []) for k in ("stdout_tail", "stderr_tail")}  # bounded by the protocol
        fields = self.runner.step_fields(inv, facts, done)
        fields.update(outputs=[], exit_status=1, error=error[-MAX_ERROR:])
        raw = step.get("facts")
        facts_w: dict[str, Any] = raw if isinstance(raw, dict) else {}
        env = {k: v for k, v in facts_w.items() if k in ("user", "host", "platform", "python", "art", "pid")}
        if result.get("worker"):
            env["worker"] = str(result["worker"])
        with self.repo.lock.patiently(COMMIT_WAIT):
            oid = write_run(self.repo, self.runner.prov, fields, env=env)
        return StepResult(
            inv.name,
            FAILED,
            run=oid,
            duration=done.duration,
            error=fields["error"],
            summary=summary,
            metadata=metadata,
            message=summary,
        )

    def cancel_all(self, handles: list[Any]) -> None:
        if self.executor is not None and handles:
            self.executor.cancel_all()

    def close(self) -> None:
        try:
            if self.executor is not None:
                self.executor.close()
        finally:
            self.store.close()


def _remote_has(store, key) -> bool:
    from ...objstore.types import Kind

    oid, kind = key
    if kind == Kind.FILE:
        return store.has(oid, Kind.FILE) or store.has(oid, Kind.CHUNK)
    return store.has(oid, kind)


def _modules(inv: Invocation, pipeline: Any) -> list[str]:
    """The modules a worker imports before the step's: the pipeline's (it imports the steps and registers
    their materializers). A step defined in ``__main__`` (a script, a notebook) cannot be imported there."""
    step_module = inv.step.fn.__module__
    if step_module == "__main__" or "<" in inv.step.fn.__qualname__:
        raise FlowError(
            f"step {inv.name} ({inv.step.call}) cannot run on a Dask worker: workers import steps by module name",
            hint="define the step at the top level of a module of the workspace (or run with executor='local')",
        )
    mod = pipeline.fn.__module__
    return [mod] if mod not in ("__main__", step_module) else []
