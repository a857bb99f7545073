"""How long operations report what they do: a tiny protocol, drawn (or not) by the command layer.

The lower layers only count. They say what they expect as soon as the data they already hold tells them
(``total``: the stat walk of ``add``, the plan of ``checkout``, the missing-object list of ``push``), and what
they finished as they finish it (``advance``); a new step of the same command starts a ``phase``. They never
read anything a second time to learn a total. Nothing here prints: ``artvc.commands`` renders a ``Progress``
on a terminal and passes the silent base class otherwise.

A plain callable taking a byte count (the older ``progress=`` form; an object count for gc) is still accepted
everywhere: ``as_progress`` wraps it so that those advances reach it and everything else is dropped.
"""

from __future__ import annotations

from collections.abc import Callable


class Progress:
    """Counts of one long operation; this base class records them and draws nothing.

    Amounts are bytes and items (``files``: files for add and checkout, objects for transfers and store
    checks, whatever the phase counts). Every method may be called from any thread.
    """

    shown = False  # True when the counts are drawn: totals are then worth some work to learn (add's stat walk)

    def phase(
        self, label: str | None = None, *, bytes: int | None = None, files: int | None = None, noun: str | None = None
    ) -> None:
        """Start a new step: counts go back to zero, totals become ``bytes``/``files`` (None: unknown); ``label``
        and ``noun`` (what ``files`` counts: ``files``, ``objects``), when given, name the step and its items."""

    def total(self, *, bytes: int = 0, files: int = 0) -> None:
        """Add to the expected amounts of the current phase (negative to take back what will not be done)."""

    def advance(self, *, bytes: int = 0, files: int = 0) -> None:
        """Count work done."""

    def __call__(self, n: int) -> None:
        """The older callback form: ``n`` bytes done."""
        self.advance(bytes=n)


class _Callback(Progress):
    __slots__ = ("_fn", "_files")

    def __init__(self, fn: Callable[[int], None], files: bool) -> None:
        self._fn, self._files = fn, files

    def advance(self, *, bytes: int = 0, files: int = 0) -> None:
        n = files if self._files else bytes
        if n:
            self._fn(n)


SILENT = Progress()

ProgressLike = Progress | Callable[[int], None] | None


def as_progress(progress: ProgressLike, *, counts: str = "bytes") -> Progress:
    """A ``Progress`` for ``progress``: itself, a wrapper around a callback, or a silent one.

    ``counts``: what a plain callback was documented to receive, ``"bytes"`` or ``"files"`` (gc's object counts).
    """
    if progress is None:
        return SILENT
    if isinstance(progress, Progress):
        return progress
    return _Callback(progress, counts == "files")
