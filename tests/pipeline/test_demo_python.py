import json

from artvc.commands._demo_python import demo_python


def test_demo_python_runs_the_pipeline_then_takes_every_step_from_the_cache(ws):
    said = []
    numbers = demo_python(ws.root, said.append)
    assert numbers["first"] == {**numbers["first"], "executed": 3, "cached": 0}
    assert numbers["again"] == {**numbers["again"], "executed": 0, "cached": 3}
    assert numbers["loaded"] == ["the 7", "dog 4", "fox 4"]
    assert any("Using cached version of tokenize, count, top" in line for line in said)
    runs = json.loads(ws.art("runs", "--json").stdout)["pipeline_runs"]
    assert [(r["pipeline"], r["executed"], r["cached"]) for r in runs] == [
        ("words_pipeline", 0, 3),
        ("words_pipeline", 3, 0),
    ]
    # the module the demo wrote runs from the shell too, still fully cached
    again = ws.art("run", "words:words_pipeline")
    assert "3 cached" in again.stdout
