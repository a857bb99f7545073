"""The params and metrics an experiment records and ``art exp show`` compares: ``params_at`` and
``metrics_at`` of the pipeline (docs/pipelines.md), with what cannot be read left out rather than failing."""

from __future__ import annotations

from typing import Any

from ..errors import ArtError
from ..workspace.repo import Repo
from .metrics import metrics_at
from .params import params_at

Tables = dict[str, dict[str, Any]]  # file -> flattened dotted key -> value


def values_at(repo: Repo, rev: str | None) -> tuple[Tables, Tables]:
    """(params, metrics) of the workspace (``rev`` None) or of git revision ``rev``; a side that cannot be read
    (a malformed file, metrics not in the local store) is empty."""
    return _or_empty(lambda: params_at(repo, rev)), _or_empty(lambda: metrics_at(repo, rev))


def _or_empty(read) -> Tables:
    try:
        return read()
    except ArtError:
        return {}
