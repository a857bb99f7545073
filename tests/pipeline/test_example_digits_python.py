"""examples/digits_python, the lesson as its README tells it: run, run again (all cached), swap in tree_trainer
(importer cached, trainer and evaluator executed), swap back (all cached, the same outputs), then `art runs`,
`art artifacts` and `artvc.load`. Which step bodies really ran is read from a side-effect log that the test's
copy of steps.py appends to (the example itself is not changed for the test)."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits_python"
TARGET = "pipelines:digits_pipeline"
SVC_CALL = "svc_trainer(X_train, y_train, gamma=gamma)"  # the README's swap: this call <-> TREE_CALL
TREE_CALL = "tree_trainer(X_train, y_train)"
STEPS = ("importer", "svc_trainer", "evaluator")


def instrument(source: str, log: Path) -> str:
    """Make every @step body of `source` append its name to `log` first thing (after the docstring)."""
    lines = source.splitlines(keepends=True)
    inserts = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and any(getattr(d, "id", None) == "step" for d in node.decorator_list):
            has_doc = isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
            first = node.body[1 if has_doc else 0]
            line = f"{' ' * first.col_offset}open({str(log)!r}, 'a').write({node.name!r} + '\\n')\n"
            inserts.append((first.lineno - 1, line))
    for index, line in sorted(inserts, reverse=True):
        lines.insert(index, line)
    return "".join(lines)


def bodies_run(log: Path) -> list[str]:
    """The step bodies that ran since the last call (the log is emptied)."""
    names = log.read_text().split() if log.exists() else []
    log.write_text("")
    return names


def run(ws) -> str:
    """`art run` the lesson's pipeline; return what it printed on stderr (the per-step lines)."""
    return ws.art("run", TARGET).stderr


def outputs(ws) -> dict[str, str]:
    """Artifact name -> id of every output of the newest pipeline run (from `art runs --json` and the step runs)."""
    newest = json.loads(ws.art("runs", "--json", "-n", "1").stdout)["pipeline_runs"][0]
    step_runs = {s["run_oid"] for s in newest["steps"]}
    found: dict[str, str] = {}
    for listed in json.loads(ws.art("artifacts", "--json").stdout)["artifacts"]:
        shown = json.loads(ws.art("artifacts", "show", listed["name"], "--json").stdout)
        for version in shown["versions"]:
            if version["run_oid"] in step_runs:
                found[listed["name"]] = version["oid"]
    return found


def test_the_digits_lesson(ws, tmp_path, monkeypatch):
    log = tmp_path / "bodies.log"
    shutil.copy(EXAMPLE / "pipelines.py", ws.root / "pipelines.py")
    (ws.root / "steps.py").write_text(instrument((EXAMPLE / "steps.py").read_text(), log))
    pipelines = ws.root / "pipelines.py"
    original = pipelines.read_text()
    assert SVC_CALL in original

    first = run(ws)
    assert bodies_run(log) == list(STEPS)
    assert "Using cached version" not in first
    svc_outputs = outputs(ws)
    assert set(svc_outputs) == {
        "digits_pipeline/importer/X_train",
        "digits_pipeline/importer/X_test",
        "digits_pipeline/importer/y_train",
        "digits_pipeline/importer/y_test",
        "digits_pipeline/svc_trainer/model",
        "digits_pipeline/evaluator/accuracy",
    }

    again = run(ws)
    assert bodies_run(log) == []
    for name in STEPS:
        assert f"Using cached version of {name}." in again
    assert outputs(ws) == svc_outputs

    pipelines.write_text(original.replace(SVC_CALL, TREE_CALL))
    tree = run(ws)
    assert bodies_run(log) == ["tree_trainer", "evaluator"]
    assert "Using cached version of importer." in tree and "Using cached version of evaluator." not in tree
    tree_outputs = outputs(ws)
    assert {k: v for k, v in tree_outputs.items() if "/importer/" in k} == {
        k: v for k, v in svc_outputs.items() if "/importer/" in k
    }
    assert tree_outputs["digits_pipeline/evaluator/accuracy"] != svc_outputs["digits_pipeline/evaluator/accuracy"]

    pipelines.write_text(original)
    back = run(ws)
    assert bodies_run(log) == []
    for name in STEPS:
        assert f"Using cached version of {name}." in back
    assert outputs(ws) == svc_outputs  # the same artifact ids: byte for byte the first run's outputs

    runs = ws.art("runs").stdout
    assert runs.count("digits_pipeline") == 4
    listed = ws.art("artifacts").stdout
    assert "digits_pipeline/tree_trainer/model" in listed and "digits_pipeline/svc_trainer/model" in listed

    import artvc

    monkeypatch.chdir(ws.root)
    svc_accuracy = artvc.load("digits_pipeline/evaluator/accuracy", version=1)
    tree_accuracy = artvc.load("digits_pipeline/evaluator/accuracy")  # the newest version: the tree's
    assert 0.9 < svc_accuracy <= 1.0 and 0.5 < tree_accuracy < svc_accuracy
    model = artvc.load("digits_pipeline/svc_trainer/model")
    X_test = artvc.load("digits_pipeline/importer/X_test")
    y_test = artvc.load("digits_pipeline/importer/y_test")
    assert isinstance(X_test, np.ndarray) and X_test.shape[1] == 64
    assert float(model.score(X_test, y_test)) == svc_accuracy
