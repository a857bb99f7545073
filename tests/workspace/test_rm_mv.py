import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import random_bytes

ART = [sys.executable, "-m", "artvc"]


def porcelain(ws) -> set[str]:
    return set(ws.git("status", "--porcelain", "--untracked-files=all").stdout.splitlines())


def committed(ws, files: dict) -> None:
    ws.gen(files)
    if files:
        ws.art("add", *files)
    ws.git("add", "-A")
    ws.git("commit", "-qm", "data")
    assert porcelain(ws) == set()


def test_rm_untracks_and_keeps_the_data_with_git_consistent(ws):
    committed(ws, {"a.bin": random_bytes(5000, 1), "d": {"x": "1", "y": "2"}})
    r = ws.art("rm", "a.bin")
    assert "removed: a.bin" in r.stdout
    assert not (ws.root / "a.bin.art").exists()
    assert (ws.root / "a.bin").read_bytes() == random_bytes(5000, 1)
    assert "/a.bin" not in (ws.root / ".gitignore").read_text().splitlines()
    assert "/d" in (ws.root / ".gitignore").read_text().splitlines()
    # the pointer's removal and the .gitignore edit are staged; the data is now visible to git
    assert porcelain(ws) == {"D  a.bin.art", "M  .gitignore", "?? a.bin"}
    ws.art("status")
    assert [a["path"] for a in __import__("json").loads(ws.art("ls", "--json").stdout)["artifacts"]] == ["d"]


def test_rm_of_a_pointer_git_does_not_track_touches_no_index(ws):
    committed(ws, {})
    ws.gen({"a.bin": "aaa"})
    ws.art("add", "a.bin")
    ws.art("rm", "a.bin.art")
    assert porcelain(ws) == {"?? .gitignore", "?? a.bin"}
    assert (ws.root / ".gitignore").read_text() == ""


def test_rm_keeps_user_edits_of_gitignore_unstaged(ws):
    committed(ws, {"a.bin": "aaa"})
    with open(ws.root / ".gitignore", "a") as f:
        f.write("*.log\n")
    ws.art("rm", "a.bin")
    assert porcelain(ws) == {"D  a.bin.art", " M .gitignore", "?? a.bin"}
    assert (ws.root / ".gitignore").read_text() == "*.log\n"


def test_rm_delete_deletes_stored_data_and_refuses_unstored_changes(ws):
    committed(ws, {"a.bin": "aaa", "d": {"x": "1"}})
    ws.art("rm", "--delete", "d")
    assert not (ws.root / "d").exists()
    assert porcelain(ws) == {"D  d.art", "M  .gitignore"}
    (ws.root / "a.bin").write_text("edited, never added")
    before = porcelain(ws)
    r = ws.art("rm", "--delete", "a.bin", code=1)
    assert r.stderr.startswith("art: error: a.bin holds data the store does not have")
    assert (ws.root / "a.bin.art").exists() and porcelain(ws) == before
    ws.art("rm", "--delete", "--force", "a.bin")
    assert not (ws.root / "a.bin").exists()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("nothing.bin", "art: error: nothing.bin is not tracked by art"),
        ("d/x", "art: error: d/x is inside the tracked directory d, not an artifact of its own"),
        ("plain.txt", "art: error: plain.txt is not tracked by art"),
    ],
)
def test_rm_refuses_an_untracked_path_with_one_line(ws, path, message):
    committed(ws, {"d": {"x": "1"}})
    ws.gen({"plain.txt": "p"})
    before = porcelain(ws)
    r = ws.art("rm", "d", path, code=1)
    assert r.stderr.splitlines()[0] == message
    assert (ws.root / "d.art").exists() and porcelain(ws) == before


def test_mv_moves_data_pointer_and_ignore_entry_and_stages_like_git_mv(ws):
    committed(ws, {"a.bin": random_bytes(5000, 2), "keep.bin": "k"})
    r = ws.art("mv", "a.bin", "archive/2026/b.bin")
    assert "moved: a.bin -> archive/2026/b.bin" in r.stdout
    assert (ws.root / "archive/2026/b.bin").read_bytes() == random_bytes(5000, 2)
    assert not (ws.root / "a.bin").exists() and not (ws.root / "a.bin.art").exists()
    assert (ws.root / "archive/2026/.gitignore").read_text() == "/b.bin\n"
    assert (ws.root / ".gitignore").read_text() == "/keep.bin\n"
    assert porcelain(ws) == {"R  a.bin.art -> archive/2026/b.bin.art", "M  .gitignore", "A  archive/2026/.gitignore"}
    status = ws.art("status", "--json").stdout
    assert '"unchanged"' in status and '"modified"' not in status
    ws.git("commit", "-qm", "moved")
    assert porcelain(ws) == set()


