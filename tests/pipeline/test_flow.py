"""Python pipelines (@step / @pipeline, art run, art runs, art artifacts): real repositories, real stores; which
step bodies ran is read from a side-effect log each step appends to, not from printed text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Workspace, git


@pytest.fixture(autouse=True)
def _isolated_imports(tmp_path_factory):
    """``art run`` imports the workspace's modules with its root first on ``sys.path`` and keeps it there (a real
    process ends with the command); in this shared test process, put ``sys.path`` back and forget the modules
    imported from test workspaces (libraries stay imported: numpy cannot be imported twice)."""
    import sys

    base = str(tmp_path_factory.getbasetemp())
    path = list(sys.path)
    yield
    sys.path[:] = path
    for name, mod in list(sys.modules.items()):
        if str(getattr(mod, "__file__", None) or "").startswith(base):
            del sys.modules[name]


LESSON = """
from typing import Annotated

import numpy as np
from artvc import log_metadata, pipeline, step


def _log(name):
    with open("calls.log", "a") as f:
        f.write(name + "\\n")


@step
def importer() -> tuple[
    Annotated[np.ndarray, "X_train"],
    Annotated[np.ndarray, "X_test"],
    Annotated[np.ndarray, "y_train"],
    Annotated[np.ndarray, "y_test"],
]:
    _log("importer")
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.images[:400].reshape(400, -1)
    y = digits.target[:400]
    return X[:300], X[300:], y[:300], y[300:]


@step
def svc_trainer(X_train: np.ndarray, y_train: np.ndarray, gamma: float = 0.001):
    _log("svc_trainer")
    from sklearn.svm import SVC

    model = SVC(gamma=gamma)
    model.fit(X_train, y_train)
    return model


@step
def tree_trainer(X_train: np.ndarray, y_train: np.ndarray):
    _log("tree_trainer")
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(random_state=0).fit(X_train, y_train)


@step
def evaluator(X_test: np.ndarray, y_test: np.ndarray, model) -> float:
    _log("evaluator")
    score = float(model.score(X_test, y_test))
    log_metadata({"accuracy": score})
    return score


@pipeline
def digits_pipeline(gamma: float = 0.001):
    X_train, X_test, y_train, y_test = importer()
    model = TRAINER(X_train, y_train)
    evaluator(X_test, y_test, model)
"""


def write_lesson(ws: Workspace, trainer: str = "svc_trainer") -> None:
    call = "svc_trainer(X_train, y_train, gamma=gamma)" if trainer == "svc_trainer" else f"{trainer}(X_train, y_train)"
    (ws.root / "digits.py").write_text(LESSON.replace("TRAINER(X_train, y_train)", call))


def calls(ws: Workspace) -> list[str]:
    log = ws.root / "calls.log"
    out = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return out


def run_json(ws: Workspace, *args: str, code: int = 0) -> dict:
    r = ws.art("run", *args, "--json", code=code)
    return json.loads(r.stdout)


def states(payload: dict) -> dict[str, str]:
    return {s["name"]: s["state"] for s in payload["steps"]}


def outputs(payload: dict) -> dict[str, str]:
    return {o["name"]: o["oid"] for s in payload["steps"] for o in s["outputs"]}


@pytest.mark.long
def test_the_lesson_cached_rerun_swap_trainer_and_swap_back(ws):
    write_lesson(ws)
    first = run_json(ws, "digits:digits_pipeline")
    assert calls(ws) == ["importer", "svc_trainer", "evaluator"]
    assert set(states(first).values()) == {"executed"}

    r = ws.art("run", "digits:digits_pipeline")
    assert calls(ws) == []  # no step body ran
    for name in ("importer", "svc_trainer", "evaluator"):
        assert f"Using cached version of {name}." in r.stderr

    write_lesson(ws, "tree_trainer")
    swapped = run_json(ws, "digits:digits_pipeline")
    assert calls(ws) == ["tree_trainer", "evaluator"]
    assert states(swapped) == {"importer": "cached", "tree_trainer": "executed", "evaluator": "executed"}

    write_lesson(ws)
    back = run_json(ws, "digits:digits_pipeline")
    assert calls(ws) == []
    assert set(states(back).values()) == {"cached"}
    assert outputs(back) == outputs(first)  # the same stored bytes: same ids

    import artvc

    with _cwd(ws.root):
        # versions are numbered by the run that first made each id: the newest is the tree's score (2)
        score = artvc.load("digits_pipeline/evaluator/output", version=1)
        assert artvc.load("digits_pipeline/evaluator/output") == artvc.load(
            "digits_pipeline/evaluator/output", version=2
        )
        assert score > 0.9
        X = artvc.load("digits_pipeline/importer/X_train")
    assert X.shape == (300, 64)

    runs = json.loads(ws.art("runs", "--json").stdout)["pipeline_runs"]
    assert [(r["executed"], r["cached"]) for r in runs] == [(0, 3), (2, 1), (0, 3), (3, 0)]
    assert all(r["pipeline"] == "digits_pipeline" for r in runs)

    shown = json.loads(ws.art("artifacts", "show", "digits_pipeline/evaluator/output", "--json").stdout)
    v1 = shown["versions"][0]
    assert v1["version"] == 1 and v1["materializer"] and v1["metadata"]["accuracy"] == score
    assert {i["name"] for i in v1["inputs"]} == {
        "digits_pipeline/importer/X_test",
        "digits_pipeline/importer/y_test",
        "digits_pipeline/svc_trainer/output",
    }


class _cwd:
    def __init__(self, path: Path) -> None:
        self.path, self.old = path, None

    def __enter__(self):
        import os

        self.old = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *exc):
        import os

        os.chdir(self.old)


CHAIN = """
from artvc import pipeline, step


