"""`art repro --executor dask` end to end (issue 15's must-hold list, research scale.md §2.7).

A real Dask cluster (tests/executors/conftest.py: a scheduler and separate `dask worker` processes w0, w1 and
gpu (GPU=1), each with its own directory and credentials) shares nothing with the client but the remote: moto
S3 or a directory. The client is the `art` executable in a subprocess. Stages append `<stage> <event> <pid>
<time>` to their worker's side log (``log.sh``; ART_TEST_SIDE_LOG is set only in the workers' environments),
so each test sees which worker ran what, independently of art's own report; the scheduler's recorder tells
what was submitted (keys ``art-<run_key>``), where each task was placed, and what travelled in the messages.

One fast smoke test runs in the default tier; the scenarios are `slow`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.executors.cluster import DaskCluster, descendants, processes_with, stage_processes
from tests.executors.conftest import CLIENT_SECRET, ArtRepo
from tests.executors.test_cluster_fixtures import assert_isolated_workers

pytestmark = pytest.mark.slow  # a real scheduler and worker processes (the slow tier, which CI runs)

RUN_KEY_TASK = re.compile(r"^art-[0-9a-f]{64}$")

LOG_SH = """\
# sh log.sh EVENT: "$ART_STAGE EVENT <pid of the stage's shell> <time>" to the worker's side log, if it has one
if [ -n "$ART_TEST_SIDE_LOG" ]; then echo "$ART_STAGE $1 $PPID $(date +%s.%N)" >> "$ART_TEST_SIDE_LOG"; fi
exit 0
"""

POINT_SH = """\
# sh point.sh I: one point of the sweep, from the prepared data
head -n 1 prepared.txt
echo "point $1 square $(( $1 * $1 ))"
"""

RAW = "".join(f"row {i} {i * 7919 % 1000}\n" for i in range(4000))  # ~50 KB of art-added data


def _wrap(cmd: str) -> str:
    return f"sh log.sh start && {cmd} && sh log.sh end"


def sweep_files(n: int = 20) -> dict[str, str]:
    """prepare -> point@0..point@{n-1} (a matrix) -> gather."""
    points = [f"points/p{i}.txt" for i in range(n)]
    toml = f"""
[stages.prepare]
cmd = "{_wrap("cat data/raw.txt | sort > prepared.txt")}"
deps = ["data/raw.txt"]
outs = ["prepared.txt"]

[stages.point]
matrix = {{i = {list(range(n))}}}
cmd = "{_wrap("mkdir -p points && sh point.sh ${item.i} > points/p${item.i}.txt")}"
deps = ["prepared.txt", "point.sh"]
outs = ["points/p${{item.i}}.txt"]

[stages.gather]
cmd = "{_wrap("cat " + " ".join(points) + " > summary.txt")}"
deps = {json.dumps(points)}
outs = ["summary.txt"]
"""
    return {"art.toml": toml, "log.sh": LOG_SH, "point.sh": POINT_SH, "data/raw.txt": RAW}


SWEEP_STAGES = {"prepare", "gather", *(f"point@{i}" for i in range(20))}


def repro_json(result) -> dict[str, str]:
    return {s["name"]: s["state"] for s in json.loads(result.stdout)["stages"]}


def worker_starts(cluster: DaskCluster, since: float) -> dict[str, list[str]]:
    """stage -> the workers whose side log shows it started at or after `since` (time.time())."""
    seen: dict[str, list[str]] = {}
    for name, worker in cluster.workers.items():
        for stage, event, _pid, t in worker.side_events():
            if event == "start" and t >= since:
                seen.setdefault(stage, []).append(name)
    return seen


def submitted(cluster: DaskCluster, since: float) -> set[str]:
    """The run keys art submitted to the scheduler at or after `since` (time.time()): task keys art-<run_key>.
    (Tests of one module share the cluster, and the same pipeline in two tests has the same run keys.)"""
    seen = cluster.recorded()["submitted"]
    return {k[4:] for k, times in seen.items() if RUN_KEY_TASK.match(k) and max(times) >= since}


def lock_without_runs(lock: dict[str, Any]) -> dict[str, Any]:
    """art.lock with each stage's `run` (the id of a record that names host, pid and time) left out."""
    stages = {name: {k: v for k, v in entry.items() if k != "run"} for name, entry in lock["stages"].items()}
    return {**lock, "stages": stages}


