"""``art exp``: grids of experiments run in temporary worktrees sharing the store, recorded as git refs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline.helpers import PY

PREPARE = """import os, yaml
open(os.environ["EXP_COUNTER"], "a").write("prepare\\n")
p = yaml.safe_load(open("params.yaml"))["prepare"]
rows = [int(x) for x in open("data/raw.csv").read().split()]
open("prepared.txt", "w").write(" ".join(str(r * p["scale"]) for r in rows) + "\\n")
"""

TRAIN = """import json, os, sys, yaml
open(os.environ["EXP_COUNTER"], "a").write("train\\n")
p = yaml.safe_load(open("params.yaml"))["train"]
if p["k"] == 99:
    print("k=99 is not a model", file=sys.stderr)
    sys.exit(3)
rows = [int(x) for x in open("prepared.txt").read().split()]
score = sum(rows) / p["k"]
json.dump({"score": score, "detail": {"n": len(rows), "k": p["k"]}}, open("metrics.json", "w"))
"""

PIPELINE = f"""[stages.prepare]
cmd = "{PY} src/prepare.py"
deps = ["data/raw.csv"]
outs = ["prepared.txt"]
params = ["params.yaml:prepare.scale"]

[stages.train]
cmd = "{PY} src/train.py"
deps = ["prepared.txt"]
metrics = ["metrics.json"]
params = ["train"]
"""


@pytest.fixture
def exp_ws(ws, tmp_path, monkeypatch):
    counter = tmp_path / "executions.log"
    monkeypatch.setenv("EXP_COUNTER", str(counter))
    ws.gen(
        {
            "data": {"raw.csv": "1\n2\n3\n"},
            "src": {"prepare.py": PREPARE, "train.py": TRAIN},
            "params.yaml": "# the knobs\nprepare:\n  scale: 1\ntrain:\n  k: 2\n",
            "art.toml": PIPELINE,
        }
    )
    ws.art("add", "data/raw.csv")
    ws.art("repro")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "pipeline")
    ws.counter = counter
    return ws


def executions(ws) -> list[str]:
    return ws.counter.read_text().split() if ws.counter.exists() else []


def columns(rows: list[dict]) -> dict:
    return {f"{r['path']}:{r['key']}": r["value"] for r in rows}


def show(ws) -> list[dict]:
    """``exp show --json``'s rows, with params and metrics as ``PATH:KEY`` -> value."""
    rows = json.loads(ws.art("exp", "show", "--json").stdout)["experiments"]
    return [{**r, "params": columns(r["params"]), "metrics": columns(r["metrics"])} for r in rows]


def expected_score(scale: int, k: int) -> float:
    return (1 + 2 + 3) * scale / k


def assert_workspace_untouched(ws, before: dict[str, bytes]) -> None:
    assert {p: (ws.root / p).read_bytes() for p in before} == before
    assert ws.git("status", "--porcelain").stdout == ""
    assert len(ws.git("worktree", "list").stdout.splitlines()) == 1  # no worktree left behind
    exps_dir = ws.root / ".art" / "tmp" / "exps"
    assert not exps_dir.exists() or os.listdir(exps_dir) == []
    assert len(os.listdir(ws.root / ".art" / "store" / "workspaces")) == 1  # the temporary ones unregistered


