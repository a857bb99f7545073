"""TEMP stand-in from h/uiserver until h/uidata delivers: fixed data in the documented shapes."""

from __future__ import annotations

RUN = "a" * 64
NAMES = ["digits_pipeline/evaluator/accuracy", "data/prepared", "../../etc/passwd <b>x</b>"]


def runs_data(repo, *, pipeline=None, stage=None, branch=None, limit=None) -> dict:
    runs = [{"oid": RUN, "kind": "pipeline", "pipeline": "p", "steps": [{"name": "s", "state": "executed"}]}]
    return {"pipeline_runs": [r for r in runs if pipeline in (None, r["pipeline"])]}


def run_data(repo, oid: str) -> dict:
    if oid != RUN:
        raise LookupError(oid)
    return {"run": runs_data(repo)["pipeline_runs"][0], "dag": {"nodes": [], "edges": []}, "steps": {}}


def artifacts_data(repo) -> dict:
    return {"artifacts": [{"name": n, "versions": 1} for n in NAMES]}


def artifact_data(repo, name: str) -> dict:
    return {"name": name, "kind": "artifact", "versions": [], "metadata": {}, "preview": {"type": "none"}}


def experiments_data(repo) -> dict:
    return {"experiments": [], "param_columns": [], "metric_columns": []}


def store_data(repo) -> dict:
    return {"artifacts": [], "total": {}, "store": {}, "commits": [], "remotes": []}
