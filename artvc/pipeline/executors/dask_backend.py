"""The Dask executor (client side): stages as tasks of a ``distributed`` cluster.

Connects to a scheduler (``--scheduler tcp://H:P``, ``--scheduler-file F``) or starts a ``LocalCluster`` of
``N`` worker processes (``--local-cluster N``, each worker in its own directory; closed on exit). Each task is
``worker.run_stage(spec)`` with key ``art-<run_key>`` (duplicate submissions collapse in the scheduler),
``retries`` (a lost worker; a failing command is a result, never retried) and the stage's ``resources``.

Cancel (Ctrl-C): a ``distributed.Event`` named after this session is set — running tasks poll it and kill their
stage's process group — and every future is cancelled; ``cancel_all`` returns within a few seconds.
A task whose resources no worker has waits (Dask semantics); after ``wait_notice`` seconds a notice says so once.

``distributed`` is imported here (and in ``worker.py``) only, and only when this executor is made.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

from ...errors import ArtError
from .base import Executor
from .protocol import decode_result, encode_spec

CANCEL_GRACE = 4.0  # seconds cancel_all waits for running tasks to report that they stopped
STEP = 0.5  # seconds between looks while waiting (wait notices)


class ExecutorSetupError(ArtError):
    """The distributed executor cannot start (``distributed`` missing, scheduler unreachable, bad options)."""


def _import():
    try:
        import distributed
    except ImportError as exc:
        raise ExecutorSetupError(
            "--executor dask needs the 'distributed' package",
            hint="pip install 'artvc[dask]'",
        ) from exc
    return distributed


class DaskExecutor(Executor):
    """Args:
    scheduler: a scheduler address (``tcp://host:8786``).
    scheduler_file: a scheduler file written by ``dask scheduler --scheduler-file``.
    local_cluster: start a LocalCluster of this many worker processes (one thread each).
    retries: infrastructure retries per task (a lost worker).
    wait_notice: seconds after which a task still waiting for its resources is reported (once).
    notice: where such notices go (a line on stderr by default).
    worker_env: extra environment of the local cluster's workers (tests: credentials of a test bucket).
    """

    remote = True

    def __init__(
        self,
        *,
        scheduler: str | None = None,
        scheduler_file: str | None = None,
        local_cluster: int | None = None,
        retries: int = 2,
        wait_notice: float = 30.0,
        notice: Callable[[str], None] | None = None,
        worker_env: dict[str, str] | None = None,
    ) -> None:
        if sum(x is not None and x != "" for x in (scheduler, scheduler_file, local_cluster)) != 1:
            raise ExecutorSetupError(
                "--executor dask needs one of --scheduler, --scheduler-file or --local-cluster",
                hint="art repro --executor dask --local-cluster 2 (or set [executor] scheduler in .art/config)",
            )
        _import()  # fail early when the package is missing
        self.scheduler, self.scheduler_file, self.local_cluster = scheduler, scheduler_file, local_cluster
        self.worker_env = worker_env
        self.retries = retries
        self.wait_notice = wait_notice
        self.notice = notice or _stderr
        self.session = uuid.uuid4().hex[:16]
        self.event_name = f"art-cancel-{self.session}"
        self.cluster: Any = None
        self.client: Any = None
        self.event: Any = None
        self._tmp: Any = None
        self._submitted: dict[Any, tuple[float, str, dict[str, float]]] = {}
        self._noticed: set[str] = set()

    def connect(self) -> None:
        """Connect to the scheduler, or start the local cluster (done by the first ``submit``: a repro whose
        stages all come from a run cache never starts or contacts a cluster).

        Raises:
            ExecutorSetupError: when the scheduler cannot be reached or the cluster cannot start.
        """
        if self.client is not None:
            return
        distributed = _import()
        scheduler, scheduler_file, local_cluster = self.scheduler, self.scheduler_file, self.local_cluster
        try:
            if local_cluster is not None:
                import tempfile

                if local_cluster < 1:
                    raise ExecutorSetupError("--local-cluster needs at least 1 worker")
                self._tmp = tempfile.TemporaryDirectory(prefix="art-dask-")
                self.cluster = distributed.LocalCluster(
                    n_workers=local_cluster,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    local_directory=self._tmp.name,
                    env=self.worker_env or {},
                    silence_logs=logging.CRITICAL,  # a task's failure is reported once, by art
                )
                self.client = distributed.Client(self.cluster)
            elif scheduler_file:
                self.client = distributed.Client(scheduler_file=scheduler_file, timeout="20s")
            else:
                self.client = distributed.Client(scheduler, timeout="20s")
        except ArtError:
            self.close()
            raise
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            where = scheduler or scheduler_file or "a local cluster"
            raise ExecutorSetupError(
                f"cannot connect to the Dask scheduler {where}: {exc}",
                hint="check the address (or scheduler file) and that the scheduler runs",
            ) from exc
        self.event = distributed.Event(self.event_name, client=self.client)

    # -- the interface ------------------------------------------------------------------------------------

    def submit(self, task: dict[str, Any]) -> Any:
        from .worker import run_stage

        data = encode_spec(task)
        self.connect()
        fut = self.client.submit(
            run_stage,
            data,
            self.event_name,
            key=f"art-{task['run_key']}",
            pure=False,
            retries=self.retries,
            resources=task.get("resources") or None,
        )
        self._submitted[fut] = (time.monotonic(), task["name"], dict(task.get("resources") or {}))
        return fut

    def wait_any(self, handles: Collection[Any], timeout: float | None) -> list[tuple[Any, Any]]:
        distributed = _import()
        deadline = None if timeout is None else time.monotonic() + timeout
        handles = list(handles)
        while True:
            step = STEP if deadline is None else max(0.0, min(STEP, deadline - time.monotonic()))
            try:
                done, _ = distributed.wait(handles, timeout=step, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            if done:
                return [(fut, self._result(fut)) for fut in done]
            self._notices(handles)
            if deadline is not None and time.monotonic() >= deadline:
                return []

    def _result(self, fut) -> dict[str, Any]:
        self._submitted.pop(fut, None)
        try:
            data = fut.result()
        except Exception as exc:  # the task raised (after its retries), or its worker kept dying
            return {
                "v": 1,
                "ok": False,
                "returncode": 1,
                "run_oid": None,
                "error": f"{type(exc).__name__}: {exc}"[:4000],
                "stderr_tail": [],
            }
        return decode_result(data)

    def _notices(self, handles: list[Any]) -> None:
        now = time.monotonic()
        waiting = [
            (name, res)
            for fut in handles
            if fut in self._submitted
            for t0, name, res in [self._submitted[fut]]
            if res and name not in self._noticed and now - t0 >= self.wait_notice and fut.status == "pending"
        ]
        if not waiting:
            return
        try:
            workers = self.client.scheduler_info()["workers"].values()
        except Exception:  # a notice is best effort
            return
        for name, res in waiting:
            if not any(all(w.get("resources", {}).get(k, 0) >= v for k, v in res.items()) for w in workers):
                self._noticed.add(name)
                need = ", ".join(f"{k}={v:g}" for k, v in res.items())
                self.notice(f"waiting for a worker with {need} for stage {name}")

    def cancel_all(self) -> None:
        if self.client is None:
            return
        futures = list(self._submitted)
        try:
            self.event.set()
        except Exception:  # the scheduler may be gone already
            pass
        try:
            self.client.cancel(futures, force=True)
        except Exception:
            pass
        # running tasks see the event within a poll and kill their process groups (SIGKILL after 3 s)
        deadline = time.monotonic() + CANCEL_GRACE
        while time.monotonic() < deadline:
            try:
                busy = self.client.processing()
            except Exception:
                break
            if not any(any(str(k).startswith("art-") for k in keys) for keys in busy.values()):
                break
            time.sleep(0.2)
        self._submitted.clear()

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                client.close(timeout=10)
            except Exception:  # closing is best effort
                pass
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=10)
            except Exception:
                pass
            self.cluster = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _stderr(text: str) -> None:
    import sys

    print(f"art: {text}", file=sys.stderr, flush=True)
