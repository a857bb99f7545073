"""art vs ZenML on the same three-step Python pipeline, beside a bare-Python floor.

The pipeline (benchmarks/pyflow/): importer (seeded synthetic numpy arrays, 2,000 x 16, split 75/25) ->
trainer (a least-squares linear classifier) -> evaluator (accuracy). The step bodies are shared
(pyflow/bodies.py) and time themselves; a tool's overhead is a run's wall time minus its bodies' own time.

Each tool gets a fresh git repository in the scratch directory (art: `art init`; ZenML: `zenml init`, its global
config and local SQLite store inside the scratch directory, analytics off, no server). Two ways of running:

* in-process: one Python process per tool imports the pipeline and calls it: a first run (seed 0), then per
  repeat an executed run (a new seed: every step runs) and the same call again (every step cached);
* process: per repeat, a fresh process runs it once with a new seed, then once more (cached): `art run
  art_pipeline:bench_pipeline -p seed=N` against `python zenml_pipeline.py N`; the floor is `python
  floor_pipeline.py N`.

Every run is checked, not just timed: an executed run must have called the three bodies, a cached one none.
Standard library only; run from anywhere:

    bash benchmarks/setup.sh                          # .venv-art (art + numpy) and .venv-zenml (zenml[local])
    python benchmarks/python_pipeline.py              # 3 repeats; also `python benchmarks/run.py --only pyflow`
    python benchmarks/python_pipeline.py --repeat 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.core import ToolError, default_art, log, resolve, run_cmd

HERE = Path(__file__).resolve().parent
FLOW = HERE / "pyflow"
DEFAULT_ZENML = HERE / ".venv-zenml" / "bin" / "python"
STEPS = ("importer", "trainer", "evaluator")
TOOLS = ("floor", "zenml", "art")
MS = 1000.0


@dataclass(frozen=True)
class Row:
    """One line of the table: what it measures and its target (on art's value, or on art/zenml)."""

    key: str
    what: str
    kind: str = "info"  # "info", "ratio" (art/zenml <= limit) or "abs_ms" (art <= limit ms)
    limit: float = 0.0
    label: str = "info"


ROWS = (
    Row("pyflow.first", "first run in the fresh repository, in-process (executed)"),
    Row("pyflow.executed", "an executed run (new seed), in-process"),
    Row("pyflow.executed.per_step", "(wall - bodies) / 3 of that run", "abs_ms", 20.0, "art<=20ms"),
    Row("pyflow.cached", "the same call again (all cached), in-process", "ratio", 0.1, "<= 1/10"),
    Row("pyflow.cached.per_step", "wall / 3 of the cached run", "abs_ms", 20.0, "art<=20ms"),
    Row("pyflow.cli.executed", "a fresh process, new seed: art run / python zenml_pipeline.py"),
    Row("pyflow.cli.executed.per_step", "(wall - bodies - floor's process start) / 3"),
    Row("pyflow.cli.cached", "the same command again (all cached)", "ratio", 0.1, "<= 1/10"),
    Row("pyflow.cli.cached.per_step", "(wall - floor's process start) / 3"),
)
KEYS = [r.key for r in ROWS]


@dataclass
class Options:
    art: list[str]
    art_python: str
    zenml_python: str
    repeat: int
    timeout: float
    base: Path
    skip: set[str] = field(default_factory=set)
    clock: str = "wall"  # or "cpu": user + system CPU seconds of the tool's process (for a busy machine)

    @property
    def cpu(self) -> bool:
        return self.clock == "cpu"


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)  # milliseconds, one per repeat
    error: str | None = None

    def median(self) -> float | None:
        return statistics.median(self.values) if self.values and self.error is None else None


Results = dict[str, dict[str, Cell]]


def default_art_python(art: list[str]) -> str:
    """The interpreter art runs under: `python -m artvc` names it; a venv's bin/art has it beside it."""
    if len(art) >= 3 and art[1:3] == ["-m", "artvc"]:
        return art[0]
    found = shutil.which(art[0]) if art else None
    if found:
        sibling = Path(found).parent / "python"
        if sibling.exists():
            return str(sibling)
    return sys.executable


# ---------------------------------------------------------------- workspaces


