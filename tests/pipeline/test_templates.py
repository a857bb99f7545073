"""Stage templates in art.toml: vars, ${...} interpolation, foreach and matrix (real `art repro` runs)."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.helpers import clear_side_log, lock, repro_json, side_log, statuses

MATRIX = """
[stages.fit]
matrix = {model = ["a", "b"], size = ["s", "m", "l"]}
cmd = "echo $ART_STAGE >> side.log; cat data/${item.model}.csv > out/${key}.txt; echo ${item.size} >> out/${key}.txt"
deps = ["data/${item.model}.csv"]
outs = ["out/${key}.txt"]
params = ["params.toml:scale.${item.size}"]
"""

FIT = [f"fit@{m}-{s}" for m in ("a", "b") for s in ("s", "m", "l")]


def _matrix_ws(ws) -> None:
    ws.gen(
        {
            "data": {"a.csv": "a\n", "b.csv": "b\n"},
            "out": {},
            "params.toml": "[scale]\ns = 1\nm = 2\nl = 3\n",
            "art.toml": MATRIX,
        }
    )


def _ran(result: dict) -> set[str]:
    return {name for name, state in statuses(result).items() if state == "ran"}


def test_a_matrix_expands_to_six_stages_that_each_run_only_when_their_own_inputs_change(ws):
    _matrix_ws(ws)
    dag = json.loads(ws.art("dag", "--json").stdout)
    assert [s["name"] for s in dag["stages"]] == FIT
    assert _ran(repro_json(ws)) == set(FIT)
    assert sorted(side_log(ws)) == sorted(FIT)
    assert (ws.root / "out/b-m.txt").read_text() == "b\nm\n"
    assert set(lock(ws)) == set(FIT)
    clear_side_log(ws)
    assert repro_json(ws)["stages"] == [] and side_log(ws) == []

    (ws.root / "data/a.csv").write_text("a2\n")  # a dep of the three fit@a-* stages only
    status = json.loads(ws.art("status", "--json").stdout)["stages"]
    assert {s["name"] for s in status if s["state"] == "stale"} == {"fit@a-s", "fit@a-m", "fit@a-l"}
    assert _ran(repro_json(ws)) == {"fit@a-s", "fit@a-m", "fit@a-l"}
    assert sorted(side_log(ws)) == ["fit@a-l", "fit@a-m", "fit@a-s"]

    clear_side_log(ws)
    (ws.root / "params.toml").write_text("[scale]\ns = 1\nm = 20\nl = 3\n")  # the param of fit@*-m only
    assert _ran(repro_json(ws)) == {"fit@a-m", "fit@b-m"}
    assert sorted(side_log(ws)) == ["fit@a-m", "fit@b-m"]

    clear_side_log(ws)  # back to the first inputs: the run cache restores the five changed ones, nothing runs
    (ws.root / "data/a.csv").write_text("a\n")
    (ws.root / "params.toml").write_text("[scale]\ns = 1\nm = 2\nl = 3\n")
    assert statuses(repro_json(ws)) == dict.fromkeys(["fit@a-s", "fit@a-m", "fit@a-l", "fit@b-m"], "cached")
    assert side_log(ws) == []


def test_repro_takes_an_expanded_name_or_the_template_name(ws):
    _matrix_ws(ws)
    assert _ran(repro_json(ws, "fit@b-l")) == {"fit@b-l"}
    assert sorted(side_log(ws)) == ["fit@b-l"]
    assert _ran(repro_json(ws, "fit")) == set(FIT) - {"fit@b-l"}
    forced = repro_json(ws, "fit", "--force")
    assert _ran(forced) == set(FIT)
    r = ws.art("repro", "fit@c-s", code=1)
    assert r.stderr.startswith("art: error: no stage named 'fit@c-s' in art.toml")


def test_status_dag_and_lineage_show_expanded_stages(ws):
    _matrix_ws(ws)
    repro_json(ws)
    (ws.root / "data/b.csv").write_text("b2\n")
    status = ws.art("status").stdout
    assert "stale  stage fit@b-s: dep changed: data/b.csv" in status
    assert "up-to-date  stage fit@a-l" in status
    assert "fit@a-m" in ws.art("dag").stdout
    tree = json.loads(ws.art("lineage", "out/a-m.txt", "--json").stdout)
    assert tree["run"]["stage"] == "fit@a-m"
    assert tree["run"]["cmd"].endswith("echo m >> out/a-m.txt")


def test_foreach_over_a_list_of_scalars_a_list_of_tables_and_a_table(ws):
    ws.gen(
        {
            "art.toml": """
[stages.copy]
foreach = ["x", "y"]
cmd = "echo ${item} > ${item}.txt"
outs = ["${item}.txt"]

[stages.pairs]
foreach = [{src = "x.txt", n = 1}, {src = "y.txt", n = 2}]
cmd = "cat ${item.src} > pair${item.n}.txt"
deps = ["${item.src}"]
outs = ["pair${item.n}.txt"]