def assert_ran_on_workers(repo: ArtRepo, cluster: DaskCluster, names: set[str]) -> dict[str, int]:
    """Every named stage's run record (from art.lock) names a worker's pid; returns stage -> pid."""
    pids = {w.pid for w in cluster.workers.values()}  # the processes the fixture started (the scheduler's list
    # can be empty for a moment on a loaded machine, while a worker reconnects)
    lock = repo.lock()["stages"]
    found = {}
    for name in names:
        record = repo.run_record(lock[name]["run"])
        assert record["stage"] == name
        assert record.get("pid") in pids, (name, record.get("pid"), record.get("host"), pids)
        found[name] = record["pid"]
    return found


# --------------------------------------------------------------------------------------------------------------
# the default tier's smoke test


SMOKE = {
    "art.toml": f"""
[stages.a]
cmd = "{_wrap("sort data/raw.txt > a.txt")}"
deps = ["data/raw.txt"]
outs = ["a.txt"]

[stages.b]
matrix = {{n = [1, 2]}}
cmd = "{_wrap("head -n ${item.n} a.txt > b${item.n}.txt")}"
deps = ["a.txt"]
outs = ["b${{item.n}}.txt"]

[stages.c]
cmd = "{_wrap("cat b1.txt b2.txt > c.txt")}"
deps = ["b1.txt", "b2.txt"]
outs = ["c.txt"]
""",
    "log.sh": LOG_SH,
    "data/raw.txt": "b\na\nc\n",
}


def test_smoke_a_small_pipeline_runs_on_the_workers_and_a_rerun_submits_nothing(dask_cluster, dir_remote, make_repo):
    assert_isolated_workers(dask_cluster)
    repo = make_repo(SMOKE, dir_remote, add=("data/raw.txt",))
    t0 = time.time()
    r = repo.repro_dask(dask_cluster, "--json")
    assert repro_json(r) == {"a": "ran", "b@1": "ran", "b@2": "ran", "c": "ran"}
    assert (repo.root / "c.txt").read_text() == "a\na\nb\n"  # --outputs fetch (the default): checked out here
    assert_ran_on_workers(repo, dask_cluster, {"a", "b@1", "b@2", "c"})
    assert {s: len(w) for s, w in worker_starts(dask_cluster, t0).items() if s in {"a", "b@1", "b@2", "c"}} == {
        "a": 1,
        "b@1": 1,
        "b@2": 1,
        "c": 1,
    }
    lock = repo.lock()["stages"]
    keys = {lock[s]["run_key"] for s in lock}
    assert submitted(dask_cluster, t0) == keys
    assert {k: len(v) for k, v in dir_remote.markers().items()} == dict.fromkeys(keys, 1)

    t1 = time.time()
    again = repo.repro_dask(dask_cluster, "--json")
    assert set(repro_json(again).values()) <= {"up-to-date"}
    assert submitted(dask_cluster, t1) == set()  # nothing reached the scheduler
    status = json.loads(repo.art("status", "--json").stdout)
    assert {s["state"] for s in status["stages"]} == {"up-to-date"}


# --------------------------------------------------------------------------------------------------------------
# the scenarios (slow)


@pytest.mark.slow
def test_a_sweep_runs_every_stage_on_workers_and_matches_a_local_twin(dask_cluster, remote, make_repo, tmp_path):
    repo = make_repo(sweep_files(), remote, add=("data/raw.txt",))
    twin = repo.clone(tmp_path / "twin")
    t0 = time.time()

    r = repo.repro_dask(dask_cluster, "--json", "-j", "8")
    assert repro_json(r) == dict.fromkeys(SWEEP_STAGES, "ran")
    pids = assert_ran_on_workers(repo, dask_cluster, SWEEP_STAGES)
    assert len(set(pids.values())) >= 2  # spread over the workers
    starts = worker_starts(dask_cluster, t0)
    assert all(len(starts[s]) == 1 for s in SWEEP_STAGES), starts  # each executed once, on one worker

    lock = repo.lock()
    keys = {e["run_key"] for e in lock["stages"].values()}
    assert submitted(dask_cluster, t0) == keys
    assert {k: len(v) for k, v in remote.markers().items()} == dict.fromkeys(keys, 1)  # one marker per run key
    specs = dask_cluster.recorded()["specs"]
    for key in keys:  # the task messages carry the remote's URL, never the client's secret
        assert CLIENT_SECRET.encode() not in specs[f"art-{key}"]

    twin.art("pull")  # the added data
    twin.art("repro", "--json")  # the local executor, in a clone of the same commit
    assert lock_without_runs(repo.lock()) == lock_without_runs(twin.lock())
    for path in ["prepared.txt", "summary.txt", *(f"points/p{i}.txt" for i in range(20))]:
        assert (repo.root / path).read_bytes() == (twin.root / path).read_bytes(), path

    t1 = time.time()
    again = repo.repro_dask(dask_cluster, "--json", "-j", "8")  # re-run: nothing submitted, nothing executed
    assert set(repro_json(again).values()) <= {"up-to-date"}
    assert submitted(dask_cluster, t1) == set()
    assert worker_starts(dask_cluster, t0) == starts


