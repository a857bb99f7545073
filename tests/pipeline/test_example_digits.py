import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.pipeline.helpers import lock, repro_json, statuses

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits"


@pytest.mark.slow
def test_digits_example_end_to_end(ws, monkeypatch):
    import sklearn  # noqa: F401 - the 'test' extra installs it; a missing install must fail, not skip

    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    for item in EXAMPLE.iterdir():
        if item.name != "README.md":
            (shutil.copytree if item.is_dir() else shutil.copy)(item, ws.root / item.name)
    import subprocess

    subprocess.run([sys.executable, "src/fetch_raw.py"], cwd=ws.root, check=True, capture_output=True)
    ws.art("add", "data/raw")
    first = repro_json(ws)
    assert statuses(first) == {"importer": "ran", "trainer": "ran", "evaluator": "ran"}
    svc = json.loads((ws.root / "metrics.json").read_text())
    assert svc["model"] == "SVC" and svc["accuracy"] > 0.95
    svc_pickle = (ws.root / "models/model.pkl").read_bytes()

    params = (ws.root / "params.toml").read_text()
    (ws.root / "params.toml").write_text(params.replace('model = "svc"', 'model = "tree"'))
    assert statuses(repro_json(ws)) == {"trainer": "ran", "evaluator": "ran"}
    tree = json.loads((ws.root / "metrics.json").read_text())
    assert tree["model"] == "DecisionTreeClassifier" and 0.6 < tree["accuracy"] < svc["accuracy"]

    (ws.root / "params.toml").write_text(params)
    back = ws.art("repro")
    assert "Using cached version of trainer" in back.stdout and "Using cached version of evaluator" in back.stdout
    assert (ws.root / "models/model.pkl").read_bytes() == svc_pickle
    assert json.loads((ws.root / "metrics.json").read_text()) == svc

    lineage = json.loads(ws.art("lineage", "metrics.json", "--json").stdout)
    trainer = next(i for i in lineage["inputs"] if i["path"] == "models/model.pkl")
    importer = trainer["inputs"][0]
    assert importer["run"]["stage"] == "importer"
    assert importer["inputs"][0]["path"] == "data/raw" and importer["inputs"][0]["run"]["kind"] == "add"
    assert lock(ws)["trainer"]["params"]["params.toml:trainer"]["model"] == "svc"
