"""Run one step of a Python pipeline in a fresh process: ``python -m artvc.pipeline.executors.stepmain SPEC``.

This is what a distributed worker runs for a task of kind ``"step"`` (``steptask.py``): the code tree checked
out, each input artifact checked out by id into its own folder. The process puts the code folder first on
``sys.path``, imports the pipeline's module (it registers the materializers the step's objects need) and the
step's, loads each input with its materializer, calls the function with its parameters and saves each output
with the materializer chosen for the object into ``OUT/NAME`` — the very code a local run uses on its thread
(``flow/stepcall.py``), so the same step stores the same bytes wherever it runs.

SPEC is a JSON file (``write_spec`` writes it; paths relative to its folder)::

    {"v": 1, "call": "steps:trainer", "modules": ["pipelines"], "name": "trainer", "params": {...},
     "inputs": {"X": {"materializer": "numpy.npy", "dir": "in/X"}}, "outputs": ["model"],
     "code": "..", "out": "out", "result": "result.json"}

It writes RESULT (JSON): ``{"v": 1, "ok", "started", "duration", "metadata", "outputs": [{"name",
"materializer", "materializer_version", "meta"}], "error"?, "summary"?}``. Exit status: 0 when the step
returned and its outputs are saved, 1 when it (or loading, importing, saving) raised — RESULT has the
traceback —, 2 when SPEC itself is unusable (nothing ran).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

VERSION = 1
MAX_SPEC = 4 << 20  # bytes of a spec file
MAX_RESULT = 4 << 20  # bytes of a result file
USAGE = 2


class SpecError(Exception):
    """The spec file is missing, too large or malformed."""


def _rel(base: Path, value: object, field: str) -> Path:
    if not isinstance(value, str) or not value or "\0" in value:
        raise SpecError(f"{field} must be a path")
    return (base / value).resolve()


def read_spec(path: Path) -> dict[str, Any]:
    """The validated spec at ``path`` with its paths resolved against the spec's folder.

    Raises:
        SpecError: when it cannot be read or a field is missing or has the wrong type.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SPEC + 1)
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_SPEC:
        raise SpecError(f"{path} is larger than {MAX_SPEC} bytes")
    try:
        spec = json.loads(data)
    except ValueError as exc:
        raise SpecError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(spec, dict) or spec.get("v") != VERSION:
        raise SpecError(f"{path} is not a version {VERSION} step spec")
    base = path.resolve().parent
    call = spec.get("call")
    if not isinstance(call, str) or call.count(":") != 1 or "<" in call:
        raise SpecError("call must be module:qualname")
    modules = spec.get("modules", [])
    if not isinstance(modules, list) or not all(isinstance(m, str) and m for m in modules):
        raise SpecError("modules must be a list of module names")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError("name must be the step's invocation name")
    params = spec.get("params", {})
    if not isinstance(params, dict):
        raise SpecError("params must be a map")
    inputs: dict[str, tuple[str, Path]] = {}
    raw = spec.get("inputs", {})
    if not isinstance(raw, dict):
        raise SpecError("inputs must be a map")
    for pname, item in raw.items():
        if not isinstance(item, dict) or not isinstance(item.get("materializer"), str):
            raise SpecError(f"inputs.{pname} must be {{materializer, dir}}")
        inputs[pname] = (item["materializer"], _rel(base, item.get("dir"), f"inputs.{pname}.dir"))
    outputs = spec.get("outputs")
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise SpecError("outputs must be a list of output names")
    return {
        "call": call,
        "modules": list(modules),
        "name": name,
        "params": params,
        "inputs": inputs,
        "outputs": list(outputs),
        "code": _rel(base, spec.get("code", "."), "code"),
        "out": _rel(base, spec.get("out", "out"), "out"),
        "result": _rel(base, spec.get("result", "result.json"), "result"),
    }


