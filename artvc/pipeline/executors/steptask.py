"""The worker side of a task of kind ``"step"`` (one step of a Python pipeline, ``flow/remote.py`` submits it).

``worker.execute`` has already checked the spec, looked at the remote's run-key marker and made the scratch
workspace; ``run_step`` then:

1. checks the code tree out at the scratch root and each input artifact, by id and verified, into
   ``.art-step/in/PARAM`` (the spec's ``deps``);
2. runs ``python -m artvc.pipeline.executors.stepmain .art-step/spec.json`` there (cwd = the scratch root,
   ``ART_STAGE``, stdin closed, its own process group; the cancel event is polled and kills the group): the
   step's inputs are loaded by their materializers, the function called, the outputs saved into
   ``.art-step/out/NAME`` (``stepmain.py``);
3. stores each output folder as a tree in the worker's store and writes the step-run record with the same
   fields as a local step run (``flow/engine.py``; machine facts and ``pid`` are the worker's), pushes both
   to the remote and publishes the run-key marker last (``WorkerCache.publish``);
4. returns the result; a step that raised is a result with ``ok`` false whose ``extra.step`` carries the
   traceback, its one-line summary and metadata (the client records the failed run, as a local run does;
   nothing is published).

The task spec's ``extra.step`` (``flow/remote.py`` builds it): ``{"pipeline", "modules": [module names to
import first], "inputs": [{"param", "path" (artifact name), "oid", "kind", "run", "materializer"}],
"outputs": [output names]}``; ``outs`` are the output artifact names ``PIPELINE/STEP/OUTPUT``.
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .protocol import ProtocolError, clip_lines

if TYPE_CHECKING:
    from collections.abc import Callable

    from .workercache import WorkerCache

STEP_DIR = ".art-step"
MAX_ERROR_SENT = 24 << 10  # characters of a traceback a result carries (a message is at most 64 KiB)
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def input_dir(param: str) -> str:
    """Where the input of parameter ``param`` is checked out, relative to the scratch root."""
    return f"{STEP_DIR}/in/{param}"


def check_step(spec: dict[str, Any]) -> dict[str, Any]:
    """The task spec's ``extra.step``, checked (the spec itself was checked by ``protocol``).

    Raises:
        ProtocolError: when it is missing or malformed.
    """
    step = (spec.get("extra") or {}).get("step")
    if not isinstance(step, dict):
        raise ProtocolError("invalid task spec: a step task needs extra.step")
    modules = step.get("modules")
    if (
        not isinstance(modules, list)
        or len(modules) > 64
        or not all(isinstance(m, str) and _MODULE.match(m) for m in modules)
    ):
        raise ProtocolError("invalid task spec: extra.step.modules must be module names")
    if not isinstance(step.get("pipeline"), str) or not step["pipeline"]:
        raise ProtocolError("invalid task spec: extra.step.pipeline must be a name")
    inputs = step.get("inputs")
    deps = {d["path"]: d for d in spec["deps"]}
    if not isinstance(inputs, list) or len(inputs) != len(deps):
        raise ProtocolError("invalid task spec: extra.step.inputs must list one input per dep")
    for item in inputs:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("param"), str)
            and _PARAM.match(item["param"])
            and isinstance(item.get("path"), str)
            and isinstance(item.get("materializer"), str)
            and deps.get(input_dir(item["param"]), {}).get("oid") == item.get("oid")
        ):
            raise ProtocolError("invalid task spec: extra.step.inputs must match the deps")
    outputs = step.get("outputs")
    prefix = f"{step['pipeline']}/{spec['name']}/"
    if not isinstance(outputs, list) or not all(_plain_name(o) for o in outputs):
        raise ProtocolError("invalid task spec: extra.step.outputs must be output names")
    if sorted(prefix + str(o) for o in outputs) != sorted(spec["outs"]):
        raise ProtocolError("invalid task spec: extra.step.outputs must match outs")
    return step


def _plain_name(name: object) -> bool:
    """An output name a step can declare: printable, no ``/``, not ``.`` or ``..`` (``flow/api.py``)."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= 100
        and "/" not in name
        and name not in (".", "..")
        and name.isprintable()
    )


