"""Install and remove art's git hook shims, chaining any hook that was already there.

A shim is a tiny shell script whose one working line is ``exec PYTHON -m artvc hook NAME "$@"``, with the
absolute path of the interpreter that ran ``art install`` (robust against PATH differences in GUIs and CI,
and against the unrelated ``art`` command of the ASCII-art package). A hook found in place is moved to
``NAME.pre-art``; ``art hook NAME`` runs it first (same arguments, same stdin) and keeps its exit code.
Uninstall removes only files carrying our marker and moves ``NAME.pre-art`` back.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GitError, WorkspaceError
from ..objstore.fileio import atomic_write

HOOKS = ("pre-commit", "post-checkout", "pre-push")
MARKER = "# art-hook-shim v1"
CHAINED_SUFFIX = ".pre-art"


@dataclass(frozen=True, slots=True)
class InstallResult:
    """What ``install``/``uninstall`` did, per hook name."""

    hooks_dir: str
    installed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chained: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def git_path(cwd: Path, name: str) -> Path:
    """Return ``git rev-parse --git-path NAME`` (core.hooksPath and worktrees respected), absolute.

    Raises:
        GitError: when ``cwd`` is not inside a git work tree or git is missing.
    """
    try:
        proc = subprocess.run(["git", "rev-parse", "--git-path", name], cwd=cwd, capture_output=True, text=True)
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror}", hint="install git") from exc
    if proc.returncode != 0:
        raise GitError(f"{cwd} is not inside a git repository", hint="run 'git init' first")
    return (cwd / proc.stdout.strip()).resolve()


def hooks_dir(cwd: Path) -> Path:
    """Return the hooks directory git actually uses for the repository around ``cwd``."""
    return git_path(cwd, "hooks")


def is_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return MARKER.encode() in f.read(4096)
    except (FileNotFoundError, IsADirectoryError):
        return False


def shim_text(name: str, *, python: str, prefix: str = "") -> str:
    """The shim for hook ``name``; ``prefix`` is the art workspace relative to the git work tree."""
    py = shlex.quote(python)
    where = f" --dir {shlex.quote(prefix)}" if prefix else ""
    return (
        "#!/bin/sh\n"
        f"{MARKER}: written by 'art install'; 'art install --uninstall' removes it (and restores "
        f"{name}{CHAINED_SUFFIX})\n"
        f'if [ -x {py} ]; then exec {py} -m artvc hook {name}{where} "$@"; fi\n'
        f"echo \"art: {python} is gone, the art {name} hook is skipped (run 'art install' again)\" >&2\n"
        f'if [ -x "$0{CHAINED_SUFFIX}" ]; then exec "$0{CHAINED_SUFFIX}" "$@"; fi\n'
        "exit 0\n"
    )


def foreign_art_on_path() -> str | None:
    """Return the path of the ``art`` command on PATH when it is not this tool (e.g. the ASCII-art package's
    ``art``, which exits 0 for any arguments and would make a script's ``art status --check`` pass silently)."""
    import shutil

    found = shutil.which("art")
    if found is None:
        return None
    try:
        with open(found, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    return None if b"artvc" in head else found


def _write_executable(path: Path, text: str) -> None:
    atomic_write(path, text, mode=0o755)


def install(cwd: Path, names: list[str] | None = None, *, prefix: str = "", python: str | None = None) -> InstallResult:
    """Install shims for ``names`` (default: all three) in the hooks directory git uses.

    Args:
        cwd: a directory inside the git work tree.
        names: hook names out of ``HOOKS``.
        prefix: the art workspace relative to the git work tree ("" at the top).
        python: the interpreter the shims run (default: this one).

    Raises:
        GitError: outside a git repository.
        WorkspaceError: when a foreign hook and a ``NAME.pre-art`` both exist (nothing is changed for it).
    """
    directory = hooks_dir(cwd)
    directory.mkdir(parents=True, exist_ok=True)
    result = InstallResult(str(directory))
    python = python or sys.executable
    for name in names or HOOKS:
        path = directory / name
        text = shim_text(name, python=python, prefix=prefix)
        if is_ours(path):
            if path.read_text() == text and os.access(path, os.X_OK):
                result.unchanged.append(name)
                continue
        elif os.path.lexists(path):
            saved = directory / f"{name}{CHAINED_SUFFIX}"
            if os.path.lexists(saved):
                raise WorkspaceError(
                    f"both {path} and {saved} exist; not touching {name}",
                    path=str(path),
                    hint=f"merge them by hand, then run 'art install --hook {name}' again",
                )
            os.replace(path, saved)
            result.chained.append(name)
        _write_executable(path, text)
        result.installed.append(name)
    return result


def uninstall(cwd: Path, names: list[str] | None = None) -> InstallResult:
    """Remove our shims and put back the hooks they chained; leave every other hook alone.

    Raises:
        GitError: outside a git repository.
    """
    directory = hooks_dir(cwd)
    result = InstallResult(str(directory))
    for name in names or HOOKS:
        path = directory / name
        saved = directory / f"{name}{CHAINED_SUFFIX}"
        if not is_ours(path):
            if os.path.lexists(path):
                result.foreign.append(name)
            continue
        if os.path.lexists(saved):
            os.replace(saved, path)
            result.restored.append(name)
        else:
            path.unlink()
        result.removed.append(name)
    return result


def chained_hook(cwd: Path, name: str) -> Path | None:
    """Return the hook ``art install`` moved aside for ``name``, when our shim is installed and it is runnable."""
    try:
        directory = hooks_dir(cwd)
    except GitError:
        return None
    saved = directory / f"{name}{CHAINED_SUFFIX}"
    if is_ours(directory / name) and os.path.isfile(saved) and os.access(saved, os.X_OK):
        return saved
    return None


def run_chained(cwd: Path, name: str, args: list[str], stdin: bytes | None) -> int:
    """Run the chained hook (if any) with git's arguments and stdin; return its exit code (0 when none)."""
    saved = chained_hook(cwd, name)
    if saved is None:
        return 0
    proc = subprocess.run([str(saved), *args], cwd=cwd, input=stdin if stdin is not None else b"")
    return proc.returncode
