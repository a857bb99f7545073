"""The experiment loop on DVC's tutorial pipeline shape (issue 12): metrics diff, a 3x3 grid of experiments
(executed, then run again fully cached) and exp show over 100 experiments.

The project is ``tests/pipeline/tutorial.py`` (prepare -> featurize -> train -> evaluate on synthetic text,
params.yaml, eval/metrics.json, the ROC curve as a plot), written as ``art.toml`` or ``dvc.yaml``; its stages are
stdlib-only Python run by this interpreter, milliseconds each, so the tools' own work dominates. Both tools queue
the grid (``exp run -S ... -S ... --queue``) and run it with ``exp run --run-all -j 2``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

from harness.core import Group, Sample, Step, ToolError, Workspace, commit_all, expect, init_repo, wait_idle

ROOT = Path(__file__).resolve().parents[2]
GRID = ("featurize.max_features=100,200,300", "train.n_est=20,50,80")
# 41 x 2 = 82 more experiments: with the 18 of the two grids, exp show lists 100
SHOW_GRID = ("featurize.max_features=" + ",".join(str(40 + 5 * i) for i in range(41)), "train.n_est=11,12")
JOBS = "2"


def tutorial():
    """tests/pipeline/tutorial.py, loaded by path (it uses only the standard library)."""
    spec = importlib.util.spec_from_file_location("tutorial", ROOT / "tests" / "pipeline" / "tutorial.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def output(ws: Workspace, *args: str, timed: bool = False) -> tuple[float, str]:
    """Run the tool and return (seconds, stdout); with ``timed``, wait for a quiet disk first (as ws.timed)."""
    if timed:
        wait_idle(ws.cfg.base, ws.cfg.pause, 0.5)
    argv = [*ws.tool.argv, *args]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, cwd=ws.repo, env=ws.env, capture_output=True, text=True, timeout=ws.cfg.timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"`{' '.join(argv)}`: {exc}") from exc
    secs = time.perf_counter() - start
    if proc.returncode != 0:
        raise ToolError(f"`{' '.join(argv)}` exited {proc.returncode}:\n{(proc.stderr or proc.stdout)[-1500:]}")
    return secs, proc.stdout


def prep_tutorial(ws: Workspace) -> None:
    """The tutorial at two commits (baseline, then more features and fewer trees), run and committed."""
    tut = tutorial()
    # DVC's queue starts its workers as `dvc` from PATH: both tools get their own bin directory first
    ws.env["PATH"] = f"{Path(ws.tool.argv[0]).parent}:{ws.env.get('PATH', '')}"
    # experiments are commits: DVC cannot commit with the harness's fixed ISO dates (every experiment failed
    # with "Git commit failed: 2024-01-01T00:00:00Z"), so both tools commit with the real time here
    for key in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        ws.env.pop(key, None)
    init_repo(ws, ["/data/data.csv"])
    tut.build(ws.repo, tool=ws.tool.name, python=sys.executable, plots=False)
    ws.run("add", "data/data.csv")
    ws.run("repro")
    commit_all(ws)
    tut.write_params(ws.repo, featurize__max_features=200, train__n_est=20)
    ws.run("repro")
    commit_all(ws)


def step_metrics_diff(ws: Workspace) -> Sample:
    secs, out = output(ws, "metrics", "diff", "HEAD~1", "HEAD", "--json", timed=True)
    data = json.loads(out)
    if ws.tool.name == "dvc":  # {"eval/metrics.json": {"roc_auc": {"old", "new", "diff"}, ...}}
        keys = set(data.get("eval/metrics.json", {}))
    else:
        keys = {r["key"] for r in data["metrics"] if r["path"] == "eval/metrics.json"}
    expect(keys == {"avg_prec", "roc_auc"}, f"metrics diff showed {sorted(keys)}, not avg_prec and roc_auc")
    return Sample(secs)


def run_grid(ws: Workspace, grid: tuple[str, ...]) -> float:
    """Queue the grid and run the queue, 2 at a time; return the seconds of both commands."""
    sets = [arg for g in grid for arg in ("-S", g)]
    queued, _ = output(ws, "exp", "run", *sets, "--queue", timed=True)
    ran, _ = output(ws, "exp", "run", "--run-all", "-j", JOBS)
    return queued + ran


def recorded(ws: Workspace) -> int:
    """How many experiments are recorded as git refs (both tools keep them under refs/exps; DVC's executor
    and queue bookkeeping refs are not experiments)."""
    proc = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/exps/"],
        cwd=ws.repo,
        env=ws.env,
        capture_output=True,
        text=True,
        check=True,
    )
    skip = ("refs/exps/exec/", "refs/exps/celery/", "refs/exps/stash", "refs/exps/runs/", "refs/exps/temp/")
    return sum(1 for ref in proc.stdout.split() if not ref.startswith(skip))


def experiments(ws: Workspace) -> list[dict]:
    """(name, metrics) of every experiment ``exp show --json`` lists, in one shape for both tools."""
    _, out = output(ws, "exp", "show", "--json")
    return parse_show(ws.tool.name, json.loads(out))


def parse_show(tool: str, data) -> list[dict]:
    found = []
    if tool == "dvc":  # [{"rev": baseline, "data": ..., "experiments": [{"revs": [{"name", "data": {...}}]}]}]
        for base in data:
            for exp in base.get("experiments") or []:
                for rev in exp.get("revs", []):
                    metrics = (rev.get("data") or {}).get("metrics", {}).get("eval/metrics.json", {}).get("data", {})
                    found.append({"name": rev.get("name"), "metrics": metrics})
        return found
    for exp in data["experiments"]:
        if exp.get("state") is None:
            continue  # the baseline
        metrics = {m["key"]: m["value"] for m in exp["metrics"] if m["path"] == "eval/metrics.json"}
        found.append({"name": exp["name"], "metrics": metrics})
    return found


def step_grid_first(ws: Workspace) -> Sample:
    secs = run_grid(ws, GRID)
    done = [e for e in experiments(ws) if "roc_auc" in e["metrics"]]
    expect(len(done) == 9, f"exp show lists {len(done)} experiments with metrics after a 3x3 grid, not 9")
    expect(recorded(ws) == 9, f"{recorded(ws)} experiments are recorded under refs/exps after a 3x3 grid, not 9")
    return Sample(secs)


def step_grid_cached(ws: Workspace) -> Sample:
    secs = run_grid(ws, GRID)
    done = [e for e in experiments(ws) if "roc_auc" in e["metrics"]]
    expect(len(done) == 18, f"exp show lists {len(done)} experiments with metrics after two grids, not 18")
    expect(recorded(ws) == 18, f"{recorded(ws)} experiments are recorded under refs/exps after two grids, not 18")
    return Sample(secs)


def step_show_100(ws: Workspace) -> Sample:
    run_grid(ws, SHOW_GRID)  # untimed
    secs, out = output(ws, "exp", "show", "--json", timed=True)
    found = [e for e in parse_show(ws.tool.name, json.loads(out)) if "roc_auc" in e["metrics"]]
    expect(len(found) == 100, f"exp show --json lists {len(found)} experiments with metrics, not 100")
    expect(recorded(ws) == 100, f"{recorded(ws)} experiments are recorded under refs/exps, not 100")
    return Sample(secs)


GROUP = Group(
    "tutorial",
    prep_tutorial,
    (
        Step("tutorial.metrics_diff", step_metrics_diff),
        Step("tutorial.exp_grid", step_grid_first),
        Step("tutorial.exp_grid_cached", step_grid_cached),
        Step("tutorial.exp_show_100", step_show_100),
    ),
)
