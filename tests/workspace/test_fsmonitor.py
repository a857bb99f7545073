"""``art status`` with the file-system monitor (``core.fsmonitor``): real inotify, real daemon processes (each
stopped by its PID when the test ends), folder reads counted through ``ART_FAULT_LOG``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from artvc.workspace.fsmonitor import address, is_abstract
from tests.workspace.test_add_checkout import age

ART = [sys.executable, "-m", "artvc"]


def _daemons(root: Path) -> list[int]:
    """The PIDs of the fsmonitor daemons running for the workspace at ``root`` (by their cwd and command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            ours = b"fsmonitor" in cmd and b"run" in cmd and os.readlink(f"/proc/{entry}/cwd") == str(root)
            if ours and not _gone(int(entry)):
                found.append(int(entry))
        except OSError:
            continue
    return found


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(500):
        try:  # our own child when ``art fsmonitor start`` ran in this process
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        if _gone(pid):
            return
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited: no such process, or a zombie its parent (not this process: the daemon
    is detached) has not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0] == b"Z"
    except OSError:
        return True


@pytest.fixture
def mon(ws):
    """A workspace with ``core.fsmonitor`` on; every daemon started for it is stopped by PID at the end."""
    ws.art("config", "core.fsmonitor", "true")
    yield ws
    for pid in _daemons(ws.root):
        _kill(pid)
    assert _daemons(ws.root) == []