@pytest.mark.slow  # the default tier has the tutorial-shape grid test
def test_grid_runs_four_experiments_apply_reproduces_best_and_rerun_executes_nothing(exp_ws) -> None:
    ws = exp_ws
    files = ("params.yaml", "art.lock", "metrics.json", "prepared.txt")
    before = {p: (ws.root / p).read_bytes() for p in files}
    ws.counter.unlink()

    r = ws.art("exp", "run", "-S", "prepare.scale=1,2", "-S", "train.k=3,4")
    assert r.stdout.count("Running experiment") == 4
    assert_workspace_untouched(ws, before)
    # scale=1 needs no new prepare; scale=2 once; train runs for each of the four points
    assert sorted(executions(ws)) == ["prepare", "train", "train", "train", "train"]

    rows = show(ws)
    assert rows[0]["name"] == "baseline" and rows[0]["state"] is None
    assert rows[0]["params"] == {"params.yaml:prepare.scale": 1, "params.yaml:train.k": 2}
    assert rows[0]["metrics"]["metrics.json:score"] == 3.0
    exps = rows[1:]
    assert len(exps) == 4 and {e["state"] for e in exps} == {"done"}
    points = [(e["params"]["params.yaml:prepare.scale"], e["params"]["params.yaml:train.k"]) for e in exps]
    assert points == [(1, 3), (1, 4), (2, 3), (2, 4)]  # in grid order
    for e in exps:
        scale, k = e["params"]["params.yaml:prepare.scale"], e["params"]["params.yaml:train.k"]
        assert e["metrics"]["metrics.json:score"] == expected_score(scale, k)
        assert e["metrics"]["metrics.json:detail.k"] == k

    best = max(exps, key=lambda e: e["metrics"]["metrics.json:score"])
    assert (best["params"]["params.yaml:prepare.scale"], best["params"]["params.yaml:train.k"]) == (2, 3)
    ws.art("exp", "apply", best["name"])
    applied = json.loads((ws.root / "metrics.json").read_text())
    assert applied["score"] == best["metrics"]["metrics.json:score"]
    assert "scale: 2" in (ws.root / "params.yaml").read_text()
    status = json.loads(ws.art("status", "--json").stdout)
    assert {s["state"] for s in status["stages"]} == {"up-to-date"}  # params, lock and outputs agree
    ws.art("repro")
    assert (ws.root / "metrics.json").read_bytes() == json.dumps(applied).encode()
    ws.git("checkout", "-q", "--", "params.yaml", "art.lock")
    ws.art("checkout")

    ws.counter.unlink()
    r = ws.art("exp", "run", "-S", "prepare.scale=1,2", "-S", "train.k=3,4", "-j", "2", "--json")
    again = json.loads(r.stdout)["experiments"]
    assert len(again) == 4
    assert executions(ws) == []  # every point restored from the store and the run cache
    assert all(s["state"] in ("cached", "up-to-date") for e in again for s in e["stages"])
    assert len(show(ws)) == 9


def test_a_set_key_no_stage_uses_is_one_line_and_runs_nothing(exp_ws) -> None:
    ws = exp_ws
    ws.counter.unlink()
    r = ws.art("exp", "run", "-S", "prepare.lr=0.1", "-S", "train.k=3", code=2)
    lines = r.stderr.splitlines()
    assert lines[0] == "art: error: -S prepare.lr: no stage uses param prepare.lr"
    assert len(lines) == 2 and lines[1].startswith("hint: ") and "params.yaml:train" in lines[1]
    r = ws.art("exp", "run", "-S", "train.lr=0.1", code=2)  # inside a table a stage uses, but not in the file
    assert r.stderr.splitlines()[0] == "art: error: -S train.lr: params.yaml has no param train.lr"
    assert not ws.counter.exists()
    assert ws.git("for-each-ref", "refs/exps", "refs/exps-queue").stdout == ""
    ws.art("exp", "run", "-S", "nope:train.k=3", code=2)
    ws.art("exp", "run", "-S", "train.k", code=2)


@pytest.mark.long
def test_failed_experiment_is_recorded_failed_exit_5_and_leaves_no_worktree(exp_ws) -> None:
    ws = exp_ws
    before = {p: (ws.root / p).read_bytes() for p in ("params.yaml", "art.lock", "metrics.json")}
    r = ws.art("exp", "run", "-S", "train.k=99,5", "--name", "try", code=5)
    assert "art: error: experiment try-1 failed: stage train failed with exit status 3" in r.stderr
    assert "last lines of experiment try-1's failed stage (stderr):\n  k=99 is not a model\n" in r.stderr
    assert_workspace_untouched(ws, before)
    states = {e["name"]: e["state"] for e in show(ws)[1:]}
    assert states == {"try-1": "failed", "try-2": "done"}
    failed = json.loads(ws.art("exp", "run", "-S", "train.k=99", "--json", code=5).stdout)["experiments"][0]
    assert failed["state"] == "failed" and failed["log"] == ["k=99 is not a model"]
    ws.art("exp", "apply", "try-1", code=2)


@pytest.mark.long
def test_queue_then_run_all_in_parallel(exp_ws) -> None:
    ws = exp_ws
    r = ws.art("exp", "run", "-S", "train.k=5,6,7", "--queue", "--json")
    queued = json.loads(r.stdout)["queued"]
    assert [q["state"] for q in queued] == ["queued"] * 3
    assert len(ws.git("for-each-ref", "refs/exps-queue").stdout.splitlines()) == 3
    assert [e["state"] for e in show(ws)[1:]] == ["queued"] * 3
    ws.counter.unlink()
    r = ws.art("exp", "run", "--run-all", "-j", "2")
    assert r.stdout.count("done") == 3
    assert sorted(executions(ws)) == ["train"] * 3  # prepare's inputs did not change
    assert ws.git("for-each-ref", "refs/exps-queue").stdout == ""
    rows = show(ws)[1:]
    assert {e["metrics"]["metrics.json:score"] for e in rows} == {6 / 5, 6 / 6, 6 / 7}
    assert "No queued experiment" in ws.art("exp", "run", "--run-all").stdout


