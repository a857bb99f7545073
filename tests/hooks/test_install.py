import json
import os

import pytest

from artvc.hooks.framework import BEGIN, add_to_config, remove_from_config
from artvc.hooks.install import CHAINED_SUFFIX, MARKER, install, uninstall
from artvc.hooks.pre_push import commits_to_push, parse_updates


def test_install_respects_core_hooks_path(ws):
    ws.git("config", "core.hooksPath", "githooks")
    r = json.loads(ws.art("install", "--hook", "pre-commit", "--json").stdout)
    assert r["installed"] == ["pre-commit"]
    assert MARKER in (ws.root / "githooks/pre-commit").read_text()
    assert not (ws.root / ".git/hooks/pre-commit").exists()
    assert os.access(ws.root / "githooks/pre-commit", os.X_OK)


def test_install_in_a_worktree_uses_the_shared_hooks_directory(ws, tmp_path):
    ws.git("commit", "-qm", "init", "--allow-empty")
    wt = tmp_path / "wt"
    ws.git("worktree", "add", "-q", str(wt))
    result = install(wt, ["pre-push"])
    assert result.hooks_dir == str((ws.root / ".git/hooks").resolve())
    assert MARKER in (ws.root / ".git/hooks/pre-push").read_text()


def test_install_is_idempotent_and_uninstall_only_removes_ours(ws):
    hooks = ws.root / ".git/hooks"
    (hooks / "post-checkout").write_text("#!/bin/sh\necho theirs\n")
    first = install(ws.root)
    assert first.chained == ["post-checkout"] and sorted(first.installed) == ["post-checkout", "pre-commit", "pre-push"]
    second = install(ws.root)
    assert second.installed == [] and len(second.unchanged) == 3
    assert (hooks / f"post-checkout{CHAINED_SUFFIX}").read_text() == "#!/bin/sh\necho theirs\n"
    (hooks / "pre-push").write_text("#!/bin/sh\necho replaced by the user\n")
    gone = uninstall(ws.root)
    assert gone.foreign == ["pre-push"] and "pre-push" not in gone.removed
    assert (hooks / "pre-push").read_text() == "#!/bin/sh\necho replaced by the user\n"
    assert (hooks / "post-checkout").read_text() == "#!/bin/sh\necho theirs\n"
    assert not (hooks / "pre-commit").exists()


def test_install_refuses_when_a_foreign_hook_and_a_saved_one_both_exist(ws):
    hooks = ws.root / ".git/hooks"
    (hooks / "pre-commit").write_text("#!/bin/sh\n")
    (hooks / f"pre-commit{CHAINED_SUFFIX}").write_text("#!/bin/sh\n")
    r = ws.art("install", "--hook", "pre-commit", code=1)
    assert "art: error: both" in r.stderr and "hint:" in r.stderr
    assert MARKER not in (hooks / "pre-commit").read_text()


def test_shim_points_at_this_interpreter_and_the_workspace_prefix(ws, tmp_path):
    import sys

    sub = ws.root / "proj"
    sub.mkdir()
    from artvc.workspace.init import init

    init(sub)
    install(sub, ["pre-commit"], prefix="proj")
    text = (ws.root / ".git/hooks/pre-commit").read_text()
    assert f"exec {sys.executable} -m artvc hook pre-commit --dir proj" in text


def test_framework_config_is_added_once_and_removed_cleanly(tmp_path):
    cfg = tmp_path / ".pre-commit-config.yaml"
    mine = "# mine\nrepos:\n  - repo: https://example.invalid/x\n    rev: v1\n    hooks:\n      - id: y\n"
    cfg.write_text(mine)
    r = add_to_config(tmp_path, repo_url="/src/art", rev="abc")
    assert r.changed
    again = add_to_config(tmp_path, repo_url="/src/art", rev="abc")
    assert not again.changed and cfg.read_text().count(BEGIN) == 1
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(cfg.read_text())
    assert [h["id"] for h in data["repos"][0]["hooks"]] == ["art-pre-commit", "art-post-checkout", "art-pre-push"]
    assert data["repos"][1]["repo"] == "https://example.invalid/x"
    assert remove_from_config(tmp_path)
    assert cfg.read_text() == mine


def test_pre_push_update_parsing_and_deletions_push_nothing(ws):
    ws.git("commit", "-qm", "a", "--allow-empty")
    ws.git("commit", "-qm", "b", "--allow-empty")
    head = ws.git("rev-parse", "HEAD").stdout.strip()
    first = ws.git("rev-parse", "HEAD~1").stdout.strip()
    zero = "0" * 40
    updates = parse_updates(f"refs/heads/main {head} refs/heads/main {first}\n")
    assert commits_to_push(ws.root, "origin", updates) == ([head], 0)
    new_branch = parse_updates(f"refs/heads/main {head} refs/heads/main {zero}\n")
    revs, _ = commits_to_push(ws.root, "origin", new_branch)
    assert revs == [head, first]
    deletion = parse_updates(f"(delete) {zero} refs/heads/gone {head}\n")
    assert commits_to_push(ws.root, "origin", deletion) == ([], 0)


def test_pre_commit_blocks_stale_stages_only_when_strict(ws):
    from artvc.hooks.run import run_hook
    from tests.pipeline.helpers import ml_pipeline

    ml_pipeline(ws)
    ws.art("repro")
    assert run_hook("pre-commit", [], cwd=ws.root, env={}, strict=True).code == 0
    (ws.root / "params.toml").write_text("[train]\nC = 2.0\nseed = 7\n")
    assert run_hook("pre-commit", [], cwd=ws.root, env={}).code == 0
    blocked = run_hook("pre-commit", [], cwd=ws.root, env={}, strict=True)
    assert blocked.code == 1 and any("stale: trainer" in m for m in blocked.messages)
    assert any("art repro" in m for m in blocked.messages)
    with ws.repo() as repo:
        repo.config.update(lambda d: d.setdefault("core", {}).update(strict_pipeline=True))
    assert run_hook("pre-commit", [], cwd=ws.root, env={}).code == 1


def test_install_warns_when_art_on_path_is_another_program(ws, tmp_path, monkeypatch):
    other = tmp_path / "ascii-art-bin"
    other.mkdir()
    (other / "art").write_text("#!/bin/sh\n# the ASCII-art package's command: exits 0 for anything\nexit 0\n")
    (other / "art").chmod(0o755)
    monkeypatch.setenv("PATH", f"{other}{os.pathsep}{os.environ['PATH']}")
    r = ws.art("install", "--hook", "pre-commit")
    assert "art: warning: the 'art' on PATH" in r.stderr and str(other / "art") in r.stderr
    assert "artvc" in r.stderr


def test_install_is_quiet_about_path_when_art_is_ours(ws, monkeypatch):
    import sys
    from pathlib import Path

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert "warning" not in ws.art("install", "--hook", "pre-commit").stderr


def test_artvc_is_the_same_command_and_framework_hooks_call_it():
    import subprocess
    import sys
    from pathlib import Path

    artvc = Path(sys.executable).with_name("artvc")
    r = subprocess.run([str(artvc), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip()
    hooks = (Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text()
    entries = [ln.split(":", 1)[1].strip() for ln in hooks.splitlines() if ln.strip().startswith("entry:")]
    assert len(entries) == 3 and all(e.startswith("artvc hook ") for e in entries)
