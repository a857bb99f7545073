"""What ``art run module:pipeline -p key=value`` needs: import the pipeline from the workspace and parse its
parameters."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from ...errors import ArtError
from ..errors import FlowError, PipelineParamError
from ..fresh_source import install
from .api import Pipeline


def load_target(root: Path, target: str) -> Pipeline:
    """Import ``module:name`` with the workspace root first on ``sys.path`` (like ``call`` stages) and return
    the ``@pipeline`` it names. Modules already imported from inside the workspace are imported again, so a
    long-lived process sees the code as it is on disk.

    Raises:
        PipelineParamError: for a target not of the form ``module:name`` (exit 2).
        FlowError: when the module cannot be imported or the name is not a pipeline.
    """
    module, sep, name = target.partition(":")
    if not sep or not module or not name:
        raise PipelineParamError(
            f"{target!r} is not MODULE:PIPELINE", hint="for example: art run pipelines.digits:digits_pipeline"
        )
    base = str(root)
    _forget_workspace_modules(base, module)
    install(base)  # the workspace's modules as they are now, never a stale .pyc
    for old in _INSERTED:  # another workspace's root, put there by an earlier call in this process
        if old in sys.path:
            sys.path.remove(old)
    _INSERTED[:] = [base]
    sys.path.insert(0, base)  # kept while the pipeline runs: steps may import workspace modules lazily
    try:
        mod = importlib.import_module(module)
    except ArtError:
        raise
    except Exception as exc:  # the user's module: any error is theirs
        raise FlowError(
            f"cannot import {module}: {type(exc).__name__}: {exc}",
            hint="the module is imported with the workspace root first on sys.path",
        ) from exc
    found = getattr(mod, name, None)
    if found is None:
        raise FlowError(f"module {module} has no {name!r}", hint="name a function decorated with @pipeline")
    if not isinstance(found, Pipeline):
        raise FlowError(f"{target} is not a @pipeline", hint="decorate the function with @pipeline from artvc")
    return found


_INSERTED: list[str] = []


def _forget_workspace_modules(root: str, module: str) -> None:
    """Drop from ``sys.modules`` the modules imported from this workspace, and those named like the target's
    package but imported from elsewhere, so that the import reads the files as they are now."""
    prefix = root.rstrip(os.sep) + os.sep
    top = module.split(".")[0]
    for name, mod in list(sys.modules.items()):
        if name.startswith("artvc"):
            continue
        f = getattr(mod, "__file__", None)
        if f and _installed(os.path.abspath(str(f))):
            continue  # a library (maybe in a virtualenv inside the workspace): imported once per process
        inside = bool(f) and os.path.abspath(str(f)).startswith(prefix)
        if inside or ((name == top or name.startswith(top + ".")) and f and not inside):
            del sys.modules[name]


def _installed(path: str) -> bool:
    parts = path.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return True
    return any(path.startswith(p.rstrip(os.sep) + os.sep) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})


def parse_params(pipeline: Pipeline, pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs as parameters of ``pipeline``: each value is JSON when it parses, else a string.

    Raises:
        PipelineParamError: for a pair without ``=`` or a key the pipeline does not take (exit 2).
    """
    params: dict[str, Any] = {}
    known = list(pipeline.signature.parameters)
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise PipelineParamError(f"-p {pair!r} is not KEY=VALUE", hint="for example: -p gamma=0.01")
        if key not in known:
            raise PipelineParamError(
                f"pipeline {pipeline.name} has no parameter {key!r}",
                hint=f"its parameters: {', '.join(known)}" if known else f"pipeline {pipeline.name} takes none",
            )
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params