def test_apply_refuses_uncommitted_changes_without_force(exp_ws) -> None:
    ws = exp_ws
    ws.art("exp", "run", "-S", "train.k=3", "--name", "k3")
    edited = "# mine\nprepare:\n  scale: 1\ntrain:\n  k: 8\n"
    (ws.root / "params.yaml").write_text(edited)
    lock = (ws.root / "art.lock").read_bytes()
    r = ws.art("exp", "apply", "k3", code=1)
    assert "params.yaml has uncommitted changes" in r.stderr
    assert (ws.root / "params.yaml").read_text() == edited and (ws.root / "art.lock").read_bytes() == lock
    ws.art("exp", "apply", "k3", "--force")
    assert "k: 3" in (ws.root / "params.yaml").read_text()
    assert json.loads((ws.root / "metrics.json").read_text())["score"] == 2.0


def test_diff_branch_remove_and_push(exp_ws, tmp_path) -> None:
    ws = exp_ws
    ws.art("exp", "run", "-S", "train.k=3", "--name", "a")
    ws.art("exp", "run", "-S", "train.k=6", "--name", "b")
    diff = json.loads(ws.art("exp", "diff", "a", "b", "--json").stdout)
    params = {f"{d['path']}:{d['key']}": d for d in diff["params"]}
    metrics = {f"{d['path']}:{d['key']}": d for d in diff["metrics"]}
    assert params["params.yaml:train.k"]["old"] == 3 and params["params.yaml:train.k"]["new"] == 6
    assert metrics["metrics.json:score"]["change"] == pytest.approx(1.0 - 2.0)
    assert "params.yaml:prepare.scale" not in params  # unchanged rows are left out
    text = ws.art("exp", "diff", "a", "baseline").stdout
    assert "param   params.yaml:train.k" in text and "3 -> 2" in text

    ws.art("exp", "branch", "a", "exp-a")
    assert "k: 3" in ws.git("show", "exp-a:params.yaml").stdout
    assert ws.git("rev-parse", "exp-a^").stdout == ws.git("rev-parse", "HEAD").stdout  # parent: the baseline
    ws.art("exp", "branch", "a", "exp-a", code=1)

    remote = tmp_path / "remote"
    ws.art("remote", "add", "origin", str(remote), "--default")
    ws.art("push")
    pushed = json.loads(ws.art("push", "--exps", "--json").stdout)
    assert pushed["objects"] > 0  # the experiments' metrics files and runs were not in the workspace
    assert json.loads(ws.art("push", "--exps", "--json").stdout)["objects"] == 0

    assert ws.art("exp", "remove", "a", "--json").stdout.count('"a"') == 1
    assert [e["name"] for e in show(ws)[1:]] == ["b"]
    ws.art("exp", "remove", "nosuch", code=1)
    ws.art("exp", "remove", "--all")
    assert ws.git("for-each-ref", "refs/exps").stdout == ""


@pytest.mark.slow
def test_gc_keeps_what_experiments_need(exp_ws) -> None:
    ws = exp_ws
    ws.art("exp", "run", "-S", "train.k=4", "--name", "k4")
    ws.art("gc", "--grace", "0s")
    ws.art("exp", "apply", "k4")
    assert json.loads((ws.root / "metrics.json").read_text())["score"] == 1.5


def test_experiments_need_git(tmp_path: Path) -> None:
    from tests.conftest import Workspace

    root = tmp_path / "plain"
    root.mkdir()
    w = Workspace(root)
    w.art("init", "--no-git")
    r = w.art("exp", "show", code=1)
    assert "experiments need a git repository" in r.stderr


