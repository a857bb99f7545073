"""``art add`` of many small files as a user runs it: a fault in the middle of the jobs leaves a consistent store,
and a file changed while the folder is being stored is seen by the next status."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.faultfs import art, make_repo, ok
from tests.held import run_held

pytestmark = pytest.mark.e2e


def _files(root: Path, n: int) -> None:
    for i in range(n):
        p = root / f"d{i % 4}" / f"f{i:05d}"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(200 + i % 3000) if i % 5 else b"same content\n")


@pytest.mark.long
def test_a_full_disk_in_the_middle_of_the_jobs_stores_nothing_half_and_the_next_add_completes(tmp_path):
    repo = make_repo(tmp_path / "repo")
    _files(repo / "data", 2000)
    r = art(repo, "add", "data", env={"ART_FAULT": "store.pack-writing@700:enospc"})
    assert r.returncode == 13, r.stderr
    assert r.stderr.startswith("art: error: ") and "no space left on device" in r.stderr
    assert not (repo / "data.art").exists()
    assert list((repo / ".art" / "store" / "tmp").iterdir()) == []
    ok(art(repo, "fsck"))
    ok(art(repo, "add", "data"))
    assert json.loads(ok(art(repo, "status", "--json")).stdout)["artifacts"][0]["state"] == "unchanged"
    ok(art(repo, "fsck"))


def test_a_file_changed_after_it_was_read_shows_as_modified(tmp_path):
    """The folder's fingerprint is taken from the stat data seen before each file was read: a change after
    the read makes the folder differ from it, so status hashes again instead of trusting the recorded tree."""
    repo = make_repo(tmp_path / "repo")
    (repo / "data").mkdir()
    for i in range(1200):
        (repo / "data" / f"f{i:05d}").write_bytes(os.urandom(100 + i))

    def change() -> None:  # one folder: the first job holds its first files by name, read by now (it waits after)
        (repo / "data" / "f00000").write_bytes(b"changed while art was storing the folder")

    r = run_held(["add", "data"], repo, tmp_path, "ingest.files-read@1:block", change)
    assert r.returncode == 0, r.stderr
    state = json.loads(ok(art(repo, "status", "--json")).stdout)["artifacts"][0]["state"]
    assert state == "modified"
    ok(art(repo, "add", "data"))
    assert json.loads(ok(art(repo, "status", "--json")).stdout)["artifacts"][0]["state"] == "unchanged"
