"""``art add`` reads the git facts of its run record from the git executable, beside the add, without loading
pygit2 (a third of art's start-up); pygit2 answers when git cannot."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from artvc.workspace.provenance import GitProbe, parse_status

PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("LOADED", "pygit2" in sys.modules, "pyfastcdc" in sys.modules, file=sys.stderr))
sys.argv = ["art", *{args!r}]
runpy.run_module("artvc", run_name="__main__")
"""


def run_probed(
    cwd, *args: str, env: dict[str, str] | None = None, chunker: list[bool] | None = None
) -> tuple[subprocess.CompletedProcess, bool]:
    """Run ``art ARGS`` in a new interpreter; return the result and whether pygit2 was loaded (``chunker``
    gets whether pyfastcdc was)."""
    r = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], cwd=cwd, capture_output=True, text=True, env=env
    )
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("LOADED"))
    if chunker is not None:
        chunker.append(line.split()[2] == "True")
    return r, line.split()[1] == "True"


def run_of(ws, path: str) -> dict:
    return json.loads(ws.art("lineage", path, "--json").stdout)["run"]


def test_add_of_a_file_in_a_git_repo_loads_no_pygit2_and_records_the_git_state(ws):
    (ws.root / "notes.txt").write_text("a\n")
    ws.git("add", "-A")
    ws.git("commit", "-q", "-m", "first")
    head = ws.git("rev-parse", "HEAD").stdout.strip()
    (ws.root / "data.csv").write_text("a,b\n1,2\n")
    r, loaded = run_probed(ws.root, "add", "data.csv")
    assert r.returncode == 0, r.stderr
    assert "To track the changes with git: git add data.csv.art .gitignore" in r.stdout
    assert not loaded
    assert run_of(ws, "data.csv")["git"] == {"commit": head, "dirty": False, "branch": "main"}


def test_add_of_a_folder_of_small_files_loads_neither_pygit2_nor_the_chunker(ws):
    """Files below the chunker's minimum size are one chunk each: FastCDC (pyfastcdc) is never loaded."""
    ws.gen({"images": {f"{i}.bin": os.urandom(100 + i) for i in range(40)} | {"sub": {"x.txt": "x"}}})
    chunker: list[bool] = []
    r, loaded = run_probed(ws.root, "add", "images", chunker=chunker)
    assert r.returncode == 0, r.stderr
    assert not loaded and chunker == [False]
    (ws.root / "images/big.bin").write_bytes(os.urandom(40_000))  # over the minimum: chunked
    r, loaded = run_probed(ws.root, "add", "images", chunker=chunker)
    assert r.returncode == 0, r.stderr
    assert chunker == [False, True]
    assert run_of(ws, "images")["git"] == {"commit": None, "dirty": False, "branch": "main"}


def test_git_facts_of_an_add_match_pygit2s_in_every_state(ws):
    """Unborn branch, clean, a staged change, an unstaged change, untracked files only (not dirty), detached."""
    from artvc.workspace.provenance import git_facts

    def both() -> tuple[dict | None, dict]:
        with ws.repo() as repo:
            return GitProbe(repo.root).result(), git_facts(repo.git)

    assert both()[0] == both()[1] == {"commit": None, "dirty": False, "branch": "main"}
    (ws.root / "t.txt").write_text("1\n")
    ws.git("add", "t.txt")
    cli, lib = both()
    assert cli == lib == {"commit": None, "dirty": True, "branch": "main"}
    ws.git("commit", "-q", "-m", "one")
    head = ws.git("rev-parse", "HEAD").stdout.strip()
    (ws.root / "untracked.txt").write_text("u\n")
    cli, lib = both()
    assert cli == lib == {"commit": head, "dirty": False, "branch": "main"}
    (ws.root / "t.txt").write_text("2\n")
    cli, lib = both()
    assert cli == lib == {"commit": head, "dirty": True, "branch": "main"}
    ws.git("checkout", "-q", "--", "t.txt")
    ws.git("checkout", "-q", "--detach")
    cli, lib = both()
    assert cli == lib == {"commit": head, "dirty": False, "branch": None}


def test_without_a_git_executable_pygit2_gives_the_facts(ws, tmp_path):
    """git not on PATH: the add still records the git state (through pygit2) and tells what to git add."""
    (ws.root / "a.txt").write_text("a\n")
    ws.git("add", "-A")
    ws.git("commit", "-q", "-m", "first")
    head = ws.git("rev-parse", "HEAD").stdout.strip()
    (ws.root / "a.txt").write_text("changed\n")
    (ws.root / "data.bin").write_bytes(b"\1" * 5000)
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    r, loaded = run_probed(ws.root, "add", "data.bin", env={**os.environ, "PATH": str(empty)})
    assert r.returncode == 0, r.stderr
    assert loaded
    assert "git add data.bin.art .gitignore" in r.stdout
    assert run_of(ws, "data.bin")["git"] == {"commit": head, "dirty": True, "branch": "main"}


def test_outside_git_the_facts_are_none_and_nothing_is_said_of_git(tmp_path):
    root = tmp_path / "plain"
    root.mkdir()
    r = subprocess.run([sys.executable, "-m", "artvc", "init", "--no-git"], cwd=root, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (root / "f.txt").write_text("f\n")
    r = subprocess.run([sys.executable, "-m", "artvc", "add", "f.txt"], cwd=root, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "git add" not in r.stdout
    out = subprocess.run(
        [sys.executable, "-m", "artvc", "lineage", "f.txt", "--json"], cwd=root, capture_output=True, text=True
    )
    assert json.loads(out.stdout)["run"]["git"] == {"commit": None, "dirty": None, "branch": None}


@pytest.mark.parametrize(
    ("out", "facts"),
    [
        (b"# branch.oid (initial)\n# branch.head main\n", {"commit": None, "dirty": False, "branch": "main"}),
        (
            b"# branch.oid " + b"ab" * 20 + b"\n# branch.head (detached)\n1 .M N... 100644 100644 100644 x y a\n",
            {"commit": "ab" * 20, "dirty": True, "branch": None},
        ),
        (
            b"# branch.oid " + b"cd" * 20 + b"\n# branch.head f\xc3\xa9\n",
            {"commit": "cd" * 20, "dirty": False, "branch": "fé"},
        ),
        (b"", None),
        (b"fatal: not a git repository\n", None),
    ],
)
def test_parse_status(out, facts):
    assert parse_status(out) == facts
