"""``art ls PATH``: what a workspace path holds (DVC users type ``art ls data``), locally or from the remote."""

import json
import os

from tests.builders import random_bytes
from tests.conftest import Workspace, git


def listed(ws: Workspace, *args: str) -> dict[str, dict]:
    return {a["path"]: a for a in json.loads(ws.art("ls", *args, "--json").stdout)["artifacts"]}


def make(ws: Workspace) -> None:
    ws.gen({"data": {"a.bin": random_bytes(3000), "sub": {"x.txt": "x" * 10, "deep": {"y": "y"}}}, "m.bin": "m"})
    ws.art("add", "data", "m.bin")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "v1")


def test_ls_of_a_tracked_folder_lists_its_entries_one_level(ws):
    make(ws)
    rows = listed(ws, "data")
    assert set(rows) == {"data/a.bin", "data/sub"}
    assert rows["data/a.bin"]["kind"] == "file" and rows["data/a.bin"]["size"] == 3000
    assert rows["data/sub"]["kind"] == "dir"
    assert set(listed(ws, "data/sub")) == {"data/sub/x.txt", "data/sub/deep"}
    assert listed(ws, "data/sub/x.txt")["data/sub/x.txt"]["size"] == 10
    assert set(listed(ws, "data.art")) == set(rows)  # the pointer file names the same artifact
    assert set(listed(ws, "m.bin")) == {"m.bin"}
    assert set(listed(ws, ".")) == {"data", "m.bin"}
    text = ws.art("ls", "data").stdout.splitlines()
    assert any(line.endswith("  data/sub") and " dir " in line and "  -  " in line for line in text), text


def test_ls_of_a_path_is_relative_to_the_current_folder_and_follows_rev(ws):
    make(ws)
    (ws.root / "data" / "sub" / "x.txt").write_text("changed!")
    (ws.root / "data" / "new").write_text("n")
    ws.art("add", "data")
    assert "data/new" in listed(ws, "data") and "data/new" not in listed(ws, "data", "--rev", "HEAD")
    assert listed(ws, "data/sub/x.txt", "--rev", "HEAD")["data/sub/x.txt"]["size"] == 10
    here = os.getcwd()
    os.chdir(ws.root / "data")
    try:
        from click.testing import CliRunner

        from artvc.commands import cli

        out = CliRunner().invoke(cli, ["ls", "sub", "--json"], catch_exceptions=False)
    finally:
        os.chdir(here)
    assert out.exit_code == 0, out.stderr
    assert {a["path"] for a in json.loads(out.stdout)["artifacts"]} == {"data/sub/x.txt", "data/sub/deep"}


def test_ls_of_a_folder_holding_artifacts_and_of_nothing_tracked(ws):
    ws.gen({"d": {"one.bin": "1", "two": {"t.bin": "2"}}, "plain": {"f": "f"}})
    ws.art("add", "d/one.bin", "d/two")
    assert set(listed(ws, "d")) == {"d/one.bin", "d/two"}
    r = ws.art("ls", "plain", code=1)
    assert r.stderr.startswith("art: error: plain is not tracked") and "hint:" in r.stderr
    r = ws.art("ls", "data/none", code=1)
    assert "is not tracked" in r.stderr


def test_ls_in_a_fresh_clone_reads_the_folder_trees_from_the_remote(ws, tmp_path):
    make(ws)
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "-d")
    ws.art("push")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "remote")
    git(tmp_path, "clone", "-q", str(ws.root), str(tmp_path / "clone"))
    clone = Workspace(tmp_path / "clone")
    assert set(listed(clone, "data/sub")) == {"data/sub/x.txt", "data/sub/deep"}
    assert not (clone.root / "data").exists()  # listing wrote nothing into the workspace
    # without a remote the missing tree is a clean error naming what to do
    git(tmp_path, "clone", "-q", str(ws.root), str(tmp_path / "clone2"))
    bare = Workspace(tmp_path / "clone2")
    bare.art("remote", "remove", "origin")
    r = bare.art("ls", "data", code=None)
    assert r.exit_code not in (0, 70) and r.stderr.startswith("art: error:") and "art pull" in r.stderr


def test_a_git_repository_inside_or_outside_is_still_listed_as_a_source(ws, tmp_path):
    make(ws)
    for other in (tmp_path / "plain", ws.root / "vendor"):
        git(tmp_path, "init", "-q", str(other))
        (other / "f").write_text("f")
        git(other, "add", "f")
        git(other, "commit", "-qm", "f")
        r = ws.art("ls", str(other), code=1)
        assert "not an art repository" in r.stderr, r.stderr
