"""The executor interface: how ``art repro`` (``pipeline/executor.py``) and the flow engine hand stages to
whatever runs them, and get results back.

Planning, staleness, run keys and every write to the workspace stay with the caller; an executor only runs
tasks. Two implementations: ``local.LocalExecutor`` (a thread pool on this machine, the default) and
``dask_backend.DaskExecutor`` (a Dask cluster; tasks are ``protocol`` specs, results come back as
``protocol`` results after the worker published the run on the remote).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from typing import Any

Handle = Any  # what ``submit`` returns: opaque to the caller, hashable


class Executor(ABC):
    """Runs submitted tasks; ``remote`` is True when results are runs published on a remote (not local
    processes whose outputs are in the workspace)."""

    remote: bool = False

    @abstractmethod
    def submit(self, task: Any) -> Handle:
        """Start ``task`` (or queue it); return its handle."""

    @abstractmethod
    def wait_any(self, handles: Collection[Handle], timeout: float | None) -> list[tuple[Handle, Any]]:
        """Wait until at least one of ``handles`` is done (or ``timeout`` seconds passed: then maybe none);
        return the done ones with their results. A task that raised re-raises here."""

    @abstractmethod
    def cancel_all(self) -> None:
        """Stop every task not done yet (interrupt): queued ones are dropped, running ones stopped when the
        executor can, else waited for. Returns when none runs any more (or the executor gave up on them)."""

    @abstractmethod
    def close(self) -> None:
        """Release what the executor holds (threads, connections, a cluster it started)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
