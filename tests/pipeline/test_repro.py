import json

from tests.pipeline.helpers import (
    PY,
    TRAINER,
    TRAINER_TREE,
    clear_side_log,
    lock,
    ml_pipeline,
    repro_json,
    side_log,
    statuses,
)


def test_fresh_pipeline_runs_every_stage_then_none(ws):
    ml_pipeline(ws)
    first = repro_json(ws)
    assert statuses(first) == {"importer": "ran", "trainer": "ran", "evaluator": "ran"}
    assert side_log(ws) == ["importer", "trainer", "evaluator"]
    assert json.loads((ws.root / "metrics.json").read_text()) == {"model": "model=svc C=1.0 n=3"}
    entries = lock(ws)
    assert set(entries) == {"importer", "trainer", "evaluator"}
    assert entries["trainer"]["params"] == {"params.toml:train.C": 1.0}
    second = ws.art("repro")
    assert "nothing to reproduce" in second.stdout
    assert side_log(ws) == ["importer", "trainer", "evaluator"]
    assert repro_json(ws)["plan"] == []
    status = json.loads(ws.art("status", "--json").stdout)
    assert [s["state"] for s in status["stages"]] == ["up-to-date"] * 3
    assert {a["path"] for a in status["artifacts"]} >= {"prepared.csv", "model.txt", "metrics.json"}
    gitignore = (ws.root / ".gitignore").read_text()
    assert "/model.txt" in gitignore and "/metrics.json" in gitignore


def test_swapping_the_trainer_reruns_it_and_downstream_and_swapping_back_uses_the_run_cache(ws):
    ml_pipeline(ws)
    repro_json(ws)
    svc_model = (ws.root / "model.txt").read_bytes()
    svc_metrics = (ws.root / "metrics.json").read_bytes()
    svc_lock = lock(ws)
    clear_side_log(ws)

    (ws.root / "src/trainer.py").write_text(TRAINER_TREE)
    status = json.loads(ws.art("status", "--json").stdout)
    reasons = {s["name"]: s["reasons"] for s in status["stages"]}
    assert reasons["importer"] == []
    assert reasons["trainer"] == ["code changed: src/trainer.py"]
    assert reasons["evaluator"] == ["upstream stage trainer is stale"]
    swapped = repro_json(ws)
    assert statuses(swapped) == {"trainer": "ran", "evaluator": "ran"}
    assert side_log(ws) == ["trainer", "evaluator"]
    assert b"model=tree" in (ws.root / "model.txt").read_bytes()
    clear_side_log(ws)

    (ws.root / "src/trainer.py").write_text(TRAINER)
    back = ws.art("repro")
    assert "Using cached version of trainer" in back.stdout
    assert "Using cached version of evaluator" in back.stdout
    assert side_log(ws) == []  # nothing executed
    assert (ws.root / "model.txt").read_bytes() == svc_model
    assert (ws.root / "metrics.json").read_bytes() == svc_metrics
    assert lock(ws) == svc_lock
    assert "nothing to reproduce" in ws.art("repro").stdout


def test_no_run_cache_and_force_execute(ws):
    ml_pipeline(ws)
    repro_json(ws)
    (ws.root / "src/trainer.py").write_text(TRAINER_TREE)
    repro_json(ws)
    (ws.root / "src/trainer.py").write_text(TRAINER)
    clear_side_log(ws)
    assert statuses(repro_json(ws, "--no-run-cache")) == {"trainer": "ran", "evaluator": "ran"}
    assert side_log(ws) == ["trainer", "evaluator"]
    clear_side_log(ws)
    assert statuses(repro_json(ws, "--force", "trainer")) == {"trainer": "ran"}
    assert side_log(ws) == ["trainer"]
    clear_side_log(ws)
    forced = repro_json(ws, "--force", "--downstream", "trainer")
    assert statuses(forced) == {"trainer": "ran"}  # same model, so the evaluator stays up to date
    assert side_log(ws) == ["trainer"]


