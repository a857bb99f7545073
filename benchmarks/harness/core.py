"""Shared vocabulary of the benchmark: config, tools, samples, scratch workspaces, running and timing
commands, waiting for a quiet disk, and the per-tool repository plumbing every scenario uses."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1 << 20
TOOL_NAMES = ("dvc", "art")
STDERR_TAIL_LINES = 12


class ToolError(Exception):
    """A tool command failed, timed out, could not start, or produced wrong results."""


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


def isolated_env(base: Path) -> dict[str, str]:
    """The environment every tool of a benchmark runs in: a HOME of its own below ``base``, no system git config,
    a fixed git identity and dates, the C locale, no DVC analytics. The same for every tool."""
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = os.environ.copy()
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
            "DVC_SITE_CACHE_DIR": str(base / "dvc-site-cache"),
        }
    )
    return env


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


def default_art() -> str:
    """The art that setup.sh installs in benchmarks/.venv-art, else `art` on PATH."""
    bundled = Path(__file__).resolve().parents[1] / ".venv-art" / "bin" / "art"
    return str(bundled) if bundled.exists() else "art"


def resolve(argv: list[str]) -> list[str]:
    """argv with its program looked up on PATH (kept as given if not found)."""
    found = shutil.which(argv[0]) if argv else None
    return [found, *argv[1:]] if found else argv


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
