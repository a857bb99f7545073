import shutil

import pytest

from tests.hooks.helpers import add_commit, art, git, new_repo, user_hook

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("git") is None, reason="needs git")]


def test_commit_with_modified_artifact_is_refused_until_added(repo):
    add_commit(repo, {"data.csv": "a,b\n1,2\n"}, "data v1")
    (repo / "data.csv").write_text("a,b\n1,3\n")
    (repo / "code.py").write_text("print(1)\n")
    git(repo, "add", "code.py")
    refused = git(repo, "commit", "-qm", "code", code=1)
    assert "art: 1 tracked artifact changed but not added:" in refused.stderr  # no "artifact(s)"
    assert "modified: data.csv" in refused.stderr
    assert "art add data.csv" in refused.stderr and "git add data.csv.art" in refused.stderr
    assert git(repo, "log", "--format=%s").stdout.split("\n")[0] == "data v1"

    git(repo, "commit", "-qm", "bypass", "--no-verify")
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "bypass"

    (repo / "code.py").write_text("print(2)\n")
    git(repo, "add", "code.py")
    git(repo, "commit", "-qm", "still refused", code=1)
    art(repo, "add", "-q", "data.csv")
    git(repo, "add", "data.csv.art", "code.py")
    git(repo, "commit", "-qm", "data v2")
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "data v2"


def test_missing_artifact_does_not_block_a_commit(repo):
    add_commit(repo, {"data.csv": "x\n"}, "data")
    (repo / "data.csv").unlink()
    (repo / "code.py").write_text("1\n")
    git(repo, "add", "code.py")
    done = git(repo, "commit", "-qm", "code")
    assert "art: note: 1 tracked artifact is not in the workspace" in done.stderr


@pytest.mark.long
def test_staged_pointer_naming_an_object_missing_from_the_store_is_refused(repo, tmp_path):
    add_commit(repo, {"data.csv": "x\n"}, "data")
    other = new_repo(tmp_path / "other")
    (other / "elsewhere.bin").write_bytes(b"only in the other store" * 100)
    art(other, "add", "-q", "elsewhere.bin")
    shutil.copy(other / "elsewhere.bin.art", repo / "elsewhere.bin.art")
    shutil.copy(other / "elsewhere.bin", repo / "elsewhere.bin")  # the data is here, its objects are not
    git(repo, "add", "elsewhere.bin.art")
    refused = git(repo, "commit", "-qm", "foreign pointer", code=1)
    assert "not in store: elsewhere.bin" in refused.stderr and "art pull" in refused.stderr
    art(repo, "add", "-q", "elsewhere.bin")
    git(repo, "commit", "-qm", "now stored")


def test_branch_checkout_materialises_that_branchs_artifacts(repo):
    add_commit(repo, {"model.bin": b"main model" * 1000, "d/a.txt": "main a"}, "main data")
    git(repo, "checkout", "-qb", "other")
    add_commit(repo, {"model.bin": b"other model" * 1000, "d/a.txt": "other a"}, "other data")
    git(repo, "checkout", "-q", "main")
    assert (repo / "model.bin").read_bytes() == b"main model" * 1000
    assert (repo / "d/a.txt").read_text() == "main a"
    done = git(repo, "checkout", "other")
    assert "art: restored 2 artifacts: " in done.stderr
    assert (repo / "model.bin").read_bytes() == b"other model" * 1000
    assert (repo / "d/a.txt").read_text() == "other a"


@pytest.mark.long
def test_file_checkout_does_not_run_art(repo):
    add_commit(repo, {"model.bin": b"m" * 5000, "notes.txt": "v1"}, "one")
    (repo / "model.bin").unlink()
    (repo / "notes.txt.art").write_text("scribble")  # a plain git file checkout restores this pointer
    git(repo, "checkout", "--", "notes.txt.art")
    assert not (repo / "model.bin").exists()
    git(repo, "checkout", "-qb", "side")  # a branch checkout (same commit) does nothing either
    assert not (repo / "model.bin").exists()
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "side")
    assert not (repo / "model.bin").exists()  # HEAD did not move
    add_commit(repo, {"x.txt": "x"}, "move")
    git(repo, "checkout", "-q", "main")
    assert (repo / "model.bin").read_bytes() == b"m" * 5000


@pytest.mark.long
def test_rebase_does_not_trigger_a_checkout(repo):
    add_commit(repo, {"model.bin": b"m" * 5000}, "model")
    git(repo, "checkout", "-qb", "feature")
    add_commit(repo, {"fdir/f.txt": "feature"}, "feature work")
    git(repo, "checkout", "-q", "main")
    add_commit(repo, {"gdir/g.txt": "main"}, "main work")
    git(repo, "checkout", "-q", "feature")
    (repo / "model.bin").unlink()
    git(repo, "rebase", "-q", "main")
    assert git(repo, "log", "--format=%s", "-3").stdout.splitlines() == ["feature work", "main work", "model"]
    assert not (repo / "model.bin").exists()
    art(repo, "checkout", "-q")
    assert (repo / "model.bin").exists()


