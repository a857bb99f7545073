"""Concurrent art processes on one workspace (real subprocesses): repros of different stages both land in
art.lock, other commands work while a stage runs, and a stage is never run by two repros at once.

Stages wait for a gate file the test creates, so every overlap below is forced, not hoped for by timing."""

import json
import os
import subprocess
import sys
import time
import tomllib

import pytest

from tests.pipeline.helpers import PY

pytestmark = pytest.mark.e2e
ART = [sys.executable, "-m", "artvc"]

GATED = """import os, sys, time
name = sys.argv[1]
n = len(open("runs.log").read().split()) + 1 if os.path.exists("runs.log") else 1
open("runs.log", "a").write(name + "\\n")
open(name + ".started", "w").close()
deadline = time.time() + 60
while not os.path.exists("gate-" + name):
    if time.time() > deadline:
        sys.exit(3)
    time.sleep(0.02)
open(name + ".txt", "w").write(f"{name} run {n}: " + open("in.txt").read())
"""


def stage(name, deps='"in.txt"'):
    return f'[stages.{name}]\ncmd = "{PY} src/gated.py {name}"\ndeps = [{deps}]\nouts = ["{name}.txt"]\n\n'


@pytest.fixture
def pipe(ws):
    ws.gen(
        {
            "in.txt": "data\n",
            "other.txt": "o",
            "src": {"gated.py": GATED},
            "art.toml": stage("a") + stage("b") + '[stages.c]\ncmd = "cat a.txt > c.txt"\ndeps = ["a.txt"]\n'
            'outs = ["c.txt"]\n',
        }
    )
    return ws


