"""The output tails of Python steps: while a pipeline runs, ``sys.stdout`` and ``sys.stderr`` are wrapped so
that what a step's thread prints still goes where it went, and its last lines are also kept for the step's run
record (``stdout_tail`` / ``stderr_tail``, bounded like a stage's: ``runner.bounded_tail``). Output written
straight to the file descriptors (a subprocess, C code) is not seen."""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..runner import TAIL_BYTES, TAIL_LINES, bounded_tail

_LOCAL = threading.local()  # .tails: {"stdout": _Tail, "stderr": _Tail} on a thread running a step
_INSTALL = threading.Lock()
_installed = 0  # pipelines running in this process (the wrappers stay while any runs)


class _Tail:
    """The last lines written to one stream by one step (the unfinished last line bounded too)."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=TAIL_LINES)
        self.partial = ""

    def write(self, text: str) -> None:
        text = self.partial + text
        *done, self.partial = text.split("\n")
        self.lines.extend(line.rstrip("\r") for line in done)
        self.partial = self.partial[-TAIL_BYTES:]

    def tail(self) -> list[str]:
        return bounded_tail([*self.lines, *([self.partial] if self.partial else [])])


class _Tee:
    """A stream that writes through to ``inner`` and, on a step's thread, into that step's tail."""

    def __init__(self, inner: Any, name: str) -> None:
        self._inner = inner
        self._name = name

    def write(self, text: str) -> int:
        tails = getattr(_LOCAL, "tails", None)
        if tails is not None and isinstance(text, str):
            tails[self._name].write(text)
        return self._inner.write(text)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)


@contextmanager
def wrapped_streams() -> Iterator[None]:
    """Wrap ``sys.stdout`` / ``sys.stderr`` while a pipeline runs (once, however many run at a time)."""
    global _installed
    with _INSTALL:
        if _installed == 0:
            sys.stdout = _Tee(sys.stdout, "stdout")
            sys.stderr = _Tee(sys.stderr, "stderr")
        _installed += 1
    try:
        yield
    finally:
        with _INSTALL:
            _installed -= 1
            if _installed == 0:
                for name in ("stdout", "stderr"):
                    stream = getattr(sys, name)
                    if isinstance(stream, _Tee):
                        setattr(sys, name, stream._inner)


@contextmanager
def capturing() -> Iterator[dict[str, _Tail]]:
    """On a step's thread: keep what it prints; the tails are read with ``tails_of`` afterwards."""
    tails = {"stdout": _Tail(), "stderr": _Tail()}
    _LOCAL.tails = tails
    try:
        yield tails
    finally:
        _LOCAL.tails = None


def tails_of(tails: dict[str, _Tail]) -> dict[str, list[str]]:
    return {"stdout_tail": tails["stdout"].tail(), "stderr_tail": tails["stderr"].tail()}
