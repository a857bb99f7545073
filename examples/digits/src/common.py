"""Helpers shared by the stages: read and write the integer CSV tables (64 pixel columns, then the label)."""

import csv
import tomllib
from pathlib import Path


def params(section: str) -> dict:
    with open("params.toml", "rb") as f:
        return tomllib.load(f)[section]


def write_table(path: str, rows) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def read_table(path: str):
    """Return (features, labels) as lists of lists of ints and a list of ints."""
    with open(path, newline="") as f:
        rows = [[int(v) for v in row] for row in csv.reader(f)]
    return [r[:-1] for r in rows], [r[-1] for r in rows]
