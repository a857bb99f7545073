"""Python pipelines on a real Dask cluster (``art run --executor dask``, ``with_options(executor="dask")``): a
``LocalCluster`` of two worker processes (each in its own directory) sharing nothing with the client but a
directory remote. Which steps ran where is read from the run records (their ``pid`` is a worker's) and from a
scheduler plugin that records every ``art-`` task, not from printed text."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import Workspace, git

distributed = pytest.importorskip("distributed")

STEPS = """
import os
from typing import Annotated

import numpy as np
from artvc import log_metadata, step


@step
def make(n: int = 5) -> Annotated[np.ndarray, "X"]:
    return np.arange(n, dtype="int64")


@step
def double(X: np.ndarray) -> tuple[Annotated[np.ndarray, "Y"], Annotated[dict, "info"]]:
    log_metadata({"step_pid": os.getpid()})
    return X * 2, {"n": int(X.shape[0])}


@step
def total(Y: np.ndarray, info: dict, fail: bool = False) -> Annotated[int, "sum"]:
    if fail:
        raise ValueError("asked to fail")
    return int(Y.sum()) + info["n"]
"""

PIPES = """
from artvc import pipeline
from steps import double, make, total


@pipeline
def small(n: int = 5, fail: bool = False):
    Y, info = double(make(n=n))
    total(Y, info, fail=fail)
"""


class _Tasks(distributed.diagnostics.plugin.SchedulerPlugin):
    """Every ``art-`` task key the scheduler was given, with the worker that ran it."""

    name = "art-test-tasks"

    def __init__(self) -> None:
        self.ran: list[tuple[str, str]] = []

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if str(key).startswith("art-") and finish == "memory":
            self.ran.append((str(key), str(kwargs.get("worker", ""))))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two worker processes, one thread each, in their own directories; the scheduler in this process."""
    base = tmp_path_factory.mktemp("dask")
    cl = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        local_directory=str(base),
    )
    client = distributed.Client(cl)
    tasks = _Tasks()
    cl.scheduler.add_plugin(tasks)
    pids = set(client.run(os.getpid).values())
    try:
        yield {"address": cl.scheduler_address, "pids": pids, "tasks": tasks}
    finally:
        client.close()
        cl.close()
        for pid in pids:  # stopped, not left behind
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)


@pytest.fixture(autouse=True)
def _isolated_imports(tmp_path_factory):
    """Modules imported from test workspaces (``steps``, ``pipes``) are forgotten before and after each test:
    another test file in the same process may have left its own ``steps`` behind."""
    base = str(tmp_path_factory.getbasetemp())

    def forget() -> None:
        for name, mod in list(sys.modules.items()):
            if str(getattr(mod, "__file__", None) or "").startswith(base):
                del sys.modules[name]

    path = list(sys.path)
    forget()
    yield
    sys.path[:] = path
    forget()


def _workspace(root: Path, remote: Path | None) -> Workspace:
    root.mkdir()
    git(root, "init", "-q")
    ws = Workspace(root)
    ws.art("init")
    ws.gen({"steps.py": STEPS, "pipes.py": PIPES})
    if remote is not None:
        ws.art("remote", "add", "origin", str(remote), "-d")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "pipeline")
    return ws


def _run(ws: Workspace, *args: str, code: int = 0) -> dict:
    r = ws.art("run", "pipes:small", *args, "--json", code=code)
    return json.loads(r.stdout)


def _records(ws: Workspace, payload: dict) -> dict[str, dict]:
    from artvc.workspace.runs import load_run

    with ws.repo() as repo:
        return {s["name"]: dict(load_run(repo, s["run_oid"]).fields) for s in payload["steps"]}


def _markers(remote: Path) -> list[str]:
    folder = remote / "runkeys"
    return sorted(p.parent.name for p in folder.glob("*/*")) if folder.exists() else []


