"""``art fetch``/``art pull`` bring the runs the workspace names and their lineage, not every run on the remote;
``--all-runs`` keeps the old behaviour; ``art lineage`` says how to fetch a run that is not here."""

from __future__ import annotations

import json

from artvc.objstore.objects import Kind
from artvc.objstore.store.remote import RemoteStore
from tests.pipeline.helpers import lock, ml_pipeline, repro_json
from tests.remote.conftest import add_remote, art_json, clone, commit


def _two_generations(ws, url: str) -> dict:
    """Two commits of the pipeline (C = 1, then C = 2), both pushed: the remote holds runs of both."""
    ml_pipeline(ws)
    repro_json(ws)
    commit(ws, "C=1")
    old = lock(ws)
    (ws.root / "params.toml").write_text("[train]\nC = 2.0\nseed = 7\n")
    repro_json(ws)
    commit(ws, "C=2")
    add_remote(ws, url)
    art_json(ws, "push", "--all-commits")
    return old


def _runs_on(url: str) -> set[str]:
    store = RemoteStore.open(url, name="origin")
    try:
        return {str(o.oid) for o in store.iter_objects() if o.kind == Kind.RUN}
    finally:
        store.close()


def _local_runs(ws) -> set[str]:
    with ws.repo() as repo:
        return {str(o.oid) for o in repo.store.iter_objects() if o.kind == Kind.RUN}


def _lineage_runs(ws) -> set[str]:
    """What a fresh clone needs: art.lock's runs and the runs that made their inputs, recursively."""
    out: set[str] = set()
    todo = [e["run"] for e in lock(ws).values()]
    with ws.repo() as repo:
        from artvc.workspace.runs import load_run

        while todo:
            oid = todo.pop()
            if oid in out:
                continue
            out.add(oid)
            todo += [i["run"] for i in load_run(repo, oid).get("inputs", []) if i.get("run")]
    return out


def test_fetch_brings_only_the_runs_the_workspace_names_and_their_lineage(ws, tmp_path):
    url = str(tmp_path / "remote")
    old = _two_generations(ws, url)
    on_remote = _runs_on(url)
    wanted = _lineage_runs(ws)
    unrelated = {old["trainer"]["run"], old["evaluator"]["run"]}
    assert unrelated <= on_remote and not unrelated & wanted
    assert any(r not in {e["run"] for e in lock(ws).values()} for r in wanted)  # lineage beyond art.lock

    other = clone(ws, tmp_path / "clone")
    fetched = art_json(other, "fetch")
    assert _local_runs(other) == wanted
    assert fetched["runs"] == len(wanted) < len(on_remote)
    assert "(made by run" not in other.art("lineage", "metrics.json").stdout  # the whole lineage is here

    everything = art_json(other, "fetch", "--all-runs")
    assert everything["runs"] == len(on_remote) - len(wanted)
    assert _local_runs(other) == on_remote


def test_pull_of_one_path_brings_the_run_that_made_it(ws, tmp_path):
    url = str(tmp_path / "remote")
    _two_generations(ws, url)
    other = clone(ws, tmp_path / "clone")
    other.art("pull", "model.txt")
    local = _local_runs(other)
    assert lock(ws)["trainer"]["run"] in local
    assert lock(ws)["evaluator"]["run"] not in local
    other.art("pull", "--all-runs")
    assert _local_runs(other) == _runs_on(url)


def test_lineage_of_a_run_not_fetched_says_how_to_fetch_it(ws, tmp_path):
    url = str(tmp_path / "remote")
    old = _two_generations(ws, url)
    other = clone(ws, tmp_path / "clone")
    other.art("pull", "data/raw.csv")  # no stage run is fetched
    evaluator = lock(ws)["evaluator"]["run"]
    shown = other.art("lineage", "metrics.json").stdout
    assert f"(made by run {evaluator[:10]}, not in the local store: art fetch --run {evaluator[:10]})" in shown
    as_json = json.loads(other.art("lineage", "metrics.json", "--json").stdout)
    assert as_json["missing_run_oid"] == evaluator and as_json["run"] is None
    other.art("fetch", "--run", evaluator)
    assert "not in the local store" not in other.art("lineage", "metrics.json").stdout  # its lineage came too

    r = other.art("lineage", "--run", old["trainer"]["run"], code=1)
    assert f"art fetch --run {old['trainer']['run'][:10]}" in r.stderr
    other.art("fetch", "--run", old["trainer"]["run"][:8])
    assert old["trainer"]["run"] in _local_runs(other)
    assert "C = 1.0" in other.art("lineage", "--run", old["trainer"]["run"]).stdout


def test_fetch_run_with_an_unknown_prefix_is_an_error(ws, tmp_path):
    _two_generations(ws, str(tmp_path / "remote"))
    other = clone(ws, tmp_path / "clone")
    r = other.art("fetch", "--run", "ffffffff", code=1)
    assert "no run on the remote" in r.stderr
    other.art("fetch", "--run", "xyz!", code=2)
