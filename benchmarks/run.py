"""Side-by-side benchmark of art against DVC: identical data, fresh repos, medians of K repeats, ratios."""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import python_pipeline
from harness.core import MIB, TOOL_NAMES, Cell, Config, Results, Tool, default_art, log, resolve
from harness.execute import run_group
from harness.report import print_table, to_json
from scenarios import ALL_KEYS, GROUPS

HERE = Path(__file__).resolve().parent
DEFAULT_DVC = HERE / ".venv-dvc" / "bin" / "dvc"
PYFLOW = "pyflow"  # --only name of the Python-pipeline comparison with ZenML


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--art",
        default=default_art(),
        help="art command (shell-split; default: the art that "
        "setup.sh installs in benchmarks/.venv-art, else art on PATH)",
    )
    p.add_argument("--dvc", default=str(DEFAULT_DVC), help="dvc command (default: benchmarks/.venv-dvc)")
    p.add_argument("--only", default="", help=f"comma-separated scenarios: {', '.join(public_names())}")
    p.add_argument("--skip", default="", help="comma-separated tools to skip (dvc, art, zenml)")
    p.add_argument("--size-mb", type=int, default=1024, help="big file size in MiB (CSV is a quarter)")
    p.add_argument("--files", type=int, default=20_000, help="small files in the directory scenarios")
    p.add_argument("--stages", type=int, default=50, help="pipeline length")
    p.add_argument("--repeat", type=int, default=3, help="repeats per scenario; the median is reported")
    p.add_argument("--json", type=Path, help="also write results as JSON here")
    p.add_argument("--tmp", type=Path, help="scratch parent dir (same filesystem for both tools)")
    p.add_argument("--data-dir", type=Path, help="keep generated input data here and reuse it across runs")
    p.add_argument("--timeout", type=float, default=900.0, help="per-command timeout in seconds")
    p.add_argument("--settle", type=float, default=60.0, help="max wait (s) for disk quiet after deletes")
    p.add_argument("--pause", type=float, default=5.0, help="max wait (s) for disk quiet before timing")
    p.add_argument("--keep", action="store_true", help="keep the scratch dir")
    python_pipeline.add_options(p)
    return p.parse_args(argv)


def public_names() -> list[str]:
    names = [k for k in ALL_KEYS if not k.startswith("pipeline_50.")]
    return [*names, "pipeline_50", "tutorial", PYFLOW]


def select(only: str) -> set[str]:
    """Resolve --only names; `pipeline_50` (or any `pipeline*`) picks every pipeline step, `tutorial` every
    step of the experiment loop, `pyflow` (or any `pyflow.*`) the Python-pipeline comparison with ZenML
    (python_pipeline.py)."""
    if not only.strip():
        return {*ALL_KEYS, PYFLOW}
    chosen: set[str] = set()
    for name in (n.strip() for n in only.split(",") if n.strip()):
        if name == "tutorial":
            chosen.update(k for k in ALL_KEYS if k.startswith("tutorial."))
        if name.split(".")[0] == PYFLOW:
            chosen.add(PYFLOW)
            continue
        matches = [k for k in ALL_KEYS if k == name or (name.startswith("pipeline") and k.startswith(name))]
        if name.startswith("pipeline") and not matches:
            matches = [k for k in ALL_KEYS if k.startswith("pipeline_50.")]
        if not matches:
            raise SystemExit(f"unknown scenario {name!r}; choose from {', '.join(public_names())}")
        chosen.update(matches)
    return chosen


def make_tools(args: argparse.Namespace) -> list[Tool]:
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    tools = [
        Tool("dvc", tuple(shlex.split(args.dvc)), ".dvc/cache", ".dvc"),
        Tool("art", tuple(resolve(shlex.split(args.art))), ".art/store", ".art"),
    ]
    return [t for t in tools if t.name not in skip]


def tool_version(tool: Tool) -> str:
    try:
        out = subprocess.run([*tool.argv, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    text = (out.stdout or out.stderr).strip().splitlines()
    return (text[-1] if text else "?") + ("" if out.returncode == 0 else f" (exit {out.returncode})")


def make_config(args: argparse.Namespace) -> Config:
    base = Path(tempfile.mkdtemp(prefix="art-bench-", dir=args.tmp))
    data = args.data_dir or base / "data"
    sizes = (args.size_mb * MIB, args.files, args.stages, args.repeat)
    return Config(*sizes, args.timeout, args.settle, args.pause, base, data)


def on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(143)  # unwinds through `finally`, so the scratch dir is removed and children killed


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, on_sigterm)
    args = parse_args(argv)
    selected = select(args.only)
    tools = make_tools(args)
    cfg = make_config(args)
    base = cfg.base
    for tool in tools:
        log(f"{tool.name}: {shlex.join(tool.argv)} -> {tool_version(tool)}")
    log(
        f"scratch {base}; big {args.size_mb} MiB, csv {args.size_mb // 4} MiB, {args.files} files, "
        f"{args.stages} stages, {args.repeat} repeats"
    )
    results: Results = {k: {n: Cell() for n in TOOL_NAMES} for k in ALL_KEYS if k in selected}
    skipped = {n for n in TOOL_NAMES if n not in {t.name for t in tools}}
    for key in results:
        for name in skipped:
            results[key][name].error = "not run: skipped by --skip"
    py_opts = python_pipeline.options_from(args, resolve(shlex.split(args.art)), base / PYFLOW)
    py_results = None
    try:
        for index, group in enumerate(GROUPS):
            run_group(index, group, cfg, tools, selected, results)
        if PYFLOW in selected:
            py_opts.base.mkdir()
            py_results = python_pipeline.run(py_opts)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    if results:
        print_table(results, cfg)
    if py_results is not None:
        if results:
            print()
        python_pipeline.print_table(py_results)
    if args.json:
        doc = to_json(results, cfg, tools)
        if py_results is not None:
            doc["python_pipeline"] = python_pipeline.to_json(py_results, py_opts)
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
