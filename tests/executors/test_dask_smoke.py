"""`art repro --executor dask --local-cluster 2` end to end, fast (the default tier's smoke; the must-hold
scenario suite is tests/executors/test_dask_e2e.py): a real LocalCluster of 2 worker processes, each with
its own directory, sharing nothing with the client but a directory remote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git

pytestmark = pytest.mark.slow  # a real scheduler and worker processes (the slow tier, which CI runs)

ART = str(Path(sys.executable).parent / "art")
SCRIPT = "import os, sys\nopen(sys.argv[2], 'w').write(open(sys.argv[1]).read().upper())\n"
TOML = f"""
[stages.up]
cmd = "{sys.executable} src/up.py data.txt up.txt"
deps = ["data.txt", "src/up.py"]
outs = ["up.txt"]

[stages.twice]
cmd = "cat up.txt up.txt > twice.txt"
deps = ["up.txt"]
outs = ["twice.txt"]

[stages.bundle]
cmd = "mkdir -p bundle && cp up.txt twice.txt bundle/ && echo done"
deps = ["up.txt", "twice.txt"]
outs = ["bundle"]
"""


def art(cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    r = subprocess.run([ART, *args], cwd=cwd, capture_output=True, text=True, timeout=240)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    return r


def states(r) -> dict[str, str]:
    return {s["name"]: s["state"] for s in json.loads(r.stdout)["stages"]}


def lock_without_runs(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("run = ")]


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    git(root, "init", "-q")
    art(root, "init", "-q")
    art(root, "remote", "add", "shared", str(tmp_path / "remote"), "-d")
    (root / "src").mkdir()
    (root / "src" / "up.py").write_text(SCRIPT)
    (root / "data.txt").write_text("hello workers\n")
    (root / "art.toml").write_text(TOML)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "pipeline")
    return root


def test_stages_run_on_workers_and_art_lock_matches_a_local_twin(project, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(project, twin, symlinks=True)
    (project / "src" / "up.py").write_text(SCRIPT + "# dirty, not committed: shipped as it is\n")
    (twin / "src" / "up.py").write_text(SCRIPT + "# dirty, not committed: shipped as it is\n")

    r = art(project, "repro", "--executor", "dask", "--local-cluster", "2", "-j", "2", "--json")
    assert states(r) == {"up": "ran", "twice": "ran", "bundle": "ran"}
    assert (project / "twice.txt").read_text() == "HELLO WORKERS\n" * 2
    assert sorted(os.listdir(project / "bundle")) == ["twice.txt", "up.txt"]

    art(twin, "repro")
    assert lock_without_runs(project / "art.lock") == lock_without_runs(twin / "art.lock")

    from artvc.workspace import Repo
    from artvc.workspace.lockfile import read_lock
    from artvc.workspace.runs import load_run

    repo = Repo(project)
    lock = read_lock(project)
    pids = set()
    for name in ("up", "twice", "bundle"):
        run = load_run(repo, lock[name]["run"])
        assert run["kind"] == "stage" and run["stage"] == name and run["exit_status"] == 0
        assert run["git"]["dirty"] is True
        pids.add(run["pid"])
    local = load_run(Repo(twin), read_lock(twin)["up"]["run"])
    assert set(local.fields) == set(run.fields)  # the same record schema as a local run
    assert not pids & {os.getpid(), local["pid"]}  # recorded by worker processes, not a client
    markers = os.listdir(tmp_path / "remote" / "runkeys")
    assert sorted(markers) == sorted(lock[n]["run_key"] for n in ("up", "twice", "bundle"))

    # nothing stale: nothing submitted, no cluster needed (a bad scheduler address is never contacted)
    again = art(project, "repro", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", "--json")
    assert set(states(again).values()) <= {"up-to-date"}

    # a fresh clone with an empty store: every stage comes from the remote's markers, zero executions
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    (clone / "src" / "up.py").write_text((project / "src" / "up.py").read_text())
    r = art(clone, "repro", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", "--json")
    assert states(r) == {"up": "cached", "twice": "cached", "bundle": "cached"}
    assert (clone / "twice.txt").read_text() == "HELLO WORKERS\n" * 2
    assert lock_without_runs(clone / "art.lock") == lock_without_runs(project / "art.lock")


def test_a_failing_stage_exits_5_publishes_nothing_and_keeps_outputs(project, tmp_path):
    art(project, "repro")  # locally first: outputs to keep
    before = (project / "twice.txt").read_text()
    (project / "data.txt").write_text("changed\n")
    (project / "art.toml").write_text(TOML.replace("cat up.txt up.txt > twice.txt", "echo broken >&2; exit 3"))
    r = art(project, "repro", "--executor", "dask", "--local-cluster", "1", code=5)
    assert "art: error: stage twice failed with exit status 3" in r.stderr
    assert "broken" in r.stderr + r.stdout  # the worker's stderr tail
    assert "Not running stage bundle" in r.stdout
    assert (project / "twice.txt").read_text() == before
    markers = os.listdir(tmp_path / "remote" / "runkeys")
    assert len(markers) == 1  # "up" only


@pytest.mark.slow
def test_a_stage_no_worker_can_take_waits_with_one_notice_and_ctrl_c_exits_130(project, tmp_path):
    import signal
    import time

    (project / "art.toml").write_text(TOML + "resources = {GPU = 1}\n")
    art(project, "config", "executor.wait_notice", "1")
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [ART, "repro", "--executor", "dask", "--local-cluster", "1"],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "waiting for a worker" not in log.read_text():
            time.sleep(0.5)
        time.sleep(2)  # the notice comes once, however long the stage waits
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        proc.wait(timeout=30)
    assert time.monotonic() - t0 < 6
    text = log.read_text()
    assert proc.returncode == 130, text
    assert text.count("art: waiting for a worker with GPU=1 for stage bundle") == 1, text
    assert "art: interrupted" in text
    assert not (project / "bundle").exists()


@pytest.mark.slow
def test_exp_run_all_sends_each_experiment_to_one_shared_cluster(project, tmp_path):
    (project / "params.toml").write_text("[up]\nsuffix = 'a'\n")
    toml = TOML.replace('outs = ["up.txt"]', 'outs = ["up.txt"]\nparams = ["params.toml:up.suffix"]', 1)
    (project / "art.toml").write_text(toml)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "params")
    art(project, "exp", "run", "-S", "up.suffix=b,c", "--queue")
    r = art(project, "exp", "run", "--run-all", "-j", "2", "--executor", "dask", "--local-cluster", "2")
    assert r.stdout.count("Experiment exp-") == 2 and "failed" not in r.stdout, r.stdout
    # each experiment's stages ran on the cluster, their markers on the shared remote: "up" twice (its param
    # differs), "twice" and "bundle" once (up.py ignores the param: the same inputs, so one experiment ran them
    # and the other found them, or both submitted the same Dask key)
    assert len(os.listdir(tmp_path / "remote" / "runkeys")) == 4
    shows = json.loads(art(project, "exp", "show", "--json").stdout)
    assert sorted(e["state"] for e in shows["experiments"] if e["state"]) == ["done", "done"]
