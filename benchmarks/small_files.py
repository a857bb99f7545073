"""Many small files (issue 18): add, status, checkout, push and pull beside their floor and DVC, in one run.

For each file count (20k, 100k, optionally 1M) and layout (``flat``: one folder; ``tree``: 100 files per
leaf folder, 100 leaves per top folder), N seeded random files of 1-8 KiB are generated once; each repeat
gives art and DVC their own fresh git repository with a copy of them, then times, step by step:

| step | art / DVC | floor (same run, same data) |
| --- | --- | --- |
| add | ``add data`` | ``find data -type f -print0 \\| xargs -0 cat`` (read every byte) |
| status | ``status``, nothing changed | ``os.scandir`` + ``lstat`` walk in a new Python (with its start) |
| status_fsmonitor | art ``status``, nothing changed, ``core.fsmonitor`` on (after an untimed status) | the same walk |
| status_changed | ``status`` after one file was appended to | the same walk |
| checkout | ``checkout data`` into an empty place (``data`` removed) | ``cp -r`` of the folder, alternated |
| push | first ``push`` to an empty directory remote | ``cp -r`` of art's ``.art/store/packs`` |
| pull | ``pull`` in a fresh ``git clone`` (fetch + checkout) | ``cp -r`` of art's remote + of ``data`` |

Under ``--fresh-fs`` the data is generated once into a file system image and each repository is a copy of that
image (``Case.source_image``, ``Case.prepare``), read once untimed so every step starts warm; ``--data-dir``
keeps the image for later runs and ``--inline-data`` stores files of up to ~60 bytes in their inodes.

Every command is a child process reaped with ``wait4``: wall time, CPU time (user + sys) and peak RSS. The
tools run as installed: art's package (and DVC's) is byte-compiled once, untimed, and no tool, floor included,
inherits ``PYTHONDONTWRITEBYTECODE`` (``environment``, ``compile_tools``).
Each step runs the floor, then art and DVC in alternating order, waiting for a quiet disk before each; the
median of ``--repeat`` repeats is reported with art/floor and art/DVC ratios and the issue's goals as
pass/fail. Standard library only.

    python benchmarks/small_files.py                               # 20k and 100k, flat and tree, with DVC
    python benchmarks/small_files.py --files 20000 --layouts tree --steps add --no-dvc --repeat 1
    python benchmarks/small_files.py --files 1000000 --no-dvc      # 1M (~4.5 GiB per copy; see README)
    python benchmarks/small_files.py --files 1000000 --layouts flat --no-dvc --min-size 16 --max-size 64 \
        --inline-data --data-dir /tmp/small-data --repeat 1 --checkout-rounds 1    # 1M tiny files, every step
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness.core import isolated_env, wait_idle  # noqa: E402
from harness.fresh_fs import FreshFs, fits, unavailable  # noqa: E402

STEPS = ("add", "status", "status_fsmonitor", "status_changed", "checkout", "push", "pull")
LAYOUTS = ("flat", "tree")
RSS_GOAL_MB = 150.0
WALK = (
    "import os, sys\n"
    "n = 0\n"
    "stack = [sys.argv[1]]\n"
    "while stack:\n"
    "    with os.scandir(stack.pop()) as it:\n"
    "        for e in it:\n"
    "            st = e.stat(follow_symlinks=False)\n"
    "            n += 1\n"
    "            if e.is_dir(follow_symlinks=False):\n"
    "                stack.append(e.path)\n"
    "print(n)\n"
)


def log(msg: str) -> None:
    print(f"[small] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ running


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    rc: int
    err: str = ""
    load: float = 0.0  # the 1-minute load average when it ended


def timed(cmd: list[str], cwd: Path, env: dict[str, str], base: Path, pause: float, timeout: float) -> Run:
    """Run ``cmd`` after the disk went quiet; wall, user+sys CPU and peak RSS (MB) from ``wait4``."""
    wait_idle(base, pause, 0.5)
    t = time.perf_counter()
    with tempfile.TemporaryFile() as errf:
        # its own process group: a run stopped (SIGTERM, Ctrl-C) kills the command and whatever it started (a
        # floor's ``xargs cat``), so nothing keeps a fresh file system busy while ``FreshFs.close`` unmounts it
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errf, start_new_session=True)
        deadline = t + timeout
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    _kill_group(proc.pid)
                    _, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.005)
        except BaseException:
            _kill_group(proc.pid)
            os.wait4(proc.pid, 0)
            raise
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    rss = usage.ru_maxrss * 1024 / 1e6
    return Run(wall, usage.ru_utime + usage.ru_stime, rss, proc.returncode, err[-600:], os.getloadavg()[0])


def _kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (a command started with ``start_new_session``)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:  # it ended, and everything it started with it
        pass


def quiet(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    """An untimed setup command that must succeed."""
    done = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode:
        raise RuntimeError(f"{shlex.join(cmd)} exited {done.returncode}: {done.stderr.decode()[-600:]}")


def remove(path: Path) -> None:
    if path.exists() or path.is_symlink():
        subprocess.run(["rm", "-rf", str(path)], check=True)


# ------------------------------------------------------------------------------------------------ data


def file_path(data: Path, i: int, layout: str) -> Path:
    if layout == "flat":
        return data / f"f{i:07d}.bin"
    return data / f"t{i // 10_000:03d}" / f"l{i // 100 % 100:02d}" / f"f{i:07d}.bin"


def generate(data: Path, n: int, layout: str, seed: int, sizes: tuple[int, int] = (1024, 8192)) -> int:
    rng = random.Random(seed)
    total = 0
    made: set[Path] = set()
    for i in range(n):
        path = file_path(data, i, layout)
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        size = rng.randint(*sizes)
        path.write_bytes(rng.randbytes(size))
        total += size
    return total


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


# ------------------------------------------------------------------------------------------------ goals


def size_class(n: int) -> str:
    return "20k" if n < 50_000 else "100k" if n < 500_000 else "1M"


def goals(n: int, step: str) -> list[tuple[str, str, float]]:
    """(label, metric, limit): metric is floor (art/floor), dvc (art/dvc), rate (files/s min), wall (s max)."""
    cls = size_class(n)
    out: list[tuple[str, str, float]] = []
    if step == "add":
        if cls in ("20k", "100k"):
            out.append(("<=2x cat", "floor", 2.0))
        if cls == "20k":
            out.append(("<=1/6 dvc", "dvc", 1 / 6))
        if cls == "1M":
            out.append((">=20k files/s", "rate", 20_000))
    elif step == "status":
        out += [("<=1.5x walk", "floor", 1.5), ("<=1/10 dvc", "dvc", 0.1)]
    elif step in ("status_changed", "status_fsmonitor") and cls == "1M":
        out.append(("<2 s", "wall", 2.0))
    elif step == "checkout" and cls == "20k":
        out.append(("<=1.5x cp -r", "floor", 1.5))
    elif step in ("push", "pull") and cls == "100k":
        out.append(("<=1/10 dvc", "dvc", 0.1))
    if step != "status_changed" or cls == "1M":
        out.append((f"<={RSS_GOAL_MB:.0f} MB", "rss", RSS_GOAL_MB))
    return out


# ------------------------------------------------------------------------------------------------ a case


@dataclass
class Row:
    files: int
    layout: str
    step: str
    floor: list[Run] = field(default_factory=list)
    art: list[Run] = field(default_factory=list)
    dvc: list[Run] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def med(runs: list[Run], attr: str) -> float | None:
    vals = [getattr(r, attr) for r in runs]
    return statistics.median(vals) if vals else None


class Case:
    """One (file count, layout): the generated data and, per repeat, a repo per tool."""

    def __init__(
        self,
        args: argparse.Namespace,
        n: int,
        layout: str,
        scratch: Path,
        env: dict[str, str],
        fs: FreshFs | None = None,
    ) -> None:
        self.args, self.n, self.layout, self.env, self.fs = args, n, layout, env, fs
        self.root = scratch / f"{layout}-{n}"
        self.base = scratch
        self.art = shlex.split(args.art)
        self.dvc = shlex.split(args.dvc) if args.dvc else []
        self.tools = ["art"] + (["dvc"] if self.dvc and not args.no_dvc and n <= args.dvc_max_files else [])
        self.rows = {s: Row(n, layout, s) for s in STEPS}
        self.steps = [s for s in STEPS if s in args.steps]
        self.template = Path()  # under --fresh-fs: the image of the generated data (``source_image``)

    def cmd(self, tool: str, *argv: str) -> list[str]:
        return [*(self.art if tool == "art" else self.dvc), *argv]

    def run(self, cmd: list[str], cwd: Path) -> Run:
        return timed(cmd, cwd, self.env, self.base, self.args.pause, self.args.timeout)

    def fs_size(self, copies: int) -> tuple[int, int]:
        """(bytes, inodes) of a fresh file system for ``copies`` copies of the data: every file rounded up to
        4 KiB blocks plus a block of folder entries per 100 files, a quarter more and 256 MiB of slack (the
        image is sparse: only what is written takes disk space)."""
        per_file = -(-self.args.max_size // 4096) * 4096 + 41
        return int(copies * self.n * per_file * 1.25) + (256 << 20), copies * self.n + self.n // 50 + 10_000

    def data_bytes(self) -> int:
        """The disk space one copy of the data takes: every file's mean size rounded up to 4 KiB blocks."""
        return self.n * -(-(self.args.min_size + self.args.max_size) // 2 // 4096) * 4096

    def source(self) -> Path:
        sizes = (self.args.min_size, self.args.max_size)
        tag = "" if sizes == (1024, 8192) else f"-{sizes[0]}-{sizes[1]}"
        if self.fs is not None:
            self.template = self.source_image(tag)
            return Path("src") / "data"  # in every copy of the template
        if self.args.data_dir:
            src = Path(self.args.data_dir) / f"{self.layout}-{self.n}{tag}" / "data"
        else:
            src = self.root / "src" / "data"
        if not (src.parent / "done").exists():
            remove(src)
            self.generate(src)
            (src.parent / "done").write_text("done")
        return src

    def generate(self, src: Path) -> None:
        t = time.perf_counter()
        size = generate(src, self.n, self.layout, seed=self.n, sizes=(self.args.min_size, self.args.max_size))
        log(f"{self.layout} {self.n:,}: generated {size / 2**20:.0f} MiB in {time.perf_counter() - t:.0f} s")

    def source_image(self, tag: str) -> Path:
        """Under ``--fresh-fs``: the image of a file system holding the generated data at ``src/data``, sized for
        a repository (three copies of the data), the template of every repository's file system (``prepare``):
        made once per run, or once for every run with ``--data-dir`` (kept there)."""
        assert self.fs is not None
        kept = None
        if self.args.data_dir:
            kind = "-inline" if self.fs.inline_data else ""
            kept = Path(self.args.data_dir) / f"{self.layout}-{self.n}{tag}{kind}.img"
            if kept.with_suffix(".done").exists():
                log(f"{self.layout} {self.n:,}: the generated data of an earlier run ({kept})")
                return kept
        mnt = self.fs.make(f"src-{self.layout}-{self.n}", *self.fs_size(3))
        self.generate(mnt / "src" / "data")
        image = self.fs.keep(mnt)
        if kept is None:
            return image
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(image, kept)
        kept.with_suffix(".done").write_text("done")
        return kept

    def prepare(self, tool: str, src: Path) -> Path:
        """A fresh git + tool repository with a copy of the data, at ``<top>/repo``: ``top`` is a fresh file
        system of its own under ``--fresh-fs`` (a copy of the source's image, ``source_image``: the data moved
        into place by a rename; also holding the remote), else a folder of the scratch (``cp -a`` of the data).
        Either way every file of the data is then read once, untimed, so each step starts with the data in the
        page cache (a copied image starts cold, a ``cp -a`` warm)."""
        if self.fs is not None:
            top = self.fs.make(f"{tool}-{self.layout}-{self.n}", 0, template=self.template)
            repo = top / "repo"
            repo.mkdir()
            os.rename(top / src, repo / "data")
            (top / src.parent).rmdir()
        else:
            top = self.root / tool
            remove(top)
            repo = top / "repo"
            repo.mkdir(parents=True)
        quiet(["git", "init", "-q", "-b", "main"], repo, self.env)
        with open(repo / ".git" / "info" / "exclude", "a") as fh:
            fh.write("/data/\n/.art/store/\n/.dvc/cache/\n")
        if tool == "dvc":
            quiet(self.cmd(tool, "init", "-q"), repo, self.env)
            quiet(self.cmd(tool, "config", "core.analytics", "false"), repo, self.env)
        else:
            quiet(self.cmd(tool, "init"), repo, self.env)
        if self.fs is None:
            quiet(["cp", "-a", str(src), str(repo / "data")], repo, self.env)
        else:
            quiet(["sh", "-c", "find data -type f -print0 | xargs -0 cat > /dev/null"], repo, self.env)
            self.fs.direct_io(top)  # from here the copy's device writes to its image as a disk would (round 41)
        return repo

    def execute(self) -> None:
        src = self.source()
        for rep in range(self.args.repeat):
            repos = {tool: self.prepare(tool, src) for tool in self.tools}
            self.settle("setup")
            failed: set[str] = set()
            for k, step in enumerate(["add", *[s for s in STEPS[1:] if self.needed(s)]]):
                order = self.tools if (k + rep) % 2 == 0 else self.tools[::-1]
                getattr(self, f"step_{step}")(step, repos, order, failed, timed_step=step in self.steps)
            for repo in repos.values():
                self.drop(repo.parent)
            self.settle("cleanup")
        if self.fs is not None and self.template in self.fs.kept:
            self.fs.kept.remove(self.template)
            self.template.unlink()
        if not self.args.data_dir and not self.args.keep:
            remove(self.root)

    def drop(self, top: Path) -> None:
        """Delete ``top``: unmount its fresh file system (and delete the image), else ``rm -rf``."""
        if self.fs is not None and top in self.fs.mounted:
            self.fs.drop(top)
        else:
            remove(top)

    def sample_fs(self, name: str, copies: int = 2) -> Path:
        """A fresh file system for one sample (``--fresh-fs`` only)."""
        assert self.fs is not None
        return self.fs.make(f"{name}-{self.layout}-{self.n}", *self.fs_size(copies))

    def needed(self, step: str) -> bool:
        return step in self.steps or (step == "push" and "pull" in self.steps)

    def settle(self, why: str) -> None:
        waited = wait_idle(self.base, self.args.settle, 2.0)
        log(f"disk quiet {waited:.1f} s after {why}")

    def record(self, step: str, who: str, run: Run, timed_step: bool, failed: set[str], ok: bool = True) -> None:
        row = self.rows[step]
        bad = run.rc not in (0, 1) or not ok or (run.rc == 1 and step not in ("status", "status_changed"))
        if bad:
            failed.add(who)
            row.errors.append(f"{who} {step} rc={run.rc}{'' if ok else ' (wrong result)'}: {run.err.strip()[-400:]}")
        if timed_step:
            getattr(row, who).append(run)
            log(
                f"{self.layout} {self.n:,} {step} {who}: {run.wall:.2f} s, cpu {run.cpu:.2f} s, "
                f"{run.rss_mb:.0f} MB, load {run.load:.1f}{' FAILED' if bad else ''}"
            )

    def tools_run(self, step, order, failed, timed_step, argv_for, cwd_for, check=None) -> None:
        for tool in order:
            if tool in failed:
                continue
            run = self.run(argv_for(tool), cwd_for(tool))
            ok = check(tool) if check else True
            self.record(step, tool, run, timed_step, failed, ok)

    # -- steps ----------------------------------------------------------------------------------------------

    def step_add(self, step, repos, order, failed, timed_step) -> None:
        floor = ["sh", "-c", "find data -type f -print0 | xargs -0 cat > /dev/null"]
        if timed_step:
            self.record(step, "floor", self.run(floor, repos["art"]), True, set())
        self.tools_run(
            step,
            order,
            failed,
            timed_step,
            lambda t: self.cmd(t, "add", "-q", "data"),
            lambda t: repos[t],
            lambda t: (repos[t] / ("data.art" if t == "art" else "data.dvc")).exists(),
        )

    def _status(self, step, repos, order, failed, timed_step) -> None:
        floor = [self.args.floor_python, "-c", WALK, "data"]
        if timed_step:
            self.record(step, "floor", self.run(floor, repos["art"]), True, set())
        self.tools_run(step, order, failed, timed_step, lambda t: self.cmd(t, "status"), lambda t: repos[t])

    def step_status(self, step, repos, order, failed, timed_step) -> None:
        self._status(step, repos, order, failed, timed_step)

    def step_status_fsmonitor(self, step, repos, order, failed, timed_step) -> None:
        """art alone: the monitor on, its daemon started and its token stored by an untimed status; then timed."""
        repo = repos["art"]
        quiet(self.cmd("art", "config", "core.fsmonitor", "true"), repo, self.env)
        try:
            started = self.run(self.cmd("art", "fsmonitor", "start"), repo)
            first = self.run(self.cmd("art", "status"), repo)
            log(f"{self.layout} {self.n:,} fsmonitor start {started.wall:.2f} s, first status {first.wall:.2f} s")
            self._status(step, {"art": repo}, [t for t in order if t == "art"], failed, timed_step)
        finally:
            quiet(self.cmd("art", "fsmonitor", "stop"), repo, self.env)
            quiet(self.cmd("art", "config", "core.fsmonitor", "false"), repo, self.env)

    def step_status_changed(self, step, repos, order, failed, timed_step) -> None:
        for repo in repos.values():
            with open(file_path(repo / "data", 0, self.layout), "ab") as f:
                f.write(b"one change")
        self._status(step, repos, order, failed, timed_step)

    def step_checkout(self, step, repos, order, failed, timed_step) -> None:
        """The floor and the tools create their files in the same state of the file system: each run comes after
        ext4's inode-reuse window since the last delete (``reuse_wait``: on ext4 without a journal, as here, every
        new inode skips, one bitmap bit and buffer lookup at a time, the inodes freed in the last 30-35 s, so a
        create right after an ``rm -rf`` of 20k files costs up to ten times the system CPU), and the floor copies
        into the place art's checkout writes to (ext4 puts a new folder's inodes near its parent's: a copy into
        another parent finds other groups, with other recently freed inodes). ``--checkout-rounds`` rounds
        alternate the order (the floor first, then last), every sample goes into the medians, and all of them
        are printed under the table (one run of each, as before, let the floor take 0.97 s for the flat folder
        and 7.72 s for the tree in one run). Deletes by other processes within the window still reach any run:
        ``--tmp /dev/shm`` (tmpfs) measures the per-file cost without the file system's allocator.
        Under ``--fresh-fs`` every sample writes into a file system of its own instead (``_checkout_fresh``)."""
        for repo in repos.values():
            os.rename(repo / "data", repo.parent / "data.before")
        if self.fs is not None:
            self._checkout_fresh(step, repos, order, failed, timed_step)
            return
        top = repos["art"].parent
        for repo in repos.values():
            if repo.parent != top or not timed_step:
                remove(repo.parent / "data.before")
        rounds = max(1, self.args.checkout_rounds) if timed_step else 1
        for k in range(rounds):
            turn = [*(["floor"] if timed_step else []), *order]
            for who in turn if k % 2 == 0 else turn[::-1]:
                if who in failed:
                    continue
                dest = repos["art" if who == "floor" else who] / "data"
                remove(dest)  # the last round's copy
                if who == "floor":  # into the place art's checkout writes: the same parent, the same inode groups
                    self.reuse_wait(f"round {k + 1}: before the floor")
                    copy = ["cp", "-r", str(top / "data.before"), "data"]
                    self.record(step, "floor", self.run(copy, dest.parent), True, set())
                    continue
                self.reuse_wait(f"round {k + 1}: before {who}")
                run = self.run(self.cmd(who, "checkout", "data" if who == "art" else "data.dvc"), repos[who])
                self.record(step, who, run, timed_step, failed, count_files(repos[who] / "data") == self.n)
        remove(top / "data.before")

    def _checkout_fresh(self, step, repos, order, failed, timed_step) -> None:
        """Each sample in a new file system: the floor copies art's data into one (``cp -r``); each tool's checkout
        runs in a copy of its repository without ``data`` (git, the tool's store and pointers: copied untimed,
        ``cp -a``) made in another. The ``data.before`` folders stay where they are until the repository's own
        file system is dropped: no delete reaches a sample."""
        before = repos["art"].parent / "data.before"
        rounds = max(1, self.args.checkout_rounds) if timed_step else 1
        for k in range(rounds):
            turn = [*(["floor"] if timed_step else []), *order]
            for who in turn if k % 2 == 0 else turn[::-1]:
                if who in failed:
                    continue
                where = self.sample_fs(f"{who}-checkout")
                try:
                    if who == "floor":
                        run = self.run(["cp", "-r", str(before), "data"], where)
                        self.record(step, "floor", run, True, set())
                        continue
                    quiet(["cp", "-a", str(repos[who]), str(where / "repo")], where, self.env)
                    self.settle(f"round {k + 1}: copying {who}'s repository")
                    repo = where / "repo"
                    run = self.run(self.cmd(who, "checkout", "data" if who == "art" else "data.dvc"), repo)
                    self.record(step, who, run, timed_step, failed, count_files(repo / "data") == self.n)
                finally:
                    self.drop(where)

    def reuse_wait(self, why: str) -> None:
        """``settle``, then wait until ``--reuse-wait`` seconds have passed since the deletes."""
        start = time.monotonic()
        self.settle(why)
        left = self.args.reuse_wait - (time.monotonic() - start)
        if left > 0:
            log(f"waiting {left:.0f} s more: inodes freed by the deletes are reused only after ext4's window")
            time.sleep(left)

    def step_push(self, step, repos, order, failed, timed_step) -> None:
        for tool, repo in repos.items():
            remote = repo.parent / "remote"
            remote.mkdir()
            if tool == "dvc":
                quiet(self.cmd(tool, "remote", "add", "-d", "bench", str(remote)), repo, self.env)
            else:
                quiet(self.cmd(tool, "remote", "add", "bench", str(remote), "--default"), repo, self.env)
            quiet(["git", "add", "-A"], repo, self.env)
            quiet(["git", "commit", "-q", "-m", "bench"], repo, self.env)
        if timed_step and self.fs is not None:  # the floor writes into a file system of its own
            where = self.sample_fs("floor-push", 1)
            packs = repos["art"] / ".art" / "store" / "packs"
            try:
                self.record(step, "floor", self.run(["cp", "-r", str(packs), "packs.copy"], where), True, set())
            finally:
                self.drop(where)
        elif timed_step:
            top = repos["art"].parent
            run = self.run(["cp", "-r", "repo/.art/store/packs", "packs.copy"], top)
            self.record(step, "floor", run, True, set())
            remove(top / "packs.copy")
            self.settle("removing the copy")
        self.tools_run(
            step,
            order,
            failed,
            timed_step,
            lambda t: self.cmd(t, "push"),
            lambda t: repos[t],
            lambda t: any((repos[t].parent / "remote").iterdir()),
        )

    def step_pull(self, step, repos, order, failed, timed_step) -> None:
        """Under ``--fresh-fs`` each clone (and the floor's copies) is made in a new file system of its own; the
        remotes stay in the repositories' file systems."""
        clones = {}
        try:
            self._pull(step, repos, order, failed, timed_step, clones)
        finally:
            for clone in clones.values():
                if self.fs is not None and clone.parent in self.fs.mounted:
                    self.fs.drop(clone.parent)

    def _pull(self, step, repos, order, failed, timed_step, clones) -> None:
        for tool, repo in repos.items():
            clone = (self.sample_fs(f"{tool}-pull") if self.fs is not None else repo.parent) / "clone"
            clones[tool] = clone
            quiet(["git", "clone", "-q", str(repo), str(clone)], repo.parent, self.env)
            if tool == "art":
                if not (clone / ".art").is_dir():
                    quiet(self.cmd(tool, "init"), clone, self.env)
                remote = str(repo.parent / "remote")
                subprocess.run(
                    self.cmd(tool, "remote", "add", "bench", remote, "--default"),
                    cwd=clone,
                    env=self.env,
                    capture_output=True,
                )  # fails when a tracked config already names it
        top = repos["art"].parent
        data = top / "repo" / "data" if (top / "repo" / "data").is_dir() else top / "data.before"  # checkout's
        floor = [
            "sh",
            "-c",
            f"cp -r {shlex.quote(str(top / 'remote'))} store.copy && cp -r {shlex.quote(str(data))} data.copy",
        ]
        if timed_step and self.fs is not None:  # what a pull must write at least: the objects and the files
            where = self.sample_fs("floor-pull")
            try:
                self.record(step, "floor", self.run(floor, where), True, set())
            finally:
                self.drop(where)
        elif timed_step:
            self.record(step, "floor", self.run(floor, top), True, set())
            remove(top / "store.copy")
            remove(top / "data.copy")
        for repo in repos.values():
            if self.fs is None:
                remove(repo / "data")  # not needed any more: room for the clones at 1M
        # past ext4's inode-reuse window, as for checkout: a pull creates as many files (here right after the
        # deletes of 2-3 copies of the data)
        self.reuse_wait("removing the copies and the origins' data")
        self.tools_run(
            step,
            order,
            failed,
            timed_step,
            lambda t: self.cmd(t, "pull"),
            lambda t: clones[t],
            lambda t: count_files(clones[t] / "data") == self.n,
        )


# ------------------------------------------------------------------------------------------------ report


def verdict(row: Row) -> tuple[str, list[str]]:
    """("pass" | "fail" | "FAIL" | "info", the goals with their outcome)."""
    art_wall = med(row.art, "wall")
    floor_wall = med(row.floor, "wall")
    dvc_wall = med(row.dvc, "wall")
    marks, failed = [], False
    for label, metric, limit in goals(row.files, row.step):
        if metric == "floor":
            ok = None if not art_wall or not floor_wall else art_wall / floor_wall <= limit
        elif metric == "dvc":
            ok = None if not art_wall or not dvc_wall else art_wall / dvc_wall <= limit
        elif metric == "rate":
            ok = None if not art_wall else row.files / art_wall >= limit
        elif metric == "wall":
            ok = None if not art_wall else art_wall < limit
        else:
            ok = None if not row.art else max(r.rss_mb for r in row.art) <= limit
        marks.append(f"{label}:{'-' if ok is None else 'ok' if ok else 'NO'}")
        failed |= ok is False
    errors = [e for e in row.errors if e.startswith("art ")]
    result = "FAIL" if errors else "fail" if failed else "pass" if marks else "info"
    return result, marks


def fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.3f}" if a / b < 0.1 else f"{a / b:.2f}"