@pytest.mark.slow  # two kills and two runs: the default tier has the failed-run cleanup test
@pytest.mark.parametrize("point", ["exp.worktree-added", "exp.recorded"])
def test_a_run_killed_mid_experiment_is_finished_by_the_next_run_all(exp_ws, point) -> None:
    ws = exp_ws
    ws.art("exp", "run", "-S", "train.k=5", "--name", "k5", "--queue")
    env = {**os.environ, "ART_FAULT": f"{point}:kill"}
    cmd = [sys.executable, "-m", "artvc", "exp", "run", "--run-all"]
    killed = subprocess.run(cmd, cwd=ws.root, env=env, capture_output=True, text=True, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert (ws.root / ".art" / "tmp" / "exps" / "k5").is_dir()  # the killed run's worktree is still there
    ws.art("exp", "run", "--run-all")
    rows = show(ws)[1:]
    assert [(e["name"], e["state"]) for e in rows] == [("k5", "done")]
    assert rows[0]["metrics"]["metrics.json:score"] == 6 / 5
    assert ws.git("for-each-ref", "refs/exps-queue").stdout == ""
    assert len(ws.git("worktree", "list").stdout.splitlines()) == 1
    assert not (ws.root / ".art" / "tmp" / "exps" / "k5").exists()
    assert len(os.listdir(ws.root / ".art" / "store" / "workspaces")) == 1


@pytest.mark.slow
def test_show_sorts_keeps_changed_columns_and_prints_csv(exp_ws) -> None:
    ws = exp_ws
    ws.art("exp", "run", "-S", "train.k=3,1,6", "--name", "k")  # scores 2, 6, 1
    table = json.loads(ws.art("exp", "show", "--sort-by", "score", "--sort-order", "desc", "--json").stdout)
    assert [r["name"] for r in table["experiments"]] == ["baseline", "k-2", "k-1", "k-3"]
    assert table["param_columns"] == ["params.yaml:prepare.scale", "params.yaml:train.k"]
    changed = json.loads(ws.art("exp", "show", "--only-changed", "--json").stdout)
    assert changed["param_columns"] == ["params.yaml:train.k"]  # prepare.scale is 1 everywhere
    assert "metrics.json:detail.n" not in changed["metric_columns"]
    csv_lines = ws.art("exp", "show", "--csv", "--sort-by", "train.k").stdout.splitlines()
    assert csv_lines[0].startswith("experiment,state,params.yaml:prepare.scale,params.yaml:train.k,")
    assert [line.split(",")[0] for line in csv_lines[1:]] == ["baseline", "k-2", "k-1", "k-3"]
    r = ws.art("exp", "show", "--sort-by", "nosuch", code=2)
    assert r.stderr.startswith("art: error: --sort-by nosuch: no param or metric of that name")


@pytest.mark.slow
def test_an_experiment_takes_uncommitted_edits_of_tracked_files_but_leaves_them_in_place(exp_ws) -> None:
    ws = exp_ws
    script = ws.root / "src" / "train.py"
    edited = script.read_text().replace("sum(rows) / p", "10 * sum(rows) / p")
    script.write_text(edited)
    ws.art("exp", "run", "-S", "train.k=3", "--name", "edited")
    (row,) = show(ws)[1:]
    assert row["metrics"]["metrics.json:score"] == 20.0  # the edited script ran
    assert script.read_text() == edited
    assert ws.git("status", "--porcelain").stdout == " M src/train.py\n"


def test_apply_refuses_a_modified_output_the_store_cannot_give_back_and_writes_nothing(exp_ws) -> None:
    ws = exp_ws
    ws.art("exp", "run", "-S", "train.k=3", "--name", "k3")
    (ws.root / "metrics.json").write_text('{"score": 123}')  # the user's own edit, never stored
    params = (ws.root / "params.yaml").read_bytes()
    r = ws.art("exp", "apply", "k3", code=1)
    assert r.stderr.startswith("art: error: ") and "metrics.json" in r.stderr
    assert (ws.root / "params.yaml").read_bytes() == params  # nothing half-written
    assert (ws.root / "metrics.json").read_text() == '{"score": 123}'
    ws.art("exp", "apply", "k3", "--force")
    assert json.loads((ws.root / "metrics.json").read_text())["score"] == 2.0


def test_queue_removal_and_run_all_usage(exp_ws) -> None:
    ws = exp_ws
    ws.art("exp", "run", "-S", "train.k=5,6", "--queue")
    ws.art("exp", "run", "--run-all", "-S", "train.k=7", code=2)
    assert ws.art("exp", "remove", "--queue", "--json").stdout.count("exp-") == 2
    assert show(ws)[1:] == []
    ws.art("exp", "remove", code=2)


@pytest.mark.slow
def test_experiments_of_a_workspace_below_the_git_root(tmp_path, monkeypatch) -> None:
    from tests.conftest import Workspace, git

    monkeypatch.setenv("EXP_COUNTER", str(tmp_path / "executions.log"))
    top = tmp_path / "repo"
    (top / "proj").mkdir(parents=True)
    git(top, "init", "-q")
    ws = Workspace(top / "proj")
    ws.art("init")
    ws.gen(
        {
            "data": {"raw.csv": "1\n2\n3\n"},
            "src": {"prepare.py": PREPARE, "train.py": TRAIN},
            "params.yaml": "prepare:\n  scale: 1\ntrain:\n  k: 2\n",
            "art.toml": PIPELINE,
        }
    )
    ws.art("add", "data/raw.csv")
    ws.art("repro")
    git(top, "add", "-A")
    git(top, "commit", "-qm", "pipeline")
    ws.art("exp", "run", "-S", "prepare.scale=2", "--name", "s2")
    (row,) = show(ws)[1:]
    assert row["metrics"]["metrics.json:score"] == 6.0
    ws.art("exp", "apply", "s2")
    assert git(top, "status", "--porcelain").stdout.splitlines() == [" M proj/art.lock", " M proj/params.yaml"]
    assert json.loads((ws.root / "metrics.json").read_text())["score"] == 6.0


def run_art(ws, *args: str, fault: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ART_FAULT": fault}
    cmd = [sys.executable, "-m", "artvc", *args]
    return subprocess.run(cmd, cwd=ws.root, env=env, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_ctrl_c_leaves_the_unfinished_experiments_queued_and_no_worktree(exp_ws) -> None:
    ws = exp_ws
    ws.art("exp", "run", "-S", "train.k=5,6", "--queue")
    r = run_art(ws, "exp", "run", "--run-all", fault="exp.worktree-added:interrupt")
    assert r.returncode == 130 and "art: interrupted" in r.stderr
    assert [e["state"] for e in show(ws)[1:]] == ["queued", "queued"]
    assert len(ws.git("worktree", "list").stdout.splitlines()) == 1
    ws.art("exp", "run", "--run-all")
    assert [e["state"] for e in show(ws)[1:]] == ["done", "done"]


@pytest.mark.slow
def test_removing_an_experiment_a_killed_run_left_removes_its_worktree(exp_ws) -> None:
    ws = exp_ws
    ws.art("exp", "run", "-S", "train.k=5", "--name", "k5", "--queue")
    assert run_art(ws, "exp", "run", "--run-all", fault="exp.worktree-added:kill").returncode == -signal.SIGKILL
    assert (ws.root / ".art" / "tmp" / "exps" / "k5").is_dir()
    ws.art("exp", "remove", "k5")
    assert not (ws.root / ".art" / "tmp" / "exps" / "k5").exists()
    assert len(ws.git("worktree", "list").stdout.splitlines()) == 1
    assert len(os.listdir(ws.root / ".art" / "store" / "workspaces")) == 1


@pytest.mark.slow
def test_the_installed_checkout_hook_does_not_run_in_an_experiments_worktree(exp_ws) -> None:
    ws = exp_ws
    ws.art("install")
    ws.art("exp", "run", "-S", "train.k=5", "--name", "k5", "--queue")
    assert run_art(ws, "exp", "run", "--run-all", fault="exp.worktree-added:kill").returncode == -signal.SIGKILL
    worktree = ws.root / ".art" / "tmp" / "exps" / "k5"
    assert (worktree / "params.yaml").is_file()
    assert not (worktree / ".art" / "store").exists()  # the hook would have made a store of its own there
    ws.art("exp", "run", "--run-all")
    assert [e["state"] for e in show(ws)[1:]] == ["done"]


@pytest.mark.slow
def test_experiments_travel_with_git_push_and_art_push(exp_ws, tmp_path) -> None:
    from tests.conftest import Workspace, git

    ws = exp_ws
    ws.art("exp", "run", "-S", "train.k=3", "--name", "k3")
    ws.art("remote", "add", "origin", str(tmp_path / "store-remote"), "--default")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "remote")
    ws.art("push")
    ws.art("push", "--exps")
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    ws.git("push", "-q", str(tmp_path / "origin.git"), "HEAD:refs/heads/main", "refs/exps/*")
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), "clone")
    clone = Workspace(tmp_path / "clone")
    clone.git("fetch", "-q", "origin", "refs/exps/*:refs/exps/*")
    (row,) = show(clone)[1:]
    assert (row["name"], row["metrics"]["metrics.json:score"]) == ("k3", 2.0)
    clone.art("pull")
    clone.art("exp", "apply", "k3", code=1)  # its metrics file is not in this clone's store yet
    clone.art("fetch", "--exps")
    clone.art("exp", "apply", "k3")  # its outputs came with 'art push --exps'
    assert json.loads((clone.root / "metrics.json").read_text())["score"] == 2.0


