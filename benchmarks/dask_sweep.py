"""`art repro --executor dask` on a 1 -> N -> 1 sweep of sleep stages, against the ideal makespan and bare Dask.

The pipeline: ``prepare`` (copies an art-added input of ``--input-mb`` random MiB to ``prepared.bin``) ->
``point@0 .. point@{N-1}`` (a matrix: each sleeps ``--stage-seconds``, reads the head of ``prepared.bin`` and
writes a small file) -> ``gather`` (concatenates the N small files). One LocalCluster of ``--workers`` worker
processes (one thread each, each with its own local directory, so its own art worker cache) serves both runs:

* **bare Dask**: the same commands through ``client.submit`` of a subprocess (``sh -c CMD`` in a directory the
  workers share), with the same dependencies: the floor for running these commands on this cluster;
* **art**: ``art repro --executor dask --scheduler ADDR -r origin -j J`` in a git repository whose remote is a
  local directory (nothing shared with the workers but that remote).

Reported: cluster start-up; the ideal makespan ``(2 + ceil(N / workers)) * stage_seconds``; each run's wall
time and its ratio to ideal + start-up; art's overhead per stage over bare Dask, as extra worker time per stage
(``(art wall - bare wall) * workers / stages``); and the bytes the workers downloaded (the ``bytes_downloaded``
of every task result, read on the workers by a WorkerPlugin) against the input bytes they did not already hold
(for each worker, the distinct deps of the stages it ran, plus the code tree once).

The reference machine has 2 cores, so the default is 0.2 s stages on 4 workers (the issue's 1 s stages on a
bigger machine: ``--stage-seconds 1``). Standard library + ``distributed``; run from the repository root:

    python benchmarks/dask_sweep.py                    # 200 points, 0.2 s, 4 workers
    python benchmarks/dask_sweep.py --stage-seconds 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

ART = [sys.executable, "-m", "artvc"]
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def log(msg: str) -> None:
    print(f"[dask_sweep] {msg}", file=sys.stderr, flush=True)


def commands(n: int, seconds: float) -> dict[str, tuple[str, list[str], list[str]]]:
    """stage -> (shell command, deps, outs); the same commands for art and for bare Dask."""
    stages = {"prepare": ("cp data/raw.bin prepared.bin", ["data/raw.bin"], ["prepared.bin"])}
    for i in range(n):
        cmd = f"sleep {seconds} && mkdir -p points && head -c 32 prepared.bin | od -An -tx1 > points/p{i}.txt"
        stages[f"point@{i}"] = (cmd, ["prepared.bin"], [f"points/p{i}.txt"])
    points = [f"points/p{i}.txt" for i in range(n)]
    stages["gather"] = ("cat " + " ".join(points) + " > summary.txt", points, ["summary.txt"])
    return stages


def art_toml(n: int, seconds: float) -> str:
    points = [f"points/p{i}.txt" for i in range(n)]
    point_cmd = f"sleep {seconds} && mkdir -p points && head -c 32 prepared.bin | od -An -tx1 > points/p${{item.i}}.txt"
    return f"""
[stages.prepare]
cmd = "cp data/raw.bin prepared.bin"
deps = ["data/raw.bin"]
outs = ["prepared.bin"]

[stages.point]
matrix = {{i = {list(range(n))}}}
cmd = "{point_cmd}"
deps = ["prepared.bin"]
outs = ["points/p${{item.i}}.txt"]

[stages.gather]
cmd = "cat {" ".join(points)} > summary.txt"
deps = {json.dumps(points)}
outs = ["summary.txt"]
"""


def run(cwd: Path, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    r = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def make_repo(root: Path, remote: Path, n: int, seconds: float, input_mb: float, env: dict[str, str]) -> int:
    """A committed git + art repository with the pipeline; returns the code files' total size."""
    root.mkdir(parents=True)
    run(root, "git", "init", "-q", env=env)
    run(root, *ART, "init", env=env)
    run(root, *ART, "remote", "add", "origin", str(remote), "--default", env=env)
    (root / "data").mkdir()
    (root / "data/raw.bin").write_bytes(os.urandom(int(input_mb * (1 << 20))))
    (root / "art.toml").write_text(art_toml(n, seconds))
    run(root, *ART, "add", "data/raw.bin", env=env)
    run(root, *ART, "push", env=env)
    run(root, "git", "add", "-A", env=env)
    run(root, "git", "commit", "-qm", "sweep", env=env)
    tracked = run(root, "git", "ls-files", "-z", env=env).stdout.split("\0")
    return sum((root / p).stat().st_size for p in tracked if p and (root / p).is_file())


