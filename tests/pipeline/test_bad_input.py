import pytest

from tests.pipeline.helpers import ml_pipeline, repro_json, statuses


def assert_one_error(result, code, *needles):
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("art: error: "), result.stderr
    assert all(ln.startswith(("art: error:", "hint:")) for ln in lines), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


STAGE = '[stages.{name}]\ncmd = "cp {dep} {out}"\ndeps = ["{dep}"]\nouts = ["{out}"]\n\n'


def stage(name, dep, out):
    return STAGE.format(name=name, dep=dep, out=out)


@pytest.mark.parametrize(
    "text, needles",
    [
        ('[stages.a]\nouts = ["a"]\ncmd = "cp in.txt a\n', ["not valid TOML", "line 3"]),
        (
            '[stages.a]\ncmd = "cp in.txt a"\ndeps = ["in.txt"]\nouts = ["a"]\ncommand = "x"\n',
            ["stage a (art.toml line 1): unknown key 'command'"],
        ),
        ('[stagez.a]\ncmd = "x"\n', ["unknown top-level key 'stagez'"]),
        (stage("a", "in.txt", "a") + stage("b", "c", "b") + stage("c", "b", "c"), ["cycle: b -> c -> b"]),
        (stage("a", "in.txt", "a") + stage("b", "in.txt", "a"), ["output a is declared by two stages: a and b"]),
        (
            stage("a", "in.txt", "d") + stage("b", "in.txt", "d/x"),
            ["output d/x (stage b) is inside output d (stage a)"],
        ),
        (stage("a", "nope.txt", "a"), ["stage a: dependency nope.txt does not exist and no stage produces it"]),
        (stage("a", "in.txt", "../a"), ["outs path '../a' must be relative"]),
        (stage("a", "in.txt", ".git/x"), ["outs path '.git/x'"]),
        ('[stages.a]\ncmd = "x"\ncall = "m:f"\nouts = ["a"]\n', ["needs exactly one of 'cmd' or 'call'"]),
        ('[stages.a]\ncall = "not a call"\nouts = ["a"]\n', ["'call' must look like"]),
        ('[stages.a]\ncmd = "cp in.txt a"\ndeps = "in.txt"\nouts = ["a", "a"]\n', ["'a' is listed twice in 'outs'"]),
        ('[stages."a b"]\ncmd = "x"\n', ["invalid stage name 'a b'"]),
        (
            '[stages.a]\ncmd = "cp in.txt a"\ndeps = ["in.txt"]\nouts = ["a"]\nparams = ["p.toml:x.y"]\n',
            ["params file p.toml does not exist"],
        ),
        (
            '[stages.a]\ncmd = "cp in.txt a"\ndeps = ["in.txt"]\nouts = ["a"]\nparams = ["params.toml:x.nope"]\n',
            ["stage a: param x.nope is not in params.toml"],
        ),
        (
            '[stages.a]\ncmd = "cp in.txt a"\ndeps = ["in.txt"]\nouts = ["a"]\nparams = ["params.toml:"]\n',
            ["malformed param 'params.toml:'"],
        ),
        (
            '[stages.a]\ncmd = "cp in.txt a"\ndeps = ["in.txt"]\nouts = ["a"]\ncode = ["nope.py"]\n',
            ["code file nope.py does not exist"],
        ),
        ('[stages.a]\ncall = "nomod:fn"\ndeps = ["in.txt"]\nouts = ["a"]\n', ["cannot find the source of nomod:fn"]),
    ],
)
@pytest.mark.parametrize("command", [["repro"], ["status"], ["repro", "--dry-run"], ["dag", "--status"]])
def test_invalid_pipelines_fail_with_one_precise_error_and_change_nothing(ws, text, needles, command):
    ws.gen({"in.txt": "x", "params.toml": "[x]\ny = 1\n", "art.toml": text})
    assert_one_error(ws.art(*command, code=None), 1, *needles)
    assert not (ws.root / "art.lock").exists()
    assert sorted(p.name for p in ws.root.iterdir()) == sorted([".art", ".git", "art.toml", "in.txt", "params.toml"])


def test_unknown_stage_and_missing_pipeline(ws):
    assert_one_error(ws.art("repro", code=None), 1, "no art.toml")
    ml_pipeline(ws)
    assert_one_error(ws.art("repro", "trainr", code=None), 1, "no stage named 'trainr'")
    assert "trainer" in ws.art("repro", "trainr", code=None).stderr


def test_malformed_yaml_params_is_a_clear_error(ws):
    ws.gen(
        {
            "in.txt": "x",
            "p.yaml": "a: [1\n",
            "art.toml": '[stages.a]\ncmd = "cp in.txt a"\ndeps = ["in.txt"]\nouts = ["a"]\nparams = ["p.yaml:a"]\n',
        }
    )
    r = ws.art("repro", code=None)
    assert_one_error(r, 1, "params file p.yaml is malformed at line 2, column 1: expected ',' or ']'")


def test_malformed_params_file(ws):
    ws.gen(
        {
            "in.txt": "x",
            "p.json": "{nope",
            "art.toml": '[stages.a]\ncmd = "cp in.txt a"\ndeps = ["in.txt"]\nouts = ["a"]\nparams = ["p.json:a"]\n',
        }
    )
    assert_one_error(ws.art("repro", code=None), 1, "params file p.json is malformed")


def test_stage_add_writes_art_toml_and_refuses_bad_stages(ws):
    ws.gen({"in.txt": "x", "src": {"s.py": "print(1)"}, "params.toml": "[a]\nb = 1\n"})
    ws.art(
        "stage",
        "add",
        "copy",
        "-d",
        "in.txt",
        "-o",
        "out.txt",
        "-p",
        "params.toml:a.b",
        "--code",
        "src/s.py",
        "--",
        "cp",
        "in.txt",
        "out.txt",
    )
    import tomllib

    data = tomllib.loads((ws.root / "art.toml").read_text())
    assert data == {
        "stages": {
            "copy": {
                "cmd": "cp in.txt out.txt",
                "deps": ["in.txt"],
                "outs": ["out.txt"],
                "params": ["params.toml:a.b"],
                "code": ["src/s.py"],
            }
        }
    }
    before = (ws.root / "art.toml").read_text()
    assert_one_error(ws.art("stage", "add", "copy", "-o", "x", "--", "true", code=None), 1, "stage copy already exists")
    assert_one_error(
        ws.art("stage", "add", "two", "-d", "in.txt", "-o", "out.txt", "--", "true", code=None),
        1,
        "declared by two stages",
    )
    assert_one_error(
        ws.art("stage", "add", "loop", "-d", "back.txt", "-o", "in.txt", "--", "true", code=None),
        1,
        "dependency back.txt does not exist",
    )
    assert_one_error(ws.art("stage", "add", "nocmd", "-o", "y", code=None), 2, "give either a command")
    assert (ws.root / "art.toml").read_text() == before
    ws.art("stage", "add", "shout", "-d", "out.txt", "-o", "loud.txt", "--", "tr a-z A-Z < out.txt > loud.txt")
    assert statuses(repro_json(ws)) == {"copy": "ran", "shout": "ran"}
    assert (ws.root / "loud.txt").read_text() == "X"