def test_listed_param_reruns_stage_and_downstream_unlisted_key_reruns_nothing(ws):
    ml_pipeline(ws)
    repro_json(ws)
    clear_side_log(ws)
    (ws.root / "params.toml").write_text("[train]\nC = 1.0\nseed = 8\n")
    assert repro_json(ws)["plan"] == []
    assert side_log(ws) == []
    (ws.root / "params.toml").write_text("[train]\nC = 2.5\nseed = 8\n")
    status = json.loads(ws.art("status", "--json").stdout)
    assert {s["name"]: s["reasons"] for s in status["stages"]}["trainer"] == ["param changed: params.toml:train.C"]
    check = ws.art("status", "--check", code=4)
    assert "2 stages stale: trainer, evaluator" in check.stderr
    assert statuses(repro_json(ws)) == {"trainer": "ran", "evaluator": "ran"}
    assert side_log(ws) == ["trainer", "evaluator"]
    assert lock(ws)["trainer"]["params"] == {"params.toml:train.C": 2.5}


def test_json_and_yaml_params_files(ws):
    ws.gen(
        {
            "p.json": '{"a": {"b": 1}, "x": 0}',
            "p.yaml": "lr: 0.1\nother: 1\n",
            "in.txt": "i",
            "art.toml": f"""[stages.s]
cmd = "{PY} -c 'open(\\"o.txt\\", \\"w\\").write(\\"x\\")'"
deps = ["in.txt"]
outs = ["o.txt"]
params = ["p.json:a.b", "p.yaml:lr"]
""",
        }
    )
    repro_json(ws)
    assert lock(ws)["s"]["params"] == {"p.json:a.b": 1, "p.yaml:lr": 0.1}
    ws.gen({"p.json": '{"a": {"b": 1}, "x": 5}', "p.yaml": "lr: 0.1\nother: 2\n"})
    assert repro_json(ws)["plan"] == []
    ws.gen({"p.yaml": "lr: 0.2\nother: 2\n"})
    plan = repro_json(ws, "--dry-run")["plan"]
    assert plan == [{"name": "s", "reasons": ["param changed: p.yaml:lr"], "forced": False}]


def test_python_script_in_cmd_is_part_of_the_code_hash(ws):
    ws.gen(
        {
            "in.txt": "x\n",
            "src": {"x.py": "open('out.txt','w').write(open('in.txt').read())\n"},
            "art.toml": f'[stages.x]\ncmd = "{PY} src/x.py"\ndeps = ["in.txt"]\nouts = ["out.txt"]\n',
        }
    )
    repro_json(ws)
    assert "src/x.py" in lock(ws)["x"]["code"]
    (ws.root / "src/x.py").write_text("open('out.txt','w').write(open('in.txt').read() * 2)\n")
    dry = ws.art("repro", "--dry-run")
    assert "code changed: src/x.py" in dry.stdout
    assert statuses(repro_json(ws)) == {"x": "ran"}
    assert (ws.root / "out.txt").read_text() == "x\nx\n"


def test_modified_or_missing_output_makes_the_stage_stale_and_repro_restores_it(ws):
    ml_pipeline(ws)
    repro_json(ws)
    good = (ws.root / "model.txt").read_bytes()
    (ws.root / "model.txt").write_text("tampered")
    (ws.root / "metrics.json").unlink()
    status = ws.art("status", "--check", code=4)
    assert "out modified: model.txt" in status.stdout and "out missing: metrics.json" in status.stdout
    clear_side_log(ws)
    result = repro_json(ws)
    assert statuses(result) == {"trainer": "cached", "evaluator": "cached"}
    assert side_log(ws) == []
    assert (ws.root / "model.txt").read_bytes() == good
    ws.art("status", "--check")


def test_directory_outputs_and_call_stages(ws):
    ws.gen(
        {
            "in.txt": "3\n",
            "pkg": {
                "__init__.py": "",
                "steps.py": "def helper():\n    return 1\n\n\ndef make():\n"
                "    import os\n    os.makedirs('outdir/sub', exist_ok=True)\n"
                "    n = int(open('in.txt').read())\n"
                "    for i in range(n):\n        open(f'outdir/sub/f{i}.txt', 'w').write(str(i))\n",
            },
            "art.toml": '[stages.make]\ncall = "pkg.steps:make"\ndeps = ["in.txt"]\nouts = ["outdir"]\n\n'
            '[stages.count]\ncmd = "ls outdir/sub > count.txt"\ndeps = ["outdir/sub"]\nouts = ["count.txt"]\n',
        }
    )
    assert statuses(repro_json(ws)) == {"make": "ran", "count": "ran"}
    entry = lock(ws)["make"]["outs"][0]
    assert entry["kind"] == "dir" and entry["files"] == 3
    assert (ws.root / "count.txt").read_text().split() == ["f0.txt", "f1.txt", "f2.txt"]
    # editing another function of the module changes nothing; editing the called one does
    src = (ws.root / "pkg/steps.py").read_text()
    (ws.root / "pkg/steps.py").write_text(src.replace("return 1", "return 2"))
    assert repro_json(ws)["plan"] == []
    (ws.root / "pkg/steps.py").write_text(src.replace("range(n)", "range(n + 1)"))
    assert statuses(repro_json(ws)) == {"make": "ran", "count": "ran"}
    assert len(list((ws.root / "outdir/sub").iterdir())) == 4