[stages.named]
foreach = {small = {lines = 1}, big = {lines = 3}}
[stages.named.do]
desc = "the ${key} one"
cmd = "for i in $(seq ${item.lines}); do echo ${key}; done > named-${key}.txt"
outs = ["named-${key}.txt"]
"""
        }
    )
    names = ["copy@x", "copy@y", "pairs@0", "pairs@1", "named@small", "named@big"]
    assert [s["name"] for s in json.loads(ws.art("dag", "--json").stdout)["stages"]] == names
    assert _ran(repro_json(ws)) == set(names)
    assert (ws.root / "pair2.txt").read_text() == "y\n"
    assert (ws.root / "named-big.txt").read_text() == "big\nbig\nbig\n"
    edges = json.loads(ws.art("dag", "--json").stdout)["edges"]
    assert ["copy@x", "pairs@0"] in edges and ["copy@y", "pairs@1"] in edges
    (ws.root / "y.txt").write_text("changed\n")
    result = statuses(repro_json(ws))  # copy@y's output was modified: restored; pairs@1 then reads the same bytes
    assert result == {"copy@y": "cached", "pairs@1": "up-to-date"}


def test_vars_from_a_params_file_inline_and_per_stage(ws):
    ws.gen(
        {
            "config.yaml": "train:\n  lr: 0.5\n  epochs: 3\nother:\n  z: 1\n",
            "params.toml": "[prep]\nratio = 0.25\n",
            "art.toml": """vars = ["config.yaml:train", {name = "run1", files = ["a.txt", "b.txt"]}]

[stages.prep]
cmd = "echo ${prep.ratio} > prep.txt"
outs = ["prep.txt"]

