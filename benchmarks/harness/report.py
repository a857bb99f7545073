"""Targets, verdicts and output: the table on stdout and the JSON document."""

from __future__ import annotations

import platform
import shlex
from dataclasses import dataclass

from scenarios import ALL_KEYS

from .core import MIB, TOOL_NAMES, Cell, Config, Results, Tool


@dataclass(frozen=True)
class Target:
    """Pass criterion: art/dvc time ratio at most `limit`, art store at most `limit` x data size, or none."""

    kind: str
    limit: float = 0.0
    label: str = "info"


TARGETS: dict[str, Target] = {
    "add_1g": Target("ratio", 1 / 3, "<= 1/3"),
    "status_1g": Target("ratio", 1 / 5, "<= 1/5"),
    "push_1g": Target("ratio", 1 / 2, "<= 1/2"),
    "pull_1g": Target("ratio", 1 / 2, "<= 1/2"),
    "add_csv": Target("info"),
    "add_20k": Target("ratio", 1 / 4, "<= 1/4"),
    "status_20k": Target("ratio", 1 / 10, "<= 1/10"),
    "push_20k": Target("ratio", 1 / 5, "<= 1/5"),
    "push_noop": Target("ratio", 1 / 10, "<= 1/10"),
    "pull_20k": Target("ratio", 1 / 5, "<= 1/5"),
    "pull_noop": Target("ratio", 1 / 10, "<= 1/10"),
    "versions_3": Target("bytes", 1.01, "art<=1.01xF"),
    "pipeline_50.first": Target("ratio", 1 / 3, "<= 1/3"),
    "pipeline_50.noop": Target("ratio", 1 / 10, "<= 1/10"),
    "pipeline_50.status": Target("ratio", 1 / 10, "<= 1/10"),
    "pipeline_50.change_first": Target("ratio", 1 / 3, "<= 1/3"),
    "pipeline_50.change_late": Target("info"),
    "tutorial.metrics_diff": Target("ratio", 1 / 3, "<= 1/3"),
    "tutorial.exp_grid": Target("ratio", 1 / 3, "<= 1/3"),
    "tutorial.exp_grid_cached": Target("ratio", 1 / 3, "<= 1/3"),
    "tutorial.exp_show_100": Target("ratio", 1 / 3, "<= 1/3"),
}


def fmt_secs(cell: Cell) -> str:
    med = cell.median()
    if cell.error is not None:
        return "skip" if cell.error.startswith("not run: skipped") else "FAIL"
    return "-" if med is None else f"{med:.3f}"


def fmt_mib(n: int | None) -> str:
    return "?" if n is None else f"{n / MIB:.1f}MiB"


def verdict(key: str, cells: dict[str, Cell], cfg: Config) -> tuple[str, str]:
    """(ratio text, pass/fail text) for one scenario row."""
    dvc, art = cells["dvc"].median(), cells["art"].median()
    ratio = f"{art / dvc:.3f}" if dvc and art is not None else "-"
    target = TARGETS[key]
    if cells["art"].error is not None:
        return ratio, "-" if cells["art"].error.startswith("not run: skipped") else "FAIL"
    if target.kind == "bytes":
        stored = cells["art"].stored
        return ratio, "-" if stored is None else ("pass" if stored <= target.limit * cfg.size else "fail")
    if target.kind == "info" or ratio == "-":
        return ratio, "info" if target.kind == "info" else "-"
    return ratio, "pass" if float(ratio) <= target.limit else "fail"


def notes(key: str, cells: dict[str, Cell], cfg: Config) -> str:
    parts = []
    sizes = {"add_1g": cfg.size, "add_csv": cfg.size // 4, "push_1g": cfg.size, "pull_1g": cfg.size}
    for name in TOOL_NAMES:
        med = cells[name].median()
        if key in sizes and med:
            parts.append(f"{name} {sizes[key] / MIB / med:.0f}MiB/s")
    if any(cells[n].stored is not None for n in TOOL_NAMES):
        parts.append("stored " + " ".join(f"{n}={fmt_mib(cells[n].stored)}" for n in TOOL_NAMES))
    return "; ".join(parts)


def print_table(results: Results, cfg: Config) -> None:
    head = f"{'scenario':<26} {'dvc s':>9} {'art s':>9} {'art/dvc':>8} {'target':>12} {'result':>6}  notes"
    print(head)
    print("-" * len(head))
    for key in (k for k in ALL_KEYS if k in results):
        cells = results[key]
        ratio, result = verdict(key, cells, cfg)
        print(
            f"{key:<26} {fmt_secs(cells['dvc']):>9} {fmt_secs(cells['art']):>9} {ratio:>8} "
            f"{TARGETS[key].label:>12} {result:>6}  {notes(key, cells, cfg)}"
        )
    failures = [(k, n, results[k][n].error) for k in ALL_KEYS if k in results for n in TOOL_NAMES]
    for key, name, error in failures:
        if error and not error.startswith("not run:"):
            print(f"\nFAIL {name} {key}: {error}")


def to_json(results: Results, cfg: Config, tools: list[Tool]) -> dict[str, object]:
    rows: dict[str, object] = {}
    for key in (k for k in ALL_KEYS if k in results):
        ratio, result = verdict(key, results[key], cfg)
        per_tool = {
            n: {"median_s": c.median(), "times_s": c.times, "stored_bytes": c.stored, "error": c.error}
            for n, c in results[key].items()
        }
        rows[key] = {
            **per_tool,
            "ratio_art_over_dvc": None if ratio == "-" else float(ratio),
            "target": TARGETS[key].label,
            "result": result,
        }
    meta = {
        "size_bytes": cfg.size,
        "files": cfg.files,
        "stages": cfg.stages,
        "repeat": cfg.repeat,
        "tools": {t.name: shlex.join(t.argv) for t in tools},
        "machine": platform.platform(),
    }
    return {"config": meta, "scenarios": rows}
