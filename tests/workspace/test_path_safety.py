"""Checkout never deletes what the store cannot give back, and never writes where a path leaves the workspace.

Each test builds the unsafe situation with real files, folders, symlinks and FIFOs, runs the CLI, and checks
the exit code, the state ``status`` reports, and that nothing changed (byte for byte) where art must not write.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.objects import Kind, Tree, TreeEntry
from tests.conftest import Workspace, git


def snapshot(folder: Path) -> dict[str, object]:
    """Every entry under ``folder``: file bytes, link targets, folders (what must not change)."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = p.read_bytes()
    return out


def stage_output(ws: Workspace, path: str, text: str) -> None:
    """Make ``path`` the output of a pipeline stage (tracked in art.lock: no pointer file beside it)."""
    script = f"import os; os.makedirs(os.path.dirname('{path}'), exist_ok=True); open('{path}', 'w').write('{text}')"
    ws.gen({"art.toml": f'[stages.make]\ncmd = "{shlex.quote(sys.executable)} -c \\"{script}\\""\nouts = ["{path}"]\n'})
    ws.art("repro")


def states(ws: Workspace) -> dict[str, dict]:
    return {a["path"]: a for a in json.loads(ws.art("status", "--json").stdout)["artifacts"]}


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder beside the workspace with a user's data in it."""
    d = tmp_path / "outside"
    (d / "keep").mkdir(parents=True)
    (d / "keep/precious.txt").write_text("not art's to touch\n")
    (d / "notes.txt").write_text("mine\n")
    return d


# -- item 1: a path holding something of another kind ---------------------------------------------------------


def test_folder_of_unsaved_files_where_a_file_artifact_belongs_is_a_conflict(ws):
    ws.gen({"results": "v1"})
    ws.art("add", "results")
    (ws.root / "results").unlink()
    ws.gen({"results": {"run.log": "hours of output", "sub": {"x.txt": "x"}}})
    before = snapshot(ws.root / "results")
    st = states(ws)["results"]
    assert st["state"] == "conflict" and "folder" in st["reason"]
    assert "conflict  results: a folder" in ws.art("status").stdout
    r = ws.art("checkout", code=1)
    assert r.stderr.startswith("art: error: results is in the way") and "--force" in r.stderr
    assert snapshot(ws.root / "results") == before
    ws.art("status", "--check", code=4)
    ws.art("checkout", "--force")
    assert (ws.root / "results").read_text() == "v1"


def test_unsaved_file_where_a_folder_artifact_belongs_is_a_conflict(ws):
    ws.gen({"data": {"a.txt": "a"}})
    ws.art("add", "data")
    shutil.rmtree(ws.root / "data")
    (ws.root / "data").write_text("the user's own file")
    assert states(ws)["data"]["state"] == "conflict"
    ws.art("checkout", code=1)
    assert (ws.root / "data").read_text() == "the user's own file"
    ws.art("checkout", "--force")
    assert (ws.root / "data/a.txt").read_text() == "a"


def test_stored_content_of_another_kind_is_replaced_without_force(ws):
    """Switching a path between a file and a folder version (both added) needs no --force."""
    ws.gen({"out": "as a file"})
    ws.art("add", "out")
    file_pointer = (ws.root / "out.art").read_text()
    (ws.root / "out").unlink()
    ws.gen({"out": {"part.txt": "as a folder"}})
    ws.art("add", "out")
    (ws.root / "out.art").write_text(file_pointer)
    assert states(ws)["out"]["state"] == "modified"
    ws.art("checkout")
    assert (ws.root / "out").read_text() == "as a file"


def test_fifo_at_an_artifact_path_is_left_alone(ws):
    ws.gen({"a.bin": "data"})
    ws.art("add", "a.bin")
    (ws.root / "a.bin").unlink()
    os.mkfifo(ws.root / "a.bin")
    assert states(ws)["a.bin"]["state"] == "conflict"
    ws.art("checkout", code=1)
    assert (ws.root / "a.bin").is_fifo()