@pytest.mark.slow
def test_a_fresh_clone_runs_nothing_and_looks_up_each_stage_with_one_listing(
    dask_cluster, s3_remote, s3_server, make_repo, tmp_path
):
    repo = make_repo(sweep_files(), s3_remote, add=("data/raw.txt",))
    t0 = time.time()
    repro = repo.repro_dask(dask_cluster, "-j", "8", "--json")
    assert repro_json(repro) == dict.fromkeys(SWEEP_STAGES, "ran")
    keys = {e["run_key"] for e in repo.lock()["stages"].values()}
    starts = worker_starts(dask_cluster, t0)

    fresh = repo.clone(tmp_path / "fresh")  # its own, empty store; art.lock comes with git
    assert not (fresh.root / "art.lock").exists()  # not committed: the clone knows no stage result
    fresh.art("pull")  # the added input (data/raw.txt): a stage's dep must exist in the work tree
    proxy = servers.FaultProxy(s3_server.port, count_requests=True)
    try:
        fresh.art("remote", "modify", "origin", "-o", f"endpoint_url=http://{servers.LOOPBACK}:{proxy.port}")
        t1 = time.time()
        r = fresh.repro_dask(dask_cluster, "--json", "-j", "8")
        requests = list(proxy.requests)
    finally:
        proxy.close()
    assert repro_json(r) == dict.fromkeys(SWEEP_STAGES, "cached")  # zero executions
    assert submitted(dask_cluster, t1) == set() and worker_starts(dask_cluster, t0) == starts
    assert lock_without_runs(fresh.lock()) == lock_without_runs(repo.lock())
    assert (fresh.root / "summary.txt").read_bytes() == (repo.root / "summary.txt").read_bytes()

    lookups = [q for q in requests if "runkeys" in q.path]
    listings = [q for q in lookups if "list-type" in q.path or "delimiter" in q.path or q.path.endswith("/")]
    assert len(listings) <= len(keys), [q.path for q in listings]  # at most one listing per stage
    assert len(lookups) <= 2 * len(keys), [q.path for q in lookups]  # + at most one marker read per hit


@pytest.mark.slow
def test_clone_b_gets_cached_for_what_clone_a_computed(dask_cluster, s3_remote, make_repo, tmp_path):
    repo = make_repo(sweep_files(), s3_remote, add=("data/raw.txt",))
    b = repo.clone(tmp_path / "b")
    b_log = tmp_path / "b-side.log"
    b.env["ART_TEST_SIDE_LOG"] = str(b_log)  # a stage executed by B itself would show here
    repo.repro_dask(dask_cluster, "-j", "8")
    b.art("pull")  # the added data
    r = b.art("repro", "--pull", "-r", "origin", "--json")  # the local executor, consulting the remote run cache
    assert repro_json(r) == dict.fromkeys(SWEEP_STAGES, "cached")
    assert not b_log.exists()
    assert lock_without_runs(b.lock()) == lock_without_runs(repo.lock())
    assert b.lock()["stages"]["gather"]["run"] == repo.lock()["stages"]["gather"]["run"]  # A's run, reused
    for path in ["prepared.txt", "summary.txt", "points/p7.txt"]:
        assert (b.root / path).read_bytes() == (repo.root / path).read_bytes()


PARALLEL_SLEEPS = 6


