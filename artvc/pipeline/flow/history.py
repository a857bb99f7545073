"""Listing runs (``art runs``, the runs page of ``art ui``): the pipeline runs (Python pipelines, ``art repro``,
the repro of an ``art exp run``) and ``art add`` runs the run index knows, newest first, each summarized from
its record."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ...errors import ArtError
from ...objstore.lineage import Run
from ...workspace.repo import Repo
from ...workspace.runs import ensure_indexed, load_run

COUNTED = ("executed", "cached", "failed", "skipped")
# repro's own word for a stage (``outcome``, recorded since the ui) -> the state a run page shows
OUTCOME_STATE = {"ran": "executed", "cached": "cached", "up-to-date": "up-to-date", "failed": "failed"}


def recent_runs(
    repo: Repo,
    limit: int | None,
    pipeline: str | None = None,
    *,
    stage: str | None = None,
    branch: str | None = None,
) -> list[dict[str, Any]]:
    """The newest ``limit`` (None: every) runs as JSON-ready dicts, newest first: those of ``pipeline``, with
    a step or stage named ``stage``, made on git branch ``branch`` when given. An index older than what art
    records now is rebuilt first (a read-only repository rebuilds it in memory)."""
    ensure_indexed(repo)
    out = []
    windows = _Windows(repo)
    for entry in _entries(repo, pipeline, windows):
        if stage is not None and not any(s["name"] == stage for s in entry["steps"]):
            continue
        if branch is not None and entry["branch"] != branch:
            continue
        out.append(entry)
        if limit is not None and len(out) >= limit:
            break
    return out


def _entries(repo: Repo, pipeline: str | None, windows: _Windows) -> Iterator[dict[str, Any]]:
    for oid, kind in repo.state.listed_runs(None, pipeline):
        try:
            run = load_run(repo, oid)
        except ArtError:
            continue
        yield describe(repo, oid, run, kind, windows)


def describe(repo: Repo, oid: str, run: Run, kind: str | None = None, windows: _Windows | None = None) -> dict:
    """``summary``, and an ``art repro`` recorded before records named their experiment told apart as the
    experiment's (``_tag_experiment``)."""
    entry = summary(oid, run, kind)
    steps = run.get("steps")
    old = isinstance(steps, list) and not any(isinstance(s, dict) and "after" in s for s in steps)  # before the ui
    if entry["kind"] == "repro" and old:
        _tag_experiment(entry, (windows or _Windows(repo)).get())
    return entry


class _Windows:
    """The experiments' windows, read once, when an old repro record needs them."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.found: list[tuple[str, datetime, datetime, dict[str, str]]] | None = None

    def get(self) -> list[tuple[str, datetime, datetime, dict[str, str]]]:
        if self.found is None:
            self.found = _exp_windows(self.repo)
        return self.found


def _exp_windows(repo: Repo) -> list[tuple[str, datetime, datetime, dict[str, str]]]:
    """(name, queued at, recorded at, stage -> run) of every recorded experiment."""
    from ..exps import experiments

    git = repo.git
    out: list[tuple[str, datetime, datetime, dict[str, str]]] = []
    if git is None:
        return out
    try:
        found = experiments(repo, queued=False)
    except ArtError:
        return out
    for e in found:
        try:
            done = datetime.fromtimestamp(git.commit_time(e.commit), UTC)
            queued = _when(e.created)
        except (ArtError, ValueError, OSError):
            continue
        if queued is not None and e.runs:
            out.append((e.name, queued, done, dict(e.runs)))
    return out


def _when(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _tag_experiment(entry: dict[str, Any], windows: list[tuple[str, datetime, datetime, dict[str, str]]]) -> None:
    """A repro recorded before records named their experiment is one when its stages' runs are the runs the
    experiment recorded and it started while that experiment ran (between queued and recorded)."""
    runs = {s["name"]: s["run_oid"] for s in entry["steps"] if s["run_oid"]}
    started = _when(entry["started"])
    if not runs or started is None:
        return
    for name, queued, done, exp_runs in windows:
        if exp_runs == runs and queued <= started <= done + timedelta(seconds=2):
            entry["kind"], entry["experiment"] = "exp", name
            return


def step_state(step: dict[str, Any]) -> str:
    """The state a step of a pipeline-run record is shown in: executed, cached, failed, skipped, up-to-date
    (a repro stage that was already up to date) or not-run (a repro stage the run did not reach)."""
    outcome = step.get("outcome")
    if outcome == "not-run":
        return "not-run"
    if isinstance(outcome, str) and outcome in OUTCOME_STATE:
        return OUTCOME_STATE[outcome]
    status = step.get("status")
    return status if status in COUNTED else "skipped"


def summary(oid: str, run: Run, kind: str | None = None) -> dict[str, Any]:
    """One runs entry (docs/cli.md, ``art runs --json``) of run record ``run``."""
    git = run.get("git") if isinstance(run.get("git"), dict) else {}
    kind = kind or str(run.get("kind") or "")
    steps: list[dict[str, Any]]
    if kind == "add":
        steps = [{"name": "add", "state": "executed", "run_oid": oid}]
        raw: list[dict[str, Any]] = [{"status": "executed"}]
        pipeline, call = "art add", "art add"
    elif kind == "pipeline":
        raw = [s for s in run.get("steps", []) if isinstance(s, dict)]
        steps = [{"name": s.get("stage"), "state": step_state(s), "run_oid": s.get("run")} for s in raw]
        pipeline, call = str(run.get("pipeline", "")), run.get("call")
    else:  # a single stage or step run
        name = str(run.get("stage") or kind)
        state = "executed" if run.get("exit_status", 0) == 0 else "failed"
        raw = [{"status": state}]
        steps = [{"name": name, "state": state, "run_oid": oid}]
        pipeline, call = str(run.get("pipeline") or ("art.toml" if kind == "stage" else "")), run.get("call")
    counts = {k: sum(1 for s in raw if s.get("status") == k) for k in COUNTED}
    if kind == "pipeline":
        experiment = run.get("experiment")
        kind = "exp" if isinstance(experiment, str) and experiment else "repro" if call == "art repro" else "pipeline"
    entry: dict[str, Any] = {
        "oid": oid,
        "kind": kind,
        "pipeline": pipeline,
        "call": call,
        "started": run.get("started"),
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "branch": git.get("branch"),
        "user": run.get("user"),
        **counts,
        "duration": run.get("duration", 0),
        "exit_status": run.get("exit_status", 0),
        "params": run.get("params") or {},
        "steps": steps,
    }
    if kind == "exp":
        entry["experiment"] = run.get("experiment")
    if kind == "add":
        entry["paths"] = [o.get("path") for o in run.get("outputs", []) if isinstance(o, dict)]
    return entry
