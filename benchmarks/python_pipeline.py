"""art vs ZenML on the same three-step Python pipeline, beside a bare-Python floor.

The pipeline (benchmarks/pyflow/): importer (seeded synthetic numpy arrays, 2,000 x 16, split 75/25) ->
trainer (a least-squares linear classifier) -> evaluator (accuracy). The step bodies are shared
(pyflow/bodies.py) and time themselves; a tool's overhead is a run's time minus its bodies' own time. Every
figure is given twice: in wall time, and in CPU time (user + system of the tool's process, which a busy machine
disturbs much less).

Each tool gets a fresh git repository in the scratch directory (art: `art init`; ZenML: `zenml init`, its global
config and local SQLite store inside the scratch directory, analytics off, no server). Two ways of running:

* in-process: one Python process per tool imports the pipeline and calls it: a first run (seed 0), then per
  repeat an executed run (a new seed: every step runs) and the same call again (every step cached);
* process: per repeat, a fresh process runs it once with a new seed, then once more (cached): `art run
  art_pipeline:bench_pipeline -p seed=N` against `python zenml_pipeline.py N`; the floor is `python
  floor_pipeline.py N` (interpreter start, numpy import, the three bodies).

Every run is checked, not just timed: an executed run must have called the three bodies, a cached one none.
Standard library only; run from anywhere:

    bash benchmarks/setup.sh                          # .venv-art (art + numpy) and .venv-zenml (zenml[local])
    python benchmarks/python_pipeline.py              # 3 repeats; also `python benchmarks/run.py --only pyflow`
    python benchmarks/python_pipeline.py --repeat 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
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

from harness.core import ToolError, default_art, isolated_env, log, resolve, run_cmd

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


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)  # milliseconds, one per repeat
    error: str | None = None

    def median(self) -> float | None:
        return statistics.median(self.values) if self.values and self.error is None else None


Results = dict[str, dict[str, Cell]]
CLOCKS = ("wall", "cpu")


@dataclass(frozen=True)
class Sample:
    """One run: its wall and CPU seconds, and those of the step bodies it called."""

    wall: float
    cpu: float
    body_wall: float
    body_cpu: float

    def total(self, clock: str) -> float:
        return self.wall if clock == "wall" else self.cpu

    def bodies(self, clock: str) -> float:
        return self.body_wall if clock == "wall" else self.body_cpu


# per tool: "first", "executed", "cached", "cli.executed", "cli.cached" -> samples; or the error that stopped it
Raw = dict[str, dict[str, list[Sample]]]


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
    env = isolated_env(opts.base)
    env.update(
        {
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


def process_run(opts: Options, tool: str, seed: int, label: str) -> Sample:
    """Run the pipeline once in a fresh process and check which bodies ran."""
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
    return Sample(wall, cpu, sum(b[1] for b in bodies), sum(b[2] for b in bodies))


def sample_of(s: dict) -> Sample:
    return Sample(s["wall_s"], s["cpu_s"], sum(b[1] for b in s["bodies"]), sum(b[2] for b in s["bodies"]))


# ---------------------------------------------------------------- the comparison


def measure(opts: Options, tools: list[str], raw: Raw, errors: dict[str, str]) -> None:
    """In-process sessions, then fresh processes in lockstep with alternating order: per repeat every tool's
    executed run, then every tool's cached run."""
    for tool in tools:
        try:
            for s in in_process(opts, tool):
                raw[tool].setdefault(s["label"], []).append(sample_of(s))
        except ToolError as exc:
            errors[tool] = str(exc)
            log(f"in-process {tool}: FAIL")
    live = [t for t in tools if t not in errors]
    for rep in range(opts.repeat):
        for phase in ("executed", "cached"):
            order = live if (rep + (phase == "cached")) % 2 == 0 else live[::-1]
            for tool in [t for t in order if t not in errors]:
                try:
                    sample = process_run(opts, tool, 1000 + rep, phase)
                except ToolError as exc:
                    errors[tool] = str(exc)
                    log(f"rep {rep + 1} process {phase:<8} {tool}: FAIL")
                    continue
                raw[tool].setdefault(f"cli.{phase}", []).append(sample)
                log(f"rep {rep + 1} process {phase:<8} {tool:<5}: {sample.wall:8.3f}s wall {sample.cpu:8.3f}s cpu")


