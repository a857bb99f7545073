"""Partial pull and checkout: files and globs inside a tracked folder (issue 13, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import random_bytes
from tests.conftest import Workspace
from tests.remote.conftest import assert_error, clone

N = 2000
BIG = 400_000  # several chunks


@pytest.fixture
def images(ws: Workspace, tmp_path: Path) -> tuple[Workspace, Workspace]:
    """A workspace whose data/images holds 2,000 files (one of them multi-chunk), pushed; and a clone of it."""
    files = {f"{i:04}.png": random_bytes(1500, i) for i in range(N)}
    files["0005.png"] = random_bytes(BIG, 99_999)
    ws.gen({"data": {"images": files}})
    ws.art("add", "data/images")
    ws.art("remote", "add", "origin", str(tmp_path / "store"), "--default")
    ws.art("push")
    return ws, clone(ws, tmp_path / "clone")


def jrun(w: Workspace, *args: str) -> dict:
    return json.loads(w.art(*args, "--json").stdout)


def state(w: Workspace) -> str:
    return jrun(w, "status")["artifacts"][0]["state"]


def test_partial_pull_of_one_file_transfers_only_its_chunks_and_the_trees(images):
    origin, other = images
    pulled = jrun(other, "pull", "data/images/0005.png")
    folder = other.root / "data" / "images"
    assert [p.name for p in folder.iterdir()] == ["0005.png"]
    assert (folder / "0005.png").read_bytes() == (origin.root / "data/images/0005.png").read_bytes()
    assert pulled["restored"] == ["data/images/0005.png"] and pulled["files_written"] == 1
    # the folder's one tree, the file's manifest and its chunks: nothing of the other 1,999 files
    with origin.repo() as repo:
        from artvc.objstore.objects import FileManifest, Kind
        from artvc.workspace.status import current_oid

        oid = current_oid(repo, "data/images/0005.png", "file")
        chunks = len(FileManifest.from_bytes(oid, repo.store.get(oid, Kind.FILE)).chunks)
    assert chunks > 1
    assert pulled["objects"] == 1 + 1 + chunks, pulled
    tree_size = 2000 * 60  # about 60 bytes an entry
    assert pulled["size"] < BIG + 2 * tree_size, pulled
    assert pulled["size"] < (BIG + (N - 1) * 1500) / 4
    assert state(other) == "partial"
    assert "partial  data/images" in other.art("status").stdout
    other.art("status", "--check")  # a partial folder is not an error


def test_partial_checkout_glob_uses_the_store_and_the_tree_cache_only(images):
    origin, other = images
    other.art("pull", "data/images/0005.png")
    folder = other.root / "data" / "images"
    # not fetched yet: refused, nothing written
    r = other.art("checkout", "data/images/001*.png", code=None)
    assert_error(r, 1, "is not in the store")
    assert [p.name for p in folder.iterdir()] == ["0005.png"]
    pulled = jrun(other, "pull", "data/images/001*.png")
    assert pulled["files_written"] == 10 and pulled["objects"] == 10  # the tree is cached: not read again
    (folder / "0005.png").unlink()
    (folder / "0010.png").unlink()
    other.art("remote", "remove", "origin")  # from here on, no remote at all
    done = jrun(other, "checkout", "data/images/0005.png", "data/images/001[0-1].png")
    assert sorted(done["restored"]) == ["data/images/0005.png", "data/images/0010.png"]
    assert done["unchanged"] == ["data/images/0011.png"]
    assert (folder / "0005.png").read_bytes() == (origin.root / "data/images/0005.png").read_bytes()
    assert state(other) == "partial"
    # a changed file is not replaced without --force
    (folder / "0011.png").write_bytes(b"mine")
    r = other.art("checkout", "data/images/0011.png", code=None)
    assert_error(r, 1, "was modified")
    assert (folder / "0011.png").read_bytes() == b"mine"
    assert state(other) == "modified"
    other.art("checkout", "data/images/0011.png", "--force")
    assert state(other) == "partial"


def test_a_pattern_matching_nothing_is_one_line(images):
    _, other = images
    r = other.art("pull", "data/images/nope*.png", code=None)
    assert_error(r, 1, "matches nothing in the tracked folder data/images")
    assert not (other.root / "data" / "images").exists()


def test_a_partial_folder_is_not_added_and_deletions_in_a_whole_one_are_modifications(images):
    origin, other = images
    other.art("pull", "data/images/0005.png")
    r = other.art("add", "data/images", code=None)
    assert_error(r, 1, "is checked out in part")
    assert (other.root / "data/images.art").read_text() == (origin.root / "data/images.art").read_text()
    # in the origin the folder was whole: deleting files is a change to record, not a partial checkout
    (origin.root / "data/images/0007.png").unlink()
    assert state(origin) == "modified"
    origin.art("add", "data/images")


def test_a_glob_naming_whole_artifacts_selects_them(ws, tmp_path):
    ws.gen({"models": {"a.bin": random_bytes(2000, 1), "b.bin": random_bytes(2000, 2), "c.txt": "c"}})
    ws.art("add", "models/a.bin", "models/b.bin", "models/c.txt")
    ws.art("remote", "add", "origin", str(tmp_path / "store"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    pulled = jrun(other, "pull", "models/*.bin")
    assert sorted(pulled["restored"]) == ["models/a.bin", "models/b.bin"]
    assert not (other.root / "models" / "c.txt").exists()
    (other.root / "models" / "a.bin").unlink()
    assert jrun(other, "checkout", "models/*.bin")["restored"] == ["models/a.bin"]
