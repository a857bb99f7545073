import json

import pytest

from artvc.pipeline import draw
from artvc.pipeline.dag import Graph
from artvc.pipeline.errors import CycleError, UnknownStageError
from artvc.pipeline.fingerprint import run_key, scripts_in
from artvc.pipeline.plan import plan
from artvc.pipeline.spec import Stage
from artvc.pipeline.staleness import StageState


def stage(name, deps=(), outs=()):
    return Stage(name, f"make {name}", None, tuple(deps), tuple(outs), (), ())


# raw -> a -> b -> d ; a -> c -> d ; e independent
STAGES = {
    s.name: s
    for s in [
        stage("a", ["raw"], ["a.out"]),
        stage("b", ["a.out"], ["b.out"]),
        stage("c", ["a.out"], ["c/dir"]),
        stage("d", ["b.out", "c/dir/file"], ["d.out"]),
        stage("e", ["raw"], ["e.out"]),
    ]
}


def states(**stale):
    return {n: StageState(n, [stale[n]] if n in stale else [], own=n in stale) for n in STAGES}


def test_graph_order_edges_and_closures():
    g = Graph(STAGES)
    assert g.order == ["a", "b", "c", "d", "e"]
    assert g.upstream["d"] == {"b", "c"}
    assert g.ancestors(["d"]) == {"a", "b", "c"}
    assert g.descendants(["c"]) == {"d"}
    assert g.producer_of("c/dir/file") == "c" and g.producer_of("raw") is None
    assert g.producers("c") == {"c"}  # a directory containing an out depends on its producer


def test_cycle_is_reported_as_a_path():
    with pytest.raises(CycleError) as err:
        Graph(
            {
                s.name: s
                for s in [
                    stage("x", ["z.out"], ["x.out"]),
                    stage("y", ["x.out"], ["y.out"]),
                    stage("z", ["y.out"], ["z.out"]),
                ]
            }
        )
    assert err.value.cycle in (["x", "y", "z", "x"], ["y", "z", "x", "y"], ["z", "x", "y", "z"])


def test_plan_is_pure_and_ordered():
    g = Graph(STAGES)
    assert plan(g, states()) == []
    items = plan(g, states(b="dep changed: a.out"))
    assert [i.name for i in items] == ["b"]
    with_upstream = {
        n: StageState(n, r, own=o)
        for n, r, o in [
            ("a", ["code changed"], True),
            ("b", ["upstream stage a is stale"], False),
            ("c", ["upstream stage a is stale"], False),
            ("d", ["upstream stage b is stale"], False),
            ("e", [], False),
        ]
    }
    assert [i.name for i in plan(g, with_upstream)] == ["a", "b", "c", "d"]
    assert [i.name for i in plan(g, with_upstream, targets=["c"])] == ["a", "c"]
    assert [i.name for i in plan(g, states(), targets=["b"], force=True)] == ["b"]
    assert [i.name for i in plan(g, states(), force=True)] == ["a", "b", "c", "d", "e"]
    assert [i.name for i in plan(g, with_upstream, targets=["b"], downstream=True)] == ["b", "d"]
    with pytest.raises(UnknownStageError):
        plan(g, states(), targets=["nope"])


def test_run_key_depends_on_code_params_and_deps_only():
    k = run_key("c" * 64, {"p:x": 1}, {"a": "1", "b": "2"})
    assert k == run_key("c" * 64, {"p:x": 1}, {"b": "2", "a": "1"})
    assert k != run_key("c" * 64, {"p:x": 2}, {"a": "1", "b": "2"})
    assert k != run_key("d" * 64, {"p:x": 1}, {"a": "1", "b": "2"})
    assert k != run_key("c" * 64, {"p:x": 1}, {"a": "1", "b": "3"})


def test_python_scripts_are_detected_in_commands(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src/a.py").write_text("")
    (tmp_path / "src/b.py").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/run.py").write_text("")
    cmd = "python -u src/a.py --x 1 && FOO=1 python3.11 src/b.py | python -m pkg.run; python -c 'print(1)'"
    assert scripts_in(cmd, tmp_path) == ["src/a.py", "src/b.py", "pkg/run.py"]
    assert scripts_in("echo python src/a.py", tmp_path) == []
    assert scripts_in("python missing.py", tmp_path) == []


def test_drawings():
    g = Graph(STAGES)
    marks = {"a": "ran", "b": "cached", "d": "failed"}
    text = draw.text(g, marks)
    assert text.splitlines()[0].startswith("a") and "[ran]" in text.splitlines()[0]
    assert "└── d" in text and "(see above)" in text
    mer = draw.mermaid(g, marks)
    assert mer.startswith("flowchart TD") and "s_a --> s_b" in mer and "class s_d failed" in mer
    dot = draw.dot(g, marks)
    assert '"a" -> "b";' in dot and "fillcolor=salmon" in dot
    data = draw.as_dict(g, marks)
    assert ["c", "d"] in data["edges"] and data["stages"][0]["state"] == "ran"


def test_dag_command_marks_last_repro(ws):
    from tests.pipeline.helpers import ml_pipeline

    ml_pipeline(ws)
    ws.art("repro")
    out = ws.art("dag").stdout
    assert "importer" in out and "[ran]" in out
    (ws.root / "model.txt").unlink()
    ws.art("repro")
    marks = {s["name"]: s["state"] for s in json.loads(ws.art("dag", "--json").stdout)["stages"]}
    assert marks == {"importer": "up-to-date", "trainer": "cached", "evaluator": "up-to-date"}
    assert "flowchart TD" in ws.art("dag", "--mermaid").stdout
    assert "digraph" in ws.art("dag", "--dot").stdout
    assert "[up-to-date]" in ws.art("dag", "--status").stdout
