"""The Dask cluster fixture itself: separate worker processes, each with its own directory and credentials, the
GPU worker's resource, pids from scheduler_info, stop-by-PID leaving nothing behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.executors.cluster import descendants, processes_with
from tests.executors.conftest import WORKER_CREDENTIALS

# a second cluster start in the default tier is too much: the default tier checks the cluster's shape in
# test_dask_e2e.py's smoke test (assert_isolated_workers, below)
pytestmark = pytest.mark.slow


def _env_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_workers_are_separate_processes_with_their_own_directory_and_environment(dask_cluster):
    assert_isolated_workers(dask_cluster)


def assert_isolated_workers(dask_cluster) -> None:
    """w0, w1, gpu: distinct processes (pids from scheduler_info), each with its own local directory, HOME and
    credentials from its own environment, nothing of the tests on its path; only gpu has GPU=1."""
    info = dask_cluster.worker_info()
    assert set(info) == {"w0", "w1", "gpu"}
    pids = dask_cluster.worker_pids()
    assert pids == {name: w.pid for name, w in dask_cluster.workers.items()}  # scheduler_info names our processes
    assert len(set(pids.values())) == 3 and os.getpid() not in pids.values()
    dirs = {name: w["local_directory"] for name, w in info.items()}
    for name, d in dirs.items():
        assert d.startswith(str(dask_cluster.workers[name].local_directory)), (name, d)
    assert info["gpu"]["resources"] == {"GPU": 1} and info["w0"]["resources"] == {}
    for name, pid in pids.items():
        env = _env_of(pid)
        assert {k: env[k] for k in WORKER_CREDENTIALS} == WORKER_CREDENTIALS  # the worker's own chain
        assert env["HOME"] != os.environ["HOME"] and env["HOME"].startswith(str(dask_cluster.workdir / name))
        assert "PYTHONPATH" not in env  # nothing of the tests on a worker's path


def test_a_task_with_a_gpu_resource_lands_on_the_gpu_worker_and_is_recorded(dask_cluster):
    client = dask_cluster.client
    futures = [client.submit(os.getpid, key=f"art-fixture-gpu-{i}", pure=False, resources={"GPU": 1}) for i in range(3)]
    assert {f.result(timeout=60) for f in futures} == {dask_cluster.worker_pids()["gpu"]}
    seen = dask_cluster.recorded()
    names = dask_cluster.address_names()
    for i in range(3):
        assert [names[a] for a in seen["placements"][f"art-fixture-gpu-{i}"]] == ["gpu"]
        assert f"art-fixture-gpu-{i}" in seen["specs"]


def test_an_extra_worker_is_stopped_by_pid_with_the_processes_it_started(dask_cluster):
    extra = dask_cluster.add_worker("extra")
    token = f"art-fixture-token-{os.getpid()}-{time.monotonic_ns()}"

    def spawn(token: str) -> int:
        import subprocess
        import sys

        # a stage-like process in its own session, as the worker runs stages; the token is its argv[1]
        argv = [sys.executable, "-c", "import time; time.sleep(300)", token]
        return subprocess.Popen(argv, start_new_session=True).pid

    child = dask_cluster.client.submit(spawn, token, workers=[dask_cluster.worker_info()["extra"]["address"]]).result(
        timeout=60
    )
    assert child in descendants({extra.pid}) and processes_with(token) == {child}
    dask_cluster.stop_worker("extra")
    assert not os.path.exists(f"/proc/{extra.pid}") and not processes_with(token)
    assert "extra" not in dask_cluster.worker_pids() or _wait_gone(dask_cluster, "extra")


def _wait_gone(cluster, name: str) -> bool:
    deadline = time.monotonic() + 30
    while name in cluster.worker_pids():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_killing_a_worker_by_pid_removes_it_from_the_scheduler(dask_cluster):
    dask_cluster.add_worker("victim")
    pid = dask_cluster.worker_pids()["victim"]
    dask_cluster.kill_worker("victim", signal.SIGKILL)
    assert "victim" not in dask_cluster.worker_pids() and not os.path.exists(f"/proc/{pid}")
