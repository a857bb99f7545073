"""``art fsck`` and ``art gc`` over a store whose one folder holds many files: their memory grows by the tree's
encoding, not by a decoded entry per file. Measured at a million files of 16-64 bytes before this was fixed:
fsck peaked at 697 MB, ``gc --dry-run`` at 793 MB (each decoded the folder's tree whole, fsck twice); after it,
88 MB and 106 MB."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.test_memory import _peak_per_file, _repo_with_files


@pytest.fixture
def streamed(monkeypatch):
    """Every tree over 1,000 entries takes the streamed path a folder of a million files takes, and the index is
    read 500 rows at a time, a tree's files are looked up 500 at a time and packs hold 1,000 objects.
    (``iter_objects``' pages of 10,000 rows, the batches of 4,096 files and a pack's entries, at most 16,384,
    are bounded transients that a slope measured below those sizes would count as growth.)"""
    from artvc.objstore import objects, reachability
    from artvc.objstore.store import local, local_writer

    monkeypatch.setattr(objects, "DECODED_MAX", 1000)
    monkeypatch.setattr(local, "_PAGE", 500)
    monkeypatch.setattr(reachability, "_FILES_AT_ONCE", 500)
    monkeypatch.setattr(local_writer, "PACK_MAX_OBJECTS", 1000)


def _added(tmp_path: Path, n: int) -> Path:
    from artvc.workspace import Repo
    from artvc.workspace.add import add

    root = _repo_with_files(tmp_path / f"s{n}", n, n)
    add(Repo(root), ["data"], jobs=1)  # in this process: with the packs of 1,000 objects
    shutil.rmtree(root / "data")  # fsck and gc read the store and the pointer, not the files
    return root


def _fsck_ok(result) -> bool:
    # every file's chunk, the folder's tree, the add's run record and the package list it names, verified
    return not result.problems and result.artifacts == 1 and result.objects in (2000 + 3, 10000 + 3)


def _gc_ok(result) -> bool:
    return result.removed == [] and result.live in (2000 + 3, 10000 + 3)  # as fsck counts them


@pytest.mark.slow
@pytest.mark.parametrize("command", ["fsck", "gc"])
def test_fsck_and_gc_of_one_large_folder_hold_little_per_file(tmp_path, streamed, command):
    """About 400 (fsck) and 440 (gc) bytes a file before: the folder's tree decoded whole."""
    from artvc.workspace import Repo
    from artvc.workspace.fsck import fsck
    from artvc.workspace.gc import gc

    run, ok = {"fsck": (fsck, _fsck_ok), "gc": (lambda r: gc(r, dry_run=True), _gc_ok)}[command]
    results = []
    per_file = _peak_per_file(lambda n: _added(tmp_path, n), lambda root: results.append(run(Repo(root))), 2000, 10000)
    assert len(results) == 2 and all(ok(r) for r in results), results
    assert per_file < 150, f"{command}: {per_file:.0f} bytes of Python memory per file"


@pytest.mark.slow
def test_du_of_one_large_folder_holds_little_per_file(tmp_path, streamed):
    from artvc.workspace import Repo
    from artvc.workspace.du import du

    results = []

    def measure(root: Path) -> None:
        results.append(du(Repo(root)))

    per_file = _peak_per_file(lambda n: _added(tmp_path, n), measure, 2000, 10000)
    usage = results[-1]
    assert usage.artifacts[0].files == 10000 and usage.artifacts[0].objects == 10000 + 2  # chunks, 2 trees
    assert usage.total.unique == usage.artifacts[0].logical and usage.total.missing == 0
    assert per_file < 150, f"du: {per_file:.0f} bytes of Python memory per file"


@pytest.mark.slow
def test_a_diff_of_two_versions_of_one_large_folder_holds_little_per_file(tmp_path, streamed):
    """``tree.diff`` merges the two trees' entries in name order, streamed, where it built a dict of each
    (about 700 bytes a file); ``art diff`` of a million-file folder peaked at 1,136 MB, now 187 MB (the
    workspace's tree, built in memory, and the stored one's encoding are what is left)."""
    from artvc.objstore.tree import StoreTrees, diff
    from artvc.workspace import Repo
    from artvc.workspace.add import add

    def two_versions(n: int) -> tuple[Repo, str, str]:
        root = _repo_with_files(tmp_path / f"d{n}", n, n)
        repo = Repo(root)
        first = add(repo, ["data"], jobs=1).artifacts[0].pointer.oid
        (root / "data/d0000/f0000007").write_bytes(b"changed")
        (root / "data/d0000/f0000008").unlink()
        second = add(Repo(root), ["data"], jobs=1).artifacts[0].pointer.oid
        return Repo(root), first, second

    changes = []

    def compare(made: tuple[Repo, str, str]) -> None:
        repo, first, second = made
        changes.append(list(diff(StoreTrees(repo.store), first, second)))

    per_file = _peak_per_file(two_versions, compare, 2000, 10000)
    assert [(c.path, c.change) for c in changes[-1]] == [
        ("d0000/f0000007", "modified"),
        ("d0000/f0000008", "removed"),
    ]
    assert per_file < 150, f"diff: {per_file:.0f} bytes of Python memory per file"
