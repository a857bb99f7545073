"""The global flags (``--json``, ``-q``, ...) the root command stores on the click context."""

from __future__ import annotations

import click


def flags() -> dict:
    """The root context's flags; empty outside a command (e.g. a library caller)."""
    ctx = click.get_current_context()
    return ctx.find_root().obj or {}