def write_spec(
    folder: Path,
    *,
    call: str,
    modules: list[str],
    name: str,
    params: dict[str, Any],
    inputs: dict[str, tuple[str, Path]],
    outputs: list[str],
    code: Path,
) -> Path:
    """Write ``folder/spec.json`` for a step whose outputs go to ``folder/out`` and result to
    ``folder/result.json``; return its path (the argument of ``python -m artvc.pipeline.executors.stepmain``)."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "v": VERSION,
        "call": call,
        "modules": modules,
        "name": name,
        "params": params,
        "inputs": {p: {"materializer": m, "dir": os.path.relpath(d, folder)} for p, (m, d) in inputs.items()},
        "outputs": outputs,
        "code": os.path.relpath(code, folder),
        "out": "out",
        "result": "result.json",
    }
    path = folder / "spec.json"
    tmp = folder / "spec.json.tmp"
    tmp.write_text(json.dumps(spec, sort_keys=True))
    tmp.replace(path)
    return path


def argv(spec_path: Path) -> list[str]:
    """The command that runs the step of ``spec_path`` with this interpreter."""
    return [sys.executable, "-m", "artvc.pipeline.executors.stepmain", str(spec_path)]


def read_result(path: Path) -> dict[str, Any]:
    """The result a step process wrote, checked field by field.

    Raises:
        SpecError: when it is missing, too large or malformed (the process died before writing it).
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_RESULT + 1)
        if len(data) > MAX_RESULT:
            raise SpecError(f"{path.name} is larger than {MAX_RESULT} bytes")
        res = json.loads(data)
    except (OSError, ValueError) as exc:
        raise SpecError(f"the step wrote no usable {path.name}: {exc}") from exc
    ok = res.get("ok") if isinstance(res, dict) else None
    if not isinstance(ok, bool) or res.get("v") != VERSION:
        raise SpecError(f"{path.name} is not a version {VERSION} step result")
    outs = res.get("outputs", [])
    good = isinstance(outs, list) and all(
        isinstance(o, dict)
        and isinstance(o.get("name"), str)
        and isinstance(o.get("materializer"), str)
        and isinstance(o.get("materializer_version"), int)
        and isinstance(o.get("meta"), dict)
        for o in outs
    )
    if not good or not isinstance(res.get("metadata", {}), dict):
        raise SpecError(f"{path.name} has malformed outputs or metadata")
    for field in ("started", "duration"):
        if not isinstance(res.get(field, 0.0), int | float) or isinstance(res.get(field), bool):
            raise SpecError(f"{path.name}: {field} must be a number")
    for field in ("error", "summary"):
        if res.get(field) is not None and not isinstance(res[field], str):
            raise SpecError(f"{path.name}: {field} must be a text")
    return res


def _find_step(call: str):
    """The ``@step`` object named ``module:qualname`` (the decorator replaced the function by it)."""
    import importlib

    module, _, qualname = call.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not (callable(getattr(obj, "fn", None)) and hasattr(obj, "outputs")):  # a flow.api.Step
        raise TypeError(f"{call} is not a @step function here")
    return obj


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Import, load, call and save as the spec says; return the result (also on failure)."""
    from ..flow.stepcall import Done, call_step, format_error, summarize

    code = str(spec["code"])
    from ..fresh_source import install

    install(code)  # the step's modules as they are now, never a stale .pyc
    if code not in sys.path:
        sys.path.insert(0, code)
    t0, started = time.monotonic(), time.time()
    try:
        import importlib

        for module in spec["modules"]:
            importlib.import_module(module)
        step = _find_step(spec["call"])
        declared = [o.name for o in step.outputs[0]]
        if declared != spec["outputs"]:
            raise RuntimeError(
                f"step {spec['name']} declares the outputs {declared} here, the client expected {spec['outputs']}: "
                "the worker's code differs from the client's"
            )
    except Exception as exc:  # the user's modules: their errors are the step's failure
        done = Done(started, time.monotonic() - t0, error=format_error(exc), summary=summarize(exc))
    else:
        done = call_step(step, spec["name"], dict(spec["params"]), spec["inputs"], spec["out"])
    result: dict[str, Any] = {
        "v": VERSION,
        "ok": done.error is None,
        "started": done.started,
        "duration": done.duration,
        "metadata": done.metadata,
        "outputs": [
            {"name": n, "materializer": m, "materializer_version": v, "meta": _plain(meta)}
            for n, _, m, v, meta in done.outputs
        ],
    }
    if done.error is not None:
        result.update(error=done.error, summary=done.summary)
    return result


def _plain(meta: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(meta, default=str, allow_nan=False))
    except (ValueError, TypeError):
        return {str(k): str(v) for k, v in meta.items()}


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    if len(args) != 1:
        print("usage: python -m artvc.pipeline.executors.stepmain SPEC", file=sys.stderr)
        return USAGE
    try:
        spec = read_spec(Path(args[0]))
    except SpecError as exc:
        print(f"art: error: {exc}", file=sys.stderr)
        return USAGE
    result = run(spec)
    path: Path = spec["result"]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, sort_keys=True, allow_nan=True))
    tmp.replace(path)
    if not result["ok"]:
        print(f"art: step {spec['name']} failed: {result['summary']}", file=sys.stderr)
        print(result["error"], file=sys.stderr, end="")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
