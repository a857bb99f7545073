"""Where and how something ran: user, host, platform, python and art versions, git commit and dirtiness."""

from __future__ import annotations

import getpass
import platform
import socket
import sys
from datetime import UTC, datetime
from typing import Any

from .._version import __version__


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_utc(epoch: float) -> str:
    """A Unix time as the ISO 8601 UTC text every JSON output uses (``2026-11-29T22:52:16Z``)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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


def installed_packages() -> str:
    """Return the installed distributions as sorted ``name==version`` lines (stored once, by id)."""
    from importlib import metadata

    names = {f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]}
    return "\n".join(sorted(names, key=str.lower)) + "\n"
