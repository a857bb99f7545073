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
