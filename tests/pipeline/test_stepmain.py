"""``python -m artvc.pipeline.executors.stepmain SPEC``: a step run in a fresh process from a checked-out code
folder and input folders stores the same outputs (same files, same materializer facts) as the same step run
in process by ``art run``; a step that raises gives exit 1 and its traceback; an unusable spec exit 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Workspace

STEPS = """
from typing import Annotated

import numpy as np
from artvc import log_metadata, step

from mats import Vocabulary


@step
def make(n: int = 5) -> tuple[Annotated[np.ndarray, "X"], Annotated[Vocabulary, "vocab"]]:
    return np.arange(n, dtype="int64") * 3, Vocabulary(["b", "a"])


@step
def combine(X: np.ndarray, vocab: Vocabulary, scale: float = 2.0) -> Annotated[dict, "summary"]:
    log_metadata({"n": int(X.shape[0]), "pid": __import__("os").getpid()})
    here = __import__("os").path.exists("steps.py")
    return {"total": float(X.sum()) * scale, "words": vocab.words, "cwd_has_code": here}


@step
def broken(X: np.ndarray) -> int:
    raise ValueError("no luck with " + str(X.shape))
"""

MATS = """
import json
from pathlib import Path

import artvc


class Vocabulary:
    def __init__(self, words):
        self.words = sorted(words)


@artvc.register_materializer(Vocabulary)
class VocabularyMaterializer(artvc.Materializer):
    name = "test.vocabulary"
    version = 3

    def save(self, obj, dest: Path) -> dict:
        (dest / "words.json").write_text(json.dumps(obj.words))
        return {"type": "mats.Vocabulary", "preview": f"{len(obj.words)} words", "count": len(obj.words)}

    def load(self, src: Path):
        return Vocabulary(json.loads((src / "words.json").read_text()))
"""

PIPES = """
from artvc import pipeline

import mats  # registers the materializer
from steps import broken, combine, make


@pipeline
def small(n: int = 5):
    X, vocab = make(n=n)
    combine(X, vocab, scale=0.5)


@pipeline
def failing():
    X, _ = make()
    broken(X)
"""


@pytest.fixture(autouse=True)
def _isolated_imports(tmp_path_factory):
    base = str(tmp_path_factory.getbasetemp())
    path = list(sys.path)
    yield
    sys.path[:] = path
    for name, mod in list(sys.modules.items()):
        if str(getattr(mod, "__file__", None) or "").startswith(base):
            del sys.modules[name]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _checkout(ws: Workspace, ref: dict, dest: Path) -> Path:
    """Write the artifact of a ``art run --json`` output into ``dest`` from the workspace's store."""
    from artvc.pipeline.flow.result import ArtifactRef
    from artvc.pipeline.flow.store_io import read_into

    with ws.repo() as repo:
        art = ArtifactRef(ref["name"], ref["oid"], ref["kind"], ref["size"], ref["materializer"], 1, "", "", None)
        return read_into(repo, art, dest)


