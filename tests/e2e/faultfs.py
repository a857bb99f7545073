"""Real file-system faults for tests: a small tmpfs (disk full), read-only folders, an unprivileged user.

As root (here and in CI) these are real: a tmpfs mounted by the test, a read-only bind mount, the ``art``
process run as uid/gid 65534. As an ordinary user the same fixtures fall back to what works without root
(``chmod``, a fault point), so the tests run either way instead of being skipped.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ART = [sys.executable, "-m", "artvc"]
ROOT = os.geteuid() == 0
NOBODY = 65534


def art(cwd: Path, *args: str, env: dict | None = None, as_nobody: bool = False) -> subprocess.CompletedProcess:
    """Run ``art`` in ``cwd`` (as the unprivileged user when ``as_nobody`` and we are root)."""
    full_env = {**os.environ, **(env or {})}
    prefix = []
    if as_nobody and ROOT:  # setpriv (util-linux) drops uid, gid and groups just before exec
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run([*prefix, *ART, *args], cwd=cwd, capture_output=True, text=True, env=full_env)


def make_repo(path: Path) -> Path:
    """A fresh git repository with ``art init`` done, at ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    assert art(path, "init").returncode == 0
    return path


def ok(r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def open_to_nobody(path: Path) -> None:
    """Let the unprivileged user read and write everything under ``path`` (and reach it)."""
    for d, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            p = os.path.join(d, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | stat.S_IRWXO)
    os.chmod(path, os.stat(path).st_mode | stat.S_IRWXO)
    for parent in path.parents:
        if parent == Path("/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IXOTH)


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "24m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``where`` for the duration (root only); always unmounted."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@contextlib.contextmanager
def ext4(where: Path, size_mib: int = 64) -> Iterator[Path]:
    """Mount a new ext4 of ``size_mib`` MiB (a loop-mounted image beside ``where``) at ``where`` for the duration
    (root only): a small disk that takes ``O_DIRECT``, which tmpfs does not on every kernel; always unmounted."""
    image = where.with_suffix(".img")
    with open(image, "wb") as f:
        f.truncate(size_mib << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        image.unlink()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` read-only: a read-only bind mount as root, ``chmod a-w`` otherwise; restored after."""
    if ROOT:
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
            yield
        finally:
            subprocess.run(["umount", "-l", str(path)], check=False)
        return
    modes = {}
    for d, _dirs, files in os.walk(path):
        for p in [d, *(os.path.join(d, f) for f in files)]:
            modes[p] = os.stat(p).st_mode
            os.chmod(p, modes[p] & ~0o222)
    try:
        yield
    finally:
        for p, mode in modes.items():
            os.chmod(p, mode)


def one_error(r: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """Assert ``r`` failed with ``code`` and one ``art: error:`` line (plus a hint) containing ``needles``."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("art: error: ")]
    assert len(errors) == 1, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert all(ln.startswith(("art: error: ", "hint: ", "art: note: ")) for ln in lines), r.stderr
    for needle in needles:
        assert needle in r.stderr, (needle, r.stderr)
    return errors[0]
