"""Listing pipeline runs (``art runs``): the records of ``kind = "pipeline"`` the run index knows, newest first."""

from __future__ import annotations

from typing import Any

from ...errors import ArtError
from ...workspace.repo import Repo
from ...workspace.runs import load_run


def recent_runs(repo: Repo, limit: int, pipeline: str | None = None) -> list[dict[str, Any]]:
    """The newest ``limit`` pipeline runs (of ``pipeline`` when given) as JSON-ready dicts."""
    out = []
    for oid in repo.state.pipeline_runs(limit, pipeline):
        try:
            run = load_run(repo, oid)
        except ArtError:
            continue
        steps = [s for s in run.get("steps", []) if isinstance(s, dict)]
        git = run.get("git") or {}
        counts = {k: sum(1 for s in steps if s.get("status") == k) for k in ("executed", "cached", "failed", "skipped")}
        out.append(
            {
                "oid": oid,
                "pipeline": str(run.get("pipeline", "")),
                "call": run.get("call"),
                "started": run.get("started"),
                "commit": git.get("commit"),
                "dirty": git.get("dirty"),
                **counts,
                "duration": run.get("duration", 0),
                "exit_status": run.get("exit_status", 0),
                "params": run.get("params") or {},
                "steps": [{"name": s.get("stage"), "state": s.get("status"), "run_oid": s.get("run")} for s in steps],
            }
        )
    return out
