from artvc.commands._demo_pipeline import demo_pipeline


def test_demo_pipeline_runs_changes_and_restores_from_the_cache(ws):
    said = []
    numbers = demo_pipeline(ws.root, said.append)
    assert numbers["first"]["ran"] == 3
    assert numbers["noop"]["ran"] == numbers["noop"]["cached"] == 0
    assert numbers["param_changed"]["ran"] == 2
    assert numbers["param_restored"] == {**numbers["param_restored"], "ran": 0, "cached": 2}
    assert numbers["lineage_depth"] == 3
    assert any("cached" in line for line in said)
    assert (ws.root / "pipe/report.md").read_text().startswith("# Top words\n\n- the ")
