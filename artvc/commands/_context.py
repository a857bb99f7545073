"""The global flags (``--json``, ``-q``, ...) the root command stores on the click context, or that a command run
without click (``_fast``) sets here. Nothing here imports click: ``art status`` runs without it."""

from __future__ import annotations

import sys

_direct: dict | None = None  # the flags of a command ``_fast`` runs without click (None: ask click)


def flags() -> dict:
    """The root context's flags; empty outside a command (e.g. a library caller)."""
    if _direct is not None:
        return _direct
    import click

    ctx = click.get_current_context()
    return ctx.find_root().obj or {}


def set_direct(opts: dict | None) -> None:
    """Run a command without click with these flags (None: back to click's context)."""
    global _direct
    _direct = opts


def quiet_notes(flag: bool) -> None:
    """-q also silences the note a slow remote connection prints (objstore/remote_errors.py)."""
    if flag or "artvc.objstore.remote_errors" in sys.modules:
        from ..objstore.remote_errors import set_quiet

        set_quiet(flag)


def absolute(paths) -> list[str]:
    """User paths are relative to the current directory; the library takes them absolute."""
    import os

    return [os.path.abspath(p) for p in paths]