def _stepmain(spec: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "artvc.pipeline.executors.stepmain", str(spec)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _code_copy(ws: Workspace, dest: Path) -> Path:
    dest.mkdir()
    for name in ("steps.py", "mats.py", "pipes.py"):
        shutil.copy(ws.root / name, dest / name)
    return dest


def test_a_step_in_a_fresh_process_stores_what_the_in_process_step_stored(ws, tmp_path):
    from artvc.pipeline.executors.stepmain import read_result, write_spec

    ws.gen({"steps.py": STEPS, "mats.py": MATS, "pipes.py": PIPES})
    local = json.loads(ws.art("run", "pipes:small", "--json").stdout)
    outs = {o["name"]: o for s in local["steps"] for o in s["outputs"]}
    code = _code_copy(ws, tmp_path / "code")
    work = tmp_path / "task"
    inputs = {
        "X": ("numpy.npy", _checkout(ws, outs["small/make/X"], work / "in" / "X")),
        "vocab": ("test.vocabulary", _checkout(ws, outs["small/make/vocab"], work / "in" / "vocab")),
    }
    spec = write_spec(
        work / "step",
        call="steps:combine",
        modules=["pipes"],
        name="combine",
        params={"scale": 0.5},
        inputs=inputs,
        outputs=["summary"],
        code=code,
    )
    proc = _stepmain(spec, cwd=code)
    assert proc.returncode == 0, proc.stderr
    res = read_result(work / "step" / "result.json")
    assert res["ok"] and res["metadata"]["n"] == 5
    assert res["metadata"]["pid"] != os.getpid()  # it ran in its own process
    [saved] = res["outputs"]
    assert (saved["name"], saved["materializer"], saved["materializer_version"]) == ("summary", "builtin.json", 1)
    in_process = _checkout(ws, outs["small/combine/summary"], tmp_path / "local")
    assert _files(work / "step" / "out" / "summary") == _files(in_process)
    assert json.loads((in_process / "value.json").read_text()) == {
        "total": 15.0,
        "words": ["a", "b"],
        "cwd_has_code": True,
    }

    # the step with two outputs, one of them through the user's materializer (registered by importing pipes)
    spec = write_spec(
        work / "make",
        call="steps:make",
        modules=["pipes"],
        name="make",
        params={"n": 5},
        inputs={},
        outputs=["X", "vocab"],
        code=code,
    )
    assert _stepmain(spec, cwd=code).returncode == 0
    res = read_result(work / "make" / "result.json")
    facts = {o["name"]: (o["materializer"], o["materializer_version"], o["meta"]) for o in res["outputs"]}
    assert facts["vocab"] == ("test.vocabulary", 3, {"type": "mats.Vocabulary", "preview": "2 words", "count": 2})
    for name in ("X", "vocab"):
        assert _files(work / "make" / "out" / name) == _files(
            _checkout(ws, outs[f"small/make/{name}"], tmp_path / name)
        )


def test_a_step_that_raises_exits_1_with_its_traceback_and_saves_nothing(ws, tmp_path):
    from artvc.pipeline.executors.stepmain import read_result, write_spec

    ws.gen({"steps.py": STEPS, "mats.py": MATS, "pipes.py": PIPES})
    r = ws.art("run", "pipes:small", "--json")
    outs = {o["name"]: o for s in json.loads(r.stdout)["steps"] for o in s["outputs"]}
    code = _code_copy(ws, tmp_path / "code")
    work = tmp_path / "task"
    spec = write_spec(
        work,
        call="steps:broken",
        modules=["pipes"],
        name="broken",
        params={},
        inputs={"X": ("numpy.npy", _checkout(ws, outs["small/make/X"], tmp_path / "in" / "X"))},
        outputs=["output"],
        code=code,
    )
    proc = _stepmain(spec, cwd=tmp_path)
    assert proc.returncode == 1
    res = read_result(work / "result.json")
    assert not res["ok"] and res["outputs"] == []
    assert res["summary"] == "ValueError: no luck with (5,)"
    assert "Traceback" in res["error"] and 'raise ValueError("no luck with "' in res["error"]
    assert "no luck with (5,)" in proc.stderr
    assert not (work / "out").exists()

    # the worker's code declares other outputs than the client expected: a failure naming both, not a crash
    spec = write_spec(
        work, call="steps:broken", modules=[], name="broken", params={}, inputs={}, outputs=["y"], code=code
    )
    assert _stepmain(spec, cwd=tmp_path).returncode == 1
    assert "the worker's code differs from the client's" in read_result(work / "result.json")["summary"]

    # an import error of the user's module is the step's failure too
    spec = write_spec(
        work, call="nosuch:thing", modules=[], name="broken", params={}, inputs={}, outputs=["output"], code=code
    )
    assert _stepmain(spec, cwd=tmp_path).returncode == 1
    assert read_result(work / "result.json")["summary"].startswith("ModuleNotFoundError")


@pytest.mark.parametrize(
    "text", ["", "[]", '{"v": 2}', '{"v": 1, "call": "nocolon", "name": "s", "outputs": []}', "x" * 10]
)
def test_an_unusable_spec_exits_2_and_runs_nothing(tmp_path, text):
    spec = tmp_path / "spec.json"
    spec.write_text(text)
    proc = _stepmain(spec, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("art: error: ")
    assert not (tmp_path / "result.json").exists()
    assert _stepmain(tmp_path / "missing.json", cwd=tmp_path).returncode == 2


def test_a_step_task_spec_whose_step_section_does_not_fit_its_deps_and_outs_is_refused():
    from artvc.pipeline.executors.protocol import ProtocolError
    from artvc.pipeline.executors.steptask import check_step, input_dir

    oid = "ab" * 32
    good = {
        "name": "combine",
        "deps": [{"path": input_dir("X"), "oid": oid, "kind": "dir", "run": None}],
        "outs": ["small/combine/summary"],
        "extra": {
            "step": {
                "pipeline": "small",
                "modules": ["pipes"],
                "inputs": [{"param": "X", "path": "small/make/X", "oid": oid, "kind": "dir", "materializer": "m"}],
                "outputs": ["summary"],
            }
        },
    }
    assert check_step(good)["outputs"] == ["summary"]
    bad = [
        {"extra": {}},
        {"modules": ["os; rm -rf"]},
        {"inputs": []},
        {"inputs": [{"param": "X", "path": "small/make/X", "oid": "cd" * 32, "kind": "dir", "materializer": "m"}]},
        {"inputs": [{"param": "../X", "path": "p", "oid": oid, "kind": "dir", "materializer": "m"}]},
        {"outputs": ["other"]},
        {"outputs": [".."]},
    ]
    for change in bad:
        spec = json.loads(json.dumps(good))
        if "extra" in change:
            spec["extra"] = change["extra"]
        else:
            spec["extra"]["step"].update(change)
        with pytest.raises(ProtocolError):
            check_step(spec)
    # an output name with a '/' would be another artifact's path: refused even when outs agree
    spec = json.loads(json.dumps(good))
    spec["extra"]["step"]["outputs"] = ["a/b"]
    spec["outs"] = ["small/combine/a/b"]
    with pytest.raises(ProtocolError):
        check_step(spec)
