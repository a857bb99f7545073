"""Where and how something ran: user, host, platform, python and art versions, git commit and dirtiness."""

from __future__ import annotations

import getpass
import platform
import socket
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


def environment() -> dict[str, Any]:
    """Return the machine facts recorded in every run."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {
        "user": user,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "art": __version__,
    }


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
