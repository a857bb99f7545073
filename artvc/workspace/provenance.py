"""Where and how something ran: user, host, platform, python and art versions, git commit and dirtiness."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._version import __version__


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_utc(epoch: float) -> str:
    """A Unix time as the ISO 8601 UTC text every JSON output uses (``2026-11-29T22:52:16Z``)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def git_facts(git: Any) -> dict[str, Any]:
    """The git state every run records: HEAD's commit, whether the work tree had changes, and the branch HEAD
    is on (None when detached or outside git)."""
    if git is None:
        return {"commit": None, "dirty": None, "branch": None}
    return {"commit": git.head_commit(), "dirty": git.is_dirty(), "branch": git.head_branch()}


class GitProbe:
    """``git_facts`` of the git work tree around ``cwd``, read by the git executable, which starts at once and runs
    beside the caller's work (on another core) without loading pygit2 (about a third of art's start-up).

    One ``git status --porcelain=v2 --branch --untracked-files=no`` says all three facts: HEAD's commit
    (``(initial)`` on an unborn branch), the branch HEAD is on (``(detached)`` otherwise), and one line per
    change, staged or not, untracked files left out (as ``scm.Git.is_dirty`` counts them). ``result`` is None
    when git is not installed, is not in a work tree, or refuses (the caller asks pygit2 then, which answers
    for every case the same way it always did)."""

    ARGS = ("git", "--no-optional-locks", "status", "--porcelain=v2", "--branch", "--untracked-files=no")

    def __init__(self, cwd: Path) -> None:
        import subprocess

        try:
            self._proc: Any = subprocess.Popen(
                self.ARGS,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:  # no git executable (or it cannot run): pygit2 answers
            self._proc = None

    def result(self) -> dict[str, Any] | None:
        """The facts (as ``git_facts`` returns them), or None when git did not give them."""
        proc = self._proc
        if proc is None:
            return None
        out, _ = proc.communicate()
        self._proc = None
        if proc.returncode:
            return None
        return parse_status(out)

    def close(self) -> None:
        """Stop git when its answer was not asked for (an add that failed)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()


def parse_status(out: bytes) -> dict[str, Any] | None:
    """``git_facts`` from the output of ``git status --porcelain=v2 --branch`` (None: not that output)."""
    commit = branch = None
    seen = dirty = False
    for line in out.split(b"\n"):
        if line.startswith(b"# branch.oid "):
            value = line[len(b"# branch.oid ") :].decode("ascii", "replace")
            commit = None if value == "(initial)" else value
            seen = True
        elif line.startswith(b"# branch.head "):
            value = line[len(b"# branch.head ") :].decode("utf-8", "surrogateescape")
            branch = None if value == "(detached)" else value
        elif line and not line.startswith(b"#"):
            dirty = True
    if not seen:
        return None
    return {"commit": commit, "dirty": dirty, "branch": branch}


def environment() -> dict[str, Any]:
    """Return the machine facts recorded in every run."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {
        "user": user,
        "host": os.uname().nodename if hasattr(os, "uname") else _hostname(),
        "platform": platform_name(),
        "python": sys.version.split()[0],
        "art": __version__,
    }


def _hostname() -> str:
    import socket

    return socket.gethostname()


_PLATFORM: list[str] = []


def platform_name() -> str:
    """``platform.platform()`` (``Linux-6.8.0-x86_64-with-glibc2.36``), without the ``uname -p`` child process
    it starts on Linux (a fork and exec at the end of every add) for a processor field that it drops there
    anyway: ``uname -p`` says ``unknown`` (dropped as such) or the machine's name (dropped as a repeat)."""
    if _PLATFORM:
        return _PLATFORM[0]
    import platform

    if sys.platform.startswith("linux"):
        u = os.uname()
        libc, version = platform.libc_ver()
        text = "-".join(x.strip() for x in (u.sysname, u.release, u.machine, "with", libc + version) if x)
        for c in ' /\\:;"()':  # as platform.platform() cleans it
            text = text.replace(c, "_" if c == " " else "-")
        text = text.replace("unknown", "")
        while "--" in text:
            text = text.replace("--", "-")
        text = text.rstrip("-")
    else:
        text = platform.platform()
    _PLATFORM.append(text)
    return text


def installed_packages(cache_dir: Path | None = None) -> str:
    """Return the installed distributions as sorted ``name==version`` lines (stored once, by id).

    Reading every distribution's metadata takes a good part of a second, so the list is remembered per
    process and, with ``cache_dir``, in ``cache_dir/packages.txt``, keyed by the interpreter and the
    modification times of the ``site-packages`` folders on ``sys.path`` (installing, upgrading or removing a
    package changes its folder's).
    """
    key = _site_key()
    if key in _PACKAGES:
        return _PACKAGES[key]
    cached = cache_dir / "packages.txt" if cache_dir is not None else None
    if cached is not None:
        try:
            head, _, text = cached.read_text().partition("\n")
            if head == key:
                _PACKAGES[key] = text
                return text
        except (OSError, UnicodeDecodeError):
            pass
    from importlib import metadata

    names = {f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]}
    text = "\n".join(sorted(names, key=str.lower)) + "\n"
    _PACKAGES[key] = text
    if cached is not None:
        try:
            from ..objstore.fileio import atomic_write

            cached.parent.mkdir(exist_ok=True)
            atomic_write(cached, f"{key}\n{text}", durable=False)
        except OSError:
            pass  # a cache: the list is computed again next time
    return text


_PACKAGES: dict[str, str] = {}


def _site_key() -> str:
    import hashlib
    import os

    parts = [sys.executable]
    for entry in sys.path:
        if "site-packages" not in entry and "dist-packages" not in entry:
            continue
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}:-")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
