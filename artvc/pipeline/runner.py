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
STOP_POLL = 0.25  # seconds between polls of ``stop`` while a stage runs (distributed cancel)
KILL_AFTER = 3.0  # seconds between SIGTERM and SIGKILL of a cancelled stage's process group
# Runs a ``call = "module:function"`` stage: repo root first on sys.path; an int result is the exit status.
# The workspace's modules are compiled from their source, never read from a stale ``.pyc`` (``fresh_source``).
_CALL_BOOT = (
    "import importlib, sys\n"
    "from artvc.pipeline.fresh_source import install\n"
    "install(sys.argv[1])\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "r = getattr(importlib.import_module(sys.argv[2]), sys.argv[3])()\n"
    "sys.exit(r if type(r) is int else 0)\n"
)

# The reaper of a distributed worker (one per worker process, started with its first stage): reads "+pgid" /
# "-pgid" lines naming the process groups of the stages running; when its input ends (the worker died, even by
# SIGKILL, which closes the pipe) it kills every group still named, so no stage process outlives its worker.
_REAPER = (
    "import os, signal, sys\n"
    "groups = set()\n"
    "for line in sys.stdin:\n"
    "    n = int(line)\n"
    "    groups.add(n) if n > 0 else groups.discard(-n)\n"
    "for g in groups:\n"
    "    try:\n"
    "        os.killpg(g, signal.SIGKILL)\n"
    "    except OSError:\n"
    "        pass\n"
)
_reaper: subprocess.Popen | None = None
_reaper_lock = threading.Lock()


def _reap(pgid: int) -> None:
    """Name (``pgid`` > 0) or drop (< 0) a stage's process group for the reaper (started when needed)."""
    global _reaper
    with _reaper_lock:
        if _reaper is None or _reaper.poll() is not None:
            _reaper = subprocess.Popen(
                [sys.executable, "-c", _REAPER],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                text=True,
            )
        assert _reaper.stdin is not None
        try:
            _reaper.stdin.write(f"{pgid}\n")
            _reaper.stdin.flush()
        except OSError:
            pass


Output = Callable[[str, str, bool], None]  # (stage, line without newline, is_stderr)


@dataclass(frozen=True, slots=True)
class Finished:
    """How a stage's process ended."""

    returncode: int
    started: float  # time.time()
    duration: float
    stderr_tail: list[str]
    stdout_tail: list[str] = field(default_factory=list)
    cancelled: bool = False  # stopped by ``stop`` (its process group was killed)


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

    ``new_session`` starts it in its own session and process group, named to this process's reaper, which kills
    the group if this process dies (distributed workers: cancel kills the whole group, and nothing outlives a
    killed worker);
    ``stop`` is polled about every ``STOP_POLL`` seconds while it runs: when it returns True the group gets
    SIGTERM, then SIGKILL after ``KILL_AFTER`` seconds, and the result is marked ``cancelled``.
    """
    full_env = {**os.environ, **(env or {}), "ART_STAGE": name}
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
        return Finished(127, started, time.monotonic() - t0, bounded_tail([f"cannot start: {exc}"]))
    if stdout_tail is None:
        stdout_tail = deque(maxlen=TAIL_LINES)
    if new_session:
        _reap(proc.pid)
    try:
        return _follow(proc, name, output, stop, stdout_tail, started, t0)
    finally:
        if new_session:
            _reap(-proc.pid)


def _follow(proc, name, output, stop, stdout_tail, started: float, t0: float) -> Finished:
    """Pump the output of ``proc`` and wait for it (polling ``stop`` when given)."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    pump = threading.Thread(target=_pump, args=(proc.stdout, name, False, output, stdout_tail), daemon=True)
    pump.start()
    if stop is None:
        _pump(proc.stderr, name, True, output, tail)
        pump.join()
        code = proc.wait()
        return Finished(code, started, time.monotonic() - t0, bounded_tail(tail), bounded_tail(stdout_tail))
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
    return Finished(code, started, time.monotonic() - t0, bounded_tail(tail), bounded_tail(stdout_tail), cancelled)


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
