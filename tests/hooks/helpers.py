"""Run the installed ``art`` and real git as subprocesses (the hooks are only proven by git firing them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ART = str(Path(sys.executable).with_name("art"))


def run(
    cwd: Path, *args: str, code: int | None = 0, stdin: str | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, input=stdin, env=full_env)
    if code is not None:
        assert proc.returncode == code, (args, proc.returncode, proc.stdout, proc.stderr)
    return proc


def art(cwd: Path, *args: str, code: int | None = 0, **kw) -> subprocess.CompletedProcess:
    return run(cwd, ART, *args, code=code, **kw)


def git(cwd: Path, *args: str, code: int | None = 0, **kw) -> subprocess.CompletedProcess:
    return run(cwd, "git", *args, code=code, **kw)


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    art(path, "init", "-q")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "init", "--no-verify")
    return path


def add_commit(path: Path, files: dict[str, bytes | str], message: str) -> None:
    for name, data in files.items():
        p = path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    art(path, "add", "-q", *files)
    git(path, "add", "-A")
    git(path, "commit", "-qm", message)


def user_hook(path: Path, name: str, body: str) -> Path:
    hook = Path(git(path, "rev-parse", "--git-path", "hooks").stdout.strip())
    hook = (path / hook / name) if not hook.is_absolute() else hook / name
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\n" + body + "\n")
    hook.chmod(0o755)
    return hook