def bench_env(opts: Options, tool: str) -> dict[str, str]:
    """Isolated HOME and git identity (as harness/execute.py), ZenML's config and store in the scratch dir."""
    env = os.environ.copy()
    home = opts.base / "home"
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "LC_ALL": "C",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
            "ZENML_CONFIG_PATH": str(opts.base / "zenml-config"),
            "ZENML_ANALYTICS_OPT_IN": "false",
            "AUTO_OPEN_DASHBOARD": "false",
            "BENCH_BODY_LOG": str(opts.base / f"{tool}-bodies.log"),
            # the bodies are tiny: one BLAS thread each keeps their time steady on a busy machine
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def repo_of(opts: Options, tool: str) -> Path:
    return opts.base / tool


def prepare(opts: Options, tool: str) -> None:
    """A git repository holding the pipeline files, then `art init` / `zenml init` (untimed)."""
    repo, env = repo_of(opts, tool), bench_env(opts, tool)
    repo.mkdir(parents=True)
    run_cmd(["git", "init", "-q", "-b", "main"], repo, env, opts.timeout)
    for name in ("bodies.py", "session.py", f"{tool}_pipeline.py"):
        shutil.copyfile(FLOW / name, repo / name)
    if tool == "art":
        run_cmd([*opts.art, "init"], repo, env, opts.timeout)
    elif tool == "zenml":
        run_cmd([str(Path(opts.zenml_python).parent / "zenml"), "init"], repo, env, opts.timeout)


def python_of(opts: Options, tool: str) -> str:
    return opts.zenml_python if tool == "zenml" else opts.art_python


# ---------------------------------------------------------------- measuring


def check_bodies(tool: str, label: str, bodies: list[list]) -> None:
    """An executed run called each body once; a cached one none (the floor has no cache: always all three)."""
    names = [b[0] for b in bodies]
    want = list(STEPS) if tool == "floor" or "cached" not in label else []
    if names != want:
        raise ToolError(f"{tool}: the {label} run called the step bodies {names or 'none'}, expected {want or 'none'}")


def in_process(opts: Options, tool: str) -> list[dict]:
    """One child process runs the first, then per repeat an executed and a cached run; return its samples."""
    plan = ["first:0"]
    for rep in range(opts.repeat):
        plan += [f"executed:{rep + 1}", f"cached:{rep + 1}"]
    out = opts.base / f"{tool}-session.json"
    repo = repo_of(opts, tool)
    argv = [python_of(opts, tool), "session.py", tool, str(out), *plan]
    secs = run_cmd(argv, repo, bench_env(opts, tool), opts.timeout * (1 + 2 * opts.repeat))
    samples = json.loads(out.read_text())["samples"]
    for s in samples:
        check_bodies(tool, s["label"], s["bodies"])
    log(f"in-process {tool:<5} {len(samples)} runs in {secs:.1f}s")
    return samples


def body_lines(path: Path, offset: int) -> tuple[list[list], int]:
    """The (name, wall s, CPU s) lines of the body log after byte `offset`, and the new end."""
    if not path.exists():
        return [], offset
    with open(path) as fh:
        fh.seek(offset)
        text, end = fh.read(), fh.tell()
    return [[n, float(w), float(c)] for n, w, c in (ln.split() for ln in text.splitlines() if ln)], end


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_run(opts: Options, tool: str, seed: int, label: str) -> tuple[float, float]:
    """Run the pipeline once in a fresh process; return (seconds, of which in the bodies) on the chosen clock,
    after checking which bodies ran."""
    env, repo = bench_env(opts, tool), repo_of(opts, tool)
    if tool == "art":
        argv = [*opts.art, "run", "art_pipeline:bench_pipeline", "-p", f"seed={seed}"]
    else:
        argv = [python_of(opts, tool), f"{tool}_pipeline.py", str(seed)]
    log_path = Path(env["BENCH_BODY_LOG"])
    _, offset = body_lines(log_path, 0)
    cpu = children_cpu()
    wall = run_cmd(argv, repo, env, opts.timeout)
    cpu = children_cpu() - cpu
    bodies, _ = body_lines(log_path, offset)
    check_bodies(tool, label, bodies)
    return (cpu if opts.cpu else wall), sum(b[2 if opts.cpu else 1] for b in bodies)


# ---------------------------------------------------------------- the comparison


def record(results: Results, key: str, tool: str, ms: float) -> None:
    results[key][tool].values.append(ms)


