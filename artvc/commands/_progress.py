"""The live progress bar of long commands, drawn with rich on stderr, only on a terminal and never with -q/--json.

``Bar`` is the ``objstore.progress.Progress`` the commands hand to the library. When stderr is not a terminal,
or with ``-q`` or ``--json``, it only counts: rich is not even imported (``art status`` and piped runs stay
light). On a terminal one line shows the step, a bar, the percentage, bytes done of the total, the rate, the
time left and the files (or objects) done of their total; it is redrawn at least every tenth of a second and
whenever the whole percentage changes, and erased when the command ends.
"""

from __future__ import annotations

import sys
import time
from _thread import allocate_lock  # threading's own Lock: no threading at start

from ..objstore.progress import Progress
from ._context import flags


def enabled() -> bool:
    """Draw bars? Only when stderr is a terminal and neither -q nor --json was given."""
    f = flags()
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        tty = False
    return tty and not f.get("quiet") and not f.get("json")


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


class Bar(Progress):
    """A ``Progress`` drawn on the terminal (see the module docstring); a context manager.

    Args:
        label: the first step's name (``adding``); ``phase`` may rename it.
        noun: what the item count counts (``files``, ``objects``, ``stages``).
        unit: ``bytes`` (default) or ``items``: what the older callback form ``bar(n)`` counts.
    """

    def __init__(self, label: str, total: int | None = None, *, noun: str = "files", unit: str = "bytes") -> None:
        self.label, self.noun, self.unit = label, noun, "bytes" if unit == "bytes" else "items"
        self.enabled = self.shown = enabled()
        self._lock = allocate_lock()
        self._bytes = self._files = 0
        self._total_bytes: int | None = total if self.unit == "bytes" else None
        self._total_files: int | None = total if self.unit == "items" else None
        self._live = None
        self._task = None
        self._pct = -1
        self._drawn = 0.0

    # -- the protocol ------------------------------------------------------------------------------------

    def phase(
        self, label: str | None = None, *, bytes: int | None = None, files: int | None = None, noun: str | None = None
    ) -> None:
        with self._lock:
            self.label, self.noun = label or self.label, noun or self.noun
            self._bytes = self._files = 0
            self._total_bytes, self._total_files = bytes, files
            if self._live is not None:
                self._live.reset(self._task, start=True)
            self._pct = -1
            self._update(force=True)

    def total(self, *, bytes: int = 0, files: int = 0) -> None:
        with self._lock:
            if bytes:
                self._total_bytes = max(0, (self._total_bytes or 0) + bytes)
            if files:
                self._total_files = max(0, (self._total_files or 0) + files)
            self._update(force=True)

    def advance(self, *, bytes: int = 0, files: int = 0) -> None:
        with self._lock:
            self._bytes += bytes
            self._files += files
            self._update()

    def __call__(self, n: int) -> None:
        if self.unit == "bytes":
            self.advance(bytes=n)
        else:
            self.advance(files=n)

    # -- drawing -------------------------------------------------------------------------------------------

    def _measure(self) -> tuple[int, int | None]:
        """(done, total) of what the bar measures: bytes when their total is known, else items."""
        if self._total_bytes:
            return self._bytes, self._total_bytes
        if self._total_files:
            return self._files, self._total_files
        return (self._bytes if self._bytes or not self._files else self._files), None

    def _update(self, force: bool = False) -> None:
        """Hand the counts to rich and redraw, when the whole percentage changed or 0.1 s passed (cheap per chunk)."""
        if self._live is None:
            return
        done, total = self._measure()
        pct = 100 * min(done, total) // total if total else -1
        now = time.monotonic()
        if not force and pct == self._pct and now - self._drawn < 0.1:
            return
        self._pct, self._drawn = pct, now
        self._live.update(
            self._task,
            description=self.label,
            total=total,
            completed=min(done, total) if total else done,
            bytes=self._bytes,
            total_bytes=self._total_bytes,
            files=self._files,
            total_files=self._total_files,
            noun=self.noun,
            measure="bytes" if self._total_bytes or (not self._total_files and not self._files) else "items",
        )
        self._live.refresh()

    def __enter__(self) -> Bar:
        if self.enabled:
            self._live = live = _rich_progress()
            live.start()
            with self._lock:
                self._task = live.add_task(self.label, total=None)
                self._update(force=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._update(force=True)  # the last counts are drawn once before the bar is erased
            live, self._live = self._live, None
        if live is not None:
            live.stop()


def _rich_progress():
    """A rich ``Progress`` on stderr with art's columns (rich is imported here, on a terminal only)."""
    from rich.console import Console
    from rich.progress import BarColumn, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress
    from rich.text import Text

    class Percent(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.percentage:3.0f}%" if task.total else "   ", style="progress.percentage")

    class Amount(ProgressColumn):
        def render(self, task) -> Text:
            f = task.fields
            if not f.get("bytes") and not f.get("total_bytes"):
                return Text("")
            total = f.get("total_bytes")
            text = _human(f["bytes"]) + (f" / {_human(total)}" if total else "")
            return Text(text, style="progress.download")

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            if speed is None:
                return Text("")
            if task.fields.get("measure") == "bytes":
                return Text(f"{_human(speed)}/s", style="progress.data.speed")
            return Text(f"{speed:.0f} {task.fields.get('noun')}/s", style="progress.data.speed")

    class Items(ProgressColumn):
        def render(self, task) -> Text:
            f = task.fields
            n, total, noun = f.get("files", 0), f.get("total_files"), f.get("noun")
            if not n and not total:
                return Text("")
            return Text(f"{n}/{total} {noun}" if total else f"{n} {noun}", style="progress.filesize")

    class Eta(TimeRemainingColumn):
        def render(self, task) -> Text:
            return Text("ETA ", style="progress.remaining") + super().render(task) if task.total else Text("")

    return RichProgress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=30),
        Percent(),
        Amount(),
        Rate(),
        Eta(),
        Items(),
        console=Console(file=sys.stderr),
        auto_refresh=True,
        refresh_per_second=10,
        transient=True,
        speed_estimate_period=10,
    )
