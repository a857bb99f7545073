"""Killed commands leak nothing: the next command that takes the lock removes what no live process owns."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from artvc.objstore import tmpowner
from tests.builders import write_random_file
from tests.e2e.faultfs import art, make_repo, ok

pytestmark = pytest.mark.e2e
PY = shlex.quote(sys.executable)


def killed(r: subprocess.CompletedProcess) -> None:
    assert r.returncode == -9, (r.returncode, r.stderr)


def test_killed_add_leaves_a_pack_temp_that_the_next_locking_command_removes(tmp_path):
    repo = make_repo(tmp_path / "repo")
    write_random_file(repo / "big.bin", 3 << 20, seed=1)
    (repo / "small.txt").write_text("small\n")
    killed(art(repo, "add", "big.bin", env={"ART_FAULT": "store.pack-writing@3:kill"}))
    tmp = repo / ".art" / "store" / "tmp"
    left = [p.name for p in tmp.iterdir()]
    assert len(left) == 1 and left[0].startswith("pack-")
    assert tmpowner.owner(left[0]) is not None  # the temp names its (dead) owner
    live = tmp / f"pack-{tmpowner.token()}-writing.tmp"  # a live writer's temp (this test process)
    live.write_bytes(b"in progress")
    ok(art(repo, "status"))  # a command that does not write leaves them alone
    assert (tmp / left[0]).exists()
    ok(art(repo, "add", "small.txt"))
    assert sorted(p.name for p in tmp.iterdir()) == [live.name]
    ok(art(repo, "add", "big.bin"))
    ok(art(repo, "fsck"))


def test_a_reused_pid_does_not_make_a_dead_owner_alive(tmp_path):
    pid = os.getpid()
    assert tmpowner.alive(tmpowner.token())
    _, start, space = tmpowner.token().split("x")
    assert not tmpowner.alive(f"{pid}x{int(start) + 1}x{space}")  # same pid, another start: another process
    other = "0" * 8 if space != "0" * 8 else "1" * 8
    assert tmpowner.alive(f"{pid + 1}x{start}x{other}")  # another machine's or container's: not ours to judge
    child = subprocess.run(
        [sys.executable, "-c", "from artvc.objstore import tmpowner; print(tmpowner.token())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not tmpowner.alive(child.stdout.strip())


STAGE = """
[stages.make]
cmd = "{py} -c \\"import time; open('out.txt', 'w').write(str(time.time_ns()))\\""
deps = ["in.txt"]
outs = ["out.txt"]
"""


@pytest.fixture
def pipeline(tmp_path) -> Path:
    repo = make_repo(tmp_path / "repo")
    (repo / "in.txt").write_text("in\n")
    (repo / "other.txt").write_text("other\n")
    (repo / "art.toml").write_text(STAGE.format(py=PY))
    ok(art(repo, "repro"))
    return repo


def stashes(repo: Path) -> list[str]:
    tmp = repo / ".art" / "tmp"
    return sorted(p.name for p in tmp.glob("stash-*")) if tmp.is_dir() else []


def test_repro_killed_while_its_stage_runs_gets_its_previous_outputs_back(pipeline):
    repo = pipeline
    before = (repo / "out.txt").read_text()
    killed(art(repo, "repro", "--force", env={"ART_FAULT": "repro.outputs-stashed:kill"}))
    assert not (repo / "out.txt").exists() and len(stashes(repo)) == 1
    r = ok(art(repo, "add", "other.txt"))  # any command that takes the lock settles the stash
    assert "art: note: put back out.txt" in r.stderr
    assert (repo / "out.txt").read_text() == before
    assert stashes(repo) == []
    assert "unchanged" in ok(art(repo, "status")).stdout


def test_repro_killed_after_its_stage_wrote_new_outputs_keeps_them(pipeline):
    repo = pipeline
    before = (repo / "out.txt").read_text()
    killed(art(repo, "repro", "--force", env={"ART_FAULT": "repro.stage-finished:kill"}))
    new = (repo / "out.txt").read_text()
    assert new != before and len(stashes(repo)) == 1
    r = ok(art(repo, "fsck"))
    assert "put back" not in r.stderr
    assert (repo / "out.txt").read_text() == new  # the workspace's newer output is kept
    assert stashes(repo) == []


def test_killed_checkout_temps_are_removed_by_the_next_locking_command(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "d").mkdir()
    write_random_file(repo / "d" / "a.bin", 1 << 20, seed=4)
    write_random_file(repo / "d" / "b.bin", 1 << 20, seed=5)
    write_random_file(repo / "f.bin", 1 << 20, seed=6)
    (repo / "other.txt").write_text("other\n")
    ok(art(repo, "add", "d", "f.bin"))
    shutil.rmtree(repo / "d")
    (repo / "f.bin").unlink()
    killed(art(repo, "checkout", env={"ART_FAULT": "materialize.file-writing@2:kill"}))
    temps = [p.name for p in repo.iterdir() if p.name.endswith(("art-tmp", "art-tmp-dir"))]
    assert temps  # the killed checkout's staging folder or temp file
    ok(art(repo, "add", "other.txt"))  # not a checkout of those paths: the journal finds them
    assert not [p.name for p in repo.iterdir() if p.name.endswith(("art-tmp", "art-tmp-dir"))]
    assert not list((repo / ".art" / "tmp").glob("owned-*"))
    ok(art(repo, "checkout"))


def test_the_next_repro_puts_a_killed_repros_outputs_back_before_it_plans(pipeline):
    repo = pipeline
    before = (repo / "out.txt").read_text()
    killed(art(repo, "repro", "--force", env={"ART_FAULT": "repro.outputs-stashed:kill"}))
    assert not (repo / "out.txt").exists()
    r = ok(art(repo, "repro"))
    assert "put back out.txt" in r.stderr
    assert (repo / "out.txt").read_text() == before  # up to date again: the stage did not have to run
    assert stashes(repo) == []


def test_killed_atomic_write_leaves_an_owned_temp_that_the_next_command_removes(tmp_path):
    """A config write killed between writing its temp and renaming it: the old config stays whole and the
    temp (named after its dead owner) is gone after the next locking command."""
    repo = make_repo(tmp_path / "repo")
    before = (repo / ".art" / "config").read_bytes()
    killed(art(repo, "remote", "add", "origin", str(tmp_path / "r"), env={"ART_FAULT": "atomic-write.written:kill"}))
    assert (repo / ".art" / "config").read_bytes() == before
    left = [p.name for p in (repo / ".art").iterdir() if p.name.endswith(".art-tmp")]
    assert len(left) == 1 and tmpowner.owner(left[0]) is not None, left
    ok(art(repo, "remote", "add", "origin", str(tmp_path / "r")))
    assert not [p.name for p in (repo / ".art").iterdir() if p.name.endswith(".art-tmp")]
    assert b"origin" in (repo / ".art" / "config").read_bytes()