def _log(name):
    with open("calls.log", "a") as f:
        f.write(name + "\\n")


@step
def load_data() -> list:
    _log("load_data")
    return [1, 2, 3, 4]


@step
def scale(data: list, factor: float = 1.0) -> list:
    _log("scale")
    return [x * factor for x in data]


@step
def total(data: list) -> float:
    _log("total")
    BODY
    return float(sum(data))


@step
def count(data: list) -> int:
    _log("count")
    return len(data)


@pipeline
def chain(factor: float = 1.0):
    data = load_data()
    scaled = scale(data, factor=factor)
    total(scaled)
    count(data)
"""


def write_chain(ws: Workspace, body: str = "pass") -> None:
    (ws.root / "chain.py").write_text(CHAIN.replace("BODY", body))


def test_a_parameter_change_reruns_that_step_and_its_downstream_only(ws):
    write_chain(ws)
    ws.art("run", "chain:chain")
    assert sorted(calls(ws)) == ["count", "load_data", "scale", "total"]
    payload = run_json(ws, "chain:chain", "-p", "factor=2")
    assert sorted(calls(ws)) == ["scale", "total"]
    assert states(payload) == {"load_data": "cached", "scale": "executed", "total": "executed", "count": "cached"}
    with _cwd(ws.root):
        import artvc

        assert artvc.load("chain/total/output") == 20.0
        assert artvc.load("chain/total/output", version=1) == 10.0
    run_json(ws, "chain:chain", "-p", "factor=2")
    assert calls(ws) == []
    run_json(ws, "chain:chain", "-p", "factor=2", "--no-cache")
    assert sorted(calls(ws)) == ["count", "load_data", "scale", "total"]


def test_a_failing_step_is_recorded_downstream_skipped_earlier_outputs_kept_exit_5(ws):
    write_chain(ws)
    (ws.root / "chain.py").write_text(CHAIN.replace("BODY", "pass").replace('_log("scale")', '_log("scale"); 1 / 0'))
    r = ws.art("run", "chain:chain", code=5)
    errors = [line for line in r.stderr.splitlines() if line.startswith("art: error:")]
    assert len(errors) == 1 and "step scale failed: ZeroDivisionError" in errors[0]
    assert "Step total skipped" in r.stderr
    assert "total" not in calls(ws)  # downstream did not run (count may or may not have run before the failure)
    runs = json.loads(ws.art("runs", "--json").stdout)["pipeline_runs"]
    assert runs[0]["failed"] == 1 and runs[0]["exit_status"] == 1
    steps = {s["name"]: s for s in runs[0]["steps"]}
    assert steps["scale"]["state"] == "failed" and steps["total"]["state"] == "skipped"
    from artvc.workspace.runs import load_run

    with ws.repo() as repo:
        failed = load_run(repo, steps["scale"]["run_oid"])
    assert failed["kind"] == "step" and failed["exit_status"] == 1
    assert "ZeroDivisionError" in failed["error"] and "Traceback" in failed["error"]
    with _cwd(ws.root):
        import artvc

        assert artvc.load("chain/load_data/output") == [1, 2, 3, 4]  # kept
    write_chain(ws)
    payload = run_json(ws, "chain:chain")
    assert states(payload)["load_data"] == "cached" and sorted(calls(ws)) in (
        ["scale", "total"],
        ["count", "scale", "total"],
    )


def test_editing_a_step_reruns_it_and_its_downstream(ws):
    write_chain(ws)
    ws.art("run", "chain:chain")
    calls(ws)
    write_chain(ws, "x = 1")
    payload = run_json(ws, "chain:chain")
    assert calls(ws) == ["total"]
    assert states(payload)["total"] == "executed"


PARALLEL = """
import threading

