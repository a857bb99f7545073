"""``art add`` of many small files as a user runs it: a fault in the middle of the jobs leaves a consistent store,
and a file changed while the folder is being stored is seen by the next status."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.faultfs import ART, art, make_repo, ok

pytestmark = pytest.mark.e2e


def _files(root: Path, n: int) -> None:
    for i in range(n):
        p = root / f"d{i % 4}" / f"f{i:05d}"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(200 + i % 3000) if i % 5 else b"same content\n")


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
    release, log = tmp_path / "release", tmp_path / "faults.log"
    env = {
        **os.environ,
        "ART_FAULT": "ingest.files-read@1:block",
        "ART_FAULT_RELEASE": str(release),
        "ART_FAULT_LOG": str(log),
    }
    proc = subprocess.Popen([*ART, "add", "data"], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (log.exists() and "ingest.files-read" in log.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        # one folder: the first job holds its first files by name, read by now (the job waits after reading)
        (repo / "data" / "f00000").write_bytes(b"changed while art was storing the folder")
        release.write_text("")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    state = json.loads(ok(art(repo, "status", "--json")).stdout)["artifacts"][0]["state"]
    assert state == "modified"
    ok(art(repo, "add", "data"))
    assert json.loads(ok(art(repo, "status", "--json")).stdout)["artifacts"][0]["state"] == "unchanged"
