"""Execute a built pipeline graph in an art repository: per step, a cache lookup by run key, else run the function
(independent steps in parallel threads, ``jobs``), save each output with its materializer, store it like ``art
add`` does (content-defined chunks, the same packs, dedup) and write a step-run record; at the end a
pipeline-run record.

Bookkeeping (cache lookups, reading inputs from the store, storing outputs, records, the index) happens on the
calling thread; a step's execution is a submit/result pair on a step back-end: the local one (``LocalSteps``,
the default) runs it on a worker thread that loads the inputs with their materializers, calls the function and
saves its outputs into a temporary folder under ``.art/tmp`` (``stepcall.py``); the distributed one
(``remote.py``, ``executor="dask"``) submits it to a Dask cluster whose worker runs it in a fresh process and
publishes the outputs and the run on the remote, and adopts the result. The repository lock is held only while
outputs and records are stored, never while a step runs.

Run key (docs/python-pipelines.md): blake3 over the code hash (the function and what it reaches in the user's
code), the parameters, the sorted (input parameter, artifact id, materializer, version) of each input, and the
artifact names of the outputs. A hit also needs every output of the cached run in the store and its
materializer still registered at the recorded version.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ...objstore.faults import fault_point
from ...objstore.hashing import hash_bytes
from ...objstore.tmpowner import token
from ...workspace.repo import Repo
from ..errors import FlowError, StepFailedError
from .capture import capturing, tails_of, wrapped_streams
from .records import COMMIT_WAIT, MAX_ERROR, Provenance, write_run
from .result import CACHED, EXECUTED, FAILED, SKIPPED, ArtifactRef, PipelineRun, StepResult
from .stepcall import Done, call_step, log_metadata
from .store_io import CodeHashes, find_cached, read_into, store_outputs
from .values import canonical_json

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .api import Graph, Invocation, Pipeline

__all__ = ["LINES", "RunOptions", "log_metadata", "run"]

Event = Callable[[str, str, str], None]  # (event, step, detail)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run a pipeline: ``cache``, ``jobs`` (steps at once), ``on_event``, and where steps run:
    ``executor`` "local" (threads of this process), "dask" with ``dask`` (the settings a ``DaskSteps``
    back-end takes: scheduler, scheduler_file, local_cluster, remote, outputs; see remote.py), or None: the
    ``[executor]`` section of ``.art/config`` decides."""

    cache: bool = True
    jobs: int = 1
    on_event: Event | None = None
    executor: str | None = None  # None: ``[executor] kind`` of .art/config, else "local"
    dask: dict[str, Any] = field(default_factory=dict)


class StepBackend(Protocol):
    """Where stale steps run. ``submit`` starts one (inputs known, cache missed) and returns a handle;
    ``wait_any`` blocks until at least one of ``handles`` is done and returns (handle, outcome) pairs;
    ``finish`` turns an outcome into the step's ``StepResult`` (stores or adopts its outputs and its run);
    ``lookup`` is a second cache level (the remote's run-key markers) or None; ``cancel_all`` stops or waits
    for what is still running when the run is interrupted; ``close`` releases the back-end."""

    def submit(self, inv: Invocation, facts: dict[str, Any]) -> Any: ...
    def wait_any(self, handles: list[Any]) -> list[tuple[Any, Any]]: ...
    def finish(self, inv: Invocation, facts: dict[str, Any], handle: Any, outcome: Any) -> StepResult: ...
    def lookup(self, inv: Invocation, facts: dict[str, Any]) -> StepResult | None: ...
    def cancel_all(self, handles: list[Any]) -> None: ...
    def close(self) -> None: ...


def run(pipeline: Pipeline, graph: Graph, params: dict[str, Any], options: RunOptions, root: Any = None) -> PipelineRun:
    """Execute ``graph`` in the repository at ``root`` (default: found from the current directory).

    Raises:
        NotARepoError: outside an art repository (exit 10).
        StepFailedError: when a step raised (``.run`` is the recorded ``PipelineRun``; exit 5).
    """
    repo = Repo.find(root)
    try:
        return _Runner(repo, pipeline, graph, params, options).execute()
    finally:
        repo.close()