def test_a_parent_that_is_a_file_is_a_conflict_not_a_crash(ws):
    """A stage output (named in art.lock, no pointer beside it) whose parent folder became a user's file."""
    stage_output(ws, "runs/r1", "one")
    shutil.rmtree(ws.root / "runs")
    (ws.root / "runs").write_text("a user's file named like the folder")
    st = states(ws)["runs/r1"]
    assert st["state"] == "conflict" and st["reason"] == "runs is not a folder"
    r = ws.art("checkout", code=1)
    assert "runs is not a folder" in r.stderr
    assert (ws.root / "runs").read_text() == "a user's file named like the folder"
    ws.art("checkout", "--force")
    assert (ws.root / "runs/r1").read_text() == "one"


def test_inside_a_tracked_folder_unsaved_entries_of_another_kind_are_kept(ws):
    ws.gen({"d": {"f.txt": "f", "sub": {"g.txt": "g"}}})
    ws.art("add", "d")
    (ws.root / "d/f.txt").unlink()
    ws.gen({"d": {"f.txt": {"new.txt": "unsaved"}}})  # a folder where the tree has a file
    shutil.rmtree(ws.root / "d/sub")
    (ws.root / "d/sub").write_text("unsaved too")  # a file where the tree has a folder
    ws.art("checkout", code=1)
    assert (ws.root / "d/f.txt/new.txt").read_text() == "unsaved"
    assert (ws.root / "d/sub").read_text() == "unsaved too"
    ws.art("checkout", "--force")
    assert (ws.root / "d/f.txt").read_text() == "f" and (ws.root / "d/sub/g.txt").read_text() == "g"


def test_a_git_folder_inside_a_tracked_folder_survives_checkout(ws):
    ws.gen({"d": {"f.txt": "f"}})
    ws.art("add", "d")
    ws.gen({"d": {".git": {"HEAD": "ref: refs/heads/main\n"}}})
    (ws.root / "d/f.txt").write_text("edited")
    ws.art("checkout", "--force")
    assert (ws.root / "d/.git/HEAD").read_text() == "ref: refs/heads/main\n"
    assert (ws.root / "d/f.txt").read_text() == "f"


# -- item 2: the artifact path (or a parent) is a symlink ---------------------------------------------------


def _tracked_then_linked(ws, outside: Path, kind: str, link_target: str | Path) -> None:
    if kind == "dir":
        ws.gen({"data": {"a.txt": "a", "b.txt": "b"}})
    else:
        ws.gen({"data": "content"})
    ws.art("add", "data")
    p = ws.root / "data"
    shutil.rmtree(p) if p.is_dir() else p.unlink()
    os.symlink(link_target, p)


@pytest.mark.parametrize(
    "kind,target", [("dir", "DIR"), ("file", "FILE"), ("dir", "DANGLING"), ("file", "DANGLING"), ("file", "DIR")]
)
def test_artifact_path_linking_outside_is_refused_even_with_force(ws, outside, kind, target):
    link = {"DIR": outside / "keep", "FILE": outside / "notes.txt", "DANGLING": outside / "nothing"}[target]
    _tracked_then_linked(ws, outside, kind, link)
    before = snapshot(outside)
    st = states(ws)["data"]
    assert st["state"] == "conflict" and "outside the workspace" in st["reason"]
    for args in (["checkout"], ["checkout", "--force"], ["checkout", "data", "--force"]):
        r = ws.art(*args, code=10)
        assert r.stderr.startswith("art: error: data is a symlink that leads outside the workspace")
        assert snapshot(outside) == before
        assert os.readlink(ws.root / "data") == str(link)


def test_a_parent_linking_outside_is_refused(ws, outside):
    stage_output(ws, "sub/x.bin", "x")
    (ws.root / "art.toml").unlink()  # art.lock alone still tracks the output (art.toml would refuse the link)
    shutil.rmtree(ws.root / "sub")
    os.symlink(outside / "keep", ws.root / "sub")
    before = snapshot(outside)
    assert states(ws)["sub/x.bin"]["state"] == "conflict"
    ws.art("checkout", "--force", code=10)
    assert snapshot(outside) == before


