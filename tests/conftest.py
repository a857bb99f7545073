"""Shared fixtures: isolated git identity, fresh repositories, an in-process CLI runner, data builders."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest_plugins = ["tests.bucket_fixtures"]

# A test run started in the background by a non-interactive shell (`cmd &`, nohup) inherits SIGINT ignored, and
# so would every art it starts: a Python that starts with SIGINT ignored never turns it into KeyboardInterrupt,
# so the tests that stop `art ui` or a run with SIGINT (as Ctrl-C does) would wait forever. A handler set here
# is reset to the default in each child at exec, so the children take SIGINT as a terminal would deliver it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_sessionstart(session):
    """Compile art's modules once, before any test starts an ``art`` process.

    A shell that sets ``PYTHONDONTWRITEBYTECODE=1`` (and a fresh clone, which has no ``__pycache__``) would
    otherwise make every art the suite starts compile each module it imports from source: about twice the CPU
    of the tests that run art as a process (measured: `tests/hooks/test_hooks_git.py`, 16.5 user CPU s against
    9.1). ``compileall`` writes the bytecode whatever that variable says and skips what is up to date, so each
    xdist worker doing it too costs only a stat a module."""
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "artvc"), quiet=1)


GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Art Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.com",
    "GIT_COMMITTER_NAME": "Art Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.com",
}


@pytest.fixture(autouse=True, scope="session")
def _session_tmpdir(tmp_path_factory):
    """Temp files of the code under test (``tempfile``, in this process and in every art it starts) go below
    pytest's base temp, which pytest prunes, instead of piling up in the system temp folder when a test kills
    a process or leaves a writer open."""
    tmp = tmp_path_factory.mktemp("systmp")
    saved_env, saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = str(tmp)
    yield
    tempfile.tempdir = saved
    if saved_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved_env


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[user]\n\tname = Art Tester\n\temail = tester@example.com\n"
    )


def git(cwd: Path, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True, **kw)


class Workspace:
    """A git + art repository in a temp dir, with helpers to write files and run the CLI in process."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def gen(self, spec: dict, base: Path | None = None) -> None:
        base = base or self.root
        for name, content in spec.items():
            p = base / name
            if isinstance(content, dict):
                p.mkdir(parents=True, exist_ok=True)
                self.gen(content, p)
            else:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(content if isinstance(content, bytes) else content.encode())

    def art(self, *args: str, code: int | None = 0):
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            from artvc.commands import _available, cli

            _available()
            result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        finally:
            os.chdir(cwd)
        if code is not None:
            assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return result

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return git(self.root, *args, check=check)

    def repo(self):
        from artvc.workspace import Repo

        return Repo(self.root)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    git(root, "init", "-q")
    w = Workspace(root)
    w.art("init")
    return w


@pytest.fixture
def process_repo(tmp_path) -> Path:
    """A fresh git repository with ``art init`` done by an art process (``python -m artvc``), for tests that run
    art as a process throughout."""
    import sys

    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    subprocess.run([sys.executable, "-m", "artvc", "init"], cwd=root, check=True, capture_output=True)
    return root
