"""Names that git's ignore syntax treats specially are ignored exactly: the data, never its pointer or a
neighbour. Checked with git itself (``git status --porcelain --ignored``)."""

import subprocess

import pytest

from tests.pipeline.helpers import lock

SPECIAL = [
    "#hash",
    "!bang",
    "st*r",
    "q?m",
    "[br]",
    "b]r",
    "trail ",
    "two  ",
    " lead",
    "back\\slash",
    "end\\",
    "tab\t",
    "mid\rcr",
    "ok\\ ",
    "a*b?c[d]e!f#g",
]
# names a wrong entry would ignore instead of (or as well as) the special one
DECOYS = [
    "hash",
    "bang",
    "stXr",
    "star",
    "qXm",
    "b",
    "r",
    "trail",
    "two",
    "lead",
    "back",
    "slash",
    "end",
    "tab",
    "mid",
    "cr",
    "ok",
    "aXbYcdeXfXg",
    "a",
    "st",
]


def git_states(ws) -> dict[str, str]:
    """Path -> '??' (untracked) or '!!' (ignored), for every file git reports, names unquoted."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all", "-z"],
        cwd=ws.root,
        check=True,
        capture_output=True,
    ).stdout.decode()  # bytes: keep a carriage return
    return {e[3:]: e[:2] for e in out.split("\0") if e}


@pytest.mark.parametrize("sub", ["", "sub/"])
def test_added_names_with_gitignore_syntax_are_ignored_exactly(ws, sub):
    ws.gen({sub + n: "data " + n for n in SPECIAL + DECOYS})
    ws.art("add", *(sub + n for n in SPECIAL))
    states = git_states(ws)
    for n in SPECIAL:
        assert states.get(sub + n) == "!!", (n, states)
        assert states.get(sub + n + ".art") == "??", (n, states)  # the pointer goes to git
    for n in DECOYS:
        assert states.get(sub + n) == "??", (n, states)
    # adding again changes nothing; the entries are recognised as already there
    gi = (ws.root / sub / ".gitignore").read_bytes()
    ws.art("add", *(sub + n for n in SPECIAL))
    assert (ws.root / sub / ".gitignore").read_bytes() == gi
    assert gi.count(b"\n") == len(SPECIAL)


@pytest.mark.parametrize("name", ["new\nline", "\nlead", "trail\n", "cr\r"])
def test_names_gitignore_cannot_express_are_refused_before_anything_is_written(ws, name):
    ws.gen({name: "secret", "plain.txt": "p"})
    r = ws.art("add", "plain.txt", name, code=10)
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("art: error: cannot track") and "newline" in lines[0], r.stderr
    assert all(ln.startswith(("art: error:", "hint:")) for ln in lines), r.stderr
    assert not (ws.root / ".gitignore").exists()
    assert not (ws.root / (name + ".art")).exists() and not (ws.root / "plain.txt.art").exists()
    assert ws.repo().store.stats()["objects"] == 0


def test_stage_outputs_with_special_names_are_ignored_exactly(ws):
    outs = ["st*r", "#h", "sp "]
    toml_outs = ", ".join(f'"{o}"' for o in outs)
    ws.gen(
        {
            "in.txt": "x",
            **{d: "decoy" for d in ["stXr", "h", "sp"]},
            "art.toml": f"[stages.a]\ncmd = \"for f in 'st*r' '#h' 'sp '; do cp in.txt \\\"$f\\\"; done\"\n"
            f'deps = ["in.txt"]\nouts = [{toml_outs}]\n',
        }
    )
    ws.art("repro")
    assert sorted(o["path"] for o in lock(ws)["a"]["outs"]) == sorted(outs)
    states = git_states(ws)
    assert {o: states.get(o) for o in outs} == dict.fromkeys(outs, "!!")
    assert {d: states.get(d) for d in ["stXr", "h", "sp"]} == dict.fromkeys(["stXr", "h", "sp"], "??")


def test_stage_output_gitignore_cannot_express_is_refused(ws):
    ws.gen({"in.txt": "x", "art.toml": '[stages.a]\ncmd = "true"\ndeps = ["in.txt"]\nouts = ["bad\\nname"]\n'})
    r = ws.art("repro", code=1)
    assert "stage a (art.toml line 1): output 'bad\\nname' cannot be named in a .gitignore" in r.stderr
    assert not (ws.root / "art.lock").exists() and not (ws.root / ".gitignore").exists()