def test_failing_stage_keeps_previous_outputs_and_lock_and_stops_downstream(ws):
    ws.gen(
        {
            "in.txt": "good\n",
            "src": {
                "b.py": (
                    "import sys\ndata = open('a.txt').read()\nopen('b.txt', 'w').write('partial')\n"
                    "if 'bad' in data:\n    print('b: cannot handle bad input', file=sys.stderr)\n    sys.exit(3)\n"
                    "open('b.txt', 'w').write(data.upper())\n"
                )
            },
            "art.toml": f"""[stages.a]
cmd = "cp in.txt a.txt"
deps = ["in.txt"]
outs = ["a.txt"]

[stages.b]
cmd = "{PY} src/b.py"
deps = ["a.txt"]
outs = ["b.txt"]

[stages.c]
cmd = "cp b.txt c.txt && echo c >> side.log"
deps = ["b.txt"]
outs = ["c.txt"]
""",
        }
    )
    repro_json(ws)
    before = lock(ws)
    clear_side_log(ws)
    (ws.root / "in.txt").write_text("bad\n")
    r = ws.art("repro", code=5)
    assert "b: cannot handle bad input" in r.stderr
    assert "art: error: stage b failed with exit status 3" in r.stderr
    assert "Not running stage c" in r.stdout
    assert (ws.root / "b.txt").read_text() == "GOOD\n"
    assert (ws.root / "c.txt").read_text() == "GOOD\n"
    after = lock(ws)
    assert after["b"] == before["b"] and after["c"] == before["c"]
    assert after["a"] != before["a"]  # a ran fine and was recorded
    assert side_log(ws) == []
    assert json.loads(ws.art("dag", "--json").stdout)["stages"][1]["state"] == "failed"
    # quiet: the stderr tail is shown with the error
    q = ws.art("repro", "-q", code=5)
    assert "b: cannot handle bad input" in q.stderr
    (ws.root / "in.txt").write_text("fixed\n")
    assert statuses(repro_json(ws)) == {"a": "ran", "b": "ran", "c": "ran"}


def test_keep_going_runs_independent_branches(ws):
    ws.gen(
        {
            "in.txt": "x",
            "art.toml": """[stages.bad]
cmd = "exit 2"
deps = ["in.txt"]
outs = ["bad.txt"]

[stages.after_bad]
cmd = "cp bad.txt after.txt"
deps = ["bad.txt"]
outs = ["after.txt"]

[stages.good]
cmd = "cp in.txt good.txt"
deps = ["in.txt"]
outs = ["good.txt"]
""",
        }
    )
    r = ws.art("repro", "--keep-going", code=5)
    assert "Ran stage good" in r.stdout and "Not running stage after_bad" in r.stdout
    assert (ws.root / "good.txt").exists()
    assert set(lock(ws)) == {"good"}


def test_stage_that_does_not_write_its_output_fails(ws):
    ws.gen({"in.txt": "x", "art.toml": '[stages.s]\ncmd = "true"\ndeps = ["in.txt"]\nouts = ["o.txt"]\n'})
    r = ws.art("repro", code=5)
    assert "Stage s failed: the command succeeded (exit status 0) but did not write o.txt" in r.stdout
    # the error says what happened: not "failed with exit status 0"
    assert "exit status 0" in r.stderr and "failed with exit status" not in r.stderr, r.stderr
    assert "art: error: stage s's command succeeded (exit status 0) but did not write o.txt" in r.stderr
    assert "hint: make the command write every path in its outs" in r.stderr
    assert not (ws.root / "art.lock").exists()