@pytest.mark.long
def test_missing_objects_after_checkout_give_a_pull_hint_not_a_failure(repo, tmp_path):
    add_commit(repo, {"model.bin": b"main" * 1000}, "main")
    git(repo, "checkout", "-qb", "other")
    add_commit(repo, {"model.bin": b"other" * 1000}, "other")
    git(repo, "checkout", "-q", "main")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    art(clone, "install", "-q")
    done = git(clone, "checkout", "other")
    assert "art pull" in done.stderr
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "other"


@pytest.mark.long
def test_existing_user_hook_keeps_running_and_keeps_its_exit_code(tmp_path):
    path = new_repo(tmp_path / "repo")
    marker = tmp_path / "ran.txt"
    user_hook(path, "pre-commit", f'echo "$@" >> {marker}\nexit "${{FAIL:-0}}"')
    art(path, "install")
    assert (path / ".git/hooks/pre-commit.pre-art").exists()
    art(path, "install")  # idempotent: nothing moves twice
    assert "art-hook-shim" not in (path / ".git/hooks/pre-commit.pre-art").read_text()
    (path / "a.txt").write_text("a")
    git(path, "add", "a.txt")
    git(path, "commit", "-qm", "a")
    assert marker.read_text().count("\n") == 1
    (path / "b.txt").write_text("b")
    git(path, "add", "b.txt")
    git(path, "commit", "-qm", "b", code=1, env={"FAIL": "3"})
    assert marker.read_text().count("\n") == 2

    art(path, "install", "--uninstall")
    hook = (path / ".git/hooks/pre-commit").read_text()
    assert "art-hook-shim" not in hook and str(marker) in hook
    assert not (path / ".git/hooks/pre-push").exists()
    assert not (path / ".git/hooks/pre-commit.pre-art").exists()
    git(path, "commit", "-qm", "b")
    assert marker.read_text().count("\n") == 3


def test_hooks_do_nothing_outside_an_art_repository(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    git(plain, "init", "-q")
    for name, args in (
        ("pre-commit", []),
        ("post-checkout", ["a" * 40, "b" * 40, "1"]),
        ("pre-push", ["origin", "/nowhere"]),
    ):
        done = art(plain, "hook", name, *args, stdin="refs/heads/main " + "1" * 40 + " refs/heads/main " + "0" * 40)
        assert done.returncode == 0 and done.stderr == ""
    nowhere = tmp_path / "nogit"
    nowhere.mkdir()
    art(nowhere, "hook", "pre-commit")
    art(nowhere, "install", code=10)


@pytest.fixture
def shared(tmp_path, repo):
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    store = tmp_path / "art-remote"
    art(repo, "remote", "add", "storage", str(store), "--default")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "remote config", "--no-verify")
    return repo, bare, store


@pytest.mark.long
def test_git_push_pushes_artifacts_and_a_fresh_clone_can_pull_them(shared, tmp_path):
    repo, bare, store = shared
    marker = tmp_path / "stdin.txt"
    user_hook(repo, "pre-push.pre-art", f'cat > {marker}\necho "$1 $2" >> {marker}')
    add_commit(repo, {"data/big.bin": b"v1" * 50_000}, "v1")
    add_commit(repo, {"data/big.bin": b"v2" * 50_000}, "v2")
    done = git(repo, "push", "-q", "origin", "main")
    assert "pushed the artifacts of" in done.stderr
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert f"refs/heads/main {head} refs/heads/main" in marker.read_text()  # the chained hook got stdin too
    assert "origin" in marker.read_text()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    art(clone, "pull")
    assert (clone / "data/big.bin").read_bytes() == b"v2" * 50_000
    git(clone, "checkout", "-q", "HEAD~1")
    art(clone, "pull")  # the older commit's data went too (new commits between remote and local)
    assert (clone / "data/big.bin").read_bytes() == b"v1" * 50_000


@pytest.mark.long
def test_a_failing_art_push_stops_the_git_push_and_deletion_pushes_nothing(shared, tmp_path):
    repo, bare, store = shared
    add_commit(repo, {"m.bin": b"m" * 10_000}, "m")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    art(repo, "remote", "add", "broken", str(blocker / "sub"), "--default")
    failed = git(repo, "push", "-q", "origin", "main", code=None)
    assert failed.returncode != 0 and "pushing artifacts failed" in failed.stderr
    assert git(bare, "branch", "--list").stdout.strip() == ""
    art(repo, "remote", "default", "storage")
    git(repo, "push", "-q", "origin", "main")
    git(repo, "push", "-q", "origin", "main:doomed")
    before = sorted(p.name for p in store.rglob("*"))
    done = git(repo, "push", "origin", "--delete", "doomed")
    assert "pushed the artifacts" not in done.stderr
    assert sorted(p.name for p in store.rglob("*")) == before


def test_no_default_remote_is_only_a_warning(repo, tmp_path):
    bare = tmp_path / "o.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    add_commit(repo, {"m.bin": b"m"}, "m")
    done = git(repo, "push", "-q", "origin", "main")
    assert "warning: artifacts were not pushed" in done.stderr
    assert git(bare, "rev-parse", "main").stdout.strip() == git(repo, "rev-parse", "HEAD").stdout.strip()