def fail(results: Results, tool: str, keys: list[str], error: str) -> None:
    for key in keys:
        if results[key][tool].error is None:
            results[key][tool].error = error


def measure_in_process(opts: Options, tools: list[str], results: Results) -> None:
    keys = [k for k in KEYS if not k.startswith("pyflow.cli.")]
    for tool in tools:
        try:
            samples = in_process(opts, tool)
        except ToolError as exc:
            fail(results, tool, keys, str(exc))
            log(f"in-process {tool}: FAIL")
            continue
        for s in samples:
            wall = s["cpu_s" if opts.cpu else "wall_s"] * MS
            bodies = sum(b[2 if opts.cpu else 1] for b in s["bodies"]) * MS
            if s["label"] == "first":
                record(results, "pyflow.first", tool, wall)
            elif s["label"] == "executed":
                record(results, "pyflow.executed", tool, wall)
                record(results, "pyflow.executed.per_step", tool, (wall - bodies) / len(STEPS))
            elif tool != "floor":  # a cached run of the floor is no run at all
                record(results, "pyflow.cached", tool, wall)
                record(results, "pyflow.cached.per_step", tool, wall / len(STEPS))


def measure_processes(opts: Options, tools: list[str], results: Results) -> None:
    """Lockstep, alternating order: per repeat every tool's executed run, then every tool's cached run."""
    keys = [k for k in KEYS if k.startswith("pyflow.cli.")]
    broken: set[str] = set()
    for rep in range(opts.repeat):
        seed = 1000 + rep
        start: dict[str, float] = {}
        for phase in ("executed", "cached"):
            order = tools if (rep + (phase == "cached")) % 2 == 0 else tools[::-1]
            for tool in (t for t in order if t not in broken):
                try:
                    wall, bodies = process_run(opts, tool, seed, phase)
                except ToolError as exc:
                    broken.add(tool)
                    fail(results, tool, keys, str(exc))
                    log(f"rep {rep + 1} process {phase:<8} {tool}: FAIL")
                    continue
                log(f"rep {rep + 1} process {phase:<8} {tool:<5}: {wall:8.3f}s {opts.clock}")
                if tool == "floor":
                    start["floor"] = (wall - bodies) * MS  # interpreter start + numpy import
                    record(results, "pyflow.cli.executed", tool, wall * MS)
                    record(results, "pyflow.cli.cached", tool, wall * MS)
                    continue
                record(results, f"pyflow.cli.{phase}", tool, wall * MS)
                if "floor" in start:
                    over = (wall - bodies) * MS - start["floor"]
                    record(results, f"pyflow.cli.{phase}.per_step", tool, over / len(STEPS))


def compare(opts: Options) -> Results:
    """Prepare every tool's repository, then measure in-process and in fresh processes."""
    results: Results = {k: {t: Cell() for t in TOOLS} for k in KEYS}
    tools = []
    for tool in TOOLS:
        if tool in opts.skip:
            fail(results, tool, KEYS, "not run: skipped by --skip")
            continue
        if not Path(python_of(opts, tool)).exists() and shutil.which(python_of(opts, tool)) is None:
            fail(results, tool, KEYS, f"{python_of(opts, tool)} not found: run benchmarks/setup.sh")
            continue
        try:
            prepare(opts, tool)
            tools.append(tool)
        except ToolError as exc:
            fail(results, tool, KEYS, f"setup failed: {exc}")
    measure_in_process(opts, tools, results)
    measure_processes(opts, tools, results)
    for key in ("pyflow.cached", "pyflow.cached.per_step"):
        results[key]["floor"].error = results[key]["floor"].error or "not run: no cache"
    return results


# ---------------------------------------------------------------- report


def verdict(row: Row, cells: dict[str, Cell]) -> tuple[str, str]:
    zen, art = cells["zenml"].median(), cells["art"].median()
    ratio = f"{art / zen:.3f}" if zen and art is not None else "-"
    if cells["art"].error is not None:
        return ratio, "-" if cells["art"].error.startswith("not run") else "FAIL"
    if row.kind == "info" or art is None:
        return ratio, "info"
    if row.kind == "abs_ms":
        return ratio, "pass" if art <= row.limit else "fail"
    return ratio, "-" if ratio == "-" else ("pass" if float(ratio) <= row.limit else "fail")