def test_dangling_link_inside_the_workspace_is_a_conflict_then_replaced_with_force(ws):
    _tracked_then_linked(ws, ws.root, "dir", "gone")
    assert states(ws)["data"]["state"] == "conflict"
    ws.art("checkout", code=1)
    assert os.readlink(ws.root / "data") == "gone"
    ws.art("checkout", "--force")
    assert not (ws.root / "data").is_symlink() and (ws.root / "data/a.txt").read_text() == "a"
    assert not (ws.root / "gone").exists()


def test_link_to_a_folder_inside_the_workspace_is_followed(ws):
    ws.gen({"real": {}, "data": {"a.txt": "a"}})
    ws.art("add", "data")
    shutil.rmtree(ws.root / "data")
    os.symlink("real", ws.root / "data")
    assert states(ws)["data"]["state"] == "modified"  # an empty folder (nothing in it to lose)
    ws.art("checkout")
    assert (ws.root / "real/a.txt").read_text() == "a" and os.readlink(ws.root / "data") == "real"


def test_pull_into_a_clone_whose_commit_holds_an_escaping_link_writes_nothing_outside(ws, outside, tmp_path):
    """A repository can commit a symlink at an artifact path: 'git clone && art pull' must not follow it."""
    ws.gen({"data": {"a.txt": "a" * 1000}})
    ws.art("add", "data")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "-d")
    ws.art("push")
    shutil.rmtree(ws.root / "data")
    os.symlink(outside / "keep", ws.root / "data")
    (ws.root / ".gitignore").write_text("")  # so git records the link
    ws.git("add", "-A")
    ws.git("commit", "-qm", "data with a link")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(ws.root), str(clone))
    cws = Workspace(clone)
    assert (clone / "data").is_symlink()
    before = snapshot(outside)
    r = cws.art("pull", code=10)
    assert "data is a symlink that leads outside the workspace" in r.stderr
    cws.art("pull", "--force", code=10)
    assert snapshot(outside) == before


# -- item 3: symlinks inside stored trees are resolved against the tree ------------------------------------


def _store_tree(ws, entries: list[TreeEntry], path: str = "data") -> None:
    """Put a hand-made tree (as a remote could send) into the store and point ``path`` at it."""
    from artvc.workspace.pointers import Pointer, write_pointer

    tree = Tree.build(entries)
    with ws.repo() as repo, repo.store.writer() as w:
        w.put(tree.oid, Kind.TREE, tree.to_bytes())
    with ws.repo() as repo:
        write_pointer(repo.abspath(path + ".art"), Pointer(tree.oid, "dir", 0, 0))


def _link(name: str, target: str) -> TreeEntry:
    return TreeEntry(name, "symlink", hash_bytes(target.encode()), 0, target=target)


@pytest.mark.parametrize(
    "links",
    [
        [("y", ".."), ("z", "y/../..")],  # each passes a textual check, the chain escapes
        [("a", "b"), ("b", "c/../../.."), ("c", ".")],
        [("y", ".."), ("z", "y/.git")],  # into .git through a link
        [("loop", "loop/x")],
        [("abs", "/etc")],
    ],
)
def test_tree_links_that_resolve_outside_are_refused_before_anything_is_written(ws, outside, links):
    shutil.copytree(outside, ws.root / "keepme")
    _store_tree(ws, [_link(n, t) for n, t in links])
    r = ws.art("checkout", "--force", code=10)
    assert "would point outside the workspace" in r.stderr
    assert not os.path.lexists(ws.root / "data")


def test_tree_links_that_stay_inside_are_written(ws):
    ws.gen({"top.txt": "t"})
    _store_tree(ws, [_link("y", ".."), _link("z", "y/top.txt"), _link("w", "y/data/z")])
    ws.art("checkout")
    assert (ws.root / "data/z").read_text() == "t" and (ws.root / "data/w").read_text() == "t"


def test_tree_link_through_an_existing_workspace_link_that_leaves_is_refused(ws, outside):
    os.symlink(outside, ws.root / "door")
    _store_tree(ws, [_link("z", "../door/notes.txt")])
    ws.art("checkout", code=10)
    assert not os.path.lexists(ws.root / "data")