class ResultRecorder(WorkerPlugin):
    """A WorkerPlugin: for each finished ``art-*`` task, the worker and the result's bytes_downloaded."""

    name = "art-bench-results"

    def setup(self, worker: Any) -> None:
        self.worker = worker
        self.seen: dict[str, dict[str, Any]] = {}
        self.started: dict[str, float] = {}

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        k = str(key)
        if not k.startswith("art-"):
            return
        if finish == "executing":
            self.started[k] = time.monotonic()
            return
        if finish != "memory":
            return
        elapsed = time.monotonic() - self.started.pop(k, time.monotonic())
        value = self.worker.data.get(key)
        try:
            if isinstance(value, bytes | bytearray):
                from artvc.pipeline.executors.protocol import decode_result

                value = decode_result(bytes(value))
            self.seen[k] = {
                "bytes_downloaded": int(value.get("bytes_downloaded", 0)),
                "cached": bool(value.get("cached")),
                "ok": bool(value.get("ok")),
                "task_s": elapsed,
                "stage_s": float(value.get("duration", 0.0)),
            }
        except Exception as exc:  # reported, not hidden
            self.seen[k] = {"error": repr(exc)}


def _collect(dask_worker: Any) -> dict[str, Any]:
    plugin = dask_worker.plugins.get(ResultRecorder.name)
    return dict(plugin.seen) if plugin is not None else {}