def test_mv_of_an_unstaged_pointer_and_of_data_not_checked_out(ws):
    committed(ws, {})
    ws.gen({"a.bin": "aaa", "d": {"x": "1"}})
    ws.art("add", "a.bin", "d")
    ws.art("mv", "a.bin", "b.bin")
    assert porcelain(ws) == {"?? .gitignore", "?? b.bin.art", "?? d.art"}  # git never knew it: nothing staged
    ws.git("add", "-A")
    ws.git("commit", "-qm", "x")
    import shutil

    shutil.rmtree(ws.root / "d")
    r = ws.art("mv", "d", "e")
    assert "pointer only" in r.stdout
    ws.art("checkout")
    assert (ws.root / "e/x").read_text() == "1"
    assert porcelain(ws) == {"R  d.art -> e.art", "M  .gitignore"}


@pytest.mark.parametrize(
    ("dest", "message"),
    [
        ("other.bin", "art: error: other.bin already exists: art mv never moves onto a path"),
        ("plain", "art: error: plain already exists: art mv never moves onto a path"),
        ("d", "art: error: d is tracked"),
        ("d/inner", "art: error: d/inner overlaps the tracked artifact d"),
        ("../out.bin", None),
    ],
)
def test_mv_refuses_an_existing_or_unsafe_destination_and_changes_nothing(ws, dest, message):
    committed(ws, {"a.bin": "aaa", "d": {"x": "1"}})
    ws.gen({"other.bin": "o", "plain": {"f": "f"}})
    before = porcelain(ws), sorted(p.name for p in ws.root.iterdir())
    r = ws.art("mv", "a.bin", dest, code=None)
    assert r.exit_code in (1, 10)
    assert len(r.stderr.splitlines()) <= 2 and r.stderr.startswith("art: error: ")
    if message:
        assert r.stderr.splitlines()[0] == message
    assert (porcelain(ws), sorted(p.name for p in ws.root.iterdir())) == before
    assert (ws.root / "a.bin").read_text() == "aaa"


def test_mv_refuses_an_untracked_source(ws):
    ws.gen({"plain.txt": "p"})
    r = ws.art("mv", "plain.txt", "b.txt", code=1)
    assert r.stderr.splitlines()[0] == "art: error: plain.txt is not tracked by art"
    assert (ws.root / "plain.txt").exists() and not (ws.root / "b.txt").exists()


def snapshot(root):
    out = {}
    for dirpath, dirnames, files in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", ".art")]
        for name in files:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, root)] = Path(p).read_bytes()
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root) + "/"] = b""
    return out


def test_mv_and_rm_put_everything_back_when_git_index_is_locked(ws):
    committed(ws, {"a.bin": random_bytes(3000, 3), "d": {"x": "1"}})
    lock = ws.root / ".git/index.lock"
    lock.write_text("")  # another git command is running
    before = snapshot(ws.root), porcelain(ws)
    for args in (["mv", "a.bin", "new/dir/b.bin"], ["rm", "--delete", "a.bin", "d"]):
        r = ws.art(*args, code=1)
        assert r.stderr.startswith("art: error: cannot update git's index")
        assert (snapshot(ws.root), porcelain(ws)) == before
    lock.unlink()
    ws.art("mv", "a.bin", "new/dir/b.bin")


@pytest.mark.parametrize(
    ("args", "point"),
    [
        (["mv", "a.bin", "sub/b.bin"], "mv.data-moved"),
        (["mv", "a.bin", "sub/b.bin"], "mv.pointer-moved"),
        (["mv", "a.bin", "sub/b.bin"], "mv.ignore-updated"),
        (["mv", "a.bin", "sub/b.bin"], "mv.index-written"),
        (["rm", "a.bin", "d"], "rm.pointer-removed@2"),
        (["rm", "a.bin", "d"], "rm.index-written"),
    ],
)
def test_a_failure_at_any_step_puts_everything_back(ws, args, point):
    committed(ws, {"a.bin": random_bytes(3000, 4), "d": {"x": "1"}})
    before = snapshot(ws.root), porcelain(ws)
    env = {**os.environ, "ART_FAULT": f"{point}:eio"}
    r = subprocess.run([*ART, *args], cwd=ws.root, env=env, capture_output=True, text=True)
    assert r.returncode == 13, r.stderr
    assert r.stderr.startswith("art: error: ")
    assert (snapshot(ws.root), porcelain(ws)) == before


def test_lineage_follows_a_moved_artifact(ws):
    import json

    ws.gen({"a.bin": "aaa"})
    ws.art("add", "a.bin")
    run = json.loads(ws.art("lineage", "a.bin", "--json").stdout)["run"]["oid"]
    ws.art("mv", "a.bin", "b.bin")
    assert json.loads(ws.art("lineage", "b.bin", "--json").stdout)["run"]["oid"] == run
