"""Side-by-side benchmark of art against DVC: identical data, fresh repos, medians of K repeats, ratios."""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import os
import platform
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1 << 20
HERE = Path(__file__).resolve().parent
DEFAULT_DVC = HERE / ".venv-dvc" / "bin" / "dvc"
TOOL_NAMES = ("dvc", "art")
STDERR_TAIL_LINES = 12


class ToolError(Exception):
    """A tool command failed, timed out, could not start, or produced wrong results."""


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
}


@dataclass(frozen=True)
class Config:
    """Sizes and knobs of one benchmark run."""

    size: int
    files: int
    stages: int
    repeat: int
    timeout: float
    settle: float
    pause: float
    base: Path
    data: Path


@dataclass(frozen=True)
class Tool:
    """How to invoke one tool and where it keeps its content store."""

    name: str
    argv: tuple[str, ...]
    store: str
    pointer_ext: str


@dataclass
class Sample:
    """One timed measurement, plus the store size after it where relevant."""

    seconds: float
    stored: int | None = None


@dataclass
class Cell:
    """All samples (or the failure) of one tool in one scenario."""

    times: list[float] = field(default_factory=list)
    stored: int | None = None
    error: str | None = None

    def median(self) -> float | None:
        return statistics.median(self.times) if self.times and self.error is None else None


Results = dict[str, dict[str, Cell]]


@dataclass
class Workspace:
    """One tool's scratch area for one repeat of one scenario group: repo, remote and clone."""

    tool: Tool
    root: Path
    cfg: Config
    env: dict[str, str]
    failed_at: str | None = None

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def remote(self) -> Path:
        return self.root / "remote"

    @property
    def clone(self) -> Path:
        return self.root / "clone"

    def run(self, *args: str, cwd: Path | None = None) -> float:
        """Run the tool with `args` (untimed semantics: no settling); return wall seconds."""
        return run_cmd([*self.tool.argv, *args], cwd or self.repo, self.env, self.cfg.timeout)

    def timed(self, *args: str, cwd: Path | None = None) -> float:
        """Flush dirty pages and wait for the disk to go quiet, then run and time the tool command."""
        wait_idle(self.cfg.base, self.cfg.pause, 0.5)
        return self.run(*args, cwd=cwd)

    def git(self, *args: str, cwd: Path | None = None) -> None:
        run_cmd(["git", *args], cwd or self.repo, self.env, self.cfg.timeout)

    def store_bytes(self, repo: Path | None = None) -> int:
        return tree_bytes((repo or self.repo) / self.tool.store)


def stderr_tail(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[-STDERR_TAIL_LINES:]) or "(no output)"