from artvc import pipeline, step

BARRIER = threading.Barrier(2, timeout=20)


@step
def left() -> int:
    BARRIER.wait()
    return 1


@step
def right() -> int:
    BARRIER.wait()
    return 2


@step
def join(a: int, b: int) -> int:
    return a + b


@pipeline
def par():
    join(left(), right())
"""


def test_independent_steps_run_at_the_same_time_with_j(ws):
    (ws.root / "par.py").write_text(PARALLEL)
    payload = run_json(ws, "par:par", "-j", "2")  # with one thread the barrier would break
    assert set(states(payload).values()) == {"executed"}
    with _cwd(ws.root):
        import artvc

        assert artvc.load("par/join/output") == 3


def test_the_cache_works_in_a_fresh_clone_after_pull(ws, tmp_path):
    write_chain(ws)
    ws.art("run", "chain:chain")
    calls(ws)
    ws.art("remote", "add", "origin", str(tmp_path / "remote"))
    ws.art("push")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "pipeline")
    git(tmp_path, "clone", "-q", str(ws.root), str(tmp_path / "clone"))
    clone = Workspace(tmp_path / "clone")
    clone.art("pull")
    payload = run_json(clone, "chain:chain")
    assert calls(clone) == []
    assert set(states(payload).values()) == {"cached"}
    with _cwd(clone.root):
        import artvc

        assert artvc.load("chain/total/output") == 10.0


def test_gc_keeps_step_runs_and_their_outputs(ws):
    write_chain(ws)
    ws.art("run", "chain:chain")
    calls(ws)
    ws.art("gc")
    payload = run_json(ws, "chain:chain")
    assert calls(ws) == [] and set(states(payload).values()) == {"cached"}
    with _cwd(ws.root):
        import artvc

        assert artvc.load("chain/scale/output") == [1.0, 2.0, 3.0, 4.0]


def test_bad_input_gets_one_clear_error(ws, tmp_path):
    write_chain(ws)
    r = ws.art("run", "chain:chain", "-p", "nope=1", code=2)
    assert "pipeline chain has no parameter 'nope'" in r.stderr and "hint: its parameters: factor" in r.stderr
    r = ws.art("run", "chain", code=2)
    assert "not MODULE:PIPELINE" in r.stderr
    r = ws.art("run", "nosuchmodule:chain", code=1)
    assert "cannot import nosuchmodule" in r.stderr
    r = ws.art("run", "chain:scale", code=1)
    assert "is not a @pipeline" in r.stderr
    assert calls(ws) == []

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "chain.py").write_text(CHAIN.replace("BODY", "pass"))
    r = Workspace(outside).art("run", "chain:chain", code=10)
    assert r.stderr.startswith("art: error: not an art repository")


def test_python_api_misuse(ws):
    from artvc import pipeline, step
    from artvc.pipeline.errors import FlowError, PipelineParamError

    @step
    def double(x: int) -> int:
        return 2 * x

    @step
    def pair() -> tuple[int, int]:
        return 1, 2, 3

    assert double(4) == 8  # outside a pipeline: a plain call

    @pipeline
    def bad_param():
        double(object())

    with pytest.raises(FlowError, match="parameter 'x' of step double is not a plain JSON value: a builtins.object"):
        bad_param.with_options(root=ws.root)()

    kept = []

    @pipeline
    def first():
        kept.append(pair())

    first.build({})

    @pipeline
    def second():
        double(kept[0][0])

    with pytest.raises(FlowError, match="from another pipeline run"):
        second.build({})

    @pipeline
    def misuse():
        a, b = pair()
        if a:
            double(1)

    with pytest.raises(FlowError, match="is a step output, not a value"):
        misuse.build({})

    @pipeline
    def wrong_count():
        pair()

    with pytest.raises(Exception) as info:
        wrong_count.with_options(root=ws.root, on_event=lambda *a: None)()
    assert info.value.exit_code == 5 and "annotated to return 2 outputs but returned a tuple of 3" in str(info.value)

    with pytest.raises(PipelineParamError):
        first.bind(nope=1)
    with pytest.raises(FlowError, match="outside a running step"):
        import artvc

        artvc.log_metadata({"a": 1})


def test_a_step_is_announced_before_its_body_can_run_on_its_thread(ws):
    """``Running step ...`` comes before anything the step prints (a docs sample once showed a step's output
    ahead of its start line: the event was sent after the step was handed to its thread)."""
    import threading

    from artvc import pipeline, step

    ran = threading.Event()
    body_ran_before_start: list[bool] = []

    @step
    def talk() -> int:
        ran.set()
        return 1

    @pipeline
    def chatty():
        talk()

    def on_event(event: str, name: str, detail: str) -> None:
        if event == "start":  # give a step already handed over time to run
            body_ran_before_start.append(ran.wait(1.0))

    chatty.with_options(root=ws.root, on_event=on_event, cache=False)()
    assert body_ran_before_start == [False] and ran.is_set()


def test_repro_writes_a_pipeline_run_record(ws):
    ws.gen({"a.txt": "a\n"})
    ws.art("stage", "add", "copy", "-d", "a.txt", "-o", "b.txt", "--", "cp a.txt b.txt")
    ws.art("repro")
    ws.art("repro")
    runs = json.loads(ws.art("runs", "--pipeline", "art.toml", "--json").stdout)["pipeline_runs"]
    assert [(r["executed"], r["cached"]) for r in runs] == [(0, 1), (1, 0)]
    assert runs[1]["steps"][0]["run_oid"] == runs[0]["steps"][0]["run_oid"]
    text = ws.art("runs").stdout
    assert "art.toml" in text


def test_lineage_and_log_take_an_artifact_name(ws):
    write_chain(ws)
    ws.art("run", "chain:chain")
    ws.art("run", "chain:chain", "-p", "factor=3")
    tree = json.loads(ws.art("lineage", "chain/total/output", "--json").stdout)
    assert tree["run"]["kind"] == "step" and tree["run"]["pipeline"] == "chain" and tree["run"]["params"] == {}
    (scaled,) = tree["inputs"]
    assert scaled["path"] == "chain/scale/output" and scaled["run"]["params"] == {"factor": 3}
    (source,) = scaled["inputs"]
    assert source["path"] == "chain/load_data/output" and source["run"]["stage"] == "load_data"
    log = json.loads(ws.art("log", "chain/total/output", "--json").stdout)["versions"]
    assert [v["summary"].split(":")[0] for v in log] == ["version 2", "version 1"]
    assert log[0]["oid"] == tree["oid"]
    listed = json.loads(ws.art("artifacts", "--json").stdout)["artifacts"]
    assert {a["name"]: a["versions"] for a in listed} == {
        "chain/load_data/output": 1,
        "chain/scale/output": 2,
        "chain/total/output": 2,
        "chain/count/output": 1,
    }
    r = ws.art("artifacts", "show", "chain/total/outptu", code=1)
    assert "no artifact named 'chain/total/outptu'" in r.stderr
    r = ws.art("artifacts", "show", "chain/total/output", "--version", "3", code=1)
    assert "has no version 3" in r.stderr


@pytest.mark.parametrize(
    "point",
    [
        "flow.step-started@2",
        pytest.param("flow.step-finished@2", marks=pytest.mark.slow),  # a subprocess each: two in the default tier
        pytest.param("flow.outputs-stored@2", marks=pytest.mark.slow),
        "flow.run-stored@2",
    ],
)
def test_a_killed_run_leaves_nothing_half_written_and_the_next_run_resumes(ws, point):
    import os
    import subprocess
    import sys

    write_chain(ws)
    env = {**os.environ, "ART_FAULT": f"{point}:kill"}
    r = subprocess.run(
        [sys.executable, "-m", "artvc", "run", "chain:chain"], cwd=ws.root, env=env, capture_output=True, text=True
    )
    assert r.returncode == -9, r.stderr
    done = calls(ws)
    assert done[0] == "load_data"
    payload = run_json(ws, "chain:chain")  # takes the lock: the killed run's temp folders are swept
    assert states(payload)["load_data"] == "cached"
    assert not list((ws.root / ".art" / "tmp").glob("flow-*"))
    with _cwd(ws.root):
        import artvc

        assert artvc.load("chain/total/output") == 10.0
    ws.art("fsck")


def test_dag_draws_a_python_pipeline_marked_with_its_newest_run(ws):
    write_chain(ws)
    payload = json.loads(ws.art("dag", "chain:chain", "--json").stdout)
    assert [s["name"] for s in payload["stages"]] == ["load_data", "scale", "total", "count"]
    assert sorted(map(tuple, payload["edges"])) == [("load_data", "count"), ("load_data", "scale"), ("scale", "total")]
    assert {s["state"] for s in payload["stages"]} == {None}  # never run
    ws.art("run", "chain:chain")
    ws.art("run", "chain:chain", "-p", "factor=2")
    marks = {s["name"]: s["state"] for s in json.loads(ws.art("dag", "chain:chain", "--json").stdout)["stages"]}
    assert marks == {"load_data": "cached", "scale": "ran", "total": "ran", "count": "cached"}
    assert calls(ws).count("load_data") == 1  # drawing runs nothing


def test_art_run_reimports_workspace_modules_but_not_libraries_installed_inside_the_workspace(ws, monkeypatch):
    import importlib
    import sys

    from artvc.pipeline.flow.target import load_target

    site = ws.root / ".venv" / "lib" / "python3" / "site-packages"
    site.mkdir(parents=True)
    (site / "artflowlib.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(site))
    lib = importlib.import_module("artflowlib")
    write_chain(ws)
    first = load_target(ws.root, "chain:chain")
    write_chain(ws, "x = 2")
    second = load_target(ws.root, "chain:chain")
    assert first is not second  # the workspace module was read again
    assert sys.modules["artflowlib"] is lib  # the library was not
    monkeypatch.delitem(sys.modules, "artflowlib")


def test_a_step_returning_what_no_materializer_stores_fails_naming_the_type(ws):
    (ws.root / "gen.py").write_text(
        "from artvc import pipeline, step\n\n\n@step\ndef make():\n    return (i for i in range(3))\n\n\n"
        "@step\ndef use(x) -> int:\n    return 1\n\n\n@pipeline\ndef g():\n    use(make())\n"
    )
    r = ws.art("run", "gen:g", code=5)
    (error,) = [line for line in r.stderr.splitlines() if line.startswith("art: error:")]
    assert "step make failed: no materializer can store a builtins.generator" in error
    assert "register" in error.lower()
    assert "Step use skipped" in r.stderr


def test_import_artvc_stays_light_and_pipeline_is_the_decorator_whatever_was_imported_first():
    import subprocess
    import sys

    probe = (
        "import sys, artvc\n"
        "assert 'artvc.pipeline' not in sys.modules, 'import artvc loaded the pipeline layer'\n"
        "import artvc.pipeline.executor\n"  # the package is imported before the decorator is asked for
        "from artvc import pipeline, step, load, log_metadata\n"
        "@step\ndef s() -> int:\n    return 1\n"
        "@pipeline(name='named')\ndef p():\n    s()\n"
        "assert type(p).__name__ == 'Pipeline' and p.name == 'named', p\n"
        "def plain():\n    s()\n"
        "assert pipeline(plain).name == 'plain'\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_called_from_python_the_cache_hit_is_a_line_on_stderr_and_a_logging_event(ws, capsys, caplog, monkeypatch):
    import logging

    from artvc.pipeline.flow.target import load_target

    write_chain(ws)
    monkeypatch.chdir(ws.root)  # the steps log to calls.log in the current directory
    chain = load_target(ws.root, "chain:chain").with_options(root=ws.root)
    first = chain()
    assert first.executed == ["load_data", "scale", "total", "count"] and first.cached == []
    capsys.readouterr()
    with caplog.at_level(logging.DEBUG, logger="artvc.flow"):
        again = chain()
    assert again.cached == ["load_data", "scale", "total", "count"]
    assert again["total"].run == first["total"].run and again["total"].load() == 10.0
    assert "Using cached version of scale." in capsys.readouterr().err
    events = [(r.art_event, r.step) for r in caplog.records if hasattr(r, "art_event")]
    assert ("cached", "scale") in events


HELPERS = """
from artvc import pipeline, step
import helpers_other


