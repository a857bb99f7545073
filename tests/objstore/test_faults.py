"""The fault-injection points crash tests rely on: parsed from the environment, exact about the N-th hit."""

import errno
import os
import signal
import subprocess
import sys

import pytest

from artvc.objstore import faults

PROG = (
    "from artvc.objstore.faults import fault_point\n"
    "for i in range(3):\n"
    "    fault_point('demo.step')\n"
    "    print(i, flush=True)\n"
)


def run(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROG], capture_output=True, text=True, cwd=tmp_path, env={**os.environ, **env}
    )


def test_unset_does_nothing(tmp_path):
    r = run({"ART_FAULT": ""}, tmp_path)
    assert r.returncode == 0 and r.stdout.split() == ["0", "1", "2"]


def test_kill_at_the_nth_hit(tmp_path):
    r = run({"ART_FAULT": "demo.step@2"}, tmp_path)
    assert r.returncode == -signal.SIGKILL
    assert r.stdout.split() == ["0"]


def test_log_lists_points_reached(tmp_path):
    log = tmp_path / "points"
    r = run({"ART_FAULT_LOG": str(log)}, tmp_path)
    assert r.returncode == 0
    assert log.read_text().split() == ["demo.step"] * 3


@pytest.mark.parametrize(("action", "code"), [("enospc", errno.ENOSPC), ("eio", errno.EIO), ("eacces", errno.EACCES)])
def test_os_errors_are_raised_in_process(monkeypatch, action, code):
    monkeypatch.setenv("ART_FAULT", f"x.y:{action}")
    faults.reset()
    try:
        faults.fault_point("other")
        with pytest.raises(OSError) as info:
            faults.fault_point("x.y")
        assert info.value.errno == code
        faults.fault_point("x.y")  # only the first hit acts
    finally:
        monkeypatch.delenv("ART_FAULT")
        faults.reset()


def test_unknown_action_is_rejected(monkeypatch):
    monkeypatch.setenv("ART_FAULT", "x.y:explode")
    faults.reset()
    try:
        with pytest.raises(ValueError, match="unknown action"):
            faults.fault_point("x.y")
    finally:
        monkeypatch.delenv("ART_FAULT")
        faults.reset()
