"""Plain JSON values: what step and pipeline parameters and logged metadata may be, and their canonical text."""

from __future__ import annotations

import json
import math
from typing import Any

from ..errors import FlowError


class Handle:
    """Base of ``api.OutputHandle`` (a step output while a pipeline is built): never a plain value."""

    @property
    def artifact(self) -> str:
        raise NotImplementedError


def check_json(value: Any, what: str) -> Any:
    """Return ``value`` if it is plain JSON (None, bool, int, finite float, str, and lists/tuples and dicts with
    str keys of those), else raise FlowError naming ``what`` and the offending type."""

    def bad(v: Any) -> str | None:
        if v is None or isinstance(v, bool | int | str):
            return None
        if isinstance(v, float):
            return None if math.isfinite(v) else f"the float {v!r}"
        if isinstance(v, Handle):
            return f"step output {v.artifact} inside a container"
        if isinstance(v, list | tuple):
            return next((b for b in map(bad, v) if b), None)
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                return "a dict with non-string keys"
            return next((b for b in map(bad, v.values()) if b), None)
        return f"a {type(v).__module__}.{type(v).__qualname__}"

    problem = bad(value)
    if problem:
        raise FlowError(
            f"{what} is not a plain JSON value: {problem}",
            hint="parameters are JSON (numbers, strings, bools, None, lists, dicts); pass data as the output of "
            "another step",
        )
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
