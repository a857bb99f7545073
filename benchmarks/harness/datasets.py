"""Seeded input data, generated once per run (or reused with --data-dir): identical bytes for both tools."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from .core import MIB, Config, log


def make_big(path: Path, size: int, seed: int) -> None:
    """Incompressible, non-dedupable file of `size` bytes from seeded 1 MiB random blocks."""
    rng = random.Random(seed)
    tmp = path.with_suffix(".partial")
    with open(tmp, "wb") as fh:
        left = size
        while left > 0:
            fh.write(rng.randbytes(min(MIB, left)))
            left -= MIB
    tmp.rename(path)


def csv_chunk(rng: random.Random, start: int, rows: int, pools: dict[str, list[str]]) -> str:
    cols = [rng.choices(pools[name], k=rows) for name in ("user", "cat", "val", "date")]
    return "".join(map("{},{},{},{},{}\n".format, range(start, start + rows), *cols))


def make_csv(path: Path, size: int, seed: int) -> None:
    """Compressible CSV (~3x with zlib) of about `size` bytes with non-repeating rows."""
    rng = random.Random(seed)
    pools = {
        "user": [f"user{rng.randrange(10**6):06d}" for _ in range(50_000)],
        "cat": ["alpha", "beta", "gamma", "delta", "epsilon"],
        "val": [f"{rng.random() * 1000:.4f}" for _ in range(100_000)],
        "date": [f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)],
    }
    tmp = path.with_suffix(".partial")
    written, row = 0, 0
    with open(tmp, "w") as fh:
        fh.write("id,user,category,value,date\n")
        while written < size:
            chunk = csv_chunk(rng, row, 50_000, pools)
            fh.write(chunk)
            written += len(chunk)
            row += 50_000
    tmp.rename(path)


def make_small(root: Path, files: int, seed: int) -> None:
    """`files` random files of 1-4 KiB spread over up to 20 subdirectories."""
    rng = random.Random(seed)
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    ndirs = max(1, min(20, files // 100))
    for d in range(ndirs):
        (tmp / f"d{d:02d}").mkdir(parents=True)
    for i in range(files):
        (tmp / f"d{i % ndirs:02d}" / f"f{i:06d}.bin").write_bytes(rng.randbytes(rng.randint(1024, 4096)))
    tmp.rename(root)


def dataset(cfg: Config, kind: str) -> Path:
    """Path of a generated input (generated on first use; reused across runs with --data-dir)."""
    paths = {
        "big": (cfg.data / f"big-{cfg.size}.bin", make_big),
        "csv": (cfg.data / f"table-{cfg.size // 4}.csv", make_csv),
        "small": (cfg.data / f"small-{cfg.files}", make_small),
    }
    path, maker = paths[kind]
    if not path.exists():
        cfg.data.mkdir(parents=True, exist_ok=True)
        amount = cfg.files if kind == "small" else (cfg.size if kind == "big" else cfg.size // 4)
        log(f"generating {kind} data -> {path}")
        maker(path, amount, 1234)
    return path