def run(ws, tmp_path: Path, *args: str, env: dict | None = None) -> tuple[dict, int]:
    """``art status --json`` in a process of its own: (path -> state, folders it read)."""
    log = tmp_path / f"faults-{len(list(tmp_path.glob('faults-*')))}.log"
    full = {**os.environ, "ART_FAULT_LOG": str(log), **(env or {})}
    r = subprocess.run([*ART, "status", "--json", *args], cwd=ws.root, env=full, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    states = {a["path"]: a["state"] for a in json.loads(r.stdout)["artifacts"]}
    points = log.read_text().splitlines() if log.exists() else []
    return states, points.count("scan.folder-read")


def tree(ws) -> None:
    ws.gen({"data": {p: {q: {f"f{i}.txt": f"{p}{q}{i}" for i in range(5)} for q in "xyz"} for p in "abc"}})
    age(ws.root / "data")
    ws.art("add", "data")


FOLDERS = 13  # data, a..c, a/x..c/z


def settle(ws, tmp_path) -> None:
    """Start the daemon through a status (a full walk) and let a second one store its token."""
    assert run(ws, tmp_path) == ({"data": "unchanged"}, FOLDERS)
    assert run(ws, tmp_path) == ({"data": "unchanged"}, 0)


@pytest.mark.long
def test_no_change_status_reads_no_folder_and_changes_deep_in_the_tree_are_found(mon, tmp_path):
    tree(mon)
    settle(mon, tmp_path)  # the first status started the daemon and walked everything; the next read nothing
    assert run(mon, tmp_path) == ({"data": "unchanged"}, 0)
    deep = mon.root / "data/b/y"

    (deep / "f3.txt").write_text("modified!")  # modify
    age(deep)
    states, reads = run(mon, tmp_path)
    assert states == {"data": "modified"} and 0 < reads < FOLDERS
    assert run(mon, tmp_path)[1] == 0  # remembered with the new token
    (deep / "f3.txt").write_text("by3")  # back to what was added
    age(deep)
    assert run(mon, tmp_path)[0] == {"data": "unchanged"}

    (deep / "new.txt").write_text("created")  # create
    age(deep)
    assert run(mon, tmp_path)[0] == {"data": "modified"}
    (deep / "new.txt").unlink()
    assert run(mon, tmp_path)[0] == {"data": "unchanged"}

    (deep / "f0.txt").unlink()  # delete
    assert run(mon, tmp_path)[0] == {"data": "modified"}
    (deep / "f0.txt").write_text("by0")
    age(deep)
    assert run(mon, tmp_path)[0] == {"data": "unchanged"}

    (deep / "f1.txt").rename(deep / "renamed.txt")  # rename
    assert run(mon, tmp_path)[0] == {"data": "modified"}
    (deep / "renamed.txt").rename(deep / "f1.txt")
    age(deep.parent)  # the renames dated the folder itself (an entry of its parent): else a status started within
    # the racy window leaves the parent unremembered and stores no token (a fast start did)
    assert run(mon, tmp_path)[0] == {"data": "unchanged"}
    assert run(mon, tmp_path) == ({"data": "unchanged"}, 0)


def test_a_folder_created_after_the_daemon_started_is_read_whole(mon, tmp_path):
    tree(mon)
    settle(mon, tmp_path)
    made = mon.root / "data/c/new/deeper"
    made.mkdir(parents=True)  # files land in it before the daemon can watch it
    (made / "f.txt").write_text("inside")
    (made.parent / "g.txt").write_text("beside")
    age(mon.root / "data/c")
    assert run(mon, tmp_path)[0] == {"data": "modified"}
    mon.art("add", "data")
    assert run(mon, tmp_path)[0] == {"data": "unchanged"}
    assert run(mon, tmp_path) == ({"data": "unchanged"}, 0)
    (made / "f.txt").write_text("changed inside the new folder")  # the new folder is watched now
    age(made)
    assert run(mon, tmp_path)[0] == {"data": "modified"}
    shutil.move(mon.root / "data/c/new", mon.root / "data/a/moved")  # a folder moved: watched at its new place
    assert run(mon, tmp_path)[0] == {"data": "modified"}
    mon.art("add", "data")
    assert run(mon, tmp_path)[0] == {"data": "unchanged"}
    (mon.root / "data/a/moved/deeper/f.txt").write_text("again")
    age(mon.root / "data/a/moved")
    assert run(mon, tmp_path)[0] == {"data": "modified"}


def test_a_killed_daemon_means_a_full_walk_and_a_new_daemon(mon, tmp_path):
    tree(mon)
    settle(mon, tmp_path)
    [first] = _daemons(mon.root)
    os.kill(first, signal.SIGKILL)
    (mon.root / "data/a/x/f1.txt").write_text("changed while no daemon ran")
    age(mon.root / "data/a/x")
    states, reads = run(mon, tmp_path)  # a new daemon: unknown token, so the full walk (and the rebuild)
    assert states == {"data": "modified"} and reads >= FOLDERS
    [second] = _daemons(mon.root)
    assert second != first
    assert run(mon, tmp_path) == ({"data": "modified"}, 0)


@pytest.mark.slow
def test_a_daemon_that_dies_while_answering_means_a_full_walk(mon, tmp_path):
    tree(mon)
    env = {**os.environ, "ART_FAULT": "fsmonitor.answer@2:kill"}
    r = subprocess.run([*ART, "fsmonitor", "start"], cwd=mon.root, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    [first] = _daemons(mon.root)
    assert run(mon, tmp_path) == ({"data": "unchanged"}, FOLDERS)  # answer 1: unknown token
    (mon.root / "data/c/z/f4.txt").write_text("changed")
    age(mon.root / "data/c/z")
    states, reads = run(mon, tmp_path)  # answer 2 killed the daemon: the full walk
    assert states == {"data": "modified"} and reads >= FOLDERS
    assert first not in _daemons(mon.root)


def test_an_overflowed_queue_means_a_full_walk(mon, tmp_path):
    tree(mon)
    release = tmp_path / "release"
    env = {**os.environ, "ART_FAULT": "fsmonitor.drain@2:block", "ART_FAULT_RELEASE": str(release)}
    r = subprocess.run([*ART, "fsmonitor", "start"], cwd=mon.root, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert run(mon, tmp_path) == ({"data": "unchanged"}, FOLDERS)  # drain 1 (in the answer); token stored
    a, b = mon.root / "data/a/x/f0.txt", mon.root / "data/a/x/f1.txt"
    a.write_text("changed")  # wakes the daemon, which blocks in drain 2
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    for i in range(limit // 2 + 10):  # alternating, so the kernel cannot merge them: the queue overflows
        os.utime(b, ns=(i, i))
        os.utime(a, ns=(i, i))
    age(mon.root / "data/a/x")
    release.touch()
    states, reads = run(mon, tmp_path)
    assert states == {"data": "modified"} and reads >= FOLDERS
    info = json.loads(mon.art("fsmonitor", "status", "--json").stdout)
    assert info["running"] and info["overflows"] == 1
    assert run(mon, tmp_path) == ({"data": "modified"}, 0)


def test_fsmonitor_start_status_stop(mon, tmp_path):
    tree(mon)
    assert json.loads(mon.art("fsmonitor", "status", "--json").stdout)["running"] is False
    assert "fsmonitor running" in mon.art("fsmonitor", "start").stdout
    info = json.loads(mon.art("fsmonitor", "status", "--json").stdout)
    assert info["running"] and info["enabled"] and info["watched_folders"] == FOLDERS + 1  # the workspace root too
    [pid] = _daemons(mon.root)
    assert info["pid"] == pid
    untracked = mon.git("status", "--porcelain", "--untracked-files=all").stdout
    assert "fsmonitor" not in untracked and ".art/cache" not in untracked  # under .art/cache: git ignores it
    assert f"stopped (pid {pid})" in mon.art("fsmonitor", "stop").stdout
    assert _daemons(mon.root) == []
    assert not (mon.root / ".art/cache/fsmonitor/pid").exists()
    assert "not running" in mon.art("fsmonitor", "stop").stdout
    mon.art("config", "core.fsmonitor", "false")
    assert run(mon, tmp_path) == ({"data": "unchanged"}, FOLDERS)  # off: no daemon started
    assert _daemons(mon.root) == []


def test_the_daemon_exits_when_art_is_removed(mon, tmp_path):
    tree(mon)
    mon.art("fsmonitor", "start")
    [pid] = _daemons(mon.root)
    shutil.rmtree(mon.root / ".art")
    for _ in range(500):
        if pid not in _daemons(mon.root):
            break
        time.sleep(0.02)
    assert pid not in _daemons(mon.root)


@pytest.mark.slow
def test_a_long_workspace_path_uses_an_abstract_socket(tmp_path):
    from tests.conftest import Workspace, git

    root = tmp_path / ("d" * 60) / ("e" * 60) / "ws"
    root.mkdir(parents=True)
    git(root, "init", "-q")
    w = Workspace(root)
    w.art("init")
    w.art("config", "core.fsmonitor", "true")
    assert is_abstract(address(root / ".art"))
    try:
        tree(w)
        settle(w, tmp_path)
        (root / "data/b/x/f2.txt").write_text("changed")
        age(root / "data/b/x")
        assert run(w, tmp_path)[0] == {"data": "modified"}
    finally:
        for pid in _daemons(root):
            _kill(pid)
    assert _daemons(root) == []


@pytest.mark.slow
def test_a_status_of_some_paths_does_not_move_the_token(mon, tmp_path):
    tree(mon)
    mon.gen({"other": {"o.txt": "o"}})
    age(mon.root / "other")
    mon.art("add", "other")
    assert run(mon, tmp_path)[0] == {"data": "unchanged", "other": "unchanged"}
    assert run(mon, tmp_path) == ({"data": "unchanged", "other": "unchanged"}, 0)
    (mon.root / "data/a/y/f1.txt").write_text("changed")
    age(mon.root / "data/a/y")
    assert run(mon, tmp_path, "other")[0] == {"other": "unchanged"}  # data's change is still reported after it
    assert run(mon, tmp_path)[0] == {"data": "modified", "other": "unchanged"}


def test_signatures_written_outside_the_lock_drop_the_token(mon, tmp_path):
    tree(mon)
    settle(mon, tmp_path)
    repo = mon.repo()
    try:
        assert repo.state.monitor_token()
        token = repo.state.monitor_token()
        repo.state.set_tree("data/zz", "00" * 32, "ab" * 32, 1)  # as a status without the lock would
        repo.state.flush()
        assert repo.state.monitor_token() != token
        repo.state.set_monitor_token("new", token)  # a session that had read the old token stores nothing
        repo.state.flush()
        assert repo.state.monitor_token() not in (token, "new")
    finally:
        repo.close()
    assert run(mon, tmp_path) == ({"data": "unchanged"}, FOLDERS)  # no token: the full walk again


@pytest.mark.slow
def test_fsmonitor_stop_stops_a_daemon_that_does_not_answer(mon, tmp_path):
    tree(mon)
    env = {**os.environ, "ART_FAULT": "fsmonitor.drain:block", "ART_FAULT_RELEASE": str(tmp_path / "never")}
    r = subprocess.run([*ART, "fsmonitor", "start"], cwd=mon.root, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    [pid] = _daemons(mon.root)
    (mon.root / "data/a/x/f0.txt").write_text("wakes the daemon, which blocks")
    assert f"stopped (pid {pid})" in mon.art("fsmonitor", "stop").stdout
    assert _daemons(mon.root) == []
    assert not (mon.root / ".art/cache/fsmonitor/pid").exists()


def test_a_stage_output_folder_is_checked_through_the_monitor_too(mon, tmp_path):
    tree(mon)
    mon.gen({"in.txt": "seed"})
    script = "mkdir -p feat/a feat/b && cp in.txt feat/a/f.txt && cp in.txt feat/b/g.txt"
    mon.art("stage", "add", "feat", "-d", "in.txt", "-o", "feat", "--", script)
    mon.art("repro")
    age(mon.root / "feat")

    def stage_run() -> tuple[str, int]:
        log = tmp_path / f"stage-{len(list(tmp_path.glob('stage-*')))}.log"
        env = {**os.environ, "ART_FAULT_LOG": str(log)}
        r = subprocess.run([*ART, "status", "--json"], cwd=mon.root, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        [stage] = json.loads(r.stdout)["stages"]
        return stage["state"], log.read_text().splitlines().count("scan.folder-read") if log.exists() else 0

    assert stage_run()[0] == "up-to-date"
    assert stage_run() == ("up-to-date", 0)  # neither data nor the stage's output folder is read
    (mon.root / "feat/b/g.txt").write_text("edited by hand")
    age(mon.root / "feat/b")
    state, reads = stage_run()
    assert state == "stale" and 0 < reads < FOLDERS
