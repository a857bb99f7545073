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
STOP_POLL = 0.25  # seconds between polls of ``stop`` while a stage runs (distributed cancel)
KILL_AFTER = 3.0  # seconds between SIGTERM and SIGKILL of a cancelled stage's process group
# Runs a ``call = "module:function"`` stage: repo root first on sys.path; an int result is the exit status.
_CALL_BOOT = (
    "import importlib, sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "r = getattr(importlib.import_module(sys.argv[2]), sys.argv[3])()\n"
    "sys.exit(r if type(r) is int else 0)\n"
)

# Supervises a stage of a distributed worker from inside the stage's own session (argv: the worker's pid, shell
# flag, command): runs the command, and if the worker dies (SIGKILL, OOM) kills the whole process group, so no
# stage process outlives its worker; exits as the command did (re-raising the signal that killed it).
_SUPERVISE = (
    "import os, signal, subprocess, sys\n"
    "parent, shell = int(sys.argv[1]), sys.argv[2] == '1'\n"
    "child = subprocess.Popen(sys.argv[3] if shell else sys.argv[3:], shell=shell)\n"
    "while True:\n"
    "    try:\n"
    "        code = child.wait(timeout=0.2)\n"
    "        break\n"
    "    except subprocess.TimeoutExpired:\n"
    "        if os.getppid() != parent:\n"
    "            os.killpg(0, signal.SIGKILL)\n"
    "if code < 0:\n"
    "    signal.signal(-code, signal.SIG_DFL)\n"
    "    os.kill(os.getpid(), -code)\n"
    "sys.exit(code)\n"
)

Output = Callable[[str, str, bool], None]  # (stage, line without newline, is_stderr)


@dataclass(frozen=True, slots=True)
class Finished:
    """How a stage's process ended."""

    returncode: int
    started: float  # time.time()
    duration: float
    stderr_tail: list[str]
    cancelled: bool = False  # stopped by ``stop`` (its process group was killed)


def argv_for(stage: Stage, root: Path) -> list[str] | str:
    """The shell command text, or the argv that runs a call stage."""
    if stage.cmd is not None:
        return stage.cmd
    return call_argv(stage.call or "", root)


def call_argv(call: str, root: Path) -> list[str]:
    """The argv that runs ``module:function`` with ``root`` first on sys.path."""
    module, _, func = call.partition(":")
    return [sys.executable, "-c", _CALL_BOOT, str(root), module, func]


def run(stage: Stage, root: Path, *, output: Output | None = None) -> Finished:
    """Run ``stage`` to completion (blocking; call it from a worker thread to run stages in parallel).

    A command that cannot start is reported as exit status 127 with the reason in the stderr tail.
    """
    return run_target(stage.name, argv_for(stage, root), root, output=output)


def run_target(
    name: str,
    target: list[str] | str,
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    output: Output | None = None,
    new_session: bool = False,
    stop: Callable[[], bool] | None = None,
    stdout_tail: deque[str] | None = None,
) -> Finished:
    """Run ``target`` (shell text or argv) in ``cwd`` with ``ART_STAGE=name`` and stdin closed.

    ``new_session`` starts it in its own session and process group under a small supervisor that kills the
    group if this process dies (distributed workers: cancel kills the whole group, and nothing outlives a
    killed worker);
    ``stop`` is polled about every ``STOP_POLL`` seconds while it runs: when it returns True the group gets
    SIGTERM, then SIGKILL after ``KILL_AFTER`` seconds, and the result is marked ``cancelled``.
    """
    full_env = {**os.environ, **(env or {}), "ART_STAGE": name}
    if new_session:  # supervised: the group dies with this process (see _SUPERVISE)
        shell = isinstance(target, str)
        rest = [target] if isinstance(target, str) else list(target)
        target = [sys.executable, "-c", _SUPERVISE, str(os.getpid()), "1" if shell else "0", *rest]
    started, t0 = time.time(), time.monotonic()
    try:
        proc = subprocess.Popen(
            target,
            shell=isinstance(target, str),
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=new_session,
        )
    except OSError as exc:
        return Finished(127, started, time.monotonic() - t0, [f"cannot start: {exc}"])
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    pump = threading.Thread(target=_pump, args=(proc.stdout, name, False, output, stdout_tail), daemon=True)
    pump.start()
    if stop is None:
        _pump(proc.stderr, name, True, output, tail)
        pump.join()
        code = proc.wait()
        return Finished(code, started, time.monotonic() - t0, list(tail))
    err = threading.Thread(target=_pump, args=(proc.stderr, name, True, output, tail), daemon=True)
    err.start()
    cancelled = False
    while True:
        try:
            code = proc.wait(timeout=STOP_POLL)
            break
        except subprocess.TimeoutExpired:
            if stop():
                cancelled = True
                code = _kill_group(proc)
                break
    pump.join(KILL_AFTER)
    err.join(KILL_AFTER)
    return Finished(code, started, time.monotonic() - t0, list(tail), cancelled)


def _kill_group(proc: subprocess.Popen) -> int:
    """SIGTERM the process group of ``proc``, SIGKILL what is left of it after ``KILL_AFTER`` seconds (or as
    soon as the leader exits); return the leader's exit status."""
    import signal

    def signal_group(sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    signal_group(signal.SIGTERM)
    deadline = time.monotonic() + KILL_AFTER
    while time.monotonic() < deadline:  # until every process of the group is gone (or the grace is over)
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            break
        time.sleep(0.05)
    signal_group(signal.SIGKILL)  # what ignored SIGTERM
    return proc.wait()


def _pump(stream, name: str, is_err: bool, output: Output | None, tail: deque | None) -> None:
    with stream:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if tail is not None:
                tail.append(line)
            if output is not None:
                output(name, line, is_err)
