"""``art status`` at scale: per-folder signatures rebuild only the folders a change touched, and the stat cache
never vouches for a file whose content changed (ctime catches an mtime set back)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from artvc.workspace.pointers import read_pointer
from artvc.workspace.status import current_oid
from tests.held import run_held
from tests.workspace.test_add_checkout import age

ART = [sys.executable, "-m", "artvc"]


def status_run(ws, tmp_path: Path, *, reads: bool = False) -> tuple:
    """``art status --json`` in a process of its own: (path -> state, folders it rebuilt[, folders it read])."""
    log = tmp_path / f"faults-{len(list(tmp_path.glob('faults-*')))}.log"
    env = {**os.environ, "ART_FAULT_LOG": str(log)}
    r = subprocess.run([*ART, "status", "--json"], cwd=ws.root, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    states = {a["path"]: a["state"] for a in json.loads(r.stdout)["artifacts"]}
    points = log.read_text().splitlines() if log.exists() else []
    rebuilt = points.count("status.folder-rebuilt")
    return (states, rebuilt, points.count("scan.folder-read")) if reads else (states, rebuilt)


def nested(ws) -> None:
    ws.gen({"data": {p: {q: {f"f{i}.txt": f"{p}{q}{i}" for i in range(20)} for q in "xyz"} for p in "abc"}})
    age(ws.root / "data")


def test_status_after_one_change_rebuilds_only_the_folders_on_the_way(ws, tmp_path):
    nested(ws)
    ws.art("add", "data")
    assert status_run(ws, tmp_path) == ({"data": "unchanged"}, 0)
    (ws.root / "data/b/y/f3.txt").write_text("changed!")
    age(ws.root / "data/b/y")
    assert status_run(ws, tmp_path) == ({"data": "modified"}, 3)  # data, data/b, data/b/y: not the other 10
    assert status_run(ws, tmp_path) == ({"data": "modified"}, 0)  # remembered: one walk, nothing rebuilt
    (ws.root / "data/c/z/f0.txt").write_text("more")
    age(ws.root / "data/c/z")
    assert status_run(ws, tmp_path) == ({"data": "modified"}, 3)
    ws.art("add", "data")
    assert status_run(ws, tmp_path) == ({"data": "unchanged"}, 0)


NESTED_FOLDERS = 13  # data, a..c, a/x..c/z


def test_the_first_status_after_add_reads_each_folder_once(ws, tmp_path):
    nested(ws)
    ws.art("add", "data")
    # add remembered every folder's signature: no second walk to adopt what add left, nothing rebuilt
    assert status_run(ws, tmp_path, reads=True) == ({"data": "unchanged"}, 0, NESTED_FOLDERS)
    assert status_run(ws, tmp_path, reads=True) == ({"data": "unchanged"}, 0, NESTED_FOLDERS)


def test_the_first_status_after_checkout_or_mv_reads_each_folder_once(ws, tmp_path):
    nested(ws)
    ws.art("add", "data")
    shutil.rmtree(ws.root / "data")
    ws.art("checkout", "data")
    assert status_run(ws, tmp_path, reads=True) == ({"data": "unchanged"}, 0, NESTED_FOLDERS)
    ws.art("mv", "data", "moved")
    assert status_run(ws, tmp_path, reads=True) == ({"moved": "unchanged"}, 0, NESTED_FOLDERS)


def test_a_change_deep_in_a_wide_tree_is_found_by_its_ctime(ws, tmp_path):
    ws.gen(
        {"data": {f"p{i:02d}": {f"q{j:02d}": {"a.txt": f"{i}{j}", "b.txt": "b"} for j in range(12)} for i in range(12)}}
    )
    age(ws.root / "data")
    ws.art("add", "data")
    folders = 1 + 12 + 12 * 12
    assert status_run(ws, tmp_path, reads=True) == ({"data": "unchanged"}, 0, folders)
    leaf = ws.root / "data/p07/q11/b.txt"
    before = leaf.stat()
    leaf.write_text("B")  # same size, mtime set back: only ctime tells
    os.utime(leaf, ns=(before.st_atime_ns, before.st_mtime_ns))
    # the three folders on the way are rebuilt from the listings the walk read: no folder is read twice
    assert status_run(ws, tmp_path, reads=True) == ({"data": "modified"}, 3, folders)
    assert status_run(ws, tmp_path, reads=True) == ({"data": "modified"}, 0, folders)
    with ws.repo() as repo:
        now = current_oid(repo, "data", "dir")
    ws.art("add", "data")
    assert now == read_pointer(ws.root / "data.art", where="data.art").oid


def test_a_file_replaced_between_the_walk_and_the_rebuild_is_caught(ws, tmp_path):
    ws.gen({"data": {"sub": {f"f{i}.txt": f"file {i:03d}" for i in range(50)}}})
    age(ws.root / "data")
    ws.art("add", "data")
    (ws.root / "data/sub/f0.txt").write_text("changed first")
    age(ws.root / "data/sub")

    def replace() -> None:  # the first walk is done, data/sub about to be read again: replace a file, as rsync -t
        victim = ws.root / "data/sub/f7.txt"
        before = victim.stat()
        tmp = ws.root / "data/sub/.f7.tmp"
        tmp.write_text("file 999")
        os.utime(tmp, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.rename(tmp, victim)

    r = run_held(["status", "--json"], ws.root, tmp_path, "status.folder-rebuilt@2:block", replace, reached=2)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["artifacts"][0]["state"] == "modified"
    with ws.repo() as repo:
        now = current_oid(repo, "data", "dir")  # one walk: what the blocked status remembered
    ws.art("add", "data")
    assert now == read_pointer(ws.root / "data.art", where="data.art").oid


def _mutate(root: Path, how: str) -> None:
    d = root / "data"
    if how == "new-file-deep":
        (d / "a/x/new.txt").write_text("new")
    elif how == "remove-folder":
        for f in (d / "c/z").iterdir():
            f.unlink()
        (d / "c/z").rmdir()
    elif how == "new-folder":
        (d / "b/w").mkdir()
        (d / "b/w/n.txt").write_text("n")
    elif how == "empty-folder":
        (d / "b/empty").mkdir()
    elif how == "rename":
        os.rename(d / "a/y/f1.txt", d / "a/y/g1.txt")
    elif how == "symlink":
        os.symlink("../x/f0.txt", d / "a/y/link")
    elif how == "executable":
        os.chmod(d / "b/x/f2.txt", 0o755)
    elif how == "same-size":
        (d / "c/x/f4.txt").write_text("cx9")
    elif how == "truncate":
        (d / "c/x/f4.txt").write_text("")


@pytest.mark.parametrize(
    "how",
    [
        "new-file-deep",
        "remove-folder",
        "new-folder",
        "empty-folder",
        "rename",
        "symlink",
        "executable",
        "same-size",
        "truncate",
    ],
)
def test_a_rebuilt_tree_is_the_tree_add_stores(ws, how):
    nested(ws)
    ws.art("add", "data")
    with ws.repo() as repo:
        # a status whose signature matches fills the folder rows from the stored trees
        assert current_oid(repo, "data", "dir") == read_pointer(ws.root / "data.art", where="data.art").oid
    _mutate(ws.root, how)
    age(ws.root / "data")
    with ws.repo() as repo:
        now = current_oid(repo, "data", "dir")
    ws.art("add", "data")
    assert now == read_pointer(ws.root / "data.art", where="data.art").oid
    assert now is not None


@pytest.mark.parametrize("how", ["content", "mtime", "size", "added", "removed"])
def test_a_status_finds_any_change_in_any_subfolder_of_a_nested_tree(ws, tmp_path, how):
    """The walk of a status that finds nothing changed keeps no packed listing (``SignedDir.names`` packs one on
    use): a change in a subfolder is still found, and only the folders on the way to it are rebuilt."""
    nested(ws)
    ws.art("add", "data")
    assert status_run(ws, tmp_path) == ({"data": "unchanged"}, 0)
    f = ws.root / "data/c/y/f7.txt"
    before = f.stat()
    if how == "content":  # the same size, a new mtime
        assert f.read_text() == "cy7"
        f.write_text("cy8")
    elif how == "mtime":  # the same content: rebuilt and found unchanged
        os.utime(f, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    elif how == "size":
        f.write_text("cy77")
    elif how == "added":
        (ws.root / "data/c/y/new.txt").write_text("new")
    else:
        f.unlink()
    age(ws.root / "data/c/y")
    expected = "unchanged" if how == "mtime" else "modified"
    assert status_run(ws, tmp_path) == ({"data": expected}, 3)  # data, data/c, data/c/y


def test_a_same_size_rewrite_with_mtime_set_back_is_modified(ws, tmp_path):
    ws.gen({"data": {"sub": {"a.txt": "aaaa", "b.txt": "bbbb"}}, "one.txt": "1111"})
    age(ws.root / "data")
    age_file = ws.root / "one.txt"
    st = age_file.stat()
    os.utime(age_file, ns=(st.st_atime_ns, st.st_mtime_ns - 2_000_000_000))
    ws.art("add", "data", "one.txt")
    assert status_run(ws, tmp_path)[0] == {"data": "unchanged", "one.txt": "unchanged"}
    for path, content in (("data/sub/a.txt", "AAAA"), ("one.txt", "2222")):  # as rsync -t or cp -p leave them
        p = ws.root / path
        before = p.stat()
        p.write_text(content)
        os.utime(p, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert p.stat().st_size == before.st_size
    assert status_run(ws, tmp_path)[0] == {"data": "modified", "one.txt": "modified"}


def test_status_after_a_change_at_the_bottom_of_a_tree_1100_folders_deep(ws, tmp_path):
    path = ws.root / "deep"
    path.mkdir()
    levels = []
    for _ in range(1100):  # one level at a time: makedirs itself recurses
        path = path / "d"
        path.mkdir()
        levels.append(path)
    (path / "leaf.txt").write_text("deep")
    try:
        ws.art("add", "deep")
        (path / "leaf.txt").write_text("deeper")
        age(path)
        assert status_run(ws, tmp_path) == ({"deep": "modified"}, 1101)
        assert status_run(ws, tmp_path) == ({"deep": "modified"}, 0)
    finally:  # bottom-up by hand: shutil.rmtree (and so pytest's cleanup) recurses too
        (path / "leaf.txt").unlink()
        for level in reversed(levels):
            level.rmdir()