def test_the_closing_hint_names_every_file_git_must_record(ws):
    """repro's last line is a `git add` of art.lock, art.toml and the .gitignore beside every output; running it
    leaves nothing that git does not track or ignore."""
    from tests.conftest import git

    ws.gen({"data": {"raw.csv": "a\n"}})
    ws.art("add", "data/raw.csv")
    ws.art(
        "stage",
        "add",
        "prep",
        "-d",
        "data/raw.csv",
        "-o",
        "data/prepared",
        "--",
        "mkdir -p data/prepared && cp data/raw.csv data/prepared/x",
    )
    ws.art(
        "stage",
        "add",
        "train",
        "-d",
        "data/prepared",
        "-o",
        "models/m.txt",
        "--",
        "mkdir -p models && cp data/prepared/x models/m.txt",
    )
    ws.art("stage", "add", "score", "-d", "models/m.txt", "-o", "metrics.json", "--", "echo '{}' > metrics.json")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "pipeline")
    last = ws.art("repro").stdout.splitlines()[-1]
    assert last == "To record this state in git: git add art.lock art.toml .gitignore data/.gitignore models/.gitignore"
    git(ws.root, *last.partition(": git ")[2].split())
    git(ws.root, "commit", "-qm", "run")
    assert git(ws.root, "status", "--porcelain").stdout == ""


CALL_STEPS = """from proj.textutil import shout

SUFFIX = "!"


def decorate(s):
    return s + SUFFIX


def unrelated():
    return 0


def make():
    open("side.log", "a").write("make\\n")
    open("made.txt", "w").write(shout(decorate(open("in.txt").read().strip())))
"""


def test_call_stage_reruns_when_a_helper_it_reaches_changes_and_only_then(ws):
    ws.gen(
        {
            "in.txt": "hi\n",
            "proj": {
                "__init__.py": "",
                "steps.py": CALL_STEPS,
                "textutil.py": "def shout(s):\n    return s.upper()\n\n\ndef whisper(s):\n    return s.lower()\n",
            },
            "art.toml": '[stages.make]\ncall = "proj.steps:make"\ndeps = ["in.txt"]\nouts = ["made.txt"]\n\n'
            '[stages.copy]\ncmd = "cp made.txt copy.txt"\ndeps = ["made.txt"]\nouts = ["copy.txt"]\n\n'
            '[stages.other]\ncmd = "cp in.txt other.txt"\ndeps = ["in.txt"]\nouts = ["other.txt"]\n',
        }
    )
    assert statuses(repro_json(ws)) == {"make": "ran", "copy": "ran", "other": "ran"}
    assert (ws.root / "copy.txt").read_text() == "HI!"
    assert set(lock(ws)["make"]["code"]) == {
        "call:proj.steps:make",
        "call:proj.steps:decorate",
        "call:proj.steps:SUFFIX",
        "call:proj.textutil:shout",
    }
    steps, util = ws.root / "proj/steps.py", ws.root / "proj/textutil.py"
    # a helper in the same module, one in another module, a module-level constant
    for path, old, new, copy, piece in [
        (steps, "return s + SUFFIX", "return s + SUFFIX + SUFFIX", "HI!!", "proj.steps:decorate"),
        (util, "return s.upper()", "return s.upper() * 2", "HI!!HI!!", "proj.textutil:shout"),
        (steps, 'SUFFIX = "!"', 'SUFFIX = "?"', "HI??HI??", "proj.steps:SUFFIX"),
    ]:
        clear_side_log(ws)
        path.write_text(path.read_text().replace(old, new))
        result = repro_json(ws)
        assert [(p["name"], p["reasons"]) for p in result["plan"]] == [
            ("make", [f"code changed: call:{piece}"]),
            ("copy", ["upstream stage make is stale"]),
        ]
        assert statuses(result) == {"make": "ran", "copy": "ran"}
        assert side_log(ws) == ["make"]
        assert (ws.root / "copy.txt").read_text() == copy
    # functions it does not reach: nothing is stale, nothing runs
    clear_side_log(ws)
    steps.write_text(steps.read_text().replace("return 0", "return 1"))
    util.write_text(util.read_text().replace("s.lower()", "s.casefold()"))
    assert repro_json(ws)["plan"] == []
    assert side_log(ws) == []
    ws.art("status", "--check")
