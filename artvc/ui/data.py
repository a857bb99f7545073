"""The data behind every page of ``art ui`` (docs/ui.md), the same JSON the matching CLI command prints with
``--json``:

==========================  ==============================================================
``runs_data``               ``art runs --json`` (every run kind, newest first, filtered)
``run_data``                ``art runs show ID --json`` (a run's DAG and its steps)
``artifacts_data``          ``art artifacts --json`` plus the tracked paths
``artifact_data``           ``art artifacts show NAME --json`` plus versions in git, preview, lineage
``experiments_data``        ``art exp show --json`` plus the plots
``store_data``              ``art du --json`` plus per commit sizes and the remotes
==========================  ==============================================================

Nothing here writes under the repository: each function reads through a ``ReadOnlyRepo`` (the store and
``state.db`` read in place, a stale run index rebuilt in memory): the one it is given (``open_repo``), or one
it opens on the root of the ``Repo`` it is given, for the call.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from ..workspace.readonly import ReadOnlyRepo, open_read_only
from . import data_artifacts, data_exps, data_runs, data_store
from .data_exps import plots_of

F = TypeVar("F", bound=Callable[..., Any])


def _reading(fn: F) -> F:
    """``fn(repo, ...)`` through a read-only view of ``repo``."""

    @functools.wraps(fn)
    def wrapper(repo: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(repo, ReadOnlyRepo):
            return fn(repo, *args, **kwargs)
        with ReadOnlyRepo(repo.root) as view:
            return fn(view, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


runs_data = _reading(data_runs.runs_data)
run_data = _reading(data_runs.run_data)
artifacts_data = _reading(data_artifacts.artifacts_data)
artifact_data = _reading(data_artifacts.artifact_data)
experiments_data = _reading(data_exps.experiments_data)
store_data = _reading(data_store.store_data)

__all__ = [
    "ReadOnlyRepo",
    "artifact_data",
    "artifacts_data",
    "experiments_data",
    "open_repo",
    "plots_of",
    "run_data",
    "runs_data",
    "store_data",
]


def open_repo(start: str | os.PathLike | None = None) -> ReadOnlyRepo:
    """The repository containing ``start`` (default: the current directory), opened for reading only: pass it
    to the data functions; close it (or use ``with``) when done. It reads ``state.db`` as it was when first
    used: open one per request to see runs recorded since.

    Raises:
        NotARepoError: outside an art repository (exit 10).
    """
    return open_read_only(start)
