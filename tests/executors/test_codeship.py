"""The code tree a distributed stage runs (artvc/pipeline/executors/codeship.py): exactly the files git would
commit now, as they are in the work tree; unchanged files are not read again."""

from __future__ import annotations

import os

import pytest

from artvc.objstore.tree import walk
from artvc.pipeline.executors.codeship import NoGitError, build, code_files
from artvc.pipeline.spec import load
from artvc.workspace import Repo

TOML = """
[stages.train]
cmd = "python src/a.py"
deps = ["data/raw.csv"]
outs = ["model.txt", "out"]
"""


def _tree(repo: Repo, oid) -> dict[str, bytes]:
    out = {}
    for e in walk(repo.store, oid):
        if e.entry.kind == "symlink":
            out[e.path] = ("->" + (e.entry.target or "")).encode()
        else:
            out[e.path] = b"".join(repo.store.iter_file(e.entry.oid, e.entry.size))
    return out


def test_the_tree_is_what_git_would_commit_dirty_included(ws):
    ws.gen({"src": {"a.py": "print(1)\n", "b.py": "x = 2\n"}, "art.toml": TOML, ".gitignore": "*.log\n"})
    ws.gen({"data": {"raw.csv": "a,1\n"}})
    ws.art("add", "data/raw.csv")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "code")
    ws.gen({"src": {"a.py": "print('dirty')\n", "new.py": "new = 1\n"}, "scratch.log": "ignored\n"})
    ws.gen({"model.txt": "an old output\n", "out": {"x": "y"}})  # stage outs: never code
    os.symlink("src/b.py", ws.root / "link.py")
    os.symlink("/etc/passwd", ws.root / "outside.py")  # would leave the workspace on a worker: left out
    (ws.root / "src" / "b.py").unlink()  # deleted in the work tree: not committed by 'git add -A'
    os.chmod(ws.root / "src" / "new.py", 0o755)
    repo = Repo(ws.root)
    tree = build(repo, load(ws.root, check_deps=False))
    files = _tree(repo, tree.oid)
    assert sorted(files) == [
        ".gitignore",
        "art.toml",
        "data/.gitignore",
        "data/raw.csv.art",
        "link.py",
        "src/a.py",
        "src/new.py",
    ]
    assert files["link.py"] == b"->src/b.py" and files["art.toml"] == TOML.encode()
    assert "scratch.log" not in files and "data/raw.csv" not in files and "model.txt" not in files
    assert not any(p.startswith(("out/", ".art/tmp", ".git/")) for p in files)
    assert files["src/a.py"] == b"print('dirty')\n"
    entries = {e.path: e.entry for e in walk(repo.store, tree.oid)}
    assert entries["src/new.py"].executable and not entries["src/a.py"].executable
    assert tree.files == len(files)


def test_unchanged_files_are_not_read_again(ws):
    ws.gen({"src": {f"m{i}.py": f"v = {i}\n" for i in range(20)}, "art.toml": TOML})
    ws.git("add", "-A")
    ws.git("commit", "-qm", "code")
    for p in [*(ws.root / "src").iterdir(), ws.root / "art.toml"]:  # not "racily clean": the stat cache trusts them
        os.utime(p, (1_700_000_000, 1_700_000_000))
    repo = Repo(ws.root)
    first = build(repo, None)
    assert first.hashed == first.files == 21
    again = build(Repo(ws.root), None)
    assert again.oid == first.oid and again.hashed == 0
    (ws.root / "src" / "m3.py").write_text("v = 'changed'\n")
    os.utime(ws.root / "src" / "m3.py", (1_700_000_100, 1_700_000_100))
    changed = build(Repo(ws.root), None)
    assert changed.hashed == 1 and changed.oid != first.oid


def test_without_git_the_distributed_executor_refuses(tmp_path):
    from click.testing import CliRunner

    from artvc.commands import cli

    root = tmp_path / "nogit"
    root.mkdir()
    os.chdir(root)
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--no-git"]).exit_code == 0
    (root / "art.toml").write_text('[stages.a]\ncmd = "echo hi > a.txt"\nouts = ["a.txt"]\n')
    with pytest.raises(NoGitError):
        code_files(Repo(root), None)
    r = runner.invoke(cli, ["repro", "--executor", "dask", "--local-cluster", "1"])
    assert r.exit_code == 1
    assert "art: error: --executor dask needs a git repository" in r.stderr
    assert "hint:" in r.stderr and not (root / "a.txt").exists()