[stages.train]
vars = [{name = "run2"}]
cmd = "cat a.txt b.txt > ${name}.txt; echo ${train.lr} ${train.epochs} >> ${name}.txt"
deps = ["${files}", "prep.txt"]
outs = ["${name}.txt"]
""",
            "a.txt": "A\n",
            "b.txt": "B\n",
        }
    )
    repro_json(ws)
    assert (ws.root / "prep.txt").read_text() == "0.25\n"  # params.toml is read when vars do not have the name
    assert (ws.root / "run2.txt").read_text() == "A\nB\n0.5 3\n"  # the stage's vars win over the top-level ones
    assert lock(ws)["train"]["deps"][0]["path"] == "a.txt"  # a whole-entry list var expands into the list
    (ws.root / "config.yaml").write_text("train:\n  lr: 0.1\n  epochs: 3\nother:\n  z: 2\n")
    status = json.loads(ws.art("status", "--json").stdout)["stages"]
    assert {s["name"]: s["reasons"] for s in status if s["state"] == "stale"} == {"train": ["command changed"]}
    repro_json(ws)
    assert (ws.root / "run2.txt").read_text() == "A\nB\n0.1 3\n"
    # "config.yaml:train" imports train only: other.z stays unknown
    (ws.root / "art.toml").write_text((ws.root / "art.toml").read_text().replace("${train.epochs}", "${other.z}"))
    r = ws.art("status", code=1)
    assert r.stderr.splitlines()[0] == "art: error: stage train (art.toml line 7): unknown variable ${other.z} in 'cmd'"


def test_stage_add_edits_the_raw_file_of_a_templated_pipeline(ws):
    _matrix_ws(ws)
    ws.art("stage", "add", "report", "-d", "out/a-s.txt", "-o", "report.txt", "--", "cp out/a-s.txt report.txt")
    text = (ws.root / "art.toml").read_text()
    assert text.startswith(MATRIX) and "[stages.report]" in text  # the template is kept as written
    r = ws.art("stage", "add", "fit", "-o", "x.txt", "--", "touch x.txt", code=1)
    assert r.stderr.startswith("art: error: stage fit already exists")
    assert [s["name"] for s in json.loads(ws.art("dag", "--json").stdout)["stages"]][-1] == "report"


BAD = {
    "unknown var": (
        '[stages.a]\ncmd = "echo ${nope.x} > a.txt"\nouts = ["a.txt"]\n',
        "stage a (art.toml line 1): unknown variable ${nope.x} in 'cmd'",
    ),
    "two expansions, one output": (
        '\n[stages.t]\nforeach = ["x", "y"]\ncmd = "echo ${item} > t.txt"\nouts = ["t.txt"]\n',
        "stage t (art.toml line 2): expands to two stages writing t.txt: t@x and t@y",
    ),
    "two expansions, one metrics file": (
        '[stages.t]\nforeach = ["x", "y"]\ncmd = "echo {} > m.json"\nmetrics = ["m.json"]\n',
        "stage t (art.toml line 1): expands to two stages writing m.json: t@x and t@y",
    ),
    "foreach over a string": (
        'vars = [{m = "svc"}]\n[stages.t]\nforeach = "${m}"\ncmd = "true"\n',
        "stage t (art.toml line 2): 'foreach' must be a list or a table, got string 'svc'",
    ),
    "foreach over a number": (
        '[stages.t]\nforeach = 3\ncmd = "true"\n',
        "stage t (art.toml line 1): 'foreach' must be a list or a table, got integer 3",
    ),
    "collision with a plain stage": (
        '[stages.t]\nforeach = ["x"]\ncmd = "echo > ${item}"\nouts = ["${item}"]\n\n[stages."t@x"]\ncmd = "true"\n',
        "stage t (art.toml line 1): expands to stage t@x, which is also defined as a plain stage (art.toml line 6)",
    ),
    "matrix axis not a list": (
        '[stages.t]\nmatrix = {a = [1, 2], b = "x"}\ncmd = "true"\n',
        "stage t (art.toml line 1): matrix 'b' must be a list of values, got string 'x'",
    ),
    "empty matrix axis": (
        '[stages.t]\nmatrix = {a = [1, 2], b = []}\ncmd = "true"\n',
        "stage t (art.toml line 1): matrix 'b' must be a list of values, got an empty one",
    ),
    "empty foreach": (
        'vars = [{none = []}]\n\n[stages.t]\nforeach = "${none}"\ncmd = "true"\n',
        "stage t (art.toml line 3): 'foreach' is empty, so the stage would expand to nothing",
    ),
    "do without foreach": (
        '[stages.t]\nmatrix = {a = [1]}\n[stages.t.do]\ncmd = "true"\n',
        "stage t (art.toml line 1): 'do' belongs to a 'foreach' stage",
    ),
    "same name twice": (
        '[stages.t]\nforeach = [1, "1"]\ncmd = "true"\n',
        "stage t (art.toml line 1): two of its expansions are named t@1",
    ),
    "unknown item field": (
        '[stages.t]\nforeach = [{a = 1}]\ncmd = "echo ${item.b}"\n',
        "stage t (art.toml line 1): unknown variable ${item.b} in 'cmd' (item.b does not exist)",
    ),
    "list inside a string": (
        'vars = [{xs = [1, 2]}]\n[stages.t]\ncmd = "echo ${xs}s"\n',
        "stage t (art.toml line 2): ${xs} in 'cmd' is a list, which cannot be put inside a string",
    ),
    "missing vars file": (
        'vars = ["nothere.yaml"]\n[stages.t]\ncmd = "true"\n',
        "'vars' (art.toml line 1): vars file nothere.yaml does not exist",
    ),
    "value unfit for a name": (
        '[stages.t]\nforeach = ["a b"]\ncmd = "true"\n',
        "stage t (art.toml line 1): 'a b' cannot be part of a stage name (after '@')",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_template_errors_are_one_line_naming_the_source_stage_and_line(ws, case):
    toml, message = BAD[case]
    ws.gen({"art.toml": toml})
    for args in (["status"], ["repro"], ["dag"]):
        r = ws.art(*args, code=1)
        lines = r.stderr.splitlines()
        assert lines[0] == f"art: error: {message}", args
        assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("hint: "))
    assert not (ws.root / "art.lock").exists()


def test_stage_add_force_turns_a_template_into_a_plain_stage_and_call_fields_interpolate(ws):
    _matrix_ws(ws)
    ws.gen(
        {
            "jobs": {"__init__.py": "", "build.py": "def main():\n    open('built.txt', 'w').write('ok')\n"},
            "art.toml": 'vars = [{mod = "jobs.build"}]\n\n[stages.b]\ncall = "${mod}:main"\nouts = ["built.txt"]\n'
            + MATRIX,
        }
    )
    assert _ran(repro_json(ws, "b")) == {"b"} and (ws.root / "built.txt").read_text() == "ok"
    ws.art("stage", "add", "fit", "-f", "-o", "one.txt", "--", "echo 1 > one.txt")
    text = (ws.root / "art.toml").read_text()
    assert "matrix" not in text and "${item" not in text and 'call = "${mod}:main"' in text
    assert [s["name"] for s in json.loads(ws.art("dag", "--json").stdout)["stages"]] == ["b", "fit"]


def test_a_backslash_keeps_a_literal_dollar_brace_for_the_shell(ws):
    ws.gen({"art.toml": "[stages.e]\ncmd = 'echo \\${NOPE:-literal} > esc.txt'\nouts = [\"esc.txt\"]\n"})
    repro_json(ws)
    assert (ws.root / "esc.txt").read_text() == "literal\n"
    assert lock(ws)["e"]["cmd"] == "echo ${NOPE:-literal} > esc.txt"


def test_metrics_of_a_foreach_stage_are_interpolated_and_shown(ws):
    ws.gen(
        {
            "art.toml": """[stages.ev]
foreach = {small = 1, big = 3}
cmd = "mkdir -p ev && echo '{\\"acc\\": ${item}}' > ev/${key}.json"
metrics = ["ev/${key}.json"]
"""
        }
    )
    assert _ran(repro_json(ws)) == {"ev@small", "ev@big"}
    assert lock(ws)["ev@big"]["outs"][0]["path"] == "ev/big.json"
    text = ws.art("metrics", "show").stdout
    assert "ev/big.json" in text and "ev/small.json" in text