HEAD = (
    "files", "layout", "step", "floor s", "art s", "dvc s", "art/floor", "art/dvc",
    "art files/s", "floor cpu s", "art cpu s", "dvc cpu s", "art MB", "dvc MB", "goals", "result",
)  # fmt: skip


def table(rows: list[Row]) -> list[list[str]]:
    out = []
    for row in rows:
        if not (row.art or row.errors):
            continue
        a, f, d = med(row.art, "wall"), med(row.floor, "wall"), med(row.dvc, "wall")
        result, marks = verdict(row)
        out.append(
            [
                f"{row.files:,}",
                row.layout,
                row.step,
                fmt(f),
                fmt(a),
                fmt(d),
                ratio(a, f),
                ratio(a, d),
                fmt(row.files / a if a else None, ",.0f"),
                fmt(med(row.floor, "cpu")),
                fmt(med(row.art, "cpu")),
                fmt(med(row.dvc, "cpu")),
                fmt(max((r.rss_mb for r in row.art), default=None), ".0f"),
                fmt(max((r.rss_mb for r in row.dvc), default=None), ".0f"),
                " ".join(marks) or "-",
                result,
            ]
        )
    return out


def print_table(rows: list[Row], markdown: bool) -> None:
    body = table(rows)
    if markdown:
        print("| " + " | ".join(HEAD) + " |")
        print("|" + "---|" * len(HEAD))
        for line in body:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(HEAD)]
        print("  ".join(h.ljust(w) for h, w in zip(HEAD, widths, strict=True)))
        for line in body:
            print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
    for row in rows:
        if row.step == "checkout" and len(row.floor) + len(row.art) > 2:
            samples = "; ".join(
                f"{who} {', '.join(f'{r.wall:.2f}' for r in runs)}"
                for who, runs in (("floor", row.floor), ("art", row.art), ("dvc", row.dvc))
                if runs
            )
            print(f"~ {row.layout} {row.files:,} checkout, every sample (wall s, in run order): {samples}")
    for row in rows:
        for e in row.errors:
            print(f"! {row.layout} {row.files:,} {e}")


