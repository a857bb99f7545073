"""The post-checkout hook, fired by real ``git checkout``, never deletes unsaved work nor writes through links."""

import os
import shutil

import pytest

from tests.hooks.helpers import add_commit, art, git
from tests.workspace.test_path_safety import snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("git") is None, reason="needs git")]


def test_branch_switch_leaves_an_untracked_folder_where_a_file_artifact_belongs(repo):
    git(repo, "checkout", "-qb", "art-results")
    add_commit(repo, {"results": "the artifact"}, "results as a file artifact")
    git(repo, "checkout", "-q", "main")
    (repo / "results").unlink()  # on main, results is the user's own folder, never added
    (repo / "results").mkdir()
    (repo / "results/run.log").write_text("a long run's log\n")
    done = git(repo, "checkout", "art-results")
    assert "art: warning: left as it is: results is in the way" in done.stderr
    assert (repo / "results/run.log").read_text() == "a long run's log\n"
    assert art(repo, "status", code=None).stdout.split()[:2] == ["conflict", "results:"]
    art(repo, "checkout", code=1)
    assert (repo / "results/run.log").exists()


def test_branch_switch_to_a_commit_with_an_escaping_link_writes_nothing_outside(repo, tmp_path):
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep/precious.txt").write_text("mine\n")
    (repo / "data").mkdir()
    (repo / "data/a.txt").write_text("a")
    add_commit(repo, {"model.bin": "m1"}, "model")
    art(repo, "add", "-q", "data")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    git(repo, "checkout", "-qb", "evil")
    shutil.rmtree(repo / "data")
    os.symlink(outside / "keep", repo / "data")
    (repo / ".gitignore").write_text("/model.bin\n")  # so git records the link
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data is a link now")
    git(repo, "checkout", "-q", "main")
    assert (repo / "data/a.txt").read_text() == "a"
    before = snapshot(outside)
    done = git(repo, "checkout", "evil")
    assert os.readlink(repo / "data") == str(outside / "keep"), done.stderr
    assert "art: warning: not written: data is a symlink that leads outside the workspace" in done.stderr
    assert snapshot(outside) == before
