"""Terminal output: JSON, sizes, tables, and a progress line that stays quiet when piped or with -q."""

from __future__ import annotations

import json
import sys
import time

import click

from ._context import flags


def emit_json(payload) -> None:
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


class Progress:
    """A one-line progress meter on stderr, drawn at most 10 times a second, only on a terminal."""

    def __init__(self, label: str, total: int | None = None, *, unit: str = "bytes") -> None:
        f = flags()
        self.enabled = sys.stderr.isatty() and not f.get("quiet") and not f.get("json")
        self.label, self.total, self.unit = label, total, unit
        self.done = 0
        self._last = 0.0
        self._start = time.monotonic()

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self._last > 0.1:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self._start, 1e-6)
        amount = human(self.done) if self.unit == "bytes" else f"{self.done}"
        if self.total:
            pct = min(100, 100 * self.done // max(self.total, 1))
            total = human(self.total) if self.unit == "bytes" else f"{self.total}"
            text = f"{self.label}: {pct:3d}% {amount} / {total}"
        else:
            text = f"{self.label}: {amount}"
        if self.unit == "bytes":
            text += f"  {human(int(rate))}/s"
        sys.stderr.write("\r\033[K" + text)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self._last:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
