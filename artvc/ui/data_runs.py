"""The runs and run pages of ``art ui`` (``art runs --json``, ``art runs show ID --json``): a pipeline run's
DAG (steps, states, edges) and per step what its run record says."""

from __future__ import annotations

from typing import Any

from ..errors import ArtError
from ..objstore.lineage import Run
from ..pipeline.flow.history import describe, recent_runs
from ..pipeline.runner import TAIL_LINES, bounded_tail
from ..workspace.repo import Repo
from ..workspace.runs import find_run, load_run

MAX_ERROR_CHARS = 4096  # the end of a failed step's traceback shown on a run page


def runs_data(
    repo: Repo,
    *,
    pipeline: str | None = None,
    stage: str | None = None,
    branch: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """``art runs --json``: every run (pipeline, repro, exp, add), newest first, filtered."""
    return {"pipeline_runs": recent_runs(repo, limit, pipeline, stage=stage, branch=branch)}


def run_data(repo: Repo, ref: str) -> dict[str, Any]:
    """``art runs show ID --json``: the run (``ref``: its id or a prefix of 4+ hex digits), its DAG and steps.

    Raises:
        UsageError: ``ref`` is not hex, or an ambiguous prefix (exit 2).
        ObjectNotFoundError: no run has that id (exit 1).
    """
    record = find_run(repo, ref)
    oid = str(record.oid)
    entry = describe(repo, oid, record)
    if record.get("kind") != "pipeline":
        name = entry["steps"][0]["name"]
        detail = step_detail(record, entry["steps"][0]["state"])
        _input_sizes(repo, [detail], {})
        return {"run": entry, "dag": {"nodes": list(entry["steps"]), "edges": []}, "steps": {name: detail}}
    raw = [s for s in record.get("steps", []) if isinstance(s, dict)]
    records: dict[str, Run | None] = {}
    for s in raw:
        run_oid = s.get("run")
        rec = None
        if isinstance(run_oid, str) and run_oid:
            try:
                rec = load_run(repo, run_oid)
            except ArtError:
                rec = None
        records[str(s.get("stage"))] = rec
    nodes = entry["steps"]
    steps: dict[str, Any] = {}
    for node in nodes:
        rec = records.get(node["name"])
        if rec is not None:
            steps[node["name"]] = step_detail(rec, node["state"])
        else:
            steps[node["name"]] = _not_run(node["state"], next(s for s in raw if str(s.get("stage")) == node["name"]))
    known = {str(rec.oid): rec for rec in records.values() if rec is not None}
    _input_sizes(repo, list(steps.values()), known)
    return {"run": entry, "dag": {"nodes": nodes, "edges": edges_of(raw, records)}, "steps": steps}


def _input_sizes(repo: Repo, details: list[dict[str, Any]], known: dict[str, Run]) -> None:
    """Fill in each input's size (run records keep sizes with outputs) from the run that produced it."""
    for d in details:
        for i in d.get("inputs", []):
            producer = i.get("producer")
            if i.get("size") is not None or not isinstance(producer, str):
                continue
            if producer not in known:
                try:
                    known[producer] = load_run(repo, producer)
                except ArtError:
                    continue
            where = i.get("name") or i.get("path")
            for o in known[producer].get("outputs", []):
                if isinstance(o, dict) and o.get("path") == where and o.get("oid") == i.get("oid"):
                    i["size"] = o.get("size")
                    break


def edges_of(raw: list[dict[str, Any]], records: dict[str, Run | None]) -> list[list[str]]:
    """[upstream, downstream] pairs: as recorded (each step's ``after``), or for older records derived from
    which step's outputs another step consumed (by producing run, else by path)."""
    names = [str(s.get("stage")) for s in raw]
    if raw and all(isinstance(s.get("after"), list) for s in raw):
        return [[str(u), n] for s, n in zip(raw, names, strict=True) for u in s["after"] if str(u) in names]
    by_run = {str(rec.oid): n for n, rec in records.items() if rec is not None}
    by_path: dict[str, str] = {}
    for n, rec in records.items():
        for o in rec.get("outputs", []) if rec is not None else []:
            if isinstance(o, dict) and isinstance(o.get("path"), str):
                by_path.setdefault(o["path"], n)
    edges: list[list[str]] = []
    for n in names:
        rec = records.get(n)
        for i in rec.get("inputs", []) if rec is not None else []:
            if not isinstance(i, dict):
                continue
            up = by_run.get(str(i.get("run"))) or by_path.get(str(i.get("path")))
            if up is not None and up != n and [up, n] not in edges:
                edges.append([up, n])
    return edges


def _not_run(state: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A step without a run record (skipped, not run, a failed repro stage, or a record not in the local store):
    no times; a failed stage's exit status and output tails from its pipeline-run entry."""
    extra: dict[str, Any] = _tails(entry)
    if isinstance(entry.get("exit_status"), int):
        extra["exit_status"] = entry["exit_status"]
    return {
        **extra,
        "code_hash": None,
        "params": {},
        "inputs": [],
        "outputs": [],
        "env": {},
        "state": state,
    }


def _tails(fields: dict[str, Any]) -> dict[str, list[str]]:
    """The output tails a record holds, bounded again (stored data is not trusted to respect the bound)."""
    out = {}
    for k in ("stdout_tail", "stderr_tail"):
        lines = fields.get(k)
        if isinstance(lines, list):
            out[k] = bounded_tail(line for line in lines[-TAIL_LINES:] if isinstance(line, str))
    return out


def step_detail(run: Run, state: str) -> dict[str, Any]:
    """What a run page shows of one step: its code hash, params, inputs, outputs, environment, command, times,
    exit status (``exit_status``: JSON output never says ``returncode``) and output tails (when recorded)."""
    kind = run.get("kind")
    flow = kind == "step"
    inputs = []
    for i in run.get("inputs", []):
        if not isinstance(i, dict):
            continue
        item: dict[str, Any] = {"name" if flow else "path": i.get("path"), "oid": i.get("oid"), "size": i.get("size")}
        if flow and i.get("param"):
            item["param"] = i.get("param")
        item["kind"] = i.get("kind")
        if isinstance(i.get("path"), str):
            item["artifact"] = i["path"]
        if i.get("run"):
            item["producer"] = i.get("run")
        inputs.append(item)
    outputs = []
    for o in run.get("outputs", []):
        if not isinstance(o, dict):
            continue
        item = {
            "name" if flow else "path": o.get("path"),
            "oid": o.get("oid"),
            "size": o.get("size"),
            "kind": o.get("kind"),
        }
        if isinstance(o.get("path"), str):
            item["artifact"] = o["path"]
        for k in ("materializer", "type", "files"):
            if o.get(k) is not None:
                item[k] = o[k]
        outputs.append(item)
    env_keys = ("user", "host", "platform", "python", "art", "packages", "git")
    out: dict[str, Any] = {
        "run_oid": str(run.oid),
        "kind": kind,
        "state": state,
        "code_hash": run.get("code_hash"),
        "code": run.get("code") or {},
        "params": run.get("params") or {},
        "inputs": inputs,
        "outputs": outputs,
        "env": {k: run.get(k) for k in env_keys if run.get(k) is not None},
        "started": run.get("started"),
        "duration": run.get("duration"),
        "exit_status": run.get("exit_status"),
        "metadata": run.get("metadata") or {},
    }
    command = run.get("cmd") or run.get("call")
    if command:
        out["command"] = str(command)
    out.update(_tails(run.fields))
    if isinstance(run.get("error"), str):
        out["error"] = run["error"][-MAX_ERROR_CHARS:]
    return out
