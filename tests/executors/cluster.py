"""A real Dask cluster for the executor tests: one `dask scheduler` and separate `dask worker` processes.

Every process is a subprocess in its own session (tests/servers.ServerProcess), started with an explicit
environment and stopped by PID, never by name; `stop()` checks that each one is gone (reaped, no /proc entry)
and that no process it started outlived it. Each worker has its own ``--local-directory``, HOME and TMPDIR: the
workers share nothing but the remote. Credentials reach a worker only through its environment (``env=``), the
way a real worker has its own credential chain; they are never in a task message.

Each worker's environment also carries ``ART_TEST_SIDE_LOG`` (a file of its own): the stages of the test
pipelines append ``<stage> <event> <pid> <time>`` lines there, so a test sees which worker ran what, when, and
in which process, independently of what art reports.

The scheduler preloads tests/executors/daskprobe.py (TaskRecorder): `recorded()` tells what reached the
scheduler (task keys ``art-<run_key>``, each placement, the pickled specs).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import servers

ROOT = Path(__file__).resolve().parents[2]
DASK = str(Path(sys.executable).parent / "dask")
SIDE_LOG_ENV = "ART_TEST_SIDE_LOG"


@dataclass
class WorkerProc:
    name: str
    process: servers.ServerProcess
    local_directory: Path
    side_log: Path
    resources: dict[str, float] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def side_events(self) -> list[tuple[str, str, int, float]]:
        """(stage, event, pid, time) lines the stages appended on this worker, in order."""
        if not self.side_log.exists():
            return []
        out = []
        for line in self.side_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4:
                out.append((parts[0], parts[1], int(parts[2]), float(parts[3])))
        return out


def worker_env(home: Path, side_log: Path, credentials: dict[str, str]) -> dict[str, str]:
    """The whole environment of a worker: nothing inherited but PATH, plus its own credentials."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        SIDE_LOG_ENV: str(side_log),
        **servers.TEST_ENV,
        **credentials,
    }
    no_proxy = ",".join([servers.LOOPBACK, "localhost"])
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return env


def _gone(pid: int) -> bool:
    """True when no process (not even a zombie) has this pid."""
    return not Path(f"/proc/{pid}").exists()


def _ppid_map() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            parents[int(entry.name)] = int(ppid)
    return parents


def descendants(pids: set[int] | list[int]) -> set[int]:
    """Live processes below any of `pids` (children, grandchildren, ...), from /proc."""
    parents = _ppid_map()
    found: set[int] = set()
    frontier = set(pids)
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier and p not in found}
        found |= frontier
    return found


