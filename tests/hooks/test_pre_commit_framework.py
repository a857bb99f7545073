import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.hooks.helpers import add_commit, art, git, new_repo, run

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("git") is None, reason="needs git")]

ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = str(Path(sys.executable).with_name("pre-commit"))


@pytest.fixture
def framework_repo(tmp_path, monkeypatch):
    hooks_repo = tmp_path / "art-src"
    hooks_repo.mkdir()
    git(hooks_repo, "init", "-q")
    for name in (".pre-commit-hooks.yaml", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, hooks_repo / name)
    git(hooks_repo, "add", "-A")
    git(hooks_repo, "commit", "-qm", "art hooks")
    rev = git(hooks_repo, "rev-parse", "HEAD").stdout.strip()
    # the hooks run the art of this environment (language: system), found on PATH like a user's install
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-cache"))
    path = new_repo(tmp_path / "repo")
    art(path, "install", "--pre-commit-framework", "--repo", str(hooks_repo), "--rev", rev)
    config = (path / ".pre-commit-config.yaml").read_text()
    assert "art-pre-commit" in config and rev in config
    run(
        path,
        PRE_COMMIT,
        "install",
        "--hook-type",
        "pre-commit",
        "--hook-type",
        "post-checkout",
        "--hook-type",
        "pre-push",
    )
    git(path, "add", ".pre-commit-config.yaml")
    git(path, "commit", "-qm", "pre-commit config")
    return path


@pytest.mark.long
def test_framework_pre_commit_blocks_and_allows_like_the_native_hook(framework_repo):
    repo = framework_repo
    assert (
        "pre-commit.com" in (repo / ".git/hooks/pre-commit").read_text()
        or "pre_commit" in (repo / ".git/hooks/pre-commit").read_text()
    )
    add_commit(repo, {"data.csv": "a\n1\n"}, "data v1")
    (repo / "data.csv").write_text("a\n2\n")
    (repo / "code.py").write_text("x = 1\n")
    git(repo, "add", "code.py")
    refused = git(repo, "commit", "-qm", "code", code=1)
    out = refused.stdout + refused.stderr
    assert "modified: data.csv" in out and "art add data.csv" in out
    git(repo, "commit", "-qm", "bypass", "--no-verify")
    art(repo, "add", "-q", "data.csv")
    git(repo, "add", "data.csv.art")
    git(repo, "commit", "-qm", "data v2")
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "data v2"


@pytest.mark.slow
def test_framework_post_checkout_follows_branches_not_files(framework_repo):
    repo = framework_repo
    add_commit(repo, {"model.bin": b"main" * 3000}, "main model")
    git(repo, "checkout", "-qb", "other")
    add_commit(repo, {"model.bin": b"other" * 3000}, "other model")
    git(repo, "checkout", "-q", "main")
    assert (repo / "model.bin").read_bytes() == b"main" * 3000
    (repo / "model.bin").unlink()
    git(repo, "checkout", "--", "model.bin.art")  # a file checkout: art does not run
    assert not (repo / "model.bin").exists()
    git(repo, "checkout", "-q", "other")
    assert (repo / "model.bin").read_bytes() == b"other" * 3000


@pytest.mark.long
def test_framework_pre_push_pushes_artifacts_and_fails_when_art_push_fails(framework_repo, tmp_path):
    repo = framework_repo
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    art(repo, "remote", "add", "broken", str(blocker / "sub"), "--default")
    add_commit(repo, {"data.bin": b"pushed through pre-commit" * 1000}, "data")
    failed = git(repo, "push", "-q", "origin", "main", code=None)
    assert failed.returncode != 0 and "pushing artifacts failed" in failed.stdout + failed.stderr
    assert git(bare, "branch", "--list").stdout.strip() == ""

    art(repo, "remote", "add", "storage", str(tmp_path / "store"), "--default")
    git(repo, "commit", "-qam", "default remote", "--no-verify")
    git(repo, "push", "-q", "origin", "main")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    art(clone, "pull")
    assert (clone / "data.bin").read_bytes() == b"pushed through pre-commit" * 1000