def _log(name):
    with open("calls.log", "a") as f:
        f.write(name + "\\n")


def scale_by(x, k):
    return x * k  # SAME_MODULE


def unrelated():
    return 0  # UNRELATED


@step
def source() -> list:
    _log("source")
    return [1, 2, 3]


@step
def scaled(data: list) -> list:
    _log("scaled")
    return [scale_by(x, 2) for x in data]


@step
def shifted(data: list) -> list:
    _log("shifted")
    return [helpers_other.shift(x) for x in data]


@step
def summed(data: list) -> int:
    _log("summed")
    return sum(data)


@pipeline
def helpers():
    data = source()
    summed(scaled(data))
    shifted(data)
"""


def test_editing_a_helper_reruns_the_steps_that_reach_it_and_their_downstream_only(ws):
    (ws.root / "helpers_mod.py").write_text(HELPERS)
    (ws.root / "helpers_other.py").write_text("def shift(x):\n    return x + 1  # OTHER\n")
    ws.art("run", "helpers_mod:helpers")
    assert sorted(calls(ws)) == ["scaled", "shifted", "source", "summed"]

    (ws.root / "helpers_mod.py").write_text(HELPERS.replace("return 0  # UNRELATED", "return 1  # UNRELATED"))
    assert set(states(run_json(ws, "helpers_mod:helpers")).values()) == {"cached"}  # nothing reaches it
    assert calls(ws) == []

    (ws.root / "helpers_mod.py").write_text(HELPERS.replace("x * k  # SAME_MODULE", "k * x  # SAME_MODULE"))
    payload = run_json(ws, "helpers_mod:helpers")
    assert sorted(calls(ws)) == ["scaled"]  # same values: summed's input id is unchanged, so it stays cached
    assert states(payload)["scaled"] == "executed" and states(payload)["shifted"] == "cached"

    (ws.root / "helpers_mod.py").write_text(HELPERS.replace("x * k  # SAME_MODULE", "x * k * 10  # SAME_MODULE"))
    run_json(ws, "helpers_mod:helpers")
    assert sorted(calls(ws)) == ["scaled", "summed"]  # new values: downstream runs too

    (ws.root / "helpers_other.py").write_text("def shift(x):\n    return x + 2  # OTHER\n")
    payload = run_json(ws, "helpers_mod:helpers")
    assert calls(ws) == ["shifted"]  # another module of the project
    assert states(payload)["source"] == "cached" and states(payload)["summed"] == "cached"