def environment(args: argparse.Namespace, base: Path) -> dict[str, str]:
    """Isolated HOME and git config, a fixed git identity, no DVC analytics: the same for every tool, and no
    ``PYTHONDONTWRITEBYTECODE``: every tool runs as installed, from its compiled bytecode (``compile_tools``),
    not compiling its modules from source at each command (a shell that sets the variable cost the flat 20k
    status ~0.08 CPU s of art's 0.25)."""
    env = isolated_env(base)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


COMPILE = (
    "import compileall, importlib.util, os, sys\n"
    "for name in sys.argv[1:]:\n"
    "    spec = importlib.util.find_spec(name)\n"
    "    if spec and spec.submodule_search_locations:\n"
    "        for path in spec.submodule_search_locations:\n"
    "            compileall.compile_dir(path, quiet=1)\n"
    "            print(path)\n"
)


def compile_tools(args: argparse.Namespace, env: dict[str, str], cwd: Path) -> list[str]:
    """Byte-compile art's and DVC's packages once, untimed, with the Python each runs on (as an install does;
    ``compileall`` writes the bytecode whatever ``PYTHONDONTWRITEBYTECODE`` says and skips what is up to date).
    The walk floor imports only the standard library, compiled with its Python. Returns the folders compiled."""
    done: list[str] = []
    dvc = shlex.split(args.dvc) if args.dvc and not args.no_dvc else []
    for cmd, package in ((shlex.split(args.art), "artvc"), (dvc, "dvc")):
        python = tool_python(cmd, package) if cmd else []
        if not python:
            if cmd:
                log(f"{shlex.join(cmd)}: no Python found to byte-compile {package} with (it runs as it is)")
            continue
        # from the scratch (as the tools run: ``-c`` puts the working folder first on the path)
        ran = subprocess.run([*python, "-c", COMPILE, package], cwd=cwd, env=env, capture_output=True, text=True)
        if ran.returncode:
            log(f"byte-compiling {package} failed (it runs as it is): {ran.stderr.strip()[-300:]}")
        done += ran.stdout.split()
    return done


