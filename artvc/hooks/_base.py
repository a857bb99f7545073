"""What every hook handler shares: its result, finding the workspace, asking git (hooks may run git)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ArtError
from ..workspace.repo import Repo

ZERO_SHA = "0" * 40


def count(n: int, noun: str, verb: str = "") -> str:
    """``1 artifact``, ``2 artifacts``; with ``verb`` ("is"/"was"), the verb agreeing: ``1 artifact is``."""
    text = f"{n} {noun if n == 1 else noun + 's'}"
    plural = {"is": "are", "was": "were"}
    return f"{text} {verb if n == 1 else plural.get(verb, verb)}" if verb else text


@dataclass(slots=True)
class HookResult:
    """A hook's exit code and the lines it wants shown on stderr (``commands/hook.py`` prints them)."""

    code: int = 0
    messages: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.messages.append(line)


def find_repo(cwd: Path, prefix: str = "") -> Repo | None:
    """Return the art workspace for a hook run in ``cwd`` (git runs hooks at the work tree's top), or None."""
    try:
        return Repo.find(cwd / prefix if prefix else cwd)
    except ArtError:
        return None


def git_lines(cwd: Path, *args: str) -> list[str] | None:
    """Run git; return its stdout lines, or None when it fails."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    except OSError:
        return None
    return proc.stdout.splitlines() if proc.returncode == 0 else None


def git_bytes(cwd: Path, *args: str) -> bytes | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True)
    except OSError:
        return None
    return proc.stdout if proc.returncode == 0 else None
