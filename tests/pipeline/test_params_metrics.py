import json
import shutil

import pytest

from artvc.pipeline.errors import MetricsError, SpecError
from artvc.pipeline.metrics import diff_values, flatten, load_metrics, metrics_at
from artvc.pipeline.params import params_at
from tests.pipeline.helpers import PY, lock

# writes eval/metrics.json from params.yaml (train.n_est, train.lr) and a metrics.yaml with a nested key
TRAIN = """import json, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
open("side.log", "a").write("train\\n")
os.makedirs("eval", exist_ok=True)
json.dump({"acc": p["n_est"] / 100, "scores": {"auc": 0.5 + p["lr"]}}, open("eval/metrics.json", "w"))
open("eval/extra.yaml", "w").write("loss: %s\\n" % (1.0 / p["n_est"]))
"""


def pipeline(ws, *, n_est: int = 50) -> None:
    ws.gen(
        {
            "train.py": TRAIN,
            "params.yaml": f"train:\n  n_est: {n_est}\n  lr: 0.25\nfeaturize:\n  max_features: 100\n",
            "art.toml": f"""
[stages.train]
cmd = "{PY} train.py"
deps = ["train.py"]
params = ["train.n_est", "train.lr"]
metrics = ["eval/metrics.json", "eval/extra.yaml"]
""",
        }
    )


def commit(ws, message: str) -> None:
    ws.git("add", "-A")
    ws.git("commit", "-qm", message)


def test_bare_params_come_from_params_yaml_and_metrics_are_outputs(ws):
    pipeline(ws)
    ws.art("repro")
    entry = lock(ws)["train"]
    assert entry["params"] == {"params.yaml:train.n_est": 50, "params.yaml:train.lr": 0.25}
    assert {o["path"] for o in entry["outs"]} == {"eval/metrics.json", "eval/extra.yaml"}
    assert "/metrics.json" in (ws.root / "eval/.gitignore").read_text()
    # stored like any output: removed from the workspace, checkout brings it back byte for byte
    before = (ws.root / "eval/metrics.json").read_bytes()
    (ws.root / "eval/metrics.json").unlink()
    ws.art("checkout")
    assert (ws.root / "eval/metrics.json").read_bytes() == before


def test_metrics_outputs_come_back_from_the_run_cache(ws):
    pipeline(ws)
    ws.art("repro")
    first = (ws.root / "eval/metrics.json").read_bytes()
    (ws.root / "params.yaml").write_text("train:\n  n_est: 80\n  lr: 0.25\n")
    ws.art("repro")
    assert json.loads((ws.root / "eval/metrics.json").read_text())["acc"] == 0.8
    (ws.root / "params.yaml").write_text("train:\n  n_est: 50\n  lr: 0.25\n")
    (ws.root / "side.log").unlink()
    out = ws.art("repro").stdout
    assert "Using cached version of train" in out and not (ws.root / "side.log").exists()
    assert (ws.root / "eval/metrics.json").read_bytes() == first


