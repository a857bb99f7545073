"""Where art starts stage processes: run a stage's command (or ``call`` function) and wait for it. (The only
other process art starts is headless Chromium for ``art plots --png``, in ``plotsexport``.)

Output streams line by line to a callback while the process runs; the last lines of stdout and stderr are
kept (``bounded_tail``: at most 20 lines, 4 KB, each) for the error report and the stage's run record. Stages
run with the workspace root as working directory and ``ART_STAGE`` set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .spec import Stage

TAIL_LINES = 20
TAIL_BYTES = 4096  # UTF-8 bytes of one stream's tail, all its lines together
# Runs a ``call = "module:function"`` stage: repo root first on sys.path; an int result is the exit status.
_CALL_BOOT = (
    "import importlib, sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "r = getattr(importlib.import_module(sys.argv[2]), sys.argv[3])()\n"
    "sys.exit(r if type(r) is int else 0)\n"
)

Output = Callable[[str, str, bool], None]  # (stage, line without newline, is_stderr)


@dataclass(frozen=True, slots=True)
class Finished:
    """How a stage's process ended."""

    returncode: int
    started: float  # time.time()
    duration: float
    stderr_tail: list[str]
    stdout_tail: list[str] = field(default_factory=list)


def bounded_tail(lines: Iterable[str]) -> list[str]:
    """The last ``TAIL_LINES`` of ``lines`` holding at most ``TAIL_BYTES`` UTF-8 bytes together (a longer last
    line keeps its end)."""
    out: list[str] = []
    left = TAIL_BYTES
    for line in reversed(list(lines)[-TAIL_LINES:]):
        data = line.encode("utf-8", "replace")
        if len(data) > left:
            if not out:
                out.append(data[-left:].decode("utf-8", "ignore"))
            break
        out.append(line)
        left -= len(data)
    return out[::-1]


def argv_for(stage: Stage, root: Path) -> list[str] | str:
    """The shell command text, or the argv that runs a call stage."""
    if stage.cmd is not None:
        return stage.cmd
    module, _, func = (stage.call or "").partition(":")
    return [sys.executable, "-c", _CALL_BOOT, str(root), module, func]


def run(stage: Stage, root: Path, *, output: Output | None = None) -> Finished:
    """Run ``stage`` to completion (blocking; call it from a worker thread to run stages in parallel).

    A command that cannot start is reported as exit status 127 with the reason in the stderr tail.
    """
    target = argv_for(stage, root)
    env = {**os.environ, "ART_STAGE": stage.name}
    started, t0 = time.time(), time.monotonic()
    try:
        proc = subprocess.Popen(
            target,
            shell=isinstance(target, str),
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        return Finished(127, started, time.monotonic() - t0, bounded_tail([f"cannot start: {exc}"]))
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    out_tail: deque[str] = deque(maxlen=TAIL_LINES)
    pump = threading.Thread(target=_pump, args=(proc.stdout, stage.name, False, output, out_tail), daemon=True)
    pump.start()
    _pump(proc.stderr, stage.name, True, output, tail)
    pump.join()
    code = proc.wait()
    return Finished(code, started, time.monotonic() - t0, bounded_tail(tail), bounded_tail(out_tail))


def _pump(stream, name: str, is_err: bool, output: Output | None, tail: deque | None) -> None:
    with stream:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if tail is not None:
                tail.append(line)
            if output is not None:
                output(name, line, is_err)
