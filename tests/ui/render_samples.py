"""Hand-built page data in the shapes of docs/ui.md (issue 14's contract), for the rendering tests."""

from __future__ import annotations

import base64

HOSTILE = "<script>alert('x')</script>\"&'é\u2028🙂"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def oid(n: int) -> str:
    return f"{n:064x}"


def runs_data(n: int = 3) -> dict:
    runs = []
    for i in range(n):
        kind = ("pipeline", "repro", "exp", "add")[i % 4]
        steps = [
            {"name": "importer", "state": "cached", "run_oid": oid(10_000 + i)},
            {"name": "trainer", "state": "executed", "run_oid": oid(20_000 + i)},
            {"name": "evaluator", "state": "failed" if i % 7 == 3 else "executed", "run_oid": oid(30_000 + i)},
        ]
        runs.append(
            {
                "kind": kind,
                "oid": oid(i + 1),
                "pipeline": "digits_pipeline" if i % 2 == 0 else "art.toml",
                "experiment": "exp-a" if kind == "exp" else None,
                "started": f"2026-11-30T04:{i % 60:02d}:00Z",
                "duration": 1.5 + i,
                "commit": "ab" * 20,
                "dirty": i % 3 == 0,
                "branch": "main" if i % 2 == 0 else "feature",
                "user": "tester",
                "executed": 2,
                "cached": 1,
                "failed": 0,
                "skipped": 0,
                "steps": steps,
            }
        )
    return {"pipeline_runs": runs}


def step(name: str, **extra) -> dict:
    return {
        "code_hash": "c0de" * 16,
        "params": {"C": 1.0, "kernel": "rbf", "nested": {"depth": 3}},
        "inputs": [
            {
                "name": "dataset",
                "oid": oid(99),
                "size": 2048,
                "artifact": "digits_pipeline/importer/output",
                "producer": oid(5),
                "param": "X_train",
            }
        ],
        "outputs": [
            {
                "name": "model",
                "oid": oid(98),
                "size": 10_000_000,
                "kind": "artifact",
                "artifact": f"digits_pipeline/{name}/output",
            }
        ],
        "env": {"python": "3.11.7", "platform": "linux"},
        "started": "2026-11-30T04:00:00Z",
        "duration": 0.25,
        **extra,
    }


def run_data(states: dict[str, str] | None = None, edges: list | None = None) -> dict:
    states = states or {"importer": "cached", "trainer": "executed", "evaluator": "executed"}
    names = list(states)
    edges = edges if edges is not None else [[a, b] for a, b in zip(names, names[1:], strict=False)]
    run = runs_data(1)["pipeline_runs"][0]
    return {
        "run": run,
        "dag": {
            "nodes": [{"name": n, "state": s, "run_oid": oid(i + 40)} for i, (n, s) in enumerate(states.items())],
            "edges": edges,
        },
        "steps": {n: step(n, stdout_tail=["line 1", "done"], stderr_tail=["warning: x"]) for n in names},
    }


def artifact_data(name: str = "digits_pipeline/evaluator/accuracy", versions: int = 2) -> dict:
    return {
        "name": name,
        "kind": "artifact",
        "versions": [
            {
                "version": versions - i,
                "oid": oid(500 + i),
                "size": 100 + i,
                "commit": "cd" * 20,
                "tag": None,
                "stage": None,
                "run_oid": oid(600 + i),
                "created": f"2026-11-30T03:{i % 60:02d}:00Z",
            }
            for i in range(versions)
        ],
        "metadata": {"accuracy": 0.97, "type": "float"},
        "preview": {"type": "text", "text": "0.97"},
        "lineage": {
            "made_by": {
                "nodes": [
                    {"key": "a:1", "type": "artifact", "name": "digits_pipeline/trainer/output", "oid": oid(8)},
                    {"key": "r:7", "type": "run", "name": "evaluator", "kind": "step", "run_oid": oid(7)},
                    {"key": "a:2", "type": "artifact", "name": name, "artifact": name, "oid": oid(500)},
                ],
                "edges": [["a:1", "r:7"], ["r:7", "a:2"]],
            },
            "used_by": {"nodes": [{"key": "a:0", "type": "artifact", "name": name}], "edges": []},
        },
    }


def artifacts_data(n: int = 3) -> dict:
    return {
        "artifacts": [
            {"name": f"digits_pipeline/step{i}/output", "versions": 2, "started": "2026-11-30T04:00:00Z"}
            for i in range(n)
        ]
        + [{"name": "data/prepared", "kind": "path", "versions": 1, "started": None}]
    }


def experiments_data() -> dict:
    def row(name, lr, acc, commit):
        return {
            "name": name,
            "commit": commit,
            "state": None if name == "baseline" else "done",
            "params": [{"path": "params.yaml", "key": "lr", "value": lr}],
            "metrics": [{"path": "metrics.json", "key": "acc", "value": acc}],
            "created_at": "2026-11-30T04:00:00Z",
        }

    plot = {
        "path": "plots/loss.csv",
        "template": "line",
        "x": "step",
        "y": ["loss"],
        "title": "loss",
        "revisions": [
            {"rev": "exp-a", "oid": oid(1), "series": [{"y": "loss", "points": [[0, 1.0], [1, 0.5], [2, 0.25]]}]},
            {"rev": "exp-b", "oid": oid(2), "series": [{"y": "loss", "points": [[0, 1.0], [1, 0.7], [2, 0.6]]}]},
        ],
    }
    image = {
        "path": "plots/cm.png",
        "template": "image",
        "x": None,
        "y": [],
        "title": "cm",
        "revisions": [
            {
                "rev": "exp-a",
                "oid": oid(3),
                "image": {"type": "image/png", "size": 24, "data_uri": f"data:image/png;base64,{PNG}"},
            }
        ],
    }
    return {
        "experiments": [
            row("baseline", 0.1, 0.9, "11" * 20),
            row("exp-a", 0.01, 0.95, "22" * 20),
            row("exp-b", 0.5, 0.8, "33" * 20),
        ],
        "param_columns": ["params.yaml:lr"],
        "metric_columns": ["metrics.json:acc"],
        "plots": {"revisions": ["exp-a", "exp-b"], "plots": [plot, image]},
    }


def store_data() -> dict:
    usage = {
        "path": "data/prepared",
        "files": 3,
        "logical_size": 3000,
        "unique_size": 1500,
        "stored_size": 700,
        "objects": 9,
        "missing_objects": 0,
        "dedup_ratio": 2.0,
        "compression_ratio": 2.14,
    }
    return {
        "artifacts": [usage],
        "total": {**usage, "path": None},
        "store": {"objects": 9, "packs": 1, "pack_size": 900, "raw_size": 1600, "stored_size": 700},
        "commits": [
            {
                "commit": f"{i:040x}",
                "date": f"2026-11-2{i}T00:00:00Z",
                "logical": 1000 * (i + 1),
                "unique": 600 * (i + 1),
                "stored": 300 * (i + 1),
            }
            for i in range(3)
        ],
        "remotes": [{"name": "origin", "url": "s3://bucket/art", "pushed": 9, "as_of": "2026-11-30T00:00:00Z"}],
    }
