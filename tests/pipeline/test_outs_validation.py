"""art.toml may not make a stage write art's own files, pointer files, the workspace root, or artifacts that
``art add`` tracks, nor read deps, code or params outside the workspace: one clear line, nothing run."""

import os

import pytest

from tests.pipeline.test_bad_input import assert_one_error


def one_stage(out='"a"', dep='"in.txt"', extra=""):
    return f'[stages.a]\ncmd = "touch ran.flag"\ndeps = [{dep}]\nouts = [{out}]\n{extra}'


@pytest.mark.parametrize(
    "text, needle",
    [
        (one_stage('"art.toml"'), "stage a (art.toml line 1): art.toml cannot be an output: it defines the pipeline"),
        (one_stage('"art.lock"'), "stage a (art.toml line 1): art.lock cannot be an output: art repro writes it"),
        (one_stage('".gitignore"'), "stage a (art.toml line 1): .gitignore cannot be an output"),
        (one_stage('"sub/.gitignore"'), "stage a (art.toml line 1): sub/.gitignore cannot be an output"),
        (one_stage('"model.art"'), "model.art cannot be an output: it would look like an art pointer file"),
        (one_stage('"."'), "stage a (art.toml line 1): outs path '.' is the workspace root itself"),
        (one_stage('"./"'), "outs path './' is the workspace root itself"),
        (one_stage('""'), "'outs' must be a list of strings"),
        (one_stage('"/"'), "outs path '/' must be relative to the workspace root"),
        (one_stage('".art/x"'), "outs path '.art/x' must be relative"),
        (one_stage('"sub/.git/x"'), "outs path 'sub/.git/x' must be relative"),
        (one_stage(dep='"."'), "deps path '.' is the workspace root itself"),
        (one_stage(dep='"../in.txt"'), "deps path '../in.txt' must be relative"),
        (
            one_stage(extra='params = ["../p.toml:x"]\n'),
            "stage a (art.toml line 1): params file '../p.toml' must be relative to the workspace root",
        ),
        (one_stage(extra='params = ["/etc/p.toml:x"]\n'), "params file '/etc/p.toml' must be relative"),
        (one_stage(extra='params = [".git/config:core"]\n'), "params file '.git/config' must be relative"),
        (one_stage(extra='code = ["../x.py"]\n'), "code path '../x.py' must be relative"),
        (
            '[stages.z]\ncmd = "true"\ndeps = ["in.txt"]\nouts = ["z"]\n\n' + one_stage('"a", "a/"'),
            "stage a (art.toml line 6): 'a' is listed twice in 'outs'",
        ),
        (
            '[stages.z]\ncmd = "true"\ndeps = ["in.txt"]\nouts = ["a"]\n\n' + one_stage(),
            "output a is declared by two stages: z and a (art.toml lines 1 and 6)",
        ),
        (
            '[stages.z]\ncmd = "true"\ndeps = ["in.txt"]\nouts = ["a/b"]\n\n' + one_stage(),
            "output a/b (stage z) is inside output a (stage a) (art.toml lines 1 and 6)",
        ),
    ],
)
@pytest.mark.parametrize("command", [["repro"], ["status"]])
def test_forbidden_outputs_and_outside_inputs_are_refused(ws, text, needle, command):
    ws.gen({"in.txt": "x", "art.toml": text})
    assert_one_error(ws.art(*command, code=None), 1, needle)
    assert not (ws.root / "ran.flag").exists() and not (ws.root / "art.lock").exists()


@pytest.mark.parametrize(
    "key, text",
    [
        ("deps", one_stage(dep='"link/f"')),
        ("code", one_stage(extra='code = ["link/f"]\n')),
        ("params", one_stage(extra='params = ["link/p.toml:x"]\n')),
        ("outs", one_stage('"link/out"')),
    ],
)
def test_paths_leaving_the_workspace_through_a_symlink_are_refused(ws, tmp_path, key, text):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("secret")
    (outside / "p.toml").write_text("x = 1\n")
    ws.gen({"in.txt": "x", "art.toml": text})
    os.symlink(outside, ws.root / "link")
    what = "params file 'link/p.toml'" if key == "params" else f"{key} path 'link/"
    r = ws.art("repro", code=None)
    assert_one_error(r, 1, "stage a (art.toml line 1): " + what, "leads outside the workspace through a symlink")
    assert not (ws.root / "ran.flag").exists() and sorted(os.listdir(outside)) == ["f", "p.toml"]


def test_outputs_owned_by_art_add_are_refused(ws):
    ws.gen({"in.txt": "x", "model.pkl": "m", "d": {"x": "1"}, "data": {"raw.csv": "r", "other": "o"}})
    ws.art("add", "model.pkl", "d", "data/raw.csv")
    for out, needle in [
        ("model.pkl", "stage a (art.toml line 1): output model.pkl is tracked by model.pkl.art (art add)"),
        ("d/x", "stage a (art.toml line 1): output d/x is inside d, which is tracked by d.art (art add)"),
        ("data", "stage a (art.toml line 1): output data contains data/raw.csv, tracked by data/raw.csv.art"),
    ]:
        ws.gen({"art.toml": one_stage(f'"{out}"')})
        assert_one_error(ws.art("repro", code=None), 1, needle)
        assert not (ws.root / "ran.flag").exists() and not (ws.root / "art.lock").exists()
        assert (ws.root / "data/raw.csv.art").exists() and (ws.root / "data/raw.csv").read_text() == "r"
        (ws.root / "art.toml").unlink()
        r = ws.art("stage", "add", "a", "-d", "in.txt", "-o", out, "--", "touch ran.flag", code=None)
        assert_one_error(r, 1, needle)
        assert not (ws.root / "art.toml").exists()


def test_art_add_refuses_a_stage_output(ws):
    ws.gen({"in.txt": "x", "art.toml": one_stage('"out"').replace("touch ran.flag", "cp in.txt out")})
    ws.art("repro")
    assert_one_error(ws.art("add", "out", code=None), 1, "out is an output of stage a (art.lock)")
    assert not (ws.root / "out.art").exists()
    ws.gen({"art.toml": one_stage('"d"').replace("touch ran.flag", "mkdir d && cp in.txt d/f")})
    ws.art("repro")
    assert_one_error(ws.art("add", "d/f", code=None), 1, "d/f is inside output d of stage a (art.lock)")
    ws.gen(
        {
            "art.toml": one_stage('"sub/o"').replace("touch ran.flag", "mkdir -p sub && cp in.txt sub/o"),
            "sub": {"mine.txt": "m"},
        }
    )
    ws.art("repro")
    assert_one_error(ws.art("add", "sub", code=None), 1, "sub is a folder holding output sub/o of stage a (art.lock)")
    assert not (ws.root / "sub.art").exists()
    ws.art("add", "sub/mine.txt")  # a file beside the output is fine