def processes_with(token: str) -> set[int]:
    """Live processes whose command line contains `token` (catches orphans that left their parent)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token in cmdline and state != "Z":
            found.add(int(entry.name))
    return found


def stage_processes(pids: set[int]) -> set[int]:
    """Those of `pids` that run a stage: art sets ART_STAGE in a stage's environment, so its shell and everything
    it starts carry it (a worker's helper processes, such as art's reaper, do not)."""
    found = set()
    for pid in pids:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if environ.startswith(b"ART_STAGE=") or b"\0ART_STAGE=" in environ:
            found.add(pid)
    return found


def kill_pids(pids: set[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


class DaskCluster:
    """`dask scheduler` + `dask worker --no-nanny` subprocesses on 127.0.0.1; see the module docstring."""

    def __init__(self, workdir: Path, credentials: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.credentials = credentials or {}
        self.workers: dict[str, WorkerProc] = {}
        self.scheduler_file = workdir / "scheduler.json"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the scheduler imports tests.executors.daskprobe
        argv = [
            DASK,
            "scheduler",
            "--host",
            servers.LOOPBACK,
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(self.scheduler_file),
            "--preload",
            "tests.executors.daskprobe",
        ]
        self.scheduler = servers.ServerProcess("dask-scheduler", argv, workdir, env=env)
        self.scheduler._wait(self._scheduler_file_ready, "scheduler file", 60.0)
        self.address: str = json.loads(self.scheduler_file.read_text())["address"]
        self._client: Any = None

    def _scheduler_file_ready(self) -> bool:
        try:
            return bool(json.loads(self.scheduler_file.read_text()).get("address"))
        except (OSError, ValueError):
            return False

    @property
    def client(self) -> Any:
        """A `distributed.Client` of the test process (for scheduler_info and the recorder; art uses its own)."""
        if self._client is None:
            from distributed import Client

            self._client = Client(self.address, set_as_default=False, timeout=30)
        return self._client

    def add_worker(
        self, name: str, *, resources: dict[str, float] | None = None, credentials: dict[str, str] | None = None
    ) -> WorkerProc:
        """Start `dask worker --no-nanny` named `name` with its own directory and environment; wait until the
        scheduler lists it."""
        if name in self.workers:
            raise ValueError(f"worker {name} exists")
        base = self.workdir / name
        local_directory = base / "local"
        local_directory.mkdir(parents=True)
        side_log = base / "side.log"
        env = worker_env(base / "home", side_log, {**self.credentials, **(credentials or {})})
        argv = [
            DASK,
            "worker",
            self.address,
            "--name",
            name,
            "--nthreads",
            "1",
            "--no-nanny",
            "--no-dashboard",
            "--host",
            servers.LOOPBACK,
            "--local-directory",
            str(local_directory),
            "--death-timeout",
            "60",
            "--preload",
            str(Path(__file__).with_name("daskprobe.py")),  # by path: puts "pid" in scheduler_info
        ]
        if resources:
            argv += ["--resources", ",".join(f"{k}={v:g}" for k, v in resources.items())]
        proc = servers.ServerProcess(f"dask-worker-{name}", argv, base, env=env)
        worker = WorkerProc(name, proc, local_directory, side_log, dict(resources or {}))
        self.workers[name] = worker
        proc._wait(lambda: name in self.worker_info(), f"worker {name} registered", 90.0)
        return worker

    def worker_info(self) -> dict[str, dict[str, Any]]:
        """Worker name -> the scheduler's record of it (address, pid, host, resources, local_directory)."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return {str(w["name"]): {**w, "address": addr} for addr, w in info.items()}

    def worker_pids(self) -> dict[str, int]:
        """Worker name -> pid, as the scheduler reports it (client.scheduler_info())."""
        return {name: int(w["pid"]) for name, w in self.worker_info().items()}

    def address_names(self) -> dict[str, str]:
        return {w["address"]: name for name, w in self.worker_info().items()}

    def kill_worker(self, name: str, sig: int = signal.SIGKILL, timeout: float = 30.0) -> None:
        """Send `sig` to the worker's pid (from the scheduler), reap it, wait until the scheduler drops it."""
        worker = self.workers[name]
        pid = self.worker_pids()[name]
        assert pid == worker.pid, (pid, worker.pid)
        os.kill(pid, sig)
        worker.process.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while name in self.worker_info():
            assert time.monotonic() < deadline, f"scheduler still lists worker {name} {timeout}s after the kill"
            time.sleep(0.1)
        del self.workers[name]

    def stop_worker(self, name: str) -> None:
        worker = self.workers.pop(name)
        self._stop(worker.process)

    def recorded(self) -> dict[str, Any]:
        """What the scheduler's TaskRecorder saw (tests/executors/daskprobe.py)."""
        from tests.executors import daskprobe

        return self.client.run_on_scheduler(daskprobe.snapshot)

    def all_pids(self) -> set[int]:
        return {self.scheduler.pid, *(w.pid for w in self.workers.values())}

    def _stop(self, process: servers.ServerProcess) -> None:
        below = descendants({process.pid})
        process.stop()
        kill_pids(descendants(below) | below)  # by PID: stage processes that outlived their worker
        deadline = time.monotonic() + 10
        while not _gone(process.pid) or any(not _gone(p) for p in below):
            if time.monotonic() > deadline:
                raise AssertionError(f"{process.name} (pid {process.pid}) or its children {below} still exist")
            time.sleep(0.05)

    def stop(self) -> None:
        """Close the test client, stop every worker, then the scheduler; fail if any process survived."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close(timeout=10)
            self._client = None
        errors = []
        for name in list(self.workers):
            try:
                self.stop_worker(name)
            except AssertionError as exc:
                errors.append(str(exc))
        try:
            self._stop(self.scheduler)
        except AssertionError as exc:
            errors.append(str(exc))
        assert not errors, errors