def run_step(
    cache: WorkerCache,
    spec: dict[str, Any],
    root: Path,
    stopped: Callable[[], bool],
    read0: int,
    result: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    """Run the step task of ``spec`` in the scratch workspace ``root``; return the result dict, made by
    ``result(ok, returncode, **fields)`` (``worker.result``: it adds the worker's facts)."""
    from ...objstore.faults import fault_point
    from .. import runner
    from ..runrecord import provenance
    from . import stepmain

    step = check_step(spec)
    cache.materialize(spec["code_tree"], "dir", root, root=root)
    for dep in spec["deps"]:
        cache.materialize(dep["oid"], dep["kind"], root / dep["path"], root=root)
    fault_point("worker.inputs-ready")
    downloaded = cache.bytes_read - read0
    if stopped():
        return result(False, 130, cancelled=True, bytes_downloaded=downloaded)
    work = root / STEP_DIR
    spec_path = stepmain.write_spec(
        work,
        call=spec["call"],
        modules=step["modules"],
        name=spec["name"],
        params=spec["params"],
        inputs={i["param"]: (i["materializer"], root / input_dir(i["param"])) for i in step["inputs"]},
        outputs=list(step["outputs"]),
        code=root,
    )
    out_tail: deque[str] = deque(maxlen=runner.TAIL_LINES)
    done = runner.run_target(
        spec["name"],
        stepmain.argv(spec_path),
        root,
        env=spec["env"],
        new_session=True,
        stop=stopped,
        stdout_tail=out_tail,
    )
    tails = {"stderr_tail": clip_lines(done.stderr_tail), "stdout_tail": clip_lines(list(out_tail))}
    base = dict(started=done.started, duration=done.duration, bytes_downloaded=downloaded, **tails)
    if done.cancelled:
        return result(False, 130, cancelled=True, **base)
    try:
        res = stepmain.read_result(work / "result.json")
    except stepmain.SpecError as exc:  # it died before writing its result (killed, out of memory, ...)
        return result(
            False, done.returncode or 1, error=f"the step process exited with {done.returncode}: {exc}", **base
        )
    facts, packages = provenance(cache.root / "cache", spec["git"])
    fields = {
        "kind": "step",
        "pipeline": step["pipeline"],
        "stage": spec["name"],
        "call": spec["call"],
        "code_hash": spec["code_hash"],
        "code": spec["code"],
        "params": spec["params"],
        "inputs": [
            {"path": i["path"], "oid": i["oid"], "kind": i["kind"], "run": i["run"], "param": i["param"]}
            for i in sorted(step["inputs"], key=lambda i: i["param"])
        ],
        "metadata": res.get("metadata") or {},
        "run_key": spec["run_key"],
        "started": _iso(float(res["started"])),
        "duration": round(float(res["duration"]), 3),
        # what the step process printed (bounded like a local step's tails: runner.bounded_tail)
        "stdout_tail": runner.bounded_tail(list(out_tail)),
        "stderr_tail": runner.bounded_tail(done.stderr_tail),
    }
    base.update(started=float(res["started"]), duration=float(res["duration"]))
    if not res["ok"]:
        error = str(res.get("error") or "")
        failed = {
            "summary": str(res.get("summary") or "it raised"),
            "error": error[-MAX_ERROR_SENT:],
            "metadata": fields["metadata"],
            "facts": {k: facts[k] for k in ("user", "host", "platform", "python", "art", "pid")},
        }
        return result(False, 1, error=failed["summary"][:4000], extra={"step": failed}, **base)
    outs, record_outs = [], []
    by_name = {o["name"]: o for o in res["outputs"]}
    for name in step["outputs"]:
        o = by_name.get(name)
        if o is None:
            return result(False, 1, error=f"the step saved no output {name!r}", **base)
        rel = f"{STEP_DIR}/out/{name}"
        lock = cache.ingest(root / rel, rel, root=root)
        path = f"{step['pipeline']}/{spec['name']}/{name}"
        outs.append({**lock, "path": path})
        record_outs.append(_record_out(path, lock, o))
    fault_point("worker.outputs-stored")
    if stopped():
        return result(False, 130, cancelled=True, **base)
    fields.update(exit_status=0, outputs=record_outs, **facts)
    run_oid = cache.publish(fields, outs, packages)
    return result(True, 0, run_oid=run_oid, outs=outs, **base)


_RESERVED = frozenset({"path", "oid", "kind", "size", "files", "type", "preview", "materializer"})


def _record_out(path: str, lock: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
    """A step run's ``outputs`` entry, as ``flow/store_io.store_outputs`` writes it locally."""
    meta = saved["meta"]
    details = {str(k): v for k, v in meta.items() if k not in _RESERVED}
    return {
        "path": path,
        "oid": lock["id"],
        "kind": "dir",
        "size": lock["size"],
        "files": lock["files"],
        "type": str(meta.get("type", "")),
        "materializer": saved["materializer"],
        "materializer_version": saved["materializer_version"],
        "preview": str(meta.get("preview", ""))[:200],
        **({"details": details} if details else {}),
    }


def _iso(epoch: float) -> str:
    from ..runrecord import started_iso

    return started_iso(epoch)
