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

Nothing here writes under the repository when the repository is opened with ``open_repo`` (the store and
``state.db`` are read in place; a stale run index is rebuilt in memory).
"""

from __future__ import annotations

import os

from ..workspace.readonly import ReadOnlyRepo, open_read_only
from .data_artifacts import artifact_data, artifacts_data
from .data_exps import experiments_data, plots_of
from .data_runs import run_data, runs_data
from .data_store import store_data

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
    to the data functions; close it (or use ``with``) when done.

    Raises:
        NotARepoError: outside an art repository (exit 10).
    """
    return open_read_only(start)