def sleepers_files(seconds: str, n: int = PARALLEL_SLEEPS, gather: bool = True) -> dict[str, str]:
    """n independent stages that sleep `seconds` (a distinctive number: `sleep 5.4321` is findable in /proc),
    then a gather stage."""
    body = ""
    for i in range(n):
        body += f"""
[stages.s{i}]
cmd = "{_wrap(f"sleep {seconds} && echo {i} > s{i}.txt")}"
outs = ["s{i}.txt"]
"""
    if gather:
        body += f"""
[stages.gather]
cmd = "{_wrap("cat " + " ".join(f"s{i}.txt" for i in range(n)) + " > all.txt")}"
deps = {json.dumps([f"s{i}.txt" for i in range(n)])}
outs = ["all.txt"]
"""
    return {"art.toml": body, "log.sh": LOG_SH}


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_a_worker_mid_stage_the_stage_completes_elsewhere(dask_cluster, s3_remote, make_repo):
    repo = make_repo(sleepers_files("3.2719"), s3_remote)
    victim = dask_cluster.add_worker("victim")
    victim_address = dask_cluster.worker_info()["victim"]["address"]
    proc = repo.popen("repro", "--executor", "dask", "--scheduler", dask_cluster.address, "-r", "origin", "-j", "8")
    try:
        wait_for(lambda: any(e[1] == "start" for e in victim.side_events()), 60, "a stage to start on the victim")
        killed_stage = next(e[0] for e in victim.side_events() if e[1] == "start")
        dask_cluster.kill_worker("victim", signal.SIGKILL)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if "victim" in dask_cluster.workers:  # the test failed before the kill: leave the module's cluster as it was
            dask_cluster.stop_worker("victim")
    assert proc.returncode == 0, err

    lock = repo.lock()["stages"]
    names = {f"s{i}" for i in range(PARALLEL_SLEEPS)} | {"gather"}
    assert set(lock) == names
    pid_of = assert_ran_on_workers(repo, dask_cluster, names)  # every record names a living worker: not the victim
    assert pid_of[killed_stage] != victim.pid
    ended = {e[0] for w in dask_cluster.workers.values() for e in w.side_events() if e[1] == "end"}
    assert killed_stage in ended  # completed elsewhere
    placements = dask_cluster.recorded()["placements"][f"art-{lock[killed_stage]['run_key']}"]
    assert placements[0] == victim_address and victim_address not in placements[1:]

    keys = {e["run_key"] for e in lock.values()}
    assert {k: len(v) for k, v in s3_remote.markers().items()} == dict.fromkeys(keys, 1)  # exactly one marker each
    assert (repo.root / "all.txt").read_text() == "".join(f"{i}\n" for i in range(PARALLEL_SLEEPS))
    repo.art("fsck", "--remote", "origin", "--read-data")


@pytest.mark.slow
def test_the_stage_of_a_sigkilled_worker_does_not_outlive_it(dask_cluster, dir_remote, make_repo):
    """A worker killed with SIGKILL cannot stop its stage; the stage must die with it, or it keeps running
    unseen, e.g. on a GPU the rescheduled copy then shares."""
    seconds = "43.1771"
    files = {
        "art.toml": f"""
[stages.pinned]
cmd = "{_wrap(f"sleep {seconds} && echo done > pinned.txt")}"
outs = ["pinned.txt"]
resources = {{PINNED = 1}}
""",
        "log.sh": LOG_SH,
    }
    repo = make_repo(files, dir_remote)
    victim = dask_cluster.add_worker("pinned-victim", resources={"PINNED": 1})
    proc = repo.popen("repro", "--executor", "dask", "--scheduler", dask_cluster.address, "-r", "origin")
    try:
        wait_for(lambda: processes_with(seconds), 60, "the stage to start on the victim")
        assert processes_with(seconds) <= descendants({victim.pid})
        dask_cluster.kill_worker("pinned-victim", signal.SIGKILL)
        deadline = time.monotonic() + 5
        while processes_with(seconds) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = processes_with(seconds)
    finally:
        proc.send_signal(signal.SIGINT)  # the stage now waits for a PINNED worker that will not come
        try:
            proc.communicate(timeout=30)
        except Exception:
            proc.kill()
            proc.wait()
        from tests.executors.cluster import kill_pids

        kill_pids(processes_with(seconds))
        if "pinned-victim" in dask_cluster.workers:
            dask_cluster.stop_worker("pinned-victim")
    assert not left, f"the killed worker's stage processes {left} are still running 5 s later"


