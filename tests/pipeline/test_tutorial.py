import json

import pytest

from tests.pipeline import tutorial
from tests.pipeline.helpers import lock, repro_json, statuses

STAGES = ["prepare", "featurize", "train", "evaluate"]


def run_tutorial(ws, engine: str) -> None:
    tutorial.build(ws.root, engine=engine, plots=True)
    ws.art("add", "data/data.csv")
    first = repro_json(ws)
    assert statuses(first) == dict.fromkeys(STAGES, "ran")
    metrics = json.loads((ws.root / "eval/metrics.json").read_text())
    assert 0.6 < metrics["roc_auc"] <= 1.0 and 0.5 < metrics["avg_prec"] <= 1.0  # the classes are learnable
    roc = (ws.root / "eval/plots/roc.csv").read_text().splitlines()
    assert roc[0] == "fpr,tpr,threshold" and roc[-1].startswith("1.000000,1.000000")
    entries = lock(ws)
    assert entries["train"]["params"] == {
        "params.yaml:train.seed": 20170428,
        "params.yaml:train.n_est": 50,
        "params.yaml:train.min_split": 2,
    }
    assert {o["path"] for o in entries["evaluate"]["outs"]} == {"eval/metrics.json", "eval/plots/roc.csv"}
    ws.art("plots", "show", "-o", "plots.html")
    page = (ws.root / "plots.html").read_text()
    assert "eval/plots/roc.csv" in page and "<svg" in page
    ws.git("add", "-A")
    ws.git("commit", "-qm", "baseline")

    tutorial.write_params(ws.root, featurize__max_features=200, train__n_est=20)
    params = json.loads(ws.art("params", "diff", "--json").stdout)["params"]
    assert [(r["key"], r["old"], r["new"]) for r in params] == [
        ("featurize.max_features", 100, 200),
        ("train.n_est", 50, 20),
    ]
    second = repro_json(ws)
    assert statuses(second) == {"featurize": "ran", "train": "ran", "evaluate": "ran"}  # prepare is up to date
    changed = json.loads(ws.art("metrics", "diff", "--json", "--all").stdout)["metrics"]
    assert [(r["path"], r["key"]) for r in changed] == [
        ("eval/metrics.json", "avg_prec"),
        ("eval/metrics.json", "roc_auc"),
    ]
    now = json.loads((ws.root / "eval/metrics.json").read_text())
    for row in changed:
        assert row["new"] == now[row["key"]]
        assert row["change"] == pytest.approx(row["new"] - row["old"])
    ws.git("commit", "-qam", "bigger vocabulary, fewer estimators")
    between = json.loads(ws.art("metrics", "diff", "HEAD~1", "HEAD", "--json", "--all").stdout)["metrics"]
    assert [(r["old"], r["new"]) for r in between] == [(r["old"], r["new"]) for r in changed]

    tutorial.write_params(ws.root)  # back to the baseline: every stage comes from the run cache
    third = repro_json(ws)
    assert statuses(third) == {"featurize": "cached", "train": "cached", "evaluate": "cached"}
    shown = json.loads(ws.art("metrics", "show", "HEAD~1", "--json").stdout)["revisions"][0]["metrics"]
    assert {r["key"]: r["value"] for r in shown} == metrics == json.loads((ws.root / "eval/metrics.json").read_text())


def test_the_tutorial_pipeline_runs_end_to_end_and_compares_metrics(ws):
    run_tutorial(ws, "stdlib")


@pytest.mark.slow
def test_the_tutorial_pipeline_with_scikit_learn(ws):
    import sklearn  # noqa: F401 - the 'test' extra installs it; a missing install must fail, not skip

    run_tutorial(ws, "sklearn")
