"""Execute a built pipeline graph in an art repository: per step, a cache lookup by run key, else run the function
(independent steps in parallel threads, ``jobs``), save each output with its materializer, store it like ``art
add`` does (content-defined chunks, the same packs, dedup) and write a step-run record; at the end a
pipeline-run record.

Bookkeeping (cache lookups, reading inputs from the store, storing outputs, records, the index) happens on the
calling thread; worker threads load the inputs with their materializers, call the function and save its
outputs into a temporary folder under ``.art/tmp``. The repository lock is held only while outputs and records
are stored, never while a step runs.

Run key (docs/python-pipelines.md): blake3 over the code hash (the function and what it reaches in the user's
code), the parameters, the sorted (input parameter, artifact id, materializer, version) of each input, and the
artifact names of the outputs. A hit also needs every output of the cached run in the store and its
materializer still registered at the recorded version.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ArtError
from ...objstore.faults import fault_point
from ...objstore.hashing import hash_bytes
from ...objstore.tmpowner import token
from ...workspace.repo import Repo
from ..errors import FlowError, StepFailedError
from .capture import capturing, tails_of, wrapped_streams
from .records import Provenance, write_run
from .result import CACHED, EXECUTED, FAILED, SKIPPED, ArtifactRef, PipelineRun, StepResult
from .store_io import CodeHashes, find_cached, read_into, store_outputs
from .values import canonical_json, check_json

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .api import Graph, Invocation, Pipeline

COMMIT_WAIT = 600.0  # seconds a finished step waits for the repository lock to store its outputs
MAX_ERROR = 64 << 10  # characters of a traceback kept in a run record
Event = Callable[[str, str, str], None]  # (event, step, detail)

_STEP = threading.local()  # .metadata: the dict log_metadata() adds to, on the thread running a step


@dataclass(frozen=True, slots=True)
class RunOptions:
    cache: bool = True
    jobs: int = 1
    on_event: Event | None = None


@dataclass(slots=True)
class _Done:
    """What a worker hands back: the saved outputs (folder + materializer facts) or the error."""

    started: float
    duration: float
    outputs: list[tuple[str, Path, str, int, dict[str, Any]]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    summary: str | None = None
    tails: dict[str, list[str]] = field(default_factory=dict)  # stdout_tail, stderr_tail


def log_metadata(metadata: dict[str, Any]) -> None:
    """Attach ``metadata`` (plain JSON: metrics, notes) to the run of the step that is running; keys merge.

    Raises:
        FlowError: outside a running step, or for a value that is not plain JSON.
    """
    current = getattr(_STEP, "metadata", None)
    if current is None:
        raise FlowError(
            "log_metadata() is called outside a running step",
            hint="call it inside a @step function while its pipeline runs",
        )
    if not isinstance(metadata, dict):
        raise FlowError(f"log_metadata() takes a dict, not a {type(metadata).__name__}")
    current.update(check_json(dict(metadata), "metadata"))


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
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        started_wall, t0 = time.time(), time.monotonic()
        pending = list(self.graph.invocations)
        running: dict[Future, tuple[Invocation, dict, Path]] = {}
        stop = False
        with wrapped_streams(), ThreadPoolExecutor(max(1, self.options.jobs), thread_name_prefix="art-step") as pool:
            try:
                while pending or running:
                    if not stop:
                        self._launch_ready(pool, pending, running)
                    if not running:
                        for inv in pending:
                            self._settle(StepResult(inv.name, SKIPPED, message="not run after a failure"))
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        inv, facts, work = running.pop(fut)
                        try:
                            result = self._finish(inv, facts, fut.result())
                        finally:
                            shutil.rmtree(work, ignore_errors=True)
                        self._settle(result)
                        stop = stop or result.status == FAILED
            except BaseException:
                for fut, (_, _, work) in running.items():
                    fut.exception()
                    shutil.rmtree(work, ignore_errors=True)
                raise
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

    def _launch_ready(self, pool, pending: list[Invocation], running: dict) -> None:
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
                        self._settle(self._cached(inv, cached))
                        break
                work = Path(tempfile.mkdtemp(prefix=f"flow-{token()}-", dir=self.repo.tmp_dir))
                try:
                    inputs = {
                        p: (ref, read_into(self.repo, ref, work / "in" / p)) for p, ref in facts["inputs"].items()
                    }
                except BaseException:
                    shutil.rmtree(work, ignore_errors=True)
                    raise
                self.emit("start", inv.name, inv.step.call)
                running[pool.submit(_work, inv, inputs, work / "out")] = (inv, facts, work)
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

    def _cached(self, inv: Invocation, run) -> StepResult:
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

    def _finish(self, inv: Invocation, facts: dict, done: _Done) -> StepResult:
        fault_point("flow.step-finished")
        fields = {
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


def _work(inv: Invocation, inputs: dict[str, tuple[ArtifactRef, Path]], out: Path) -> _Done:
    """On a worker thread: load the inputs, call the step, save each output into ``out/NAME``; with the tails
    of what it printed."""
    with capturing() as tails:
        done = _call(inv, inputs, out)
    done.tails = tails_of(tails)
    return done


def _call(inv: Invocation, inputs: dict[str, tuple[ArtifactRef, Path]], out: Path) -> _Done:
    from ..materializers import materializer_for, materializer_named

    started, t0 = time.time(), time.monotonic()
    metadata: dict[str, Any] = {}
    _STEP.metadata = metadata
    try:
        kwargs = dict(inv.params)
        for pname, (ref, folder) in inputs.items():
            kwargs[pname] = materializer_named(ref.materializer).load(folder)
        value = inv.step.fn(**kwargs)
        duration = time.monotonic() - t0
        declared, is_tuple = inv.step.outputs
        if is_tuple:
            if not isinstance(value, tuple | list) or len(value) != len(declared):
                got = (
                    f"a {type(value).__name__} of {len(value)}"
                    if isinstance(value, tuple | list)
                    else repr(type(value))
                )
                raise FlowError(
                    f"step {inv.name} is annotated to return {len(declared)} outputs but returned {got}",
                    hint="return a tuple with one value per annotated output",
                )
            values = list(value)
        else:
            values = [value]
        saved = []
        for spec, obj in zip(declared, values, strict=True):
            mat = materializer_for(obj, spec.annotation)
            folder = out / spec.name
            folder.mkdir(parents=True)
            meta = dict(mat.save(obj, folder) or {})
            saved.append((spec.name, folder, mat.name, int(getattr(mat, "version", 1)), meta))
        return _Done(started, duration, saved, metadata)
    except Exception as exc:
        text = "".join(traceback.format_exception(exc))
        summary = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if isinstance(exc, ArtError):
            summary = exc.message[:300] + (f" ({exc.hint})" if exc.hint else "")
        else:
            summary = f"{type(exc).__name__}: {summary}" if str(exc) else summary
        return _Done(started, time.monotonic() - t0, [], metadata, error=text, summary=summary)
    finally:
        _STEP.metadata = None