def bare_dask(client: Any, workdir: Path, raw: Path, stages: dict[str, tuple[str, list[str], list[str]]]) -> float:
    """The same commands and dependencies as plain Dask tasks (a subprocess each, in one shared directory)."""

    def sh(cmd: str, cwd: str, *upstream: Any) -> int:
        import subprocess

        return subprocess.run(["/bin/sh", "-c", cmd], cwd=cwd, stdin=subprocess.DEVNULL).returncode

    (workdir / "data").mkdir(parents=True)
    shutil.copyfile(raw, workdir / "data/raw.bin")
    producers: dict[str, Any] = {}
    t0 = time.perf_counter()
    futures = []
    for name, (cmd, deps, outs) in stages.items():
        upstream = [producers[d] for d in deps if d in producers]
        fut = client.submit(sh, cmd, str(workdir), *upstream, key=f"bare-{name}-{t0}", pure=False)
        futures.append(fut)
        for out in outs:
            producers[out] = fut
    codes = client.gather(futures)
    wall = time.perf_counter() - t0
    if any(codes):
        raise SystemExit(f"bare Dask: {sum(1 for c in codes if c)} commands failed")
    return wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stages", type=int, default=200, help="points in the sweep (default 200)")
    ap.add_argument("--workers", type=int, default=4, help="LocalCluster workers, one thread each (default 4)")
    ap.add_argument("--stage-seconds", type=float, default=0.2, help="sleep per point (default 0.2: 2 cores)")
    ap.add_argument("--input-mb", type=float, default=8.0, help="size of the art-added input (default 8 MiB)")
    ap.add_argument("--jobs", type=int, default=0, help="art's -j (stages in flight); default 2 x workers")
    ap.add_argument("--tmp", default=None, help="scratch parent directory")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--json", default=None, help="also write the figures as JSON here")
    args = ap.parse_args(argv)
    n, w, seconds = args.stages, args.workers, args.stage_seconds
    jobs = args.jobs or 2 * w

    from distributed import Client, LocalCluster

    scratch = Path(tempfile.mkdtemp(prefix="art-dask-sweep-", dir=args.tmp))
    home = scratch / "home"
    home.mkdir()
    env = {**os.environ, **GIT_ENV, "HOME": str(home), "LC_ALL": "C"}
    try:
        code_bytes = make_repo(scratch / "repo", scratch / "remote", n, seconds, args.input_mb, env)
        input_bytes = (scratch / "repo/data/raw.bin").stat().st_size

        t0 = time.perf_counter()
        cluster = LocalCluster(
            n_workers=w,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            local_directory=str(scratch / "workers"),
        )
        client = Client(cluster)
        client.wait_for_workers(w)
        startup = time.perf_counter() - t0
        log(f"cluster of {w} workers up in {startup:.2f} s")
        try:
            client.register_plugin(ResultRecorder())
            log("bare Dask run")
            bare = bare_dask(client, scratch / "bare", scratch / "repo/data/raw.bin", commands(n, seconds))
            log(f"bare Dask: {bare:.2f} s; art run")
            t1 = time.perf_counter()
            r = run(
                scratch / "repo",
                *ART,
                "repro",
                "--executor",
                "dask",
                "--scheduler",
                cluster.scheduler_address,
                "-r",
                "origin",
                "-j",
                str(jobs),
                "--json",
                env=env,
            )
            art_wall = time.perf_counter() - t1
            states = [s["state"] for s in json.loads(r.stdout)["stages"]]
            if states.count("ran") != n + 2:
                raise SystemExit(f"art ran {states.count('ran')} of {n + 2} stages: {r.stdout[:2000]}")
            per_worker = client.run(_collect)
        finally:
            client.close()
            cluster.close()

        lock = tomllib.loads((scratch / "repo/art.lock").read_text())["stages"]
        by_key = {f"art-{e['run_key']}": e for e in lock.values()}
        sizes = {o["id"]: o["size"] for e in lock.values() for o in e.get("outs", [])}
        sizes[json_pointer_id(scratch / "repo/data/raw.bin.art")] = input_bytes
        downloaded = 0
        not_held = 0
        errors = []
        for _address, seen in per_worker.items():
            held: set[str] = set()
            if seen:
                not_held += code_bytes  # the code tree, once per worker
            for key, res in seen.items():
                if "error" in res:
                    errors.append(res["error"])
                    continue
                downloaded += res["bytes_downloaded"]
                for dep in by_key.get(key, {}).get("deps", []):
                    if dep["id"] not in held:
                        held.add(dep["id"])
                        not_held += sizes.get(dep["id"], 0)
        tasks = [r for seen in per_worker.values() for r in seen.values() if "task_s" in r]
        task_mean = sum(r["task_s"] for r in tasks) / max(1, len(tasks))
        stage_mean = sum(r["stage_s"] for r in tasks) / max(1, len(tasks))
        ideal = (2 + math.ceil(n / w)) * seconds
        figures = {
            "stages": n + 2,
            "workers": w,
            "stage_seconds": seconds,
            "jobs": jobs,
            "input_bytes": input_bytes,
            "cluster_startup_s": startup,
            "ideal_s": ideal,
            "bare_dask_s": bare,
            "art_s": art_wall,
            "art_vs_ideal_plus_startup": art_wall / (ideal + startup),
            "bare_vs_ideal_plus_startup": bare / (ideal + startup),
            "art_overhead_per_stage_ms": (art_wall - bare) * w / (n + 2) * 1000,
            "art_extra_wall_per_stage_ms": (art_wall - bare) / (n + 2) * 1000,
            "worker_task_mean_s": task_mean,
            "worker_stage_mean_s": stage_mean,
            "worker_busy_share": sum(r["task_s"] for r in tasks) / (w * art_wall),
            "bytes_downloaded": downloaded,
            "bytes_not_held": not_held,
            "download_ratio": downloaded / not_held if not_held else float("nan"),
            "results_seen": sum(len(s) for s in per_worker.values()),
            "result_errors": errors[:5],
        }
        print_table(figures)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
        return 0
    finally:
        if args.keep:
            log(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def json_pointer_id(pointer: Path) -> str:
    """The id in a PATH.art pointer file (TOML)."""
    return str(tomllib.loads(pointer.read_text())["id"])


def print_table(f: dict[str, Any]) -> None:
    rows = [
        (
            "stages / workers / stage s / -j",
            f"{f['stages']} / {f['workers']} / {f['stage_seconds']:g} / {f['jobs']}",
            "",
        ),
        ("cluster start-up", f"{f['cluster_startup_s']:.2f} s", ""),
        ("ideal makespan (2 + ceil(N/w)) x t", f"{f['ideal_s']:.2f} s", ""),
        ("bare Dask wall", f"{f['bare_dask_s']:.2f} s", f"{f['bare_vs_ideal_plus_startup']:.2f} x (ideal + start-up)"),
        ("art wall", f"{f['art_s']:.2f} s", f"{f['art_vs_ideal_plus_startup']:.2f} x (ideal + start-up); target 1.25"),
        ("art / bare Dask", f"{f['art_s'] / f['bare_dask_s']:.2f} x", ""),
        (
            "art overhead per stage",
            f"{f['art_overhead_per_stage_ms']:.0f} ms",
            "(art - bare) x workers / stages; target 100",
        ),
        (
            "task on a worker (mean)",
            f"{f['worker_task_mean_s'] * 1000:.0f} ms",
            f"of which the stage {f['worker_stage_mean_s'] * 1000:.0f} ms",
        ),
        (
            "workers busy during the art run",
            f"{f['worker_busy_share'] * 100:.0f} %",
            "the rest: waiting for the client",
        ),
        ("bytes downloaded by workers", f"{f['bytes_downloaded']:,}", ""),
        ("input bytes they did not hold", f"{f['bytes_not_held']:,}", ""),
        ("downloaded / not held", f"{f['download_ratio']:.3f}", "target 1.05"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")
    if f["result_errors"]:
        print("result errors:", *f["result_errors"], sep="\n  ")


if __name__ == "__main__":
    sys.exit(main())