# DVC's tutorial shape (prepare -> featurize -> train -> evaluate, params.yaml, a metrics JSON), on synthetic data
TUTORIAL = {
    "prepare": (
        "data/raw.csv",
        "data/prepared.csv",
        "prepare",
        """rows = open("data/raw.csv").read().split()
out = [r for i, r in enumerate(rows) if i % p["split"] != 0]
open("data/prepared.csv", "w").write("\\n".join(out) + "\\n")""",
    ),
    "featurize": (
        "data/prepared.csv",
        "data/features.csv",
        "featurize",
        """rows = open("data/prepared.csv").read().split()
feats = [str(int(r) % p["max_features"]) for r in rows]
open("data/features.csv", "w").write("\\n".join(feats) + "\\n")""",
    ),
    "train": (
        "data/features.csv",
        "model.txt",
        "train",
        """feats = [int(x) for x in open("data/features.csv").read().split()]
open("model.txt", "w").write(str(sum(feats) * p["n_est"] % 997))""",
    ),
    "evaluate": (
        "model.txt",
        None,
        None,
        """m = int(open("model.txt").read())
import json
json.dump({"avg_prec": m / 997, "roc_auc": round(1 - m / 1994, 6)}, open("eval/metrics.json", "w"))""",
    ),
}


def tutorial_pipeline(ws) -> None:
    files = {"params.yaml": "prepare:\n  split: 5\nfeaturize:\n  max_features: 50\ntrain:\n  n_est: 10\n"}
    toml = []
    for stage, (dep, out, section, body) in TUTORIAL.items():
        head = f'import os, yaml\nopen(os.environ["EXP_COUNTER"], "a").write("{stage}\\n")\n'
        if section:
            head += f'p = yaml.safe_load(open("params.yaml"))["{section}"]\n'
        files[f"src/{stage}.py"] = head + body + "\n"
        toml.append(f'[stages.{stage}]\ncmd = "{PY} src/{stage}.py"\ndeps = ["{dep}"]')
        toml.append(f'outs = ["{out}"]\nparams = ["{section}"]\n' if out else 'metrics = ["eval/metrics.json"]\n')
    files["art.toml"] = "\n".join(toml)
    files["data"] = {"raw.csv": "\n".join(str(i * 37 % 1000) for i in range(400)) + "\n"}
    files["eval"] = {".keep": ""}
    ws.gen(files)
    ws.art("add", "data/raw.csv")
    ws.art("repro")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "tutorial pipeline")


