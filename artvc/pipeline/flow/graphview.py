"""A Python pipeline's graph as the stage graph ``art dag`` draws (``pipeline/dag.Graph``): one node per step
invocation, its output artifacts as outs, the artifacts it reads as deps; marked with the newest recorded
run of that pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from ...errors import ArtError
from ...workspace.repo import Repo
from ...workspace.runs import load_run
from ..dag import Graph
from .api import Pipeline

# a step's status in a pipeline run -> the mark art dag draws (the words of art repro)
MARKS = {"executed": "ran", "cached": "cached", "failed": "failed", "skipped": "not-run"}


@dataclass(frozen=True, slots=True)
class _Node:
    name: str
    call: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    cmd: None = None


def step_graph(pipeline: Pipeline, params: dict[str, Any]) -> Graph:
    """Build ``pipeline`` with ``params`` (nothing runs) and return its invocations as a stage graph."""
    built = pipeline.build(pipeline.bind(**params))
    nodes = {}
    for inv in built.invocations:
        outs = tuple(f"{pipeline.name}/{inv.name}/{o.name}" for o in inv.step.outputs[0])
        deps = tuple(sorted({h.artifact for h in inv.inputs.values()}))
        nodes[inv.name] = _Node(inv.name, inv.step.call, deps, outs)
    return Graph(cast("dict", nodes))


def last_marks(repo: Repo, name: str) -> dict[str, str]:
    """Each step's status in the newest recorded run of pipeline ``name`` (empty when there is none)."""
    for oid in repo.state.pipeline_runs(1, name):
        try:
            run = load_run(repo, oid)
        except ArtError:
            return {}
        return {str(s.get("stage")): MARKS.get(str(s.get("status")), "not-run") for s in run.get("steps", [])}
    return {}