def test_metrics_diff_between_two_commits_shows_the_change(ws):
    pipeline(ws)
    ws.art("repro")
    commit(ws, "n_est 50")
    (ws.root / "params.yaml").write_text("train:\n  n_est: 80\n  lr: 0.25\nfeaturize:\n  max_features: 100\n")
    ws.art("repro")
    commit(ws, "n_est 80")
    shutil.rmtree(ws.root / "eval")  # at a revision the metrics come from the store, not the workspace

    payload = json.loads(ws.art("metrics", "diff", "HEAD~1", "HEAD", "--json").stdout)
    rows = {(r["path"], r["key"]): r for r in payload["metrics"]}
    assert set(rows) == {("eval/metrics.json", "acc"), ("eval/extra.yaml", "loss")}  # scores.auc did not change
    acc = rows[("eval/metrics.json", "acc")]
    assert (acc["old"], acc["new"], acc["change"], acc["change_ratio"]) == (0.5, 0.8, 0.3, 0.6)
    assert payload["old"] == "HEAD~1" and payload["new"] == "HEAD"

    text = ws.art("metrics", "diff", "HEAD~1", "HEAD").stdout.splitlines()
    assert text[0].split() == ["Path", "Metric", "HEAD~1", "HEAD", "Change"]
    assert "eval/metrics.json  acc     0.5     0.8     +0.3 (+60%)" in text
    md = ws.art("metrics", "diff", "HEAD~1", "HEAD", "--md").stdout.splitlines()
    assert md[:2] == ["| Path | Metric | HEAD~1 | HEAD | Change |", "| --- | --- | --- | --- | --- |"]
    assert "| eval/metrics.json | acc | 0.5 | 0.8 | +0.3 (+60%) |" in md

    every = json.loads(ws.art("metrics", "diff", "HEAD~1", "HEAD", "--all", "--json").stdout)["metrics"]
    auc = next(r for r in every if r["key"] == "scores.auc")
    assert (auc["old"], auc["new"], auc["change"]) == (0.75, 0.75, 0)

    shown = json.loads(ws.art("metrics", "show", "HEAD~1", "HEAD", "--json").stdout)["revisions"]
    assert [r["rev"] for r in shown] == ["HEAD~1", "HEAD"]
    assert shown[1]["commit"] == ws.git("rev-parse", "HEAD").stdout.strip()
    assert {"path": "eval/metrics.json", "key": "scores.auc", "value": 0.75} in shown[0]["metrics"]


def test_metrics_diff_against_the_workspace_and_show(ws):
    pipeline(ws)
    ws.art("repro")
    commit(ws, "one")
    assert "no metrics changed" in ws.art("metrics", "diff").stdout
    (ws.root / "params.yaml").write_text("train:\n  n_est: 50\n  lr: 0.5\n")
    ws.art("repro")
    rows = json.loads(ws.art("metrics", "diff", "--json").stdout)["metrics"]
    assert [(r["key"], r["old"], r["new"]) for r in rows] == [("scores.auc", 0.75, 1.0)]
    assert json.loads(ws.art("metrics", "diff", "--json").stdout)["new"] is None
    show = ws.art("metrics", "show").stdout.splitlines()
    assert show[0].split() == ["Path", "Metric", "workspace"]
    assert any(line.split() == ["eval/metrics.json", "scores.auc", "1"] for line in show)


def test_params_diff_shows_only_changed_keys(ws):
    pipeline(ws)
    commit(ws, "params")
    assert "no params changed" in ws.art("params", "diff").stdout
    (ws.root / "params.yaml").write_text("train:\n  n_est: 80\n  lr: 0.25\nfeaturize:\n  max_features: 200\n")
    rows = json.loads(ws.art("params", "diff", "--json").stdout)["params"]
    assert [(r["path"], r["key"], r["old"], r["new"]) for r in rows] == [
        ("params.yaml", "featurize.max_features", 100, 200),
        ("params.yaml", "train.n_est", 50, 80),
    ]
    commit(ws, "more")
    between = json.loads(ws.art("params", "diff", "HEAD~1", "HEAD", "--json").stdout)["params"]
    assert [r["key"] for r in between] == ["featurize.max_features", "train.n_est"]
    every = json.loads(ws.art("params", "diff", "HEAD~1", "--all", "--json").stdout)["params"]
    assert [r["key"] for r in every] == ["featurize.max_features", "train.lr", "train.n_est"]
    text = ws.art("params", "diff", "HEAD~1").stdout.splitlines()
    assert text[0].split() == ["Path", "Param", "HEAD~1", "workspace", "Change"]
    assert text[2].split() == ["params.yaml", "train.n_est", "50", "80", "+30", "(+60%)"]


def test_params_diff_reads_every_params_file_the_stages_name(ws):
    ws.gen(
        {
            "conf": {"p.json": json.dumps({"model": {"depth": 3}})},
            "art.toml": f'[stages.s]\ncmd = "{PY} -c pass"\nparams = ["conf/p.json:model.depth"]\n',
        }
    )
    commit(ws, "json params")
    (ws.root / "conf/p.json").write_text(json.dumps({"model": {"depth": 4, "kind": "tree"}}))
    (ws.root / "params.toml").write_text("[x]\ny = 1\n")
    rows = json.loads(ws.art("params", "diff", "--json").stdout)["params"]
    assert [(r["path"], r["key"], r["old"], r["new"]) for r in rows] == [
        ("conf/p.json", "model.depth", 3, 4),
        ("conf/p.json", "model.kind", None, "tree"),
        ("params.toml", "x.y", None, 1),
    ]
    assert params_at(ws.repo(), None)["conf/p.json"] == {"model.depth": 4, "model.kind": "tree"}