@pytest.mark.slow
def test_tutorial_shape_grid_of_four_apply_best_and_rerun_executes_nothing(ws, tmp_path, monkeypatch) -> None:
    counter = tmp_path / "executions.log"
    monkeypatch.setenv("EXP_COUNTER", str(counter))
    tutorial_pipeline(ws)
    counter.unlink()
    before = {p: (ws.root / p).read_bytes() for p in ("params.yaml", "art.lock", "eval/metrics.json", "model.txt")}
    grid = ["-S", "featurize.max_features=100,200", "-S", "train.n_est=50,100"]
    ws.art("exp", "run", *grid)
    assert_workspace_untouched(ws, before)
    ran = counter.read_text().split()
    assert sorted(set(ran)) == ["evaluate", "featurize", "train"] and "prepare" not in ran
    assert ran.count("featurize") == 2 and ran.count("train") == 4  # one featurize per max_features
    exps = show(ws)[1:]
    assert len(exps) == 4
    for e in exps:
        assert set(e["params"]) >= {"params.yaml:featurize.max_features", "params.yaml:train.n_est"}
        assert set(e["metrics"]) == {"eval/metrics.json:avg_prec", "eval/metrics.json:roc_auc"}
    best = max(exps, key=lambda e: e["metrics"]["eval/metrics.json:avg_prec"])
    ws.art("exp", "apply", best["name"])
    metrics = json.loads((ws.root / "eval" / "metrics.json").read_text())
    assert {f"eval/metrics.json:{k}": v for k, v in metrics.items()} == best["metrics"]
    ws.git("checkout", "-q", "--", ".")
    ws.art("checkout")
    counter.unlink()
    ws.art("exp", "run", *grid)
    assert not counter.exists()  # the same grid again: every stage restored, nothing executed