class _Runner:
    def __init__(self, repo: Repo, pipeline: Pipeline, graph: Graph, params: dict, options: RunOptions) -> None:
        self.repo, self.pipeline, self.graph, self.params, self.options = repo, pipeline, graph, params, options
        self.emit = options.on_event or _print_event
        self.results: dict[str, StepResult] = {}
        self.codes = CodeHashes(repo.root)
        self.prov = Provenance(repo)

    def execute(self) -> PipelineRun:
        started_wall, t0 = time.time(), time.monotonic()
        pending = list(self.graph.invocations)
        running: dict[Any, tuple[Invocation, dict]] = {}
        stop = False
        backend = self._backend()
        with wrapped_streams():  # what a local step prints is kept for its run record (capture.py)
            try:
                while pending or running:
                    if not stop:
                        self._launch_ready(backend, pending, running)
                    if not running:
                        for inv in pending:
                            self._settle(StepResult(inv.name, SKIPPED, message="not run after a failure"))
                        break
                    for handle, outcome in backend.wait_any(list(running)):
                        inv, facts = running.pop(handle)
                        result = backend.finish(inv, facts, handle, outcome)
                        self._settle(result)
                        stop = stop or result.status == FAILED
            except BaseException:
                backend.cancel_all(list(running))
                raise
            finally:
                backend.close()
        steps = [self.results[i.name] for i in self.graph.invocations]
        failed = [s for s in steps if s.status == FAILED]
        run = PipelineRun(
            name=self.pipeline.name,
            call=self.pipeline.call,
            params=self.params,
            steps={s.name: s for s in steps},
            started=self.prov.iso(started_wall),
            duration=time.monotonic() - t0,
            git=self.prov.git,
            error=failed[0].error if failed else None,
        )
        run.oid = self._pipeline_record(run)
        if failed:
            raise StepFailedError(
                failed[0].name, failed[0].summary or "it raised", run, failed=[s.name for s in failed]
            )
        return run

    def _settle(self, result: StepResult) -> None:
        self.results[result.name] = result
        self.emit(result.status, result.name, result.message or "")

    # -- before a step: blocked? cached? else read its inputs and launch it ------------------------------

    def _backend(self) -> StepBackend:
        kind = self.options.executor or self.repo.config.executor("kind") or "local"
        if kind == "local":
            if self.options.dask:
                raise FlowError(
                    f"option {sorted(self.options.dask)[0]!r} needs executor='dask'",
                    hint="with_options(executor='dask', ...), or [executor] kind = \"dask\" in .art/config",
                )
            return LocalSteps(self)
        from .remote import DaskSteps

        return DaskSteps(self, self.options.dask)

    def _launch_ready(self, backend: StepBackend, pending: list[Invocation], running: dict) -> None:
        """Settle (skipped, cached) or launch every pending invocation whose upstream steps are done, while
        fewer than ``jobs`` run."""
        progressed = True
        while progressed and len(running) < max(1, self.options.jobs):
            progressed = False
            for inv in pending:
                ups = inv.upstream
                if any(u not in self.results for u in ups):
                    continue
                pending.remove(inv)
                progressed = True
                blocked = sorted(u for u in ups if self.results[u].status in (FAILED, SKIPPED))
                if blocked:
                    self._settle(StepResult(inv.name, SKIPPED, message=f"upstream step {blocked[0]} did not run"))
                    break
                facts = self._facts(inv)
                if self.options.cache and inv.step.cache:
                    cached = find_cached(self.repo, facts["run_key"], facts["output_names"])
                    if cached is not None:
                        self._settle(self.cached_result(inv, cached))
                        break
                    adopted = backend.lookup(inv, facts)
                    if adopted is not None:
                        self._settle(adopted)
                        break
                self.emit("start", inv.name, inv.step.call)  # before the step can print on its thread
                handle = backend.submit(inv, facts)
                running[handle] = (inv, facts)
                fault_point("flow.step-started")
                break

    def _facts(self, inv: Invocation) -> dict[str, Any]:
        """The code hash, inputs and run key of an invocation whose upstream steps are done."""
        code_hash, code = self.codes.of(inv.step.fn)
        inputs: dict[str, ArtifactRef] = {}
        for pname, handle in inv.inputs.items():
            inputs[pname] = self.results[handle.invocation.name].outputs[handle.output]
        output_names = [f"{self.pipeline.name}/{inv.name}/{o.name}" for o in inv.step.outputs[0]]
        key_inputs = sorted((p, ref.oid, ref.materializer, ref.materializer_version) for p, ref in inputs.items())
        key = str(hash_bytes(canonical_json([code_hash, inv.params, key_inputs, output_names]).encode()))
        return {"code_hash": code_hash, "code": code, "inputs": inputs, "output_names": output_names, "run_key": key}

    def cached_result(self, inv: Invocation, run) -> StepResult:
        """The result of a step whose cached run ``run`` (in the local store) is reused."""
        outputs = {
            o["path"].rpartition("/")[2]: ArtifactRef.from_record(o, str(run.oid), self.repo.root)
            for o in run.get("outputs", [])
        }
        return StepResult(
            inv.name,
            CACHED,
            run=str(run.oid),
            outputs=outputs,
            duration=0.0,
            metadata=dict(run.get("metadata") or {}),
            message=f"Using cached version of {inv.name}.",
        )

    # -- after a step: store its outputs and its run ------------------------------------------------------

    def step_fields(self, inv: Invocation, facts: dict, done: Done) -> dict[str, Any]:
        """The fields of a step-run record but the outputs, the exit status and the provenance."""
        return {
            "kind": "step",
            "pipeline": self.pipeline.name,
            "stage": inv.name,
            "call": inv.step.call,
            "code_hash": facts["code_hash"],
            "code": facts["code"],
            "params": inv.params,
            "inputs": [
                {"path": ref.name, "oid": ref.oid, "kind": ref.kind, "run": ref.run, "param": p}
                for p, ref in sorted(facts["inputs"].items())
            ],
            "metadata": done.metadata,
            "run_key": facts["run_key"],
            "started": self.prov.iso(done.started),
            "duration": round(done.duration, 3),
            **done.tails,
        }

    def store_done(self, inv: Invocation, facts: dict, done: Done) -> StepResult:
        """Store the outputs a step saved here (or its error) and its run record."""
        fault_point("flow.step-finished")
        fields = self.step_fields(inv, facts, done)
        if done.error is not None:
            fields.update(outputs=[], exit_status=1, error=done.error[-MAX_ERROR:])
            with self.repo.lock.patiently(COMMIT_WAIT):
                oid = write_run(self.repo, self.prov, fields)
            return StepResult(
                inv.name,
                FAILED,
                run=oid,
                duration=done.duration,
                error=fields["error"],
                summary=done.summary,
                metadata=done.metadata,
                message=done.summary,
            )
        prefix = f"{self.pipeline.name}/{inv.name}/"
        stored: list[dict[str, Any]] = []

        def outputs(writer) -> list[dict[str, Any]]:
            stored[:] = store_outputs(self.repo, writer, prefix, done.outputs)
            fault_point("flow.outputs-stored")  # in the pack being written, not sealed yet
            return stored

        fields["exit_status"] = 0
        with self.repo.lock.patiently(COMMIT_WAIT):
            oid = write_run(self.repo, self.prov, fields, outputs)
        outs = stored
        return StepResult(
            inv.name,
            EXECUTED,
            run=oid,
            outputs={o["path"].rpartition("/")[2]: ArtifactRef.from_record(o, oid, self.repo.root) for o in outs},
            duration=done.duration,
            metadata=done.metadata,
            message=f"{done.duration:.2f} s",
        )

    def _pipeline_record(self, run: PipelineRun) -> str:
        after = {inv.name: inv.upstream for inv in self.graph.invocations}  # the edges of the graph
        fields = {
            "kind": "pipeline",
            "pipeline": run.name,
            "call": run.call,
            "params": run.params,
            "steps": [
                {"stage": s.name, "run": s.run, "status": s.status, "after": sorted(after.get(s.name, ()))}
                for s in run.steps.values()
            ],
            "exit_status": 1 if run.error else 0,
            "started": run.started,
            "duration": round(run.duration, 3),
            **({"error": run.error[-MAX_ERROR:]} if run.error else {}),
        }
        with self.repo.lock.patiently(COMMIT_WAIT):
            return write_run(self.repo, self.prov, fields)