def tool_python(cmd: list[str], package: str) -> list[str]:
    """The command that runs the tool's Python: ``cmd`` less ``-m package`` (``python -m artvc``, also behind
    ``env VAR=... python``), else the interpreter named by the ``#!`` line of the script ``cmd`` starts."""
    if cmd[-2:] == ["-m", package]:
        return cmd[:-2]
    found = shutil.which(cmd[0]) if len(cmd) == 1 else None
    if found:
        with open(found, "rb") as f:
            first = f.readline(4096)
        if first.startswith(b"#!") and b"python" in first:
            return shlex.split(first[2:].decode(errors="replace"))
    return []


def default_dvc() -> str:
    for cand in (Path("/work/bench/venv-dvc/bin/dvc"), HERE / ".venv-dvc" / "bin" / "dvc"):
        if cand.exists():
            return str(cand)
    return ""


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", default="20000,100000", help="comma-separated file counts (default 20000,100000)")
    parser.add_argument("--million", action="store_true", help="also run 1,000,000 files")
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help="flat, tree or both (default)")
    parser.add_argument("--steps", default=",".join(STEPS), help="steps to time (add always runs; pull needs push)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats per case; medians are reported (default 3)")
    parser.add_argument("--art", default=f"{shlex.quote(sys.executable)} -m artvc", help="art command")
    parser.add_argument("--dvc", default=default_dvc(), help="dvc command (default: the benchmark venv's)")
    parser.add_argument("--no-dvc", action="store_true", help="do not run DVC")
    parser.add_argument("--dvc-max-files", type=int, default=10**9, help="skip DVC above this many files")
    parser.add_argument("--floor-python", default=None, help="Python for the status floor (default: art's)")
    parser.add_argument("--tmp", default=None, help="scratch parent directory (default $TMPDIR or /tmp)")
    parser.add_argument("--data-dir", default=None, help="keep generated data here and reuse it")
    parser.add_argument("--min-size", type=int, default=1024, help="smallest file in bytes (default 1024)")
    parser.add_argument(
        "--max-size",
        type=int,
        default=8192,
        help="largest file in bytes (default 8192; memory depends on the file count: tiny files let 1M copies "
        "fit a small disk, e.g. a loop-mounted ext4 with inline_data)",
    )
    parser.add_argument("--settle", type=float, default=60, help="max wait for a quiet disk after deletes (s)")
    parser.add_argument("--pause", type=float, default=5, help="max wait for a quiet disk before a command (s)")
    parser.add_argument(
        "--reuse-wait",
        type=float,
        default=35,
        help="wait after deletes before checkout's floor and tools, and pull's tools (s)",
    )
    parser.add_argument(
        "--checkout-rounds",
        type=int,
        default=2,
        help="checkout samples per repeat for the floor and each tool, in alternating order (default 2)",
    )
    parser.add_argument(
        "--fresh-fs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="each repository, clone and written floor in a new loop-mounted ext4 (default: on when root with "
        "loop devices; --reuse-wait is then 0: a new file system with a journal has no reuse window)",
    )
    parser.add_argument(
        "--inline-data",
        action="store_true",
        help="--fresh-fs file systems with ext4's inline_data: files of up to ~60 bytes live in their inodes "
        "(1M files of 16-64 B take ~0.3 GiB of disk per copy, not 4 GiB)",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="per-command timeout (s)")
    parser.add_argument("--json", default=None, help="also write every sample and verdict as JSON here")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    args.steps = {s for s in args.steps.split(",") if s} | {"add"}
    unknown = args.steps - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    args.layouts = [x for x in args.layouts.split(",") if x]
    if set(args.layouts) - set(LAYOUTS):
        parser.error("layouts are flat and tree")
    if args.floor_python is None:
        first = shlex.split(args.art)[0]
        args.floor_python = first if "python" in os.path.basename(first) else sys.executable
    return args


def fresh_fs(args: argparse.Namespace, scratch: Path) -> FreshFs | None:
    """The maker of fresh file systems, or None (not asked for, or not possible here: one logged line)."""
    if args.fresh_fs is False:
        return None
    reason = unavailable(scratch)
    if reason:
        log(f"fresh file systems unavailable ({reason}): samples share the scratch's file system")
        return None
    if args.reuse_wait:
        log(f"--reuse-wait {args.reuse_wait:g} dropped: a new ext4 with a journal has no inode-reuse window")
        args.reuse_wait = 0
    return FreshFs(scratch, inline_data=args.inline_data)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    counts = [int(x) for x in args.files.split(",") if x] + ([1_000_000] if args.million else [])
    scratch = Path(tempfile.mkdtemp(prefix="art-small-", dir=args.tmp))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed run still unmounts and deletes
    env = environment(args, scratch)
    for path in compile_tools(args, env, scratch):
        log(f"byte-compiled {path}")
    rows: list[Row] = []
    fs = fresh_fs(args, scratch)
    try:
        for n in counts:
            for layout in args.layouts:
                case = Case(args, n, layout, scratch, env, fs)
                # at most four copies of the data at once (source, repository, clone, floor), three more for DVC
                refusal = fits(scratch, case.data_bytes() * (7 if "dvc" in case.tools else 4))
                if refusal:
                    log(f"{layout} {n:,}: skipped, it {refusal}")
                    continue
                if "dvc" not in case.tools and not args.no_dvc:
                    log(f"{layout} {n:,}: DVC skipped ({'not found' if not args.dvc else '--dvc-max-files'})")
                try:
                    case.execute()
                finally:
                    rows.extend(case.rows[s] for s in STEPS)
    except KeyboardInterrupt:
        log("interrupted: the table has what was measured")
    finally:
        if fs is not None:
            fs.close()
            log(f"fresh file systems: {fs.made} made and dropped in {fs.seconds:.1f} s (not timed)")
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    mode = "a fresh ext4 per sample" if fs else "the scratch's file system"
    print(
        f"many small files on {mode}, medians of {args.repeat} "
        f"(wall s; MB = peak RSS by wait4; load {os.getloadavg()[0]:.1f})"
    )
    print_table(rows, args.markdown)
    if args.json:
        doc = [{**asdict(r), "result": verdict(r)[0], "goals": verdict(r)[1]} for r in rows if r.art or r.errors]
        Path(args.json).write_text(json.dumps(doc, indent=1))
    return 1 if any(verdict(r)[0] in ("fail", "FAIL") for r in rows if r.art or r.errors) else 0


if __name__ == "__main__":
    sys.exit(main())