def test_params_diff_before_the_first_commit_shows_everything_added(ws):
    pipeline(ws)
    rows = json.loads(ws.art("params", "diff", "--json").stdout)["params"]
    assert {r["key"] for r in rows} == {"train.n_est", "train.lr", "featurize.max_features"}
    assert all(r["old"] is None for r in rows)


def test_a_bare_param_falls_back_to_params_toml(ws):
    ws.gen(
        {
            "params.toml": "[train]\nC = 2.0\n",
            "art.toml": f'[stages.s]\ncmd = "{PY} -c pass"\nparams = ["train.C"]\n',
        }
    )
    ws.art("repro")
    assert lock(ws)["s"]["params"] == {"params.toml:train.C": 2.0}
    # params.yaml appears without the key: the key is still found in params.toml, nothing is stale
    (ws.root / "params.yaml").write_text("other: 1\n")
    assert "nothing to reproduce" in ws.art("repro").stdout


def test_a_bare_param_in_both_default_files_is_one_clear_error(ws):
    ws.gen(
        {
            "params.toml": "[train]\nC = 2.0\n",
            "params.yaml": "train:\n  C: 3.0\n",
            "art.toml": f'[stages.s]\ncmd = "{PY} -c pass"\nparams = ["train.C"]\n',
        }
    )
    r = ws.art("repro", code=1)
    assert r.stderr.splitlines() == [
        "art: error: stage s: param train.C is defined in both params.yaml and params.toml",
        "hint: keep train.C in one of them, or name the file in art.toml (params.yaml:train.C)",
    ]
    (ws.root / "art.toml").write_text(f'[stages.s]\ncmd = "{PY} -c pass"\nparams = ["params.toml:train.C"]\n')
    ws.art("repro")
    assert lock(ws)["s"]["params"] == {"params.toml:train.C": 2.0}


def test_a_missing_param_key_is_one_clear_error(ws):
    pipeline(ws)
    (ws.root / "params.yaml").write_text("train:\n  n_est: 50\n")
    r = ws.art("repro", code=1)
    assert r.stderr.splitlines()[0] == "art: error: stage train: param train.lr is not in params.yaml"


