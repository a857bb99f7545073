"""Calling one step: load its inputs with their materializers, call the function with its parameters, save each
output with the materializer chosen for the object into ``out/NAME``. The same code runs on a worker thread of
a local pipeline run (``engine.py``) and in the fresh process of a step run on a distributed worker
(``pipeline/executors/stepmain.py``), so both store the same bytes for the same step."""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ArtError
from ..errors import FlowError
from .values import check_json

if TYPE_CHECKING:
    from .api import Step

_STEP = threading.local()  # .metadata: the dict log_metadata() adds to, on the thread running a step

Saved = tuple[str, Path, str, int, dict[str, Any]]  # output name, folder, materializer, its version, its facts


@dataclass(slots=True)
class Done:
    """What a step call hands back: the saved outputs (folder + materializer facts) or the error."""

    started: float
    duration: float
    outputs: list[Saved] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    summary: str | None = None
    tails: dict[str, list[str]] = field(default_factory=dict)  # stdout_tail, stderr_tail (capture.py)


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


def call_step(step: Step, name: str, params: dict[str, Any], inputs: dict[str, tuple[str, Path]], out: Path) -> Done:
    """Run invocation ``name`` of ``step``: ``inputs`` maps a parameter to (materializer name, folder holding
    the artifact's files); each output is saved into the new folder ``out/OUTPUT``. Never raises for what the
    step (or a materializer) raises: that is returned as ``Done.error`` (the traceback) and ``Done.summary``."""
    from ..materializers import materializer_for, materializer_named

    started, t0 = time.time(), time.monotonic()
    metadata: dict[str, Any] = {}
    _STEP.metadata = metadata
    try:
        kwargs = dict(params)
        for pname, (materializer, folder) in inputs.items():
            kwargs[pname] = materializer_named(materializer).load(folder)
        value = step.fn(**kwargs)
        duration = time.monotonic() - t0
        declared, is_tuple = step.outputs
        if is_tuple:
            if not isinstance(value, tuple | list) or len(value) != len(declared):
                got = (
                    f"a {type(value).__name__} of {len(value)}"
                    if isinstance(value, tuple | list)
                    else repr(type(value))
                )
                raise FlowError(
                    f"step {name} is annotated to return {len(declared)} outputs but returned {got}",
                    hint="return a tuple with one value per annotated output",
                )
            values = list(value)
        else:
            values = [value]
        saved: list[Saved] = []
        for spec, obj in zip(declared, values, strict=True):
            mat = materializer_for(obj, spec.annotation)
            folder = out / spec.name
            folder.mkdir(parents=True)
            meta = dict(mat.save(obj, folder) or {})
            saved.append((spec.name, folder, mat.name, int(getattr(mat, "version", 1)), meta))
        return Done(started, duration, saved, metadata)
    except Exception as exc:
        return Done(started, time.monotonic() - t0, [], metadata, error=format_error(exc), summary=summarize(exc))
    finally:
        _STEP.metadata = None


def format_error(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def summarize(exc: BaseException) -> str:
    """One line for the event and the ``StepFailedError``: the art error's message and hint, else the type."""
    if isinstance(exc, ArtError):
        return exc.message[:300] + (f" ({exc.hint})" if exc.hint else "")
    if not str(exc):
        return type(exc).__name__
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