def run_cmd(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> float:
    """Run argv; raise ToolError with the stderr tail unless it exits 0; return elapsed seconds."""
    shown = shlex.join(argv)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise ToolError(f"`{shown}`: cannot start: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"`{shown}`: timed out after {timeout:.0f}s") from exc
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = stderr_tail(proc.stderr or proc.stdout)
        raise ToolError(f"`{shown}` exited {proc.returncode} in {cwd}:\n{tail}")
    return elapsed


def tree_bytes(root: Path) -> int:
    """Apparent size of all regular files under root, counting each hard-linked inode once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                total += st.st_size
    return total


def count_files(root: Path) -> int:
    return sum(len(files) for _d, _s, files in os.walk(root))


def expect(ok: bool, message: str) -> None:
    if not ok:
        raise ToolError(message)


def disk_counters(path: Path) -> tuple[int, int, int] | None:
    """(writes completed, I/Os in flight, discards completed) of the block device holding path."""
    st = os.stat(path)
    stat = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/stat")
    try:
        fields = [int(x) for x in stat.read_text().split()]
    except (OSError, ValueError):
        return None
    return fields[4], fields[8], fields[11] if len(fields) > 11 else 0


def wait_idle(path: Path, max_wait: float, quiet: float) -> float:
    """sync, then wait until the disk did (almost) no writes and no discards for `quiet` s; return wait."""
    start = time.perf_counter()
    os.sync()
    last, calm_since = disk_counters(path), time.perf_counter()
    if last is None:
        time.sleep(min(max_wait, quiet))
        return time.perf_counter() - start
    while time.perf_counter() - start < max_wait:
        time.sleep(0.1)
        now = disk_counters(path) or last
        if now[1] > 0 or now[2] != last[2] or now[0] - last[0] > 2:
            last, calm_since = now, time.perf_counter()
        elif time.perf_counter() - calm_since >= quiet:
            break
    return time.perf_counter() - start


def settle_after_delete(cfg: Config, why: str = "delete") -> None:
    """Deleting many files makes ext4 here create files slowly for a while (discards): wait it out."""
    waited = wait_idle(cfg.base, cfg.settle, 2.0)
    log(f"disk quiet {waited:.1f}s after {why}")


def remove_tree(path: Path, cfg: Config) -> None:
    if path.exists():
        subprocess.run(["rm", "-rf", str(path)], check=True)
        settle_after_delete(cfg)


# ---------------------------------------------------------------- data generation


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


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- per-tool plumbing


def init_repo(ws: Workspace, excludes: list[str]) -> None:
    """Fresh git repo + tool init; data paths go to .git/info/exclude so a bench commit never adds them."""
    ws.repo.mkdir(parents=True)
    ws.git("init", "-q", "-b", "main")
    with open(ws.repo / ".git" / "info" / "exclude", "a") as fh:
        fh.write("".join(f"{pat}\n" for pat in [*excludes, f"/{ws.tool.store}/"]))
    if ws.tool.name == "dvc":
        ws.run("init", "-q")
        ws.run("config", "core.analytics", "false")
    else:
        ws.run("init")


def copy_in(src: Path, dst: Path, cfg: Config) -> None:
    run_cmd(["cp", "-a", str(src), str(dst)], dst.parent, os.environ.copy(), cfg.timeout)


def add_remote(ws: Workspace, repo: Path) -> None:
    if ws.tool.name == "dvc":
        ws.run("remote", "add", "-d", "bench", str(ws.remote), cwd=repo)
    else:
        ws.run("remote", "add", "bench", str(ws.remote), "--default", cwd=repo)


def commit_all(ws: Workspace) -> None:
    ws.git("add", "-A")
    ws.git("commit", "-q", "--allow-empty", "-m", "bench")


def make_clone(ws: Workspace) -> None:
    """git clone of the tool's repo; art gets init/remote set up if its config is not git-tracked."""
    ws.git("clone", "-q", str(ws.repo), str(ws.clone), cwd=ws.root)
    if ws.tool.name == "dvc":
        return
    if not (ws.clone / ".art").is_dir():
        ws.run("init", cwd=ws.clone)
    with contextlib.suppress(ToolError):  # fails if a tracked config already names the remote
        add_remote(ws, ws.clone)


# ---------------------------------------------------------------- scenario steps

StepFn = Callable[[Workspace], Sample]


@dataclass(frozen=True)
class Step:
    """A timed step; optional steps are skipped when not selected even if later steps are."""

    key: str
    fn: StepFn
    optional: bool = False


@dataclass(frozen=True)
class Group:
    """Scenario steps that share one prepared repo per tool, run in order."""

    name: str
    prepare: Callable[[Workspace], None]
    steps: tuple[Step, ...]


def step_add(path: str, record_store: bool) -> StepFn:
    def fn(ws: Workspace) -> Sample:
        secs = ws.timed("add", path)
        pointer = ws.repo / f"{path}{ws.tool.pointer_ext}"
        expect(pointer.exists(), f"`add {path}` left no pointer file {pointer.name}")
        return Sample(secs, ws.store_bytes() if record_store else None)

    return fn


def step_status(ws: Workspace) -> Sample:
    return Sample(ws.timed("status"))


def step_push_first(ws: Workspace) -> Sample:
    add_remote(ws, ws.repo)
    commit_all(ws)
    ws.remote.mkdir()
    secs = ws.timed("push")
    expect(count_files(ws.remote) > 0, "push left the remote empty")
    return Sample(secs)


def step_push_again(ws: Workspace) -> Sample:
    return Sample(ws.timed("push"))


def step_pull_first(check: Callable[[Workspace], None]) -> StepFn:
    def fn(ws: Workspace) -> Sample:
        make_clone(ws)
        secs = ws.timed("pull", cwd=ws.clone)
        check(ws)
        return Sample(secs)

    return fn


def step_pull_again(ws: Workspace) -> Sample:
    return Sample(ws.timed("pull", cwd=ws.clone))


def check_big_pulled(ws: Workspace) -> None:
    got = ws.clone / "big.bin"
    expect(got.is_file(), "pull did not create big.bin")
    expect(filecmp.cmp(got, dataset(ws.cfg, "big"), shallow=False), "pulled big.bin differs from original")


def check_small_pulled(ws: Workspace) -> None:
    got = ws.clone / "data"
    n = count_files(got) if got.is_dir() else 0
    expect(n == ws.cfg.files, f"pull restored {n} of {ws.cfg.files} files")
    expect(tree_bytes(got) == tree_bytes(dataset(ws.cfg, "small")), "pulled data/ size differs")


def overwrite_middle(path: Path, size: int, seed: int) -> None:
    """Replace 1 MiB in the middle via copy+rename (safe even if the tool hard-links or chmods the file)."""
    tmp = path.with_name(path.name + ".edit")
    shutil.copyfile(path, tmp)
    with open(tmp, "r+b") as fh:
        fh.seek(max(0, size // 2 - MIB // 2))
        fh.write(random.Random(seed).randbytes(min(MIB, size)))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def step_versions(ws: Workspace) -> Sample:
    total = 0.0
    for version in range(3):
        if version:
            overwrite_middle(ws.repo / "big.bin", ws.cfg.size, 100 + version)
        total += ws.timed("add", "big.bin")
    stored = ws.store_bytes()
    expect(stored >= ws.cfg.size, f"{ws.tool.store} holds {stored} bytes, less than one version")
    return Sample(total, stored)


# ---------------------------------------------------------------- pipeline


def stage_out(i: int) -> str:
    return f"s{i:02d}.txt"


def stage_cmd(i: int, late: int | None) -> str:
    src = "in.txt" if i == 1 else stage_out(i - 1)
    if i == late:
        return f"sort -o {stage_out(i)} {src} {src}"
    return f"cp {src} {stage_out(i)}"


def write_pipeline(ws: Workspace, late: int | None = None) -> None:
    """Chain of cfg.stages stages written straight to dvc.yaml / art.toml (much faster than `stage add`)."""
    n = ws.cfg.stages
    deps = ["in.txt", *(stage_out(i) for i in range(1, n))]
    if ws.tool.name == "dvc":
        body = ["stages:"]
        for i in range(1, n + 1):
            body += [
                f"  s{i:02d}:",
                f"    cmd: {stage_cmd(i, late)}",
                "    deps:",
                f"    - {deps[i - 1]}",
                "    outs:",
                f"    - {stage_out(i)}",
            ]
        (ws.repo / "dvc.yaml").write_text("\n".join(body) + "\n")
        return
    body = []
    for i in range(1, n + 1):
        body += [
            f"[stages.s{i:02d}]",
            f'cmd = "{stage_cmd(i, late)}"',
            f'deps = ["{deps[i - 1]}"]',
            f'outs = ["{stage_out(i)}"]',
            "",
        ]
    (ws.repo / "art.toml").write_text("\n".join(body))


def input_text(version: int) -> str:
    return "".join(f"line {i:05d} v{version}\n" for i in range(200, 0, -1))


def expect_last_output(ws: Workspace, wanted: str) -> None:
    last = ws.repo / stage_out(ws.cfg.stages)
    got = last.read_text() if last.exists() else None
    expect(got == wanted, f"after repro {last.name} is {'missing' if got is None else 'stale'}")


def step_repro_first(ws: Workspace) -> Sample:
    secs = ws.timed("repro")
    expect_last_output(ws, input_text(1))
    return Sample(secs)


def step_repro_noop(ws: Workspace) -> Sample:
    return Sample(ws.timed("repro"))


def step_change_first(ws: Workspace) -> Sample:
    (ws.repo / "in.txt").write_text(input_text(2))
    secs = ws.timed("repro")
    expect_last_output(ws, input_text(2))
    return Sample(secs)


def step_change_late(ws: Workspace) -> Sample:
    write_pipeline(ws, late=max(1, ws.cfg.stages - 2))
    secs = ws.timed("repro")
    expect_last_output(ws, "".join(sorted(input_text(2).splitlines(keepends=True) * 2)))
    return Sample(secs)


# ---------------------------------------------------------------- groups


def prep_big(ws: Workspace) -> None:
    init_repo(ws, ["/big.bin"])
    copy_in(dataset(ws.cfg, "big"), ws.repo / "big.bin", ws.cfg)


def prep_csv(ws: Workspace) -> None:
    init_repo(ws, ["/table.csv"])
    copy_in(dataset(ws.cfg, "csv"), ws.repo / "table.csv", ws.cfg)


def prep_small(ws: Workspace) -> None:
    init_repo(ws, ["/data/"])
    copy_in(dataset(ws.cfg, "small"), ws.repo / "data", ws.cfg)


def prep_pipeline(ws: Workspace) -> None:
    init_repo(ws, [])
    (ws.repo / "in.txt").write_text(input_text(1))
    write_pipeline(ws)


GROUPS: tuple[Group, ...] = (
    Group(
        "big",
        prep_big,
        (
            Step("add_1g", step_add("big.bin", True)),
            Step("status_1g", step_status, optional=True),
            Step("push_1g", step_push_first),
            Step("pull_1g", step_pull_first(check_big_pulled)),
        ),
    ),
    Group("csv", prep_csv, (Step("add_csv", step_add("table.csv", True)),)),
    Group(
        "small",
        prep_small,
        (
            Step("add_20k", step_add("data", True)),
            Step("status_20k", step_status, optional=True),
            Step("push_20k", step_push_first),
            Step("push_noop", step_push_again, optional=True),
            Step("pull_20k", step_pull_first(check_small_pulled)),
            Step("pull_noop", step_pull_again, optional=True),
        ),
    ),
    Group("versions", prep_big, (Step("versions_3", step_versions),)),
    Group(
        "pipeline",
        prep_pipeline,
        (
            Step("pipeline_50.first", step_repro_first),
            Step("pipeline_50.noop", step_repro_noop),
            Step("pipeline_50.status", step_status),
            Step("pipeline_50.change_first", step_change_first),
            Step("pipeline_50.change_late", step_change_late),
        ),
    ),
)
ALL_KEYS = [step.key for group in GROUPS for step in group.steps]


def plan_steps(group: Group, selected: set[str]) -> list[tuple[Step, bool]]:
    """Steps to run up to the last selected one; unselected non-optional ones run as unreported setup."""
    chosen = [step.key in selected for step in group.steps]
    if not any(chosen):
        return []
    last = max(i for i, c in enumerate(chosen) if c)
    pairs = enumerate(zip(group.steps, chosen, strict=True))
    return [(s, c) for i, (s, c) in pairs if i <= last and (c or not s.optional)]


# ---------------------------------------------------------------- running


def run_step(ws: Workspace, plan: list[tuple[Step, bool]], index: int, results: Results, rep: int) -> None:
    """Run plan[index] for one tool and record its sample; on failure record the error in results."""
    step, record = plan[index]
    try:
        sample = step.fn(ws)
    except ToolError as exc:
        ws.failed_at = step.key
        mark_failed(results, ws.tool.name, plan, step.key, str(exc))
        log(f"rep {rep + 1} {step.key:<26} {ws.tool.name}: FAIL")
        return
    log(f"rep {rep + 1} {step.key:<26} {ws.tool.name}: {sample.seconds:8.3f}s")
    if record:
        cell = results[step.key][ws.tool.name]
        cell.times.append(sample.seconds)
        cell.stored = sample.stored if sample.stored is not None else cell.stored


def mark_failed(results: Results, tool: str, plan: list[tuple[Step, bool]], at: str, error: str) -> None:
    """The first reported step at or after the failing one gets the error; later ones are marked not run."""
    started, told = False, False
    for step, record in plan:
        started = started or step.key == at
        if not (started and record) or results[step.key][tool].error:
            continue
        prefix = "" if step.key == at else f"(in setup step {at}) "
        results[step.key][tool].error = f"not run: step {at} failed" if told else prefix + error
        told = True


def run_group(
    index: int, group: Group, cfg: Config, tools: list[Tool], selected: set[str], results: Results
) -> None:
    """K repeats; both workdirs are prepared before either is timed, then the tools run each step in
    lockstep (so both see the same disk state and background load), alternating who goes first."""
    plan = plan_steps(group, selected)
    if not plan:
        return
    broken: set[str] = set()
    for rep in range(cfg.repeat):
        order = [t for t in tools if t.name not in broken]
        if not order:
            return
        order = order if (rep + index) % 2 == 0 else order[::-1]
        live = prepare_all(group, cfg, order, plan, results)
        settle_after_delete(cfg, "setup")
        for i in range(len(plan)):
            for ws in live if i % 2 == 0 else live[::-1]:
                run_step(ws, plan, i, results, rep)
            live = [ws for ws in live if ws.failed_at is None]
        broken.update(t.name for t in order if t.name not in {ws.tool.name for ws in live})
        remove_tree(cfg.base / group.name, cfg)


def prepare_all(
    group: Group, cfg: Config, order: list[Tool], plan: list[tuple[Step, bool]], results: Results
) -> list[Workspace]:
    """Prepare every tool's workspace before anything is timed; return those that are ready."""
    ready = []
    for tool in order:
        ws = Workspace(tool, cfg.base / group.name / tool.name, cfg, tool_env(cfg))
        try:
            group.prepare(ws)
            ready.append(ws)
        except ToolError as exc:
            mark_failed(results, tool.name, plan, plan[0][0].key, f"setup failed: {exc}")
    return ready


def tool_env(cfg: Config) -> dict[str, str]:
    """Isolated HOME/git config, fixed git identity, no DVC analytics; same for both tools."""
    env = os.environ.copy()
    home = cfg.base / "home"
    home.mkdir(parents=True, exist_ok=True)
    env.setdefault("PYENV_ROOT", str(Path.home() / ".pyenv"))
    env.update(
        {
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "LC_ALL": "C",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
            "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
            "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(cfg.base / "dvc-site-cache"),
        }
    )
    return env


# ---------------------------------------------------------------- reporting


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


# ---------------------------------------------------------------- main


def _default_art() -> str:
    bundled = Path(__file__).resolve().parent / ".venv-art" / "bin" / "art"
    return str(bundled) if bundled.exists() else "art"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--art", default=_default_art(), help="art command (shell-split; default: the art that "
                   "setup.sh installs in benchmarks/.venv-art, else art on PATH)")
    p.add_argument("--dvc", default=str(DEFAULT_DVC), help="dvc command (default: benchmarks/.venv-dvc)")
    p.add_argument("--only", default="", help=f"comma-separated scenarios: {', '.join(public_names())}")
    p.add_argument("--skip", default="", help="comma-separated tools to skip (dvc, art)")
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
    return p.parse_args(argv)


def public_names() -> list[str]:
    names = [k for k in ALL_KEYS if not k.startswith("pipeline_50.")]
    return [*names, "pipeline_50"]


def select(only: str) -> set[str]:
    """Resolve --only names; `pipeline_50` (or any `pipeline*`) picks every pipeline step."""
    if not only.strip():
        return set(ALL_KEYS)
    chosen: set[str] = set()
    for name in (n.strip() for n in only.split(",") if n.strip()):
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


def resolve(argv: list[str]) -> list[str]:
    found = shutil.which(argv[0]) if argv else None
    return [found, *argv[1:]] if found else argv


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
    try:
        for index, group in enumerate(GROUPS):
            run_group(index, group, cfg, tools, selected, results)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print_table(results, cfg)
    if args.json:
        args.json.write_text(json.dumps(to_json(results, cfg, tools), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