def test_a_metrics_file_that_does_not_parse_names_the_file_and_line(ws):
    pipeline(ws)
    ws.art("repro")
    (ws.root / "eval/metrics.json").write_text('{\n  "acc": 0.5,\n  oops\n}\n')
    r = ws.art("metrics", "show", code=1)
    assert r.stderr.splitlines()[0] == (
        "art: error: metrics file eval/metrics.json is not valid JSON at line 3, column 3: "
        "Expecting property name enclosed in double quotes"
    )
    assert json.loads(ws.art("metrics", "diff", "--json", code=1).stdout)["error"]["exit_status"] == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.yaml", "a: 1\nb: [1, 2\n", "metrics file m.yaml is not valid YAML at line 3, column 1: "),
        ("m.toml", "a = 1\nb = \n", "metrics file m.toml is not valid TOML at line 2, column 5: "),
        ("m.csv", "a,b\n1,2\n3\n", "metrics file m.csv is not valid CSV at line 3: 1 values for 2 columns"),
        ("m.json", "0.5", "metrics file m.json holds a single value, not named metrics"),
        ("m.txt", "a=1", "metrics file m.txt has an unknown type"),
    ],
)
def test_load_metrics_errors_name_the_file_and_position(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(MetricsError) as caught:
        load_metrics(tmp_path / name)
    assert caught.value.message.startswith(message)
    assert caught.value.path == name


def test_load_metrics_reads_each_format_flattened(tmp_path):
    files = {
        "a.json": '{"train": {"loss": 0.5, "hist": [1, 2]}, "ok": true}',
        "b.yaml": "train:\n  loss: 0.5\n  hist: [1, 2]\nok: true\n",
        "c.toml": "ok = true\n[train]\nloss = 0.5\nhist = [1, 2]\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        assert load_metrics(tmp_path / name) == {"train.loss": 0.5, "train.hist.0": 1, "train.hist.1": 2, "ok": True}
    (tmp_path / "d.csv").write_text("acc,label\n0.9,cat\n")
    assert load_metrics(tmp_path / "d.csv") == {"acc": 0.9, "label": "cat"}
    (tmp_path / "e.tsv").write_text("epoch\tloss\n1\t0.5\n2\t0.25\n")
    assert load_metrics(tmp_path / "e.tsv") == {"0.epoch": 1, "0.loss": 0.5, "1.epoch": 2, "1.loss": 0.25}


def test_flatten_and_diff_values():
    assert flatten({"a": {"b": {"c": 1}}, "d": [], "e": None}) == {"a.b.c": 1, "d": [], "e": None}
    rows = diff_values({"m": {"x": 2, "s": "a", "gone": 1}}, {"m": {"x": 3, "s": "b", "new": True}, "n": {"y": 1}})
    got = [(r.path, r.key, r.old, r.new, r.change, r.change_ratio) for r in rows]
    assert got == [
        ("m", "gone", 1, None, None, None),
        ("m", "new", None, True, None, None),
        ("m", "s", "a", "b", None, None),
        ("m", "x", 2, 3, 1, 0.5),
        ("n", "y", None, 1, None, None),
    ]
    assert diff_values({"m": {"x": 1}}, {"m": {"x": 1.0}})[0].changed  # int 1 -> float 1.0 is a change
    assert diff_values({"m": {"x": 0}}, {"m": {"x": 2}})[0].change_ratio is None


def test_metrics_at_a_revision_whose_content_the_store_lacks_says_how_to_get_it(ws, tmp_path):
    pipeline(ws)
    ws.art("repro")
    commit(ws, "one")
    clone = tmp_path / "clone"
    ws.git("clone", "-q", str(ws.root), str(clone))
    from tests.conftest import Workspace

    other = Workspace(clone)
    r = other.art("metrics", "show", "HEAD", code=1)
    assert "is not in the local store" in r.stderr and "hint: run 'art fetch'" in r.stderr
    assert metrics_at(other.repo(), None) == {}  # nothing in its workspace yet


def test_a_path_in_both_outs_and_metrics_is_refused(ws):
    ws.gen({"art.toml": f'[stages.s]\ncmd = "{PY} -c pass"\nouts = ["m.json"]\nmetrics = ["m.json"]\n'})
    r = ws.art("status", code=1)
    assert "art: error: stage s (art.toml line 1): m.json is listed in both 'outs' and 'metrics'" in r.stderr
    with pytest.raises(SpecError):
        from artvc.pipeline.spec import load

        load(ws.root)


def test_stage_add_declares_metrics(ws):
    r = ws.art("stage", "add", "score", "-m", "eval/m.json", "-o", "model.txt", "-p", "train.C", "--json", "--", "x")
    payload = json.loads(r.stdout)
    assert (payload["outs"], payload["metrics"], payload["params"]) == (["model.txt"], ["eval/m.json"], ["train.C"])
    assert 'metrics = ["eval/m.json"]' in (ws.root / "art.toml").read_text()


def test_metrics_diff_between_commits_expands_a_foreach_stage(ws):
    ws.gen(
        {
            "n.txt": "1\n",
            "art.toml": """[stages.ev]
foreach = ["small", "big"]
cmd = "mkdir -p ev && echo '{\\"acc\\": '$(cat n.txt)'}' > ev/${item}.json"
deps = ["n.txt"]
metrics = ["ev/${item}.json"]
""",
        }
    )
    ws.art("repro")
    commit(ws, "n=1")
    (ws.root / "n.txt").write_text("2\n")
    ws.art("repro")
    commit(ws, "n=2")
    rows = json.loads(ws.art("metrics", "diff", "HEAD~1", "HEAD", "--json").stdout)["metrics"]
    assert [(r["path"], r["old"], r["new"]) for r in rows] == [("ev/big.json", 1, 2), ("ev/small.json", 1, 2)]
