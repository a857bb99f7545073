"""Terminal output: JSON, sizes, tables; ``Progress`` is the live bar of ``_progress`` (quiet when piped or -q)."""

from __future__ import annotations

import sys

from ._context import flags
from ._progress import Bar as Progress  # noqa: F401  (the commands' name for it)


def emit_json(payload) -> None:
    import json  # on first use: plain output needs none

    echo(json.dumps(payload, indent=2, default=str))


def echo(text: str, *, err: bool = False) -> None:
    """``click.echo`` of one line; without click loaded (``art status``: ``_fast``) the same by hand: escape
    sequences are left out unless the stream is a terminal, and the stream is flushed."""
    if "click" in sys.modules:
        import click

        click.echo(text, err=err)
        return
    stream = sys.stderr if err else sys.stdout
    if "\x1b" in text and not stream.isatty():
        import re

        text = re.sub(r"\033\[[;?0-9]*[a-zA-Z]", "", text)  # click's own pattern (click._compat)
    stream.write(text + "\n")
    stream.flush()


def say(text: str = "", *, err: bool = False) -> None:
    """Print unless -q (or --json, which owns stdout)."""
    f = flags()
    if not f.get("quiet") and not f.get("json"):
        echo(text, err=err)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 file``, ``2 files``, ``0 files`` (``plural`` for irregular nouns: ``count(n, "index", "indexes")``)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def warn(text: str) -> None:
    """One ``art: warning: ...`` line on stderr (shown with -q and --json too: stdout stays clean)."""
    echo(f"art: warning: {text}", err=True)


def human(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
