"""The repository the `art ui` tests look at, built once per test module with the real CLI in subprocesses.

``ui_repo`` holds, in one git repository:

- the lesson's digits Python pipeline (examples/digits_python) run twice with ``art run
  pipelines:digits_pipeline``: first with ``svc_trainer``, then (committed in between) with ``tree_trainer``
  swapped in, so run 2 has the importer cached and the trainer and evaluator executed, and
  ``digits_pipeline/evaluator/accuracy`` has two versions;
- ``art add`` of a small PNG image and a CSV table (``data/digit.png``, ``data/table.csv``: previews);
- a one-stage ``art.toml`` pipeline with params (``params.toml``), metrics (``eval/metrics.json``) and a
  plot (``eval/loss.csv``), reproduced once (the baseline) and run as two experiments (one ``art exp run``
  with a grid of two ``train.lr`` values: ``lr-1`` and ``lr-2``), so the experiments page has a table and
  series to plot.

The ground truth the tests compare the pages with (run oids, artifact versions, store sizes) is read from the
CLI's own ``--json`` output while the repository is built, before any page is requested: a test must not run
art commands on it later (they may update ``.art/state.db``, and the tests check that serving wrote nothing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
import pytest

from tests.conftest import GIT_ENV
from tests.pipeline.helpers import PY
from tests.pipeline.plot_helpers import png_image

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits_python"
SVC_CALL = "svc_trainer(X_train, y_train, gamma=gamma)"
TREE_CALL = "tree_trainer(X_train, y_train)"
ART = [sys.executable, "-m", "artvc"]

TRAIN = """import json, tomllib
p = tomllib.load(open("params.toml", "rb"))["train"]
rows = open("data/table.csv").read().splitlines()[1:]
loss = [p["lr"] * 10 / (i + 1) + 0.01 * len(rows) for i in range(p["epochs"])]
open("eval/loss.csv", "w").write("epoch,loss\\n" + "".join(f"{i},{v:.5f}\\n" for i, v in enumerate(loss)))
json.dump({"loss": round(loss[-1], 5), "accuracy": round(1 - loss[-1] / 10, 5)}, open("eval/metrics.json", "w"))
"""

PIPELINE = f"""[stages.train]
cmd = "{PY} train.py"
deps = ["train.py", "data/table.csv"]
params = ["train.lr", "train.epochs"]
metrics = ["eval/metrics.json"]
plots = [{{ path = "eval/loss.csv", x = "epoch", y = "loss", title = "Loss" }}]
"""

TABLE_CSV = "digit,count\n" + "".join(f"{i},{i * 7 % 13}\n" for i in range(10))
IMAGE_SIZE = (48, 32)  # the added PNG's width and height
EXPERIMENTS = {"lr-1": 0.05, "lr-2": 0.3}  # experiment name -> train.lr (one `art exp run`, a grid of two)


def slug(name: str) -> str:
    """An artifact's page name, as ISSUE14.md's URL scheme defines it (written here independently of
    artvc.ui.urls, so that a change of the scheme, which would break links people saved, fails a test)."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80] + "-" + blake3.blake3(name.encode()).hexdigest()[:10]


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """(size, mtime_ns, blake3) of every file under ``root`` (work tree, ``.art`` and ``.git``)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            st = path.stat()
            out[str(path.relative_to(root))] = (
                st.st_size,
                st.st_mtime_ns,
                blake3.blake3(path.read_bytes()).hexdigest(),
            )
    return out


@dataclass
class UiRepo:
    root: Path
    env: dict[str, str]
    run1: str = ""  # the pipeline-run oid of the digits run with svc_trainer
    run2: str = ""  # ... and of the run with tree_trainer swapped in
    runs: list[dict[str, Any]] = field(default_factory=list)  # `art runs --json` at the end
    accuracy: dict[str, Any] = field(default_factory=dict)  # `art artifacts show .../accuracy --json`
    svc_model: dict[str, Any] = field(default_factory=dict)  # `art artifacts show .../svc_trainer/model --json`
    du: dict[str, Any] = field(default_factory=dict)  # `art du --json`
    experiments: dict[str, Any] = field(default_factory=dict)  # `art exp show --json`
    pristine: dict[str, Any] = field(default_factory=dict)  # ``snapshot`` of the repository once built

    def run(self, *args: str, check: bool = True, **kw: Any) -> subprocess.CompletedProcess:
        r = subprocess.run(args, cwd=self.root, env=self.env, capture_output=True, text=True, **kw)
        if check:
            assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
        return r

    def art(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(*ART, *args, check=check)

    def art_json(self, *args: str) -> Any:
        return json.loads(self.art(*args, "--json").stdout)

    def commit(self, message: str) -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-qm", message)


def _run_pipeline(repo: UiRepo) -> str:
    """`art run` the digits pipeline; return the pipeline run's oid. The evaluator's print comes first on
    stdout (a step's output is not held back under --json), then the JSON document."""
    lines = repo.art("run", "pipelines:digits_pipeline", "--json").stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))["oid"]


def build_ui_repo(root: Path, home: Path) -> UiRepo:
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    env = {**os.environ, **GIT_ENV, "HOME": str(home)}
    env.pop("ART_FAULT", None)
    root.mkdir(parents=True)
    repo = UiRepo(root, env)
    repo.run("git", "init", "-q")
    repo.art("init")
    for name in ("pipelines.py", "steps.py"):
        shutil.copy(EXAMPLE / name, root / name)
    repo.commit("the digits pipeline (svc_trainer)")
    repo.run1 = _run_pipeline(repo)

    pipelines = root / "pipelines.py"
    source = pipelines.read_text()
    assert SVC_CALL in source
    pipelines.write_text(source.replace(SVC_CALL, TREE_CALL))
    repo.commit("swap in tree_trainer")
    repo.run2 = _run_pipeline(repo)
    assert repo.run2 != repo.run1

    (root / "data").mkdir()
    (root / "data/digit.png").write_bytes(png_image(*IMAGE_SIZE, seed=3))
    (root / "data/table.csv").write_text(TABLE_CSV)
    repo.art("add", "data/digit.png", "data/table.csv")
    (root / "eval").mkdir()
    (root / "train.py").write_text(TRAIN)
    (root / "params.toml").write_text("[train]\nlr = 0.1\nepochs = 12\n")
    (root / "art.toml").write_text(PIPELINE)
    repo.art("repro")
    repo.commit("a training pipeline with params, metrics and a plot")
    repo.art("exp", "run", "-S", "train.lr=" + ",".join(map(str, EXPERIMENTS.values())), "--name", "lr")

    repo.runs = repo.art_json("runs")["pipeline_runs"]
    repo.accuracy = repo.art_json("artifacts", "show", "digits_pipeline/evaluator/accuracy")
    repo.svc_model = repo.art_json("artifacts", "show", "digits_pipeline/svc_trainer/model")
    repo.du = repo.art_json("du")
    repo.experiments = repo.art_json("exp", "show")
    made = {e["name"]: {p["key"]: p["value"] for p in e["params"]} for e in repo.experiments["experiments"]}
    assert {name: made[name]["train.lr"] for name in EXPERIMENTS} == EXPERIMENTS, made
    repo.pristine = snapshot(root)
    return repo


@pytest.fixture(scope="module")
def ui_repo(tmp_path_factory) -> UiRepo:
    """The digits pipeline run twice (svc, then tree), an added image and table, a params/metrics/plots
    pipeline and two experiments; see the module docstring. Built once per test module: do not change it."""
    base = tmp_path_factory.mktemp("ui-repo")
    return build_ui_repo(base / "repo", base / "home")
