"""Kill art mid-operation (SIGKILL at several points) and check that nothing is lost or half-written."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.builders import b3, write_random_file

pytestmark = pytest.mark.e2e
ART = [sys.executable, "-m", "artvc"]


def run(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([*ART, *args], cwd=cwd, capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def kill_after(cwd: Path, delay: float, *args: str) -> int:
    proc = subprocess.Popen([*ART, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


@pytest.fixture
def repo(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    run(tmp_path, "init")
    return tmp_path


@pytest.mark.slow  # 96 MiB and four timed kills; tests/chaos.py kills at every fault point
def test_killed_add_leaves_store_valid_and_user_file_intact(repo):
    big = repo / "big.bin"
    write_random_file(big, 96 << 20, seed=1)
    digest = b3(big)
    for delay in (0.15, 0.3, 0.5, 0.8):
        kill_after(repo, delay, "add", "big.bin")
        assert b3(big) == digest
        run(repo, "fsck")  # every stored object hashes to its id; leftovers are not objects
        run(repo, "status")  # the lock of the killed process does not block
    run(repo, "add", "big.bin")
    assert f'id = "{digest}"' in (repo / "big.bin.art").read_text()
    run(repo, "fsck")


@pytest.mark.slow  # 96 MiB and four timed kills; tests/chaos.py kills at every fault point
def test_killed_checkout_never_truncates_or_mixes_a_file(repo):
    big = repo / "big.bin"
    write_random_file(big, 96 << 20, seed=2)
    run(repo, "add", "big.bin")
    stored = b3(big)
    write_random_file(big, 96 << 20, seed=3)
    edited = b3(big)
    outcomes = set()
    for delay in (0.1, 0.25, 0.4, 0.6):
        kill_after(repo, delay, "checkout", "--force")
        now = b3(big)
        assert now in (stored, edited)
        outcomes.add(now)
        if now == stored:
            write_random_file(big, 96 << 20, seed=3)
    run(repo, "checkout", "--force")
    assert b3(big) == stored
    assert not [p for p in repo.iterdir() if p.name.endswith(".art-tmp")]  # killed runs' temp files are gone
    run(repo, "status", "--check")


def test_lock_of_a_killed_process_does_not_block(repo):
    (repo / "f.txt").write_text("x")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, os, time\n"
                "fd = os.open('.art/lock', os.O_RDWR | os.O_CREAT)\n"
                "fcntl.flock(fd, fcntl.LOCK_EX)\n"
                "os.write(fd, b'pid %d' % os.getpid())\n"
                "print('locked', flush=True)\n"
                "time.sleep(60)\n"
            ),
        ],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    run(repo, "add", "f.txt")


@pytest.mark.slow
def test_adding_2_gib_stays_under_150_mb_rss(repo):
    big = repo / "huge.bin"
    write_random_file(big, 2 << 30, seed=4)
    # a fresh parent whose only child is art, so the peak is art's own and not an earlier test's child
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *ART, "add", "-q", "huge.bin"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    peak_kib = int(out.strip())
    assert 10 * 1024 < peak_kib < 150 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
    assert (repo / "huge.bin.art").exists()
    big.unlink()
