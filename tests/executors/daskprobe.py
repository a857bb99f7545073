"""A scheduler plugin that records what reached the Dask scheduler, for the executor tests.

It runs inside the `dask scheduler` subprocess of tests/executors/cluster.py (whose PYTHONPATH holds the repository
root so that this module imports there). For every task key starting with ``art-`` it keeps: when the graph
arrived (``submitted``), each worker the task was sent to (``placements``, in order: a SIGKILLed worker's task
shows two), its final state, and the pickled task spec (``spec``), so a test can check what travelled in the
message (no secret). Nothing here is imported by art itself.
"""

from __future__ import annotations

import os
import pickle
import time
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

NAME = "art-test-recorder"
PREFIX = "art-"


class TaskRecorder(SchedulerPlugin):
    name = NAME

    def __init__(self) -> None:
        self.submitted: dict[str, list[float]] = {}  # key -> the times a graph holding it arrived
        self.placements: dict[str, list[str]] = {}
        self.finished: dict[str, str] = {}
        self.specs: dict[str, bytes] = {}
        self.scheduler: Any = None

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def update_graph(self, scheduler: Any, *, keys: Any, tasks: Any = (), **kwargs: Any) -> None:
        now = time.time()
        for key in set(keys) | set(tasks or ()):
            k = str(key)
            if not k.startswith(PREFIX):
                continue
            self.submitted.setdefault(k, []).append(now)
            ts = scheduler.tasks.get(key)
            if ts is not None and k not in self.specs:
                try:
                    self.specs[k] = pickle.dumps(ts.run_spec)
                except Exception as exc:  # recorded, so the test sees why the spec is missing
                    self.specs[k] = f"unpicklable run_spec: {exc!r}".encode()

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        k = str(key)
        if not k.startswith(PREFIX):
            return
        if finish == "processing" and self.scheduler is not None:
            ts = self.scheduler.tasks.get(key)
            worker = ts.processing_on.address if ts is not None and ts.processing_on is not None else "?"
            self.placements.setdefault(k, []).append(worker)
        if finish in ("memory", "erred", "forgotten", "released"):
            self.finished[k] = finish


def snapshot(dask_scheduler: Any) -> dict[str, Any]:
    """Run on the scheduler (client.run_on_scheduler): a copy of what the recorder saw."""
    plugin = dask_scheduler.plugins.get(NAME)
    if plugin is None:
        return {"submitted": {}, "placements": {}, "finished": {}, "specs": {}}
    return {
        "submitted": {k: list(v) for k, v in plugin.submitted.items()},
        "placements": {k: list(v) for k, v in plugin.placements.items()},
        "finished": dict(plugin.finished),
        "specs": dict(plugin.specs),
    }


def dask_setup(server: Any) -> None:
    """`--preload` hook. On the scheduler: install the recorder. On a worker (preloaded by file path, so workers
    need nothing of the tests on their path): report the worker's pid in its registration, so that
    `client.scheduler_info()["workers"][address]["pid"]` names the process."""
    if hasattr(server, "startup_information"):
        server.startup_information["pid"] = lambda worker: os.getpid()
    else:
        server.add_plugin(TaskRecorder(), name=NAME)
