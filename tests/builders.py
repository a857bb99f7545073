"""Data builders for tests: deterministic CSV-like text and incompressible bytes of a given size."""

from __future__ import annotations

import random
from pathlib import Path


def csv_bytes(size: int, seed: int = 0) -> bytes:
    """Deterministic CSV rows totalling at least ``size`` bytes (then cut to ``size``)."""
    r = random.Random(seed)
    rows, total = ["id,user,value,score,category\n"], 0
    i = 0
    while total < size:
        row = f"{i},user{r.randrange(100000)},{r.random():.6f},{r.randrange(1000)},cat{r.randrange(20)}\n"
        rows.append(row)
        total += len(row)
        i += 1
    return "".join(rows).encode()[:size]


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def write_random_file(path: Path, size: int, seed: int = 0, block: int = 1 << 24) -> None:
    """Write ``size`` incompressible bytes without holding them in memory."""
    r = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(block, left)
            f.write(r.randbytes(n))
            left -= n


def b3(path: Path) -> str:
    """blake3 of a file's content, read in 1 MiB blocks (what art's file ids are)."""
    import blake3

    h = blake3.blake3()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def revised(data: bytes, seed: int) -> bytes:
    """The same bytes with one ASCII digit changed every ~2 KB (what a new release of a dataset does): every
    chunk changes a little, so none is identical to the old version's and each is similar to one."""
    rng = random.Random(seed)
    out = bytearray(data)
    for pos in range(0, len(out), 2048):
        i = pos + rng.randrange(0, 2048)
        if i < len(out) and 48 <= out[i] <= 57:
            out[i] = 48 + (out[i] - 47) % 10
    return bytes(out)


def rewritten(data: bytes, edits: int, seed: int) -> bytes:
    """The same bytes with ``edits`` four-digit values written over them at random places (a revised release
    whose edits are scattered: most chunks stay identical, the edited ones are similar to their old version)."""
    r = random.Random(seed)
    out = bytearray(data)
    for _ in range(edits):
        at = r.randrange(len(out) - 8)
        out[at : at + 4] = b"%04d" % r.randrange(10000)
    return bytes(out)


def writeback_ranges(cmd: list[str], cwd: Path, log: Path, least: int) -> tuple[int, list[str]]:
    """Run ``cmd`` under strace and return how far the ``sync_file_range`` calls it made reached, with the calls:
    they must cover the file from its start, in order, each at least ``least`` bytes (the writeback of a pack or
    of a checked-out file)."""
    import subprocess

    traced = ["strace", "-f", "-qq", "-e", "trace=sync_file_range", "-o", str(log), *cmd]
    r = subprocess.run(traced, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    calls = [line for line in log.read_text().splitlines() if "sync_file_range(" in line]
    ranges = [tuple(int(x) for x in line.split("(", 1)[1].split(",")[1:3]) for line in calls]
    assert ranges and all("SYNC_FILE_RANGE_WRITE)" in line for line in calls), calls
    at = 0
    for offset, length in ranges:
        assert offset == at and length >= least, calls
        at += length
    return at, calls


def started_threads(monkeypatch) -> list[str]:
    """The names of the threads started from now on (a spy on ``threading.Thread.start``)."""
    import threading

    started: list[str] = []
    start = threading.Thread.start

    def spy(self):
        started.append(self.name)
        return start(self)

    monkeypatch.setattr(threading.Thread, "start", spy)
    return started
