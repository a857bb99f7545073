"""The local executor: stages run as processes of this machine, at most ``jobs`` at a time, each waited
for on a thread of a pool (what ``art repro`` has always done; bookkeeping stays on the calling thread)."""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Executor


@dataclass(frozen=True, slots=True)
class LocalTask:
    """Run ``stage`` in the workspace at ``root``, streaming output lines to ``output``."""

    stage: Any  # spec.Stage
    root: Path
    output: Any = None  # runner.Output | None


class LocalExecutor(Executor):
    def __init__(self, jobs: int = 1) -> None:
        self.pool = ThreadPoolExecutor(max(1, jobs), thread_name_prefix="art-stage")
        self._running: set[Future] = set()

    def submit(self, task: LocalTask) -> Future:
        from .. import runner

        fut = self.pool.submit(runner.run, task.stage, task.root, output=task.output)
        self._running.add(fut)
        return fut

    def wait_any(self, handles: Collection[Future], timeout: float | None) -> list[tuple[Future, Any]]:
        done, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        out = []
        for fut in done:
            self._running.discard(fut)
            out.append((fut, fut.result()))
        return out

    def cancel_all(self) -> None:
        # a stage process got the terminal's interrupt too (same process group): wait for it to end
        for fut in list(self._running):
            if not fut.cancel():
                fut.exception()
            self._running.discard(fut)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
