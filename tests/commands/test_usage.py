"""Usage errors are told the art way (one error line, one hint), with "did you mean" in every group;
--json is accepted before the command too; shell completion works in a real bash."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("args", "guess"),
    [
        (["ad"], "did you mean 'add'?"),
        (["chekout"], "did you mean 'checkout'?"),
        (["remote", "ad", "x", "y"], "did you mean 'add'?"),
        (["stage", "ad"], "did you mean 'add'?"),
        (["status", "--jsn"], "did you mean '--json'?"),
        (["add", "--job", "2", "x"], "did you mean '--jobs' or '--json'?"),  # several: click's "(... one of: ...)"
    ],
)
def test_typos_get_a_suggestion(ws, args, guess):
    r = ws.art(*args, code=2)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("art: error: no such ")
    assert lines[1] == f"hint: {guess}"


def test_unknown_option_without_a_close_match_points_at_help(ws):
    r = ws.art("add", "--zzzzzz", code=2)
    assert r.stderr.strip().splitlines() == ["art: error: no such option '--zzzzzz'", "hint: see 'art add --help'"]


def test_json_is_accepted_before_the_command(ws):
    ws.gen({"a.txt": "a"})
    ws.art("add", "a.txt")
    before = json.loads(ws.art("--json", "status").stdout)
    after = json.loads(ws.art("status", "--json").stdout)
    assert before == after and before["artifacts"][0]["path"] == "a.txt"


def _complete(words: list[str], tmp_path: Path) -> list[str]:
    script = tmp_path / "art-completion.bash"
    art = Path(sys.executable).with_name("art")
    script.write_text(
        subprocess.run([str(art), "completion", "bash"], capture_output=True, text=True, check=True).stdout
    )
    words_text = " ".join(words)
    prog = (
        f"source {script}; COMP_WORDS=({words_text}); COMP_CWORD={len(words) - 1}; "
        "_art_completion art; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    env = {**os.environ, "PATH": f"{art.parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, check=True, env=env).stdout
    return [w for w in out.splitlines() if w]


def test_bash_completion_completes_commands_and_options(tmp_path):
    assert _complete(["art", "chec"], tmp_path) == ["checkout"]
    assert "--force" in _complete(["art", "checkout", "--f"], tmp_path)
    assert set(_complete(["art", "remote", ""], tmp_path)) >= {"add", "list", "remove"}


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_completion_scripts_for_other_shells(ws, shell):
    out = ws.art("completion", shell).stdout
    assert "_ART_COMPLETE" in out and f"{shell}_complete" in out


def test_counts_agree_with_their_nouns(ws):
    import re

    ws.gen({"one.txt": "1"})
    out = ws.art("add", "one.txt").stdout
    assert "stored 1 new object (1 B); read 1 of 1 file" in out
    assert re.search(r"ok: \d+ objects verified, 1 artifact resolves", ws.art("fsck").stdout)
    ws.gen({"d": {"a": "a", "b": "b"}})
    out = ws.art("add", "d").stdout
    assert "(2 files, 2 B)" in out and "read 2 of 2 files" in out
    assert re.search(r"ok: \d+ objects verified, 2 artifacts resolve\b", ws.art("fsck").stdout)
