"""A checkout of many small files writes them in two processes (``workspace/forked_writes.py``): the same bytes,
modes and stat cache as one process, and every failure of either process ends the checkout with nothing in
place."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from artvc.workspace import add, checkout, forked_writes, status
from tests.builders import random_bytes
from tests.conftest import Workspace
from tests.workspace.test_plan_apply import snapshot

ART = [sys.executable, "-m", "artvc"]


def _tree(ws: Workspace, folders: int, per: int, last: int | None = None) -> dict[str, tuple]:
    """Folders of small files (raw and zstd ones, empty ones, duplicates, two executables), added; ``last``:
    how many the last folder holds (``per`` when None)."""
    spec: dict = {}
    for d in range(folders):
        files: dict = {}
        for i in range(per if last is None or d < folders - 1 else last):
            k = d * per + i
            if k % 97 == 0:
                content = b""
            elif k % 5 == 0:
                content = (f"line {k}\n" * (20 + k % 200)).encode()  # compressible: stored as zstd
            elif k % 11 == 0:
                content = b"the same in many files\n" * 10
            else:
                content = random_bytes(50 + k % 3000, seed=90_000 + k)
            files[f"f{i:04d}"] = content
        spec[f"s{d:02d}"] = files
    ws.gen({"d": spec})
    os.chmod(ws.root / "d/s01/f0001", 0o755)
    os.chmod(ws.root / "d/s02/f0003", 0o755)
    ws.art("config", "core.jobs", "2")
    ws.art("add", "d")
    return snapshot(ws.root / "d")


def _forks(monkeypatch) -> list[int]:
    """A spy on ``os.fork``: how many times this process forked (the child never returns here)."""
    forks: list[int] = []
    real = os.fork

    def spy() -> int:
        pid = real()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", spy)
    return forks


@pytest.mark.skipif(not forked_writes.AVAILABLE, reason="the second process is forked on Linux only")
def test_two_processes_write_the_same_folder_and_the_stat_cache_trusts_every_file(ws, monkeypatch):
    before = _tree(ws, 6, 120)
    shutil.rmtree(ws.root / "d")
    monkeypatch.setattr(forked_writes, "FORK_AT", 500)
    split: list[list[bool]] = []
    real = forked_writes.split_run

    def counting(jobs, theirs, *rest):
        split.append(list(theirs))
        return real(jobs, theirs, *rest)

    monkeypatch.setattr(forked_writes, "split_run", counting)
    # this test process may run threads other tests' fixtures left (servers): an art process runs none, and
    # the refusal to fork beside them is tested below
    monkeypatch.setattr(forked_writes, "can_fork", lambda: forked_writes.AVAILABLE)
    forks = _forks(monkeypatch)
    with ws.repo() as repo:
        assert checkout(repo).files_written == 720
    assert len(forks) == 1  # none on the old code: two threads, or one
    [theirs] = split
    assert len(theirs) == 6 and sum(theirs) == 3  # a job per folder, every other one the child's
    assert snapshot(ws.root / "d") == before  # bytes and modes, the child's files included
    assert not [p for p in os.listdir(ws.root) if "art-tmp" in p]
    monkeypatch.undo()
    with ws.repo() as repo:
        assert status(repo).clean
        again = add(repo, ["d"])  # the child's files were recorded in the stat cache as this process's
        assert again.stats.hashed == 0 and not again.artifacts[0].changed


def test_below_the_threshold_and_without_jobs_nothing_is_forked(ws, monkeypatch):
    before = _tree(ws, 3, 100)
    shutil.rmtree(ws.root / "d")
    forks = _forks(monkeypatch)
    with ws.repo() as repo:
        assert checkout(repo).files_written == 300  # fewer than FORK_AT
    monkeypatch.setattr(forked_writes, "FORK_AT", 10)
    ws.art("config", "core.jobs", "1")
    shutil.rmtree(ws.root / "d")
    with ws.repo() as repo:
        assert checkout(repo).files_written == 300  # core.jobs 1
    assert forks == []
    assert snapshot(ws.root / "d") == before


def test_a_process_running_other_threads_does_not_fork(ws, monkeypatch):
    """A fork copies only the calling thread: a lock another thread holds would stay held in the child forever
    (art imported by a Dask worker or a web server), so the checkout writes in one process then."""
    import threading

    before = _tree(ws, 6, 120)
    shutil.rmtree(ws.root / "d")
    monkeypatch.setattr(forked_writes, "FORK_AT", 500)
    forks = _forks(monkeypatch)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="someone-elses-thread")
    other.start()
    try:
        with ws.repo() as repo:
            assert checkout(repo).files_written == 720
    finally:
        stop.set()
        other.join()
    assert forks == []
    assert snapshot(ws.root / "d") == before


def _run(ws: Workspace, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*ART, *args], cwd=ws.root, env={**os.environ, **env}, capture_output=True, text=True)


@pytest.mark.slow
@pytest.mark.skipif(not forked_writes.AVAILABLE, reason="the second process is forked on Linux only")
@pytest.mark.parametrize(
    ("at", "fault", "code"),
    [(1500, "eio", 13), (2300, "eio", 13), (2300, "kill", -9), (2300, "interrupt", 130)],
)
def test_a_failure_in_either_process_leaves_nothing_and_the_next_checkout_finishes(ws, at, fault, code):
    """Ten folders, 4,600 files (over ``FORK_AT``): the parent writes the even folders (2,000 files), the child
    the odd ones (2,600: its last folder holds 1,000). Each process counts its own writes, so the 1,500th is
    reached by both, the 2,300th by the child alone (its error, its kill, its interrupt). Whichever fails, the
    checkout ends as one process would (exit 13 naming the file, killed, interrupted) and nothing appears."""
    before = _tree(ws, 10, 400, last=1000)
    shutil.rmtree(ws.root / "d")
    r = _run(ws, "checkout", env={"ART_FAULT": f"materialize.file-writing@{at}:{fault}"})
    assert r.returncode == code, r.stderr
    if code == 13:
        assert r.stderr.startswith("art: error: cannot write ") and "I/O error" in r.stderr
        assert "art-tmp-dir/s0" in r.stderr  # the file, in the staging folder
        if at == 2300:  # the child's error, raised again by the parent: a file of its last folder
            assert "art-tmp-dir/s09/" in r.stderr
    assert not (ws.root / "d").exists()
    if fault != "kill":  # a kill leaves the staging folder to the next command
        assert not [p for p in os.listdir(ws.root) if "art-tmp" in p]
    ok = _run(ws, "checkout", env={})
    assert ok.returncode == 0, ok.stderr
    assert snapshot(ws.root / "d") == before
    assert not [p for p in os.listdir(ws.root) if "art-tmp" in p]
    with ws.repo() as repo:
        assert status(repo).clean