LINES = {
    "start": "Running step {name} ({detail}).",
    EXECUTED: "Step {name} finished ({detail}).",
    CACHED: "Using cached version of {name}.",
    FAILED: "Step {name} failed: {detail}",
    SKIPPED: "Step {name} skipped: {detail}",
}


def _print_event(event: str, name: str, detail: str) -> None:
    """The default event handler of a pipeline called from Python: one line per event on stderr, and the
    same event through ``logging`` (logger ``artvc.flow``, ``extra={"art_event": ..., "step": ...}``)."""
    import logging
    import sys

    line = LINES[event].format(name=name, detail=detail)
    logging.getLogger("artvc.flow").debug(line, extra={"art_event": event, "step": name, "detail": detail})
    print(line, file=sys.stderr, flush=True)


class LocalSteps:
    """The default back-end: each step on a thread of this process (up to ``jobs`` at once); its inputs are
    read from the store into a temporary folder under ``.art/tmp`` on the calling thread first."""

    def __init__(self, runner: _Runner) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.runner = runner
        self.pool = ThreadPoolExecutor(max(1, runner.options.jobs), thread_name_prefix="art-step")
        self.work: dict[Future, Path] = {}

    def submit(self, inv: Invocation, facts: dict[str, Any]) -> Future:
        repo = self.runner.repo
        work = Path(tempfile.mkdtemp(prefix=f"flow-{token()}-", dir=repo.tmp_dir))
        try:
            inputs = {
                p: (ref.materializer, read_into(repo, ref, work / "in" / p)) for p, ref in facts["inputs"].items()
            }
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        fut = self.pool.submit(_captured_call, inv.step, inv.name, dict(inv.params), inputs, work / "out")
        self.work[fut] = work
        return fut

    def wait_any(self, handles: list[Future]) -> list[tuple[Future, Done]]:
        from concurrent.futures import FIRST_COMPLETED, wait

        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        return [(fut, fut.result()) for fut in done]

    def finish(self, inv: Invocation, facts: dict[str, Any], handle: Future, outcome: Done) -> StepResult:
        try:
            return self.runner.store_done(inv, facts, outcome)
        finally:
            shutil.rmtree(self.work.pop(handle), ignore_errors=True)

    def lookup(self, inv: Invocation, facts: dict[str, Any]) -> StepResult | None:
        return None  # the local run cache is the only one

    def cancel_all(self, handles: list[Future]) -> None:
        for fut in handles:  # threads cannot be stopped: wait for them, then drop their folders
            fut.exception()
            work = self.work.pop(fut, None)
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _captured_call(step, name: str, params: dict[str, Any], inputs: dict[str, tuple[str, Path]], out: Path) -> Done:
    """``call_step`` on a worker thread, with the tails of what the step printed."""
    with capturing() as tails:
        done = call_step(step, name, params, inputs, out)
    done.tails = tails_of(tails)
    return done