def test_runcache_restore_applies_the_same_link_rule(ws):
    from artvc.errors import UnsafePathError
    from artvc.pipeline import runcache

    tree = Tree.build([_link("y", ".."), _link("z", "y/../..")])
    with ws.repo() as repo:
        with repo.store.writer() as w:
            w.put(tree.oid, Kind.TREE, tree.to_bytes())
        with pytest.raises(UnsafePathError):
            runcache.restore(repo, {"path": "out", "oid": str(tree.oid), "kind": "dir", "size": 0})
    assert not os.path.lexists(ws.root / "out/z")


# -- item 16 (part): reserved names in any letter case ----------------------------------------------------------


@pytest.mark.parametrize("name", [".GIT", ".Git", ".ART", ".git.", ".g\u200cit"])
def test_reserved_names_are_refused_in_any_case(ws, name):
    from artvc.errors import UnsafePathError
    from artvc.workspace.paths import check_name, check_relpath

    with pytest.raises(UnsafePathError):
        check_name(name)
    with pytest.raises(UnsafePathError):
        check_relpath(f"sub/{name}/hooks")
    file_entry = TreeEntry("post-checkout", "file", hash_bytes(b"x"), 1)
    sub = Tree.build([file_entry])
    with ws.repo() as repo, repo.store.writer() as w:
        w.put(sub.oid, Kind.TREE, sub.to_bytes())
    _store_tree(ws, [TreeEntry(name, "dir", sub.oid, 1)])
    ws.art("checkout", "--force", code=10)
    assert not os.path.lexists(ws.root / "data")


# -- the rest of the class: other places art writes in the workspace ------------------------------------------


def test_add_does_not_copy_an_outside_file_into_a_linked_gitignore(ws, outside):
    """A committed '.gitignore -> ~/secret' would otherwise be read and rewritten as a workspace file."""
    (outside / "secret").write_text("PRIVATE KEY\n")
    os.symlink(outside / "secret", ws.root / ".gitignore")
    ws.gen({"a.txt": "a"})
    before = snapshot(outside)
    r = ws.art("add", "a.txt", code=10)
    assert ".gitignore is a symlink that leads outside the workspace" in r.stderr
    assert os.readlink(ws.root / ".gitignore") == str(outside / "secret")
    assert not (ws.root / "a.txt.art").exists() and snapshot(outside) == before


def test_add_does_not_replace_a_pointer_linking_outside(ws, outside):
    ws.gen({"b.txt": "b", "a.txt": "a"})
    ws.art("add", "b.txt")
    shutil.copy(ws.root / "b.txt.art", outside / "ptr.art")  # a valid pointer, so it is read as one
    os.symlink(outside / "ptr.art", ws.root / "a.txt.art")
    before = snapshot(outside)
    r = ws.art("add", "a.txt", code=10)
    assert "a.txt.art is a symlink that leads outside the workspace" in r.stderr
    assert snapshot(outside) == before and os.readlink(ws.root / "a.txt.art") == str(outside / "ptr.art")


def test_repro_never_moves_outputs_from_outside_the_workspace(ws, outside):
    stage_output(ws, "sub/x.bin", "x")
    shutil.rmtree(ws.root / "sub")
    os.symlink(outside / "keep", ws.root / "sub")
    (outside / "keep/x.bin").write_text("someone else's file")
    before = snapshot(outside)
    r = ws.art("repro", "--force", code=None)
    assert r.exit_code != 0 and "outside the workspace" in r.stderr
    assert snapshot(outside) == before


def test_a_users_link_leaving_the_workspace_inside_a_tracked_folder_is_a_conflict(ws, outside):
    ws.gen({"d": {"a.txt": "a"}})
    ws.art("add", "d")
    os.symlink(outside / "keep", ws.root / "d/escape")
    before = snapshot(outside)
    st = states(ws)["d"]
    assert st["state"] == "conflict" and "points outside the workspace" in st["reason"]
    ws.art("checkout", code=1)
    assert os.readlink(ws.root / "d/escape") == str(outside / "keep")
    ws.art("checkout", "--force")
    assert not os.path.lexists(ws.root / "d/escape") and snapshot(outside) == before