GPU_FILES = {
    "art.toml": f"""
[stages.train_a]
cmd = "{_wrap("sleep 1.5 && echo a > model_a.txt")}"
outs = ["model_a.txt"]
resources = {{GPU = 1}}

[stages.train_b]
cmd = "{_wrap("sleep 1.5 && echo b > model_b.txt")}"
outs = ["model_b.txt"]
resources = {{GPU = 1}}

[stages.cpu_a]
cmd = "{_wrap("sleep 0.5 && echo a > cpu_a.txt")}"
outs = ["cpu_a.txt"]

[stages.cpu_b]
cmd = "{_wrap("sleep 0.5 && echo b > cpu_b.txt")}"
outs = ["cpu_b.txt"]
""",
    "log.sh": LOG_SH,
}


def _iso_epoch(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@pytest.mark.slow
def test_gpu_stages_run_only_on_the_gpu_worker_and_never_overlap(dask_cluster, dir_remote, make_repo):
    repo = make_repo(GPU_FILES, dir_remote)
    t0 = time.time()
    repo.repro_dask(dask_cluster, "-j", "4")
    gpu_pid = dask_cluster.worker_pids()["gpu"]
    pids = assert_ran_on_workers(repo, dask_cluster, {"train_a", "train_b", "cpu_a", "cpu_b"})
    assert pids["train_a"] == pids["train_b"] == gpu_pid
    starts = worker_starts(dask_cluster, t0)
    assert starts["train_a"] == starts["train_b"] == ["gpu"]
    names = dask_cluster.address_names()
    placements = dask_cluster.recorded()["placements"]
    lock = repo.lock()["stages"]
    for stage in ("train_a", "train_b"):
        assert [names[a] for a in placements[f"art-{lock[stage]['run_key']}"]] == ["gpu"]

    spans = []
    for stage in ("train_a", "train_b"):  # from the run records
        record = repo.run_record(lock[stage]["run"])
        start = _iso_epoch(record["started"])
        spans.append((start, start + record["duration"]))
    spans.sort()
    assert spans[0][1] <= spans[1][0], spans  # the second started after the first ended
    events = {(s, e): t for s, e, _p, t in dask_cluster.workers["gpu"].side_events() if s.startswith("train_")}
    first, second = sorted(("train_a", "train_b"), key=lambda s: events[(s, "start")])
    assert events[(first, "end")] <= events[(second, "start")]  # the same from the stages' own clocks


FAILING = {
    "art.toml": f"""
[stages.a]
cmd = "{_wrap("echo a > a.txt")}"
outs = ["a.txt"]

[stages.b]
cmd = "{_wrap("sh b.sh")}"
deps = ["a.txt", "b.sh"]
outs = ["b.txt"]

[stages.c]
cmd = "{_wrap("cat b.txt > c.txt")}"
deps = ["b.txt"]
outs = ["c.txt"]
""",
    "b.sh": "cat a.txt > b.txt\necho b >> b.txt\n",
    "log.sh": LOG_SH,
}


@pytest.mark.slow
def test_a_failing_stage_exits_5_publishes_nothing_and_keeps_previous_outputs(dask_cluster, s3_remote, make_repo):
    t0 = time.time()  # the cluster is shared: count only this test's stage events
    repo = make_repo(FAILING, s3_remote)
    repo.repro_dask(dask_cluster)
    lock_before = repo.lock()
    b_before = (repo.root / "b.txt").read_bytes()
    markers_before = s3_remote.markers()
    t1 = time.time()

    (repo.root / "b.sh").write_text("echo broken > b.txt\necho 'b: no luck' >&2\nexit 3\n")  # dirty: shipped as is
    r = repo.repro_dask(dask_cluster, code=5)
    assert "art: error: stage b failed with exit status 3" in r.stderr
    assert "b: no luck" in r.stderr  # the stage's stderr tail comes back from the worker
    assert (repo.root / "b.txt").read_bytes() == b_before  # previous outputs intact
    assert repo.lock() == lock_before
    assert s3_remote.markers() == markers_before  # no marker for the failed run
    new = submitted(dask_cluster, t1)
    assert len(new) == 1  # b only: c (downstream) never submitted
    (b_key,) = new
    assert len(dask_cluster.recorded()["placements"][f"art-{b_key}"]) == 1  # a non-zero exit is not retried
    ends = [e for w in dask_cluster.workers.values() for e in w.side_events() if e[:2] == ("c", "start") and e[3] >= t0]
    assert len(ends) == 1  # c started only in the first, successful repro

    status = json.loads(repo.art("status", "--json").stdout)["stages"]
    assert {s["name"]: s["state"] for s in status}["b"] == "stale"


@pytest.mark.slow
def test_an_interrupted_client_leaves_no_stage_process_on_any_worker(dask_cluster, dir_remote, make_repo):
    seconds = "57.3117"  # `sleep 57.3117`: findable in /proc even if it left its parent
    repo = make_repo(sleepers_files(seconds, n=3, gather=False), dir_remote)
    markers_before = dir_remote.markers()
    worker_pids = set(dask_cluster.worker_pids().values())
    t0 = time.time()
    proc = repo.popen("repro", "--executor", "dask", "--scheduler", dask_cluster.address, "-r", "origin", "-j", "8")
    try:
        wait_for(lambda: len(processes_with(seconds)) >= 2, 60, "two stages running on workers")
        running = processes_with(seconds)
        assert running <= descendants(worker_pids) and stage_processes(running) == running  # stages, under workers
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        proc.communicate(timeout=30)  # a hung client fails here
        deadline = signalled + 5

        def stages_left() -> set[int]:  # under any worker, or orphaned (found by the sleep's distinctive argument)
            return stage_processes(processes_with(seconds) | descendants(worker_pids))

        while stages_left() and time.monotonic() < deadline:
            time.sleep(0.05)
        left = stages_left()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    try:
        assert not left, f"stage processes still running 5 s after SIGINT: {left}"
        assert proc.returncode == 130
        assert dir_remote.markers() == markers_before  # cancelled stages publish nothing
        events = [e for w in dask_cluster.workers.values() for e in w.side_events() if e[3] >= t0]
        assert {e[0] for e in events if e[1] == "start"} and not [e for e in events if e[1] == "end"]
    finally:
        from tests.executors.cluster import kill_pids

        kill_pids(processes_with(seconds))  # by PID, so a failure here does not slow the rest of the module


def test_the_stage_commands_here_are_valid_shell(tmp_path):
    """The helpers' shell snippets run as written (a typo here would make every scenario fail obscurely)."""
    import subprocess

    files = sweep_files(3)
    for name in ("log.sh", "point.sh", "data/raw.txt"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[name])
    (tmp_path / "prepared.txt").write_text("first\nsecond\n")
    env = {**os.environ, "ART_STAGE": "point@2", "ART_TEST_SIDE_LOG": str(tmp_path / "side.log")}
    out = subprocess.run(["sh", "point.sh", "2"], cwd=tmp_path, capture_output=True, text=True, env=env, check=True)
    assert out.stdout == "first\npoint 2 square 4\n"
    subprocess.run(["sh", "log.sh", "start"], cwd=tmp_path, env=env, check=True)
    stage, event, pid, when = Path(tmp_path / "side.log").read_text().split()
    assert (stage, event) == ("point@2", "start") and int(pid) > 1 and float(when) > 0


FLOW = """\
import os
import time
from typing import Annotated

from artvc import pipeline, step


def _log(name, event):
    path = os.environ.get("ART_TEST_SIDE_LOG")
    if path:
        with open(path, "a") as f:
            f.write(f"{name} {event} {os.getpid()} {time.time()}\\n")


@step
def make(n: int) -> Annotated[str, "text"]:
    _log("flow.make", "start")
    return "".join(f"line {i}\\n" for i in range(n))


@step
def count(text: str) -> Annotated[int, "lines"]:
    _log("flow.count", "start")
    return len(text.splitlines())


@pipeline
def flow(n: int = 5):
    count(make(n))
"""


@pytest.mark.slow
def test_a_python_pipeline_runs_its_steps_on_workers_and_a_rerun_submits_nothing(dask_cluster, dir_remote, make_repo):
    repo = make_repo({"flowdemo.py": FLOW}, dir_remote)
    t0 = time.time()
    args = ["run", "flowdemo:flow", "--executor", "dask", "--scheduler", dask_cluster.address, "-r", "origin"]
    repo.art(*args, "-p", "n=7")
    starts = worker_starts(dask_cluster, t0)
    assert sorted(s for s in starts if s.startswith("flow.")) == ["flow.count", "flow.make"]
    assert all(len(starts[s]) == 1 for s in ("flow.count", "flow.make"))
    first = submitted(dask_cluster, t0)
    assert len(first) == 2  # one task per step
    assert {k: len(v) for k, v in dir_remote.markers().items()} == dict.fromkeys(first, 1)

    t1 = time.time()
    again = repo.art(*args, "-p", "n=7")
    assert "2 executed" not in again.stdout and submitted(dask_cluster, t1) == set()
    assert worker_starts(dask_cluster, t0) == starts
