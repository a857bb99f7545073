"""Terminal output: JSON, sizes, tables; ``Progress`` is the live bar of ``_progress`` (quiet when piped or -q)."""

from __future__ import annotations

import click

from ._context import flags
from ._progress import Bar as Progress  # noqa: F401  (the commands' name for it)


def emit_json(payload) -> None:
    import json  # on first use: plain output needs none

    click.echo(json.dumps(payload, indent=2, default=str))


def say(text: str = "", *, err: bool = False) -> None:
    """Print unless -q (or --json, which owns stdout)."""
    f = flags()
    if not f.get("quiet") and not f.get("json"):
        click.echo(text, err=err)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 file``, ``2 files``, ``0 files`` (``plural`` for irregular nouns: ``count(n, "index", "indexes")``)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def warn(text: str) -> None:
    """One ``art: warning: ...`` line on stderr (shown with -q and --json too: stdout stays clean)."""
    click.echo(f"art: warning: {text}", err=True)


def human(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
