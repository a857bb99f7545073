"""Checkout and pull plan everything before they change anything: a missing object leaves the workspace exactly
as it was; pull walks the workspace once; one test of completeness serves status, pull and the hooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import random_bytes
from tests.conftest import Workspace

ART = [sys.executable, "-m", "artvc"]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` but .git and .art: kind, mode and bytes (or link target)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", ".art")]
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = str(p.relative_to(root))
            st = p.lstat()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", st.st_mode)
            else:
                out[rel] = ("file", st.st_mode, p.read_bytes())
    return out


def drop_packs(ws: Workspace, names: set[str]) -> None:
    """Drop packs from the store (the objects they hold are then missing)."""
    assert names
    with ws.repo() as repo:
        repo.store.drop_packs(sorted(names))


def packs(ws: Workspace) -> set[str]:
    with ws.repo() as repo:
        return set(repo.store.pack_names())


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line]


def _old_tree_lacking_one_file(ws: Workspace) -> str:
    """``d`` tracked at v1 (pointer text returned) whose file ``d/c.bin`` the store lacks, while the workspace
    holds v2 (stored): checking v1 out would delete ``d/extra``, rewrite ``d/a.bin`` and write ``d/c.bin``."""
    lone = random_bytes(5000, 30)
    ws.gen({"lone.bin": lone})
    before = packs(ws)
    ws.art("add", "lone.bin")  # c.bin's content, alone in a pack of its own
    lone_pack = packs(ws) - before
    ws.gen({"d": {"a.bin": random_bytes(4000, 31), "b.bin": random_bytes(4000, 32), "c.bin": lone}})
    ws.art("add", "d")
    v1 = (ws.root / "d.art").read_text()
    (ws.root / "d/a.bin").write_bytes(random_bytes(4000, 33))
    (ws.root / "d/c.bin").unlink()
    ws.gen({"d": {"extra": "extra file, stored in v2\n"}})
    ws.art("add", "d")
    (ws.root / "d.art").write_text(v1)  # back to v1, as a git checkout of an older commit would do
    (ws.root / "lone.bin").unlink()
    (ws.root / "lone.bin.art").unlink()
    drop_packs(ws, lone_pack)
    return v1


def test_checkout_lacking_one_object_of_a_tree_changes_nothing(ws):
    _old_tree_lacking_one_file(ws)
    ws.gen({"m.bin": random_bytes(3000, 34)})
    ws.art("add", "m.bin")
    (ws.root / "m.bin").unlink()  # another artifact to restore, planned before d
    before = snapshot(ws.root)
    result = ws.art("checkout", code=1)
    assert snapshot(ws.root) == before
    lines = error_lines(result)
    assert len(lines) == 2 and lines[0].startswith("art: error: file ") and "of d is not in the local store" in lines[0]
    assert "nothing was changed" in lines[0] and lines[1].startswith("hint: ") and "art pull" in lines[1]


def test_checkout_lacking_a_file_artifact_writes_none_of_the_others(ws):
    ws.gen({"a.bin": random_bytes(3000, 40), "b": {"x": "x", "y": "y"}})
    ws.art("add", "a.bin", "b")
    ws.gen({"z.bin": random_bytes(3000, 41)})
    before_packs = packs(ws)
    ws.art("add", "z.bin")
    drop_packs(ws, packs(ws) - before_packs)
    for p in ("a.bin", "z.bin"):
        (ws.root / p).unlink()
    (ws.root / "b/x").unlink()
    before = snapshot(ws.root)
    result = ws.art("checkout", code=1)
    assert snapshot(ws.root) == before
    lines = error_lines(result)
    assert len(lines) == 2 and "of z.bin is not in the local store" in lines[0], lines
    ws.art("checkout", "a.bin", "b")  # what is stored can still be checked out on its own
    assert (ws.root / "a.bin").read_bytes() == random_bytes(3000, 40) and (ws.root / "b/x").read_text() == "x"


def test_pull_leaves_a_stored_tree_lacking_a_file_exactly_as_it_was(ws, tmp_path):
    """The tree object itself is stored but one file below it is not (its pack was lost): pull asks the remote
    for it, which lacks it too, and leaves the folder exactly as it was (exit 12, one error line). Before,
    the tree alone counted as complete and the checkout deleted d/extra before it failed."""
    from tests.remote.conftest import add_remote

    _old_tree_lacking_one_file(ws)
    add_remote(ws, (tmp_path / "remote").as_uri())
    before = snapshot(ws.root)
    result = ws.art("pull", code=12)
    assert snapshot(ws.root) == before
    lines = error_lines(result)
    assert len(lines) == 2 and lines[0].startswith("art: error: ") and "neither the remote" in lines[0], lines


def test_pull_fetches_what_a_stored_tree_lacks(ws, tmp_path):
    """A lost local pack held one file of a stored tree; the remote has it: pull brings it and checks out."""
    from tests.remote.conftest import add_remote

    lone = random_bytes(5000, 70)
    ws.gen({"lone.bin": lone})
    before = packs(ws)
    ws.art("add", "lone.bin")
    lone_pack = packs(ws) - before
    ws.gen({"d": {"a.bin": random_bytes(4000, 71), "c.bin": lone}})
    ws.art("add", "d")
    add_remote(ws, (tmp_path / "remote").as_uri())
    ws.art("push")
    drop_packs(ws, lone_pack)
    for p in ("d/c.bin", "lone.bin", "lone.bin.art"):  # d alone names the lost object now
        (ws.root / p).unlink()
    ws.art("pull")
    assert (ws.root / "d/c.bin").read_bytes() == lone


def walks(ws: Workspace, tmp_path: Path, *args: str, code: int = 0) -> int:
    """Run art in a process of its own and count the walks of the workspace for pointer files it made."""
    log = tmp_path / f"faults-{len(list(tmp_path.glob('faults-*')))}.log"
    env = {**os.environ, "ART_FAULT_LOG": str(log)}
    r = subprocess.run([*ART, *args], cwd=ws.root, env=env, capture_output=True, text=True)
    assert r.returncode == code, r.stderr
    return log.read_text().splitlines().count("workspace.pointers-walked") if log.exists() else 0


@pytest.mark.parametrize("lacking", [False, True], ids=["complete", "lacking"])
def test_pull_walks_the_workspace_once(ws, tmp_path, lacking):
    from tests.remote.conftest import add_remote

    ws.gen({"a.bin": random_bytes(3000, 50), "d": {"x": "1", "y": "2"}})
    ws.art("add", "a.bin", "d")
    add_remote(ws, (tmp_path / "remote").as_uri())
    ws.art("push")
    if lacking:  # fetch reports what it could not find, and pull checks completeness before its checkout
        ws.gen({"new.bin": "not pushed"})
        before = packs(ws)
        ws.art("add", "new.bin")
        drop_packs(ws, packs(ws) - before)
    (ws.root / "a.bin").unlink()
    assert walks(ws, tmp_path, "pull", code=12 if lacking else 0) == 1
    assert walks(ws, tmp_path, "checkout") == 1
    assert (ws.root / "a.bin").read_bytes() == random_bytes(3000, 50)


def test_a_killed_apply_is_finished_by_the_next_checkout(ws):
    """The plan is complete before the first change (fault point checkout.planned): a kill there changes nothing."""
    ws.gen({"d": {f"f{i}": random_bytes(1000, 60 + i) for i in range(5)}})
    ws.art("add", "d")
    (ws.root / "d/f1").unlink()
    (ws.root / "d/f2").write_bytes(b"unsaved? no: --force")
    before = snapshot(ws.root)
    env = {**os.environ, "ART_FAULT": "checkout.planned"}
    r = subprocess.run([*ART, "checkout", "--force"], cwd=ws.root, env=env, capture_output=True)
    assert r.returncode == -9
    assert snapshot(ws.root) == before
    ws.art("checkout", "--force")
    assert (ws.root / "d/f1").read_bytes() == random_bytes(1000, 61)
    assert (ws.root / "d/f2").read_bytes() == random_bytes(1000, 62)


def test_the_plan_is_pure_and_names_what_it_would_do(ws):
    import shutil

    from artvc.workspace.checkout_plan import Op, plan_checkout

    ws.gen({"d": {"keep": "k", "gone": "g", "sub": {"deep": "d"}}, "f.bin": "f", "x.bin": "stored elsewhere"})
    ws.art("add", "d", "f.bin", "x.bin")
    (ws.root / "d/gone").unlink()
    (ws.root / "d/extra").write_text("stored elsewhere")  # its content is stored: checkout may delete it
    shutil.rmtree(ws.root / "d/sub")
    before = snapshot(ws.root)
    with ws.repo() as repo:
        plan = plan_checkout(repo)
    assert snapshot(ws.root) == before
    assert plan.unchanged == ["f.bin", "x.bin"] and not plan.blocked
    [d] = plan.todo
    assert d.path == "d" and not d.fresh
    assert d.steps == [(Op.UNLINK, "extra", None), (Op.MKDIR, "sub", None)]
    assert [rel for rel, _ in d.writes] == ["gone"] and plan.files == 2
    # a folder the checkout creates is planned by its tree (its files listed only when written: flat memory)
    assert [rel for rel, _ in d.folders] == ["sub"] and (d.folder_files, d.folder_bytes) == (1, 1)
    ws.art("checkout")
    assert sorted(p.name for p in (ws.root / "d").iterdir()) == ["gone", "keep", "sub"]


def test_a_root_found_complete_is_not_walked_again_until_the_store_loses_objects(ws):
    """The completeness memo (objstore/store/local_complete.py): a walk's answer is kept, and every way objects
    leave the index (a dropped pack, a quarantined object) forgets it, even for a walk already under way."""
    from artvc.objstore.objects import Kind
    from artvc.objstore.store.local_check import quarantine
    from artvc.objstore.types import ObjectKey
    from artvc.workspace.tracked import incomplete_keys

    lone = random_bytes(5000, 40)
    ws.gen({"lone.bin": lone})
    before = packs(ws)
    ws.art("add", "lone.bin")
    lone_pack = packs(ws) - before
    ws.gen({"d": {"a.bin": random_bytes(4000, 41), "c.bin": lone}})
    ws.art("add", "d")
    with ws.repo() as repo:
        tree = next(ObjectKey(p.oid, Kind.TREE) for path, p, _ in repo.artifacts() if path == "d")
        store = repo.store
        assert store.known_complete([tree]) == set()  # add does not claim completeness
        assert incomplete_keys(store, [tree]) == set()
        assert store.known_complete([tree]) == {tree}
        stale = store.complete_generation()
        store.drop_packs(sorted(lone_pack))  # c.bin's only copy goes
        assert store.known_complete([tree]) == set()
        store.remember_complete([tree], stale)  # a walk that began before the loss records nothing
        assert store.known_complete([tree]) == set()
        assert incomplete_keys(store, [tree]) == {tree}
    ws.gen({"lone.bin": lone})
    ws.art("add", "lone.bin")  # stored again
    with ws.repo() as repo:
        store = repo.store
        assert incomplete_keys(store, [tree]) == set() and store.known_complete([tree]) == {tree}
        entry = next(e for e in store.get_tree(tree.oid).entries if e.name == "c.bin")
        chunk = ObjectKey(entry.oid, Kind.CHUNK)  # a one-chunk file is stored as its chunk
        assert quarantine(store, {chunk: "damaged in a test"}) == 1
        assert store.known_complete([tree]) == set()
        assert incomplete_keys(store, [tree]) == {tree}


def test_add_asks_only_the_pointers_around_its_paths(ws, tmp_path):
    """A first add of a folder does not walk the workspace for pointer files (that walk lists every entry of the
    new folder); the checks that need pointers still see the ones above and at the paths, and art.lock's outputs."""
    ws.gen({"big": {f"f{i}": str(i) for i in range(50)}, "t": {"a": "1"}})
    assert walks(ws, tmp_path, "add", "big") == 0
    assert (ws.root / "big.art").exists()
    ws.art("add", "t")
    r = ws.art("add", "t/a", code=1)
    assert "inside the tracked directory t" in r.stderr