def fmt_ms(cell: Cell) -> str:
    if cell.error is not None:
        return "-" if cell.error.startswith("not run") else "FAIL"
    med = cell.median()
    return "-" if med is None else f"{med:.1f}"


def print_table(results: Results, opts: Options) -> None:
    title = f"scenario (ms {opts.clock})"
    head = f"{title:<29} {'floor':>8} {'zenml':>9} {'art':>8} {'art/zenml':>9} {'target':>10} {'result':>6}"
    print(head)
    print("-" * len(head))
    for row in ROWS:
        cells = results[row.key]
        ratio, result = verdict(row, cells)
        print(
            f"{row.key:<29} {fmt_ms(cells['floor']):>8} {fmt_ms(cells['zenml']):>9} {fmt_ms(cells['art']):>8} "
            f"{ratio:>9} {row.label:>10} {result:>6}"
        )
    seen: set[str] = set()
    for row in ROWS:
        for tool in TOOLS:
            error = results[row.key][tool].error
            if error and not error.startswith("not run") and (tool, error) not in seen:
                seen.add((tool, error))
                print(f"\nFAIL {tool} {row.key}: {error}")


def to_json(results: Results, opts: Options) -> dict[str, object]:
    rows: dict[str, object] = {}
    for row in ROWS:
        ratio, result = verdict(row, results[row.key])
        rows[row.key] = {
            "what": row.what,
            **{
                t: {"median_ms": c.median(), "samples_ms": c.values, "error": c.error}
                for t, c in results[row.key].items()
            },
            "ratio_art_over_zenml": None if ratio == "-" else float(ratio),
            "target": row.label,
            "result": result,
        }
    meta = {
        "repeat": opts.repeat,
        "clock": opts.clock,
        "art": shlex.join(opts.art),
        "art_python": opts.art_python,
        "zenml_python": opts.zenml_python,
        "zenml_version": tool_version(opts.zenml_python, "zenml"),
        "machine": platform.platform(),
    }
    return {"config": meta, "scenarios": rows}


def tool_version(python: str, module: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({module!r}))"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        return f"unavailable ({exc})"
    return out.stdout.strip() or "unavailable"


def run(opts: Options) -> Results:
    log(f"python pipeline: art {shlex.join(opts.art)} ({opts.art_python}); zenml {opts.zenml_python}")
    log(f"scratch {opts.base}; {opts.repeat} repeats")
    t0 = time.perf_counter()
    results = compare(opts)
    log(f"python pipeline done in {time.perf_counter() - t0:.0f}s")
    return results


# ---------------------------------------------------------------- command line


def add_options(p: argparse.ArgumentParser) -> None:
    """The options run.py shares (it has --art, --repeat, --json, --tmp, --timeout, --keep, --skip itself)."""
    p.add_argument("--zenml", default=str(DEFAULT_ZENML), help="python of the ZenML venv (default: .venv-zenml)")
    p.add_argument("--art-python", help="python that imports artvc and numpy (default: the one beside --art)")
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="what the Python-pipeline rows time: wall seconds, or the tool process's user+system CPU seconds "
        "(steadier on a busy machine)",
    )


def options_from(args: argparse.Namespace, art: list[str], base: Path) -> Options:
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    return Options(
        art=art,
        art_python=args.art_python or default_art_python(art),
        zenml_python=args.zenml,
        repeat=args.repeat,
        timeout=args.timeout,
        base=base,
        skip=skip,
        clock=args.clock,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--art", default=default_art(), help="art command (shell-split; default: .venv-art's art)")
    p.add_argument("--repeat", type=int, default=3, help="repeats; the median is reported")
    p.add_argument("--skip", default="", help="comma-separated tools to skip (zenml, art, floor)")
    p.add_argument("--json", type=Path, help="also write results as JSON here")
    p.add_argument("--tmp", type=Path, help="scratch parent dir")
    p.add_argument("--timeout", type=float, default=900.0, help="per-command timeout in seconds")
    p.add_argument("--keep", action="store_true", help="keep the scratch dir")
    add_options(p)
    args = p.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="art-bench-py-", dir=args.tmp))
    opts = options_from(args, resolve(shlex.split(args.art)), base)
    try:
        results = run(opts)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print_table(results, opts)
    if args.json:
        args.json.write_text(json.dumps(to_json(results, opts), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