@pytest.mark.slow  # a LocalCluster of its own: the default tier keeps one Dask smoke (tests/executors)
def test_steps_run_on_workers_rerun_is_cached_and_outputs_match_a_local_run(cluster, tmp_path):
    remote = tmp_path / "remote"
    ws = _workspace(tmp_path / "ws", remote)
    before = len(cluster["tasks"].ran)
    dask = _run(ws, "--executor", "dask", "--scheduler", cluster["address"])
    assert {s["name"]: s["state"] for s in dask["steps"]} == dict.fromkeys(("make", "double", "total"), "executed")
    assert len(cluster["tasks"].ran) - before == 3  # one task per step

    records = _records(ws, dask)
    for name, rec in records.items():
        assert rec["kind"] == "step" and rec["exit_status"] == 0 and rec["stage"] == name
        assert rec["pid"] in cluster["pids"] and rec["pid"] != os.getpid()  # ran on a worker
    assert records["double"]["metadata"]["step_pid"] not in (os.getpid(), *cluster["pids"])  # its own process
    assert [i["param"] for i in records["total"]["inputs"]] == ["Y", "info"]
    assert len(_markers(remote)) == 3  # each run published under its run key

    # a twin workspace running locally stores the same bytes (same ids) and the same record fields
    twin = _workspace(tmp_path / "twin", None)
    local = _run(twin)
    outs = {o["name"]: o["oid"] for s in dask["steps"] for o in s["outputs"]}
    assert outs == {o["name"]: o["oid"] for s in local["steps"] for o in s["outputs"]}
    local_records = _records(twin, local)
    for name, rec in records.items():
        assert set(rec) == set(local_records[name])
        for field in ("run_key", "code_hash", "params", "outputs", "call", "pipeline"):
            assert rec[field] == local_records[name][field], field

    # the results are here: artifact versions, loadable
    import artvc

    assert artvc.load("small/total/sum", root=ws.root) == 2 * 10 + 5

    # re-run: everything from the local run cache, nothing submitted
    before = len(cluster["tasks"].ran)
    again = _run(ws, "--executor", "dask", "--scheduler", cluster["address"])
    assert {s["state"] for s in again["steps"]} == {"cached"}
    assert len(cluster["tasks"].ran) == before


@pytest.mark.slow
def test_a_fresh_clone_adopts_the_remote_runs_and_submits_nothing(cluster, tmp_path):
    remote = tmp_path / "remote"
    ws = _workspace(tmp_path / "ws", remote)
    first = _run(ws, "--executor", "dask", "--scheduler", cluster["address"], "--outputs", "lazy")
    assert {s["state"] for s in first["steps"]} == {"executed"}
    # lazy: the step runs and their outputs stay on the remote (a run is never stored without its outputs)
    from artvc.objstore.oid import Oid
    from artvc.objstore.types import Kind

    with ws.repo() as repo:
        assert not any(repo.store.has(Oid(o["oid"]), Kind.TREE) for s in first["steps"] for o in s["outputs"])
        assert not any(repo.store.has(Oid(s["run_oid"]), Kind.RUN) for s in first["steps"])
    # a second lazy run finds them by the remote's markers: cached, nothing submitted
    before = len(cluster["tasks"].ran)
    again = _run(ws, "--executor", "dask", "--scheduler", cluster["address"], "--outputs", "lazy")
    assert {s["state"] for s in again["steps"]} == {"cached"}
    assert len(cluster["tasks"].ran) == before
    # art fetch --run brings a run with its outputs
    total_run = first["steps"][-1]["run_oid"]
    ws.art("fetch", "--run", total_run)
    import artvc

    assert artvc.load("small/total/sum", root=ws.root) == 25

    clone = _workspace(tmp_path / "clone", remote)  # another clone: an empty store, the same code
    before = len(cluster["tasks"].ran)
    adopted = _run(clone, "--executor", "dask", "--scheduler", cluster["address"])
    assert {s["state"] for s in adopted["steps"]} == {"cached"}
    assert len(cluster["tasks"].ran) == before
    assert [s["run_oid"] for s in adopted["steps"]] == [s["run_oid"] for s in first["steps"]]
    assert artvc.load("small/total/sum", root=clone.root) == 25  # fetched with the adopted runs

    # --no-cache runs every step again on the workers, though the remote has their runs
    before = len(cluster["tasks"].ran)
    rerun = _run(clone, "--executor", "dask", "--scheduler", cluster["address"], "--no-cache")
    assert {s["state"] for s in rerun["steps"]} == {"executed"}
    assert len(cluster["tasks"].ran) - before == 3
    assert not {s["run_oid"] for s in rerun["steps"]} & {s["run_oid"] for s in first["steps"]}


