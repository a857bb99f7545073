"""Where art starts stage processes: run a stage's command (or ``call`` function) and wait for it. (The only
other process art starts is headless Chromium for ``art plots --png``, in ``plotsexport``.)

Output streams line by line to a callback while the process runs; the last lines of stderr are kept for the
error report. Stages run with the workspace root as working directory and ``ART_STAGE`` set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .spec import Stage

TAIL_LINES = 20
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
        return Finished(127, started, time.monotonic() - t0, [f"cannot start: {exc}"])
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    pump = threading.Thread(target=_pump, args=(proc.stdout, stage.name, False, output, None), daemon=True)
    pump.start()
    _pump(proc.stderr, stage.name, True, output, tail)
    pump.join()
    code = proc.wait()
    return Finished(code, started, time.monotonic() - t0, list(tail))


def _pump(stream, name: str, is_err: bool, output: Output | None, tail: deque | None) -> None:
    with stream:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if tail is not None:
                tail.append(line)
            if output is not None:
                output(name, line, is_err)