def tabulate(raw: Raw, errors: dict[str, str], clock: str) -> Results:
    """The table's cells (milliseconds) on one clock."""
    results: Results = {k: {t: Cell() for t in TOOLS} for k in KEYS}
    ms = MS

    def put(key: str, tool: str, values: list[float]) -> None:
        results[key][tool].values.extend(values)

    floor_cli = raw.get("floor", {}).get("cli.executed", [])
    floor_start = statistics.median(s.total(clock) - s.bodies(clock) for s in floor_cli) if floor_cli else None
    for tool in TOOLS:
        got = raw.get(tool, {})
        put("pyflow.first", tool, [s.total(clock) * ms for s in got.get("first", [])])
        executed = got.get("executed", [])
        put("pyflow.executed", tool, [s.total(clock) * ms for s in executed])
        put("pyflow.executed.per_step", tool, [(s.total(clock) - s.bodies(clock)) * ms / 3 for s in executed])
        if tool == "floor":  # no cache: a process run of the floor stands for both process rows
            put("pyflow.cli.executed", tool, [s.total(clock) * ms for s in got.get("cli.executed", [])])
            put("pyflow.cli.cached", tool, [s.total(clock) * ms for s in got.get("cli.executed", [])])
            for key in ("pyflow.cached", "pyflow.cached.per_step"):
                results[key][tool].error = "not run: no cache"
            continue
        cached = got.get("cached", [])
        put("pyflow.cached", tool, [s.total(clock) * ms for s in cached])
        put("pyflow.cached.per_step", tool, [s.total(clock) * ms / 3 for s in cached])
        for phase in ("executed", "cached"):
            samples = got.get(f"cli.{phase}", [])
            put(f"pyflow.cli.{phase}", tool, [s.total(clock) * ms for s in samples])
            if floor_start is not None:
                over = [(s.total(clock) - s.bodies(clock) - floor_start) * ms / 3 for s in samples]
                put(f"pyflow.cli.{phase}.per_step", tool, over)
    for tool, error in errors.items():
        for key in KEYS:
            results[key][tool].error = results[key][tool].error or error
    return results


def compare(opts: Options) -> dict[str, Results]:
    """Prepare every tool's repository, measure, and tabulate on both clocks."""
    raw: Raw = {t: {} for t in TOOLS}
    errors: dict[str, str] = {}
    tools = []
    for tool in TOOLS:
        if tool in opts.skip:
            errors[tool] = "not run: skipped by --skip"
            continue
        if not Path(python_of(opts, tool)).exists() and shutil.which(python_of(opts, tool)) is None:
            errors[tool] = f"{python_of(opts, tool)} not found: run benchmarks/setup.sh"
            continue
        try:
            prepare(opts, tool)
            tools.append(tool)
        except ToolError as exc:
            errors[tool] = f"setup failed: {exc}"
    measure(opts, tools, raw, errors)
    return {clock: tabulate(raw, errors, clock) for clock in CLOCKS}


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


def print_table(tables: dict[str, Results]) -> None:
    """One table per clock (wall, then CPU), then the errors."""
    for clock, results in tables.items():
        title = f"python pipeline, ms {clock}"
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
        print()
    seen: set[str] = set()
    for tool in TOOLS:
        for row in ROWS:
            error = tables["wall"][row.key][tool].error
            if error and not error.startswith("not run") and tool not in seen:
                seen.add(tool)
                print(f"FAIL {tool}: {error}\n")


def to_json(tables: dict[str, Results], opts: Options) -> dict[str, object]:
    doc: dict[str, object] = {}
    for clock, results in tables.items():
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
        doc[clock] = rows
    meta = {
        "repeat": opts.repeat,
        "art": shlex.join(opts.art),
        "art_python": opts.art_python,
        "zenml_python": opts.zenml_python,
        "zenml_version": tool_version(opts.zenml_python, "zenml"),
        "machine": platform.platform(),
    }
    return {"config": meta, "scenarios": doc}


def tool_version(python: str, module: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({module!r}))"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        return f"unavailable ({exc})"
    return out.stdout.strip() or "unavailable"


def run(opts: Options) -> dict[str, Results]:
    log(f"python pipeline: art {shlex.join(opts.art)} ({opts.art_python}); zenml {opts.zenml_python}")
    log(f"scratch {opts.base}; {opts.repeat} repeats")
    t0 = time.perf_counter()
    tables = compare(opts)
    log(f"python pipeline done in {time.perf_counter() - t0:.0f}s")
    return tables


# ---------------------------------------------------------------- command line


def add_options(p: argparse.ArgumentParser) -> None:
    """The options run.py shares (it has --art, --repeat, --json, --tmp, --timeout, --keep, --skip itself)."""
    p.add_argument("--zenml", default=str(DEFAULT_ZENML), help="python of the ZenML venv (default: .venv-zenml)")
    p.add_argument("--art-python", help="python that imports artvc and numpy (default: the one beside --art)")


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
        tables = run(opts)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print_table(tables)
    if args.json:
        args.json.write_text(json.dumps(to_json(tables, opts), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
