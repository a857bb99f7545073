"""Run an art command held at a fault point (``ART_FAULT=point:block``), act while it waits, then let it go on.

The race tests use it to change the workspace at an exact moment of a real ``art`` process: the fault point
blocks until the release file exists (``objstore/faults.py``), and its log says when the point was reached.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ART = [sys.executable, "-m", "artvc"]


def run_held(
    args: list[str],
    cwd: Path,
    scratch: Path,
    fault: str,
    act: Callable[[], None],
    *,
    reached: int = 1,
    wait: float = 60,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run ``art ARGS`` in ``cwd`` with ``ART_FAULT=fault`` (``point[@n]:block``); once the point was logged
    ``reached`` times, call ``act``, release the process and return how it ended (text output). The process is
    killed if the point is not reached within ``wait`` seconds (the test then fails with its stderr) or if
    anything in between raises."""
    point = fault.split("@")[0].split(":")[0]
    release, log = scratch / "release", scratch / "faults.log"
    env = {**os.environ, "ART_FAULT": fault, "ART_FAULT_RELEASE": str(release), "ART_FAULT_LOG": str(log)}
    proc = subprocess.Popen([*ART, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + wait
        while not (log.exists() and log.read_text().count(point) >= reached):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"art {' '.join(args)} did not reach {point}: {proc.communicate(timeout=5)}")
            time.sleep(0.02)
        act()
        release.write_text("")
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
