"""Many small files: wall time, files/s and peak memory of add, status and checkout, beside a floor.

For each file count N it creates a git repository with N random files of 1-8 KiB (seeded; 1,000 per
folder) and times, each as a child process whose peak RSS is read with ``wait4``:

| step | art command | floor measured in the same run |
| --- | --- | --- |
| add | ``art add data`` | ``find data -type f -print0 \\| xargs -0 cat > /dev/null`` (read every byte) |
| status | ``art status``, nothing changed | a plain ``os.scandir`` + ``lstat`` walk of ``data`` |
| status_changed | ``art status`` after one file was rewritten | the same walk |
| checkout | ``art checkout data`` into an empty place (``data`` renamed away) | ``cp -r`` of the folder |

and prints one table with art/floor ratios. Standard library only.

    python benchmarks/memory.py                      # 20,000 and 100,000 files
    python benchmarks/memory.py --files 20000        # one size
    python benchmarks/memory.py --million            # also 1,000,000 files (~5 GiB, generating takes minutes)
    python benchmarks/memory.py --art "art"          # another art command (default: this Python, -m artvc)
    python benchmarks/memory.py --steps add,status   # only some steps (add always runs)
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

PER_DIR = 1000
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


def timed(cmd: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float, int]:
    """Run ``cmd``; return (seconds, peak RSS in MiB of it and the children it waited for, exit code)."""
    subprocess.run(["sync"], check=False)
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr.close()
    if proc.returncode not in (0, 1):
        print(f"  ! {shlex.join(cmd)} exited {proc.returncode}: {err.strip()[-400:]}", file=sys.stderr)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def generate(data: str, n: int, seed: int) -> int:
    rng = random.Random(seed)
    total = 0
    for d in range(0, n, PER_DIR):
        sub = os.path.join(data, f"d{d // PER_DIR:04d}")
        os.makedirs(sub)
        for i in range(d, min(n, d + PER_DIR)):
            size = rng.randint(1024, 8192)
            with open(os.path.join(sub, f"f{i:07d}.bin"), "wb") as f:
                f.write(rng.randbytes(size))
            total += size
    return total


STEPS = ("add", "status", "status_changed", "checkout")


def run_size(n: int, art: list[str], scratch: str, env: dict[str, str], steps: set[str]) -> list[tuple]:
    root = os.path.join(scratch, f"n{n}")
    repo = os.path.join(root, "repo")
    os.makedirs(repo)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run([*art, "init"], cwd=repo, check=True, env=env, stdout=subprocess.DEVNULL)
    t = time.perf_counter()
    size = generate(os.path.join(repo, "data"), n, seed=n)
    print(f"[{n:,}] generated {size / 2**20:.0f} MiB in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    rows = []

    def step(name: str, cmd: list[str], floor: list[str], floor_cwd: str = repo) -> None:
        if name not in steps:
            return
        f_wall, f_rss, _ = timed(floor, floor_cwd, env)
        wall, rss, rc = timed(cmd, repo, env)
        rows.append((n, name, wall, n / wall, rss, f_wall, f_rss, rc))
        print(f"[{n:,}] {name}: {wall:.2f} s, {rss:.0f} MiB (floor {f_wall:.2f} s)", file=sys.stderr)

    walk = [sys.executable, "-c", WALK, "data"]
    step("add", [*art, "add", "-q", "data"], ["sh", "-c", "find data -type f -print0 | xargs -0 cat > /dev/null"])
    step("status", [*art, "status"], walk)
    victim = os.path.join(repo, "data", "d0000", "f0000000.bin")
    with open(victim, "ab") as f:
        f.write(b"one change")
    step("status_changed", [*art, "status"], walk)
    if "checkout" not in steps:
        return rows
    os.rename(os.path.join(repo, "data"), os.path.join(root, "data.before"))
    step("checkout", [*art, "checkout", "data"], ["cp", "-r", "data.before", "data.copy"], floor_cwd=root)
    got = sum(len(files) for _, _, files in os.walk(os.path.join(repo, "data")))
    if got != n:
        print(f"  ! checkout wrote {got} files, expected {n}", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default="20000,100000", help="comma-separated file counts")
    parser.add_argument("--million", action="store_true", help="also run 1,000,000 files")
    parser.add_argument("--art", default=f"{shlex.quote(sys.executable)} -m artvc", help="art command")
    parser.add_argument("--tmp", default=None, help="scratch parent directory")
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated steps to run (add always runs)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    counts = [int(x) for x in args.files.split(",") if x]
    if args.million:
        counts.append(1_000_000)
    art = shlex.split(args.art)
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "b@b",
        "LC_ALL": "C",
    }
    scratch = tempfile.mkdtemp(prefix="art-memory-", dir=args.tmp)
    rows = []
    try:
        for n in counts:
            rows.extend(run_size(n, art, scratch, env, {"add", *args.steps.split(",")}))
            if not args.keep:
                shutil.rmtree(os.path.join(scratch, f"n{n}"))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"{'files':>9} | {'step':<14} | {'art s':>7} | {'files/s':>8} | {'art MiB':>7} | "
        f"{'floor s':>7} | {'floor MiB':>9} | {'art/floor':>9} | rc"
    )
    for n, name, wall, rate, rss, f_wall, f_rss, rc in rows:
        print(
            f"{n:>9,} | {name:<14} | {wall:>7.2f} | {rate:>8,.0f} | {rss:>7.0f} | "
            f"{f_wall:>7.2f} | {f_rss:>9.0f} | {wall / f_wall:>9.1f} | {rc}"
        )


if __name__ == "__main__":
    main()