def start(ws, *args):
    return subprocess.Popen([*ART, *args], cwd=ws.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def art(ws, *args, code=0):
    r = subprocess.run([*ART, *args], cwd=ws.root, capture_output=True, text=True, timeout=120)
    assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
    return r


def wait_for(path, *procs):
    """Wait until ``path`` exists; fail (with the processes' output) as soon as one of them has exited."""
    deadline = time.time() + 60
    while not path.exists():
        for p in procs:
            if p.poll() is not None:
                out, err = p.communicate()
                pytest.fail(f"{p.args[2:]} exited {p.returncode} before {path.name} appeared:\n{out}\n{err}")
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def finish(proc, code=0):
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, (proc.args[2:], proc.returncode, out, err)
    return out


def open_gate(ws, name):
    (ws.root / f"gate-{name}").touch()


def lock_stages(ws):
    return tomllib.loads((ws.root / "art.lock").read_text())["stages"]


def test_repros_of_different_stages_run_at_once_and_both_land_in_art_lock(pipe):
    ws = pipe
    pa = start(ws, "repro", "a")
    wait_for(ws.root / "a.started", pa)
    pb = start(ws, "repro", "b")  # read art.lock while a runs: before a's entry exists
    wait_for(ws.root / "b.started", pa, pb)
    open_gate(ws, "b")
    finish(pb)
    open_gate(ws, "a")  # a commits last, with the art.lock it read before b's entry existed
    finish(pa)
    assert set(lock_stages(ws)) == {"a", "b"}
    assert (ws.root / ".gitignore").read_text().splitlines() == ["/b.txt", "/a.txt"]
    untracked = ws.git("status", "--porcelain", "--untracked-files=all").stdout.split("\n")
    assert not [p for p in untracked if ".art/" in p and not p.endswith((".art/config", ".art/.gitignore"))]
    status = art(ws, "status", "--json").stdout
    states = {s["name"]: s["state"] for s in json.loads(status)["stages"]}
    assert states == {"a": "up-to-date", "b": "up-to-date", "c": "stale"}


def test_other_commands_work_while_a_stage_runs(pipe):
    ws = pipe
    pa = start(ws, "repro", "a")
    wait_for(ws.root / "a.started", pa)
    art(ws, "status")
    art(ws, "add", "other.txt")
    art(ws, "config", "core.jobs", "3")
    art(ws, "stage", "add", "d", "-d", "in.txt", "-o", "d.txt", "--", "cp in.txt d.txt")
    art(ws, "repro", "d")
    assert pa.poll() is None and not (ws.root / "a.txt").exists()  # a was running all along
    open_gate(ws, "a")
    finish(pa)
    assert set(lock_stages(ws)) == {"a", "d"}  # a's commit kept d, which art.toml gained while a ran
    assert (ws.root / "other.txt.art").exists()
    assert sorted((ws.root / ".gitignore").read_text().splitlines()) == ["/a.txt", "/d.txt", "/other.txt"]
    assert "jobs = 3" in (ws.root / ".art/config").read_text()


def test_the_same_stage_is_never_run_by_two_repros_at_once(pipe):
    ws = pipe
    p1 = start(ws, "repro", "a")
    wait_for(ws.root / "a.started", p1)
    p2 = start(ws, "repro", "a")
    assert p2.stdout.readline().startswith("Waiting for stage a: another art repro is running it")
    open_gate(ws, "a")
    finish(p1)
    assert "Stage a is up to date (another art repro brought it up to date)" in finish(p2)
    assert (ws.root / "runs.log").read_text().split() == ["a"]  # ran once
    assert (ws.root / "a.txt").read_text() == "a run 1: data\n"


@pytest.mark.long
def test_a_stage_waits_while_another_repro_rewrites_what_it_reads(pipe):
    ws = pipe
    open_gate(ws, "a")
    art(ws, "repro", "c")
    (ws.root / "gate-a").unlink()
    (ws.root / "a.started").unlink()
    pa = start(ws, "repro", "-f", "a")  # moves a.txt aside and runs a again
    wait_for(ws.root / "a.started", pa)
    pc = start(ws, "repro", "c", "-f")
    assert pc.stdout.readline().startswith("Waiting for stage")
    open_gate(ws, "a")
    finish(pa)
    finish(pc)
    assert (ws.root / "a.txt").read_text() == "a run 2: data\n"
    assert (ws.root / "c.txt").read_text() == "a run 2: data\n"  # c read a's new output, not a missing one
    states = {s["name"]: s["state"] for s in json.loads(art(ws, "status", "--json").stdout)["stages"]}
    assert states == {"a": "up-to-date", "b": "stale", "c": "up-to-date"}
    assert not [p for p in os.listdir(ws.root / ".art/tmp") if p.startswith("stash-")]


@pytest.mark.parametrize(
    "point, action, code",
    [
        ("repro.stage-started", "interrupt", 130),
        pytest.param("repro.outputs-stored", "kill", -9, marks=pytest.mark.slow),
        ("repro.outputs-ignored", "kill", -9),
    ],
)
def test_a_repro_stopped_mid_stage_keeps_art_lock_and_frees_its_locks(pipe, point, action, code):
    ws = pipe
    open_gate(ws, "a")
    art(ws, "repro", "a")
    before = (ws.root / "art.lock").read_text()
    env = {**os.environ, "ART_FAULT": f"{point}:{action}"}
    r = subprocess.run([*ART, "repro", "-f", "a"], cwd=ws.root, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert (ws.root / "art.lock").read_text() == before  # the entry still names the previous run
    assert (ws.root / ".gitignore").read_text() == "/a.txt\n"
    if action == "interrupt":  # the previous output is put back
        assert (ws.root / "a.txt").read_text() == "a run 1: data\n"
        assert not [p for p in os.listdir(ws.root / ".art/tmp") if p.startswith("stash-")]
    # nothing is left locked: other commands and the next repro go ahead at once
    art(ws, "add", "other.txt")
    out = art(ws, "repro", "a").stdout
    assert "Waiting" not in out
    states = {s["name"]: s["state"] for s in json.loads(art(ws, "status", "--json").stdout)["stages"]}
    assert states["a"] == "up-to-date"
    assert lock_stages(ws)["a"]["outs"][0]["id"] != "" and (ws.root / "a.txt").exists()