@pytest.mark.slow  # a LocalCluster of its own: the default tier keeps one Dask smoke (tests/executors)
def test_a_failing_step_fails_as_it_does_locally_and_publishes_nothing(cluster, tmp_path):
    from artvc.pipeline.errors import StepFailedError

    remote = tmp_path / "remote"
    ws = _workspace(tmp_path / "ws", remote)
    r = ws.art("run", "pipes:small", "-p", "fail=true", "--executor", "dask", "--scheduler", cluster["address"], code=5)
    assert "Step total failed: ValueError: asked to fail" in r.stderr
    assert "art: error: step total failed: ValueError: asked to fail" in r.stderr
    assert len(_markers(remote)) == 2  # make and double; nothing for the failed step

    twin = _workspace(tmp_path / "twin", None)
    local = twin.art("run", "pipes:small", "-p", "fail=true", code=5)
    assert local.stderr.splitlines()[-2:] == r.stderr.splitlines()[-2:]  # the same error and hint

    # from Python: the same PipelineRun statuses as the local twin, the failed run recorded with the traceback
    sys.path.insert(0, str(ws.root))
    from pipes import small

    runs = {}
    for name, pipe in (
        ("dask", small.with_options(root=ws.root, executor="dask", scheduler=cluster["address"])),
        ("local", small.with_options(root=twin.root)),
    ):
        with pytest.raises(StepFailedError) as info:
            pipe(fail=True)
        runs[name] = info.value.run
    assert {n: s.status for n, s in runs["dask"].steps.items()} == {
        "make": "cached",
        "double": "cached",
        "total": "failed",
    }
    assert {n: s.status for n, s in runs["local"].steps.items()} == {
        "make": "cached",
        "double": "cached",
        "total": "failed",
    }
    failed = runs["dask"].steps["total"]
    assert failed.summary == runs["local"].steps["total"].summary == "ValueError: asked to fail"
    from artvc.workspace.runs import load_run

    with ws.repo() as repo:
        rec = load_run(repo, failed.run)
    assert rec["exit_status"] == 1 and rec["outputs"] == [] and "Traceback" in rec["error"]
    assert 'raise ValueError("asked to fail")' in rec["error"]
    assert rec["pid"] in cluster["pids"]  # the worker's facts, though the client wrote it
    assert len(_markers(remote)) == 2


def test_executor_options_are_checked_before_anything_runs(tmp_path):
    from artvc.pipeline.errors import FlowError

    ws = _workspace(tmp_path / "ws", tmp_path / "remote")
    sys.path.insert(0, str(ws.root))
    from pipes import small

    with pytest.raises(FlowError, match="unknown executor 'spark'"):
        small.with_options(executor="spark")
    with pytest.raises(FlowError, match="option 'scheduler' needs executor='dask'"):
        small.with_options(executor="local", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(FlowError, match="option 'scheduler' needs executor='dask'"):  # .art/config says local
        small.with_options(scheduler="tcp://127.0.0.1:1", root=ws.root)()
    with pytest.raises(FlowError, match="unknown executor option 'schedular'"):
        small.with_options(executor="dask", schedular="tcp://127.0.0.1:1")
    with pytest.raises(FlowError, match="outputs must be 'fetch' or 'lazy'"):
        small.with_options(executor="dask", outputs="later")
    # exactly one way to the cluster, checked when the run starts (.art/config may name one)
    with pytest.raises(FlowError, match="exactly one of scheduler, scheduler_file or local_cluster"):
        small.with_options(executor="dask", root=ws.root)()
    with pytest.raises(FlowError, match=r"\(got scheduler, local_cluster\)"):
        small.with_options(executor="dask", scheduler="tcp://127.0.0.1:1", local_cluster=1, root=ws.root)()
    assert not (ws.root / "calls.log").exists()

    r = ws.art("run", "pipes:small", "--local-cluster", "2", code=2)
    assert "--local-cluster needs --executor dask" in r.stderr
    r = ws.art("run", "pipes:small", "--executor", "dask", code=1)
    assert "art: error: executor 'dask' needs exactly one of scheduler, scheduler_file or local_cluster" in r.stderr

    # without git, workers cannot get the code: one error, nothing runs
    (ws.root / ".git").rename(ws.root / "git-away")
    r = ws.art("run", "pipes:small", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", code=1)
    assert r.stderr.startswith("art: error: --executor dask needs a git repository")


SLEEPY = """
import os
import time

from artvc import pipeline, step


@step
def sleepy(flag: str) -> int:
    with open(flag, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(120)
    return 1


@pipeline
def slow(flag: str):
    sleepy(flag=flag)
"""


@pytest.mark.slow
def test_an_interrupt_stops_the_running_step_on_its_worker_and_publishes_nothing(cluster, tmp_path):
    import signal
    import subprocess
    import time

    remote = tmp_path / "remote"
    ws = _workspace(tmp_path / "ws", remote)
    ws.gen({"sleepy.py": SLEEPY})
    ws.git("add", "-A")
    ws.git("commit", "-qm", "sleepy")
    flag = tmp_path / "step.pid"
    art = Path(sys.executable).with_name("art")
    proc = subprocess.Popen(
        [str(art), "run", "sleepy:slow", "-p", f"flag={flag}", "--executor", "dask", "--scheduler", cluster["address"]],
        cwd=ws.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not flag.exists() or not flag.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        step_pid = int(flag.read_text())
        os.kill(step_pid, 0)  # the step runs, in its own process on a worker
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "art: interrupted" in err
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(step_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the step process {step_pid} still runs 5 s after the interrupt")
    assert _markers(remote) == []
