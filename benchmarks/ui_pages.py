"""`art ui` at scale: every page kind for a repository of 1,000 pipeline runs and 10,000 artifact versions.

The repository is made by art itself, nothing is written by hand: a three-step Python pipeline (``@step`` /
``@pipeline``, ten outputs that all change with the seed) is called in-process ``--runs`` times with a new seed,
so every call executes and its step and pipeline records go through art's own record writers
(pipeline/flow/records.py); every ``--runs / --commits`` calls an ``art add`` of a changed table and a git
commit; then a one-stage ``art.toml`` pipeline with params, metrics and a plot is reproduced and run as
``--experiments`` experiments (``art exp run``). The counts are checked against ``art runs --json`` and
``art artifacts --json`` before anything is timed.

Then, per page kind (runs list, one run, artifacts list, the artifact with the most versions, experiments,
store): the in-process time of its data function (artvc/ui/data.py, on a freshly opened read-only repository)
and of ``render_page``, and the HTTP round trip of ``GET`` against ``art ui --port 0`` (first request, and the
median of ``--repeat``). The goal is under 1 s for each.

    .venv/bin/python benchmarks/ui_pages.py                     # 1,000 runs, 10,000 versions (a few minutes)
    .venv/bin/python benchmarks/ui_pages.py --runs 100 --repeat 3   # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

GOAL_S = 1.0
OUTPUTS_PER_RUN = 10

FLOW = '''"""The benchmark's pipeline: ten outputs per run, each a new version for a new seed (each holds it)."""
from typing import Annotated

from artvc import log_metadata, pipeline, step


@step
def load(seed: int) -> tuple[
    Annotated[list, "rows"], Annotated[list, "labels"], Annotated[dict, "schema"], Annotated[int, "count"]
]:
    rows = [[seed + j] + [(seed * 31 + i * 7 + j) % 97 for i in range(7)] for j in range(4)]
    return rows, [seed] + [(r[1] + seed) % 2 for r in rows], {"seed": seed, "columns": 8}, len(rows) + seed


@step
def train(rows: list, labels: list, lr: float = 0.1) -> tuple[
    Annotated[list, "weights"], Annotated[float, "loss"], Annotated[dict, "config"]
]:
    weights = [sum(r[i] for r in rows) * lr for i in range(8)]
    return weights, rows[0][0] + (sum(weights) % 1) / 10, {"lr": lr, "rows": rows[0]}


@step
def evaluate(rows: list, labels: list, weights: list) -> tuple[
    Annotated[float, "accuracy"], Annotated[dict, "report"], Annotated[str, "summary"]
]:
    accuracy = 0.5 + rows[0][0] / (2 * (rows[0][0] + 1000))  # every seed its own value
    log_metadata({"accuracy": accuracy})
    return accuracy, {"accuracy": accuracy, "first": rows[0]}, f"accuracy {accuracy:.6f} on {rows[0]}"


@pipeline
def ui_bench(seed: int = 0, lr: float = 0.1) -> None:
    rows, labels, schema, count = load(seed=seed)
    weights, loss, config = train(rows, labels, lr=lr)
    evaluate(rows, labels, weights)
'''

TRAIN = """import json, tomllib
p = tomllib.load(open("params.toml", "rb"))["train"]
loss = [p["lr"] * 10 / (i + 1) for i in range(p["epochs"])]
open("eval/loss.csv", "w").write("epoch,loss\\n" + "".join(f"{i},{v:.5f}\\n" for i, v in enumerate(loss)))
json.dump({"loss": round(loss[-1], 5), "accuracy": round(1 - loss[-1] / 10, 5)}, open("eval/metrics.json", "w"))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, root: Path, art: list[str]) -> None:
        self.root, self.art_cmd = root, art
        self.env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
        }

    def run(self, *args: str) -> str:
        r = subprocess.run(args, cwd=self.root, env=self.env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{shlex.join(args)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
        return r.stdout

    def art(self, *args: str) -> str:
        return self.run(*self.art_cmd, *args)

    def commit(self, message: str) -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-qm", message)


def build(bench: Bench, runs: int, commits: int, experiments: int) -> None:
    """The synthetic repository (module docstring); every record is written by art."""
    root = bench.root
    bench.run("git", "init", "-q", "-b", "main")
    bench.art("init")
    (root / "ui_bench_flow.py").write_text(FLOW)
    (root / "data").mkdir()
    (root / "eval").mkdir()
    (root / "data/table.csv").write_text("round,value\n0,0\n")
    bench.art("add", "data/table.csv")
    bench.commit("the benchmark pipeline")

    sys.path.insert(0, str(root))
    logging.getLogger("artvc").setLevel(logging.WARNING)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        flow = importlib.import_module("ui_bench_flow")
        every = max(1, runs // max(1, commits))
        started = time.perf_counter()
        for seed in range(runs):
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                flow.ui_bench(seed=seed)
            if (seed + 1) % every == 0:
                (root / "data/table.csv").write_text("round,value\n" + "".join(f"{i},{i * seed}\n" for i in range(5)))
                bench.art("add", "-q", "data/table.csv")
                bench.commit(f"round {seed + 1}")
                log(f"  {seed + 1} runs ({(time.perf_counter() - started) / (seed + 1) * 1000:.0f} ms each)")
    finally:
        os.chdir(cwd)
        sys.path.remove(str(root))

    (root / "train.py").write_text(TRAIN)
    (root / "params.toml").write_text("[train]\nlr = 0.1\nepochs = 12\n")
    (root / "art.toml").write_text(
        f'[stages.train]\ncmd = "{sys.executable} train.py"\ndeps = ["train.py"]\n'
        'params = ["train.lr", "train.epochs"]\nmetrics = ["eval/metrics.json"]\n'
        'plots = [{ path = "eval/loss.csv", x = "epoch", y = "loss" }]\n'
    )
    bench.art("repro")
    bench.commit("a training stage")
    if experiments:
        values = ",".join(f"{0.01 * (i + 1):.2f}" for i in range(experiments))
        bench.art("exp", "run", "-S", f"train.lr={values}")


def check(bench: Bench, runs: int) -> str:
    """Assert the counts; return the artifact with the most versions."""
    listed = json.loads(bench.art("runs", "--json", "--pipeline", "ui_bench", "-n", str(runs + 1)))["pipeline_runs"]
    if len(listed) != runs:
        raise SystemExit(f"expected {runs} runs of ui_bench, art runs lists {len(listed)}")
    artifacts = json.loads(bench.art("artifacts", "--json"))["artifacts"]
    versions = sum(a["versions"] for a in artifacts if a["name"].startswith("ui_bench/"))
    if versions != runs * OUTPUTS_PER_RUN:
        raise SystemExit(f"expected {runs * OUTPUTS_PER_RUN} artifact versions, art artifacts lists {versions}")
    log(f"checked: {len(listed)} pipeline runs, {versions} artifact versions")
    return max(artifacts, key=lambda a: a["versions"])["name"]


def pages(bench: Bench, busiest: str) -> list[tuple[str, str, str, tuple]]:
    """(kind, page path, data function, its arguments after the repo) for every page kind."""
    from artvc.ui.urls import slug

    newest = json.loads(bench.art("runs", "--json", "--pipeline", "ui_bench", "-n", "1"))["pipeline_runs"][0]["oid"]
    return [
        ("runs", "index.html", "runs_data", ()),
        ("run", f"runs/{newest}.html", "run_data", (newest,)),
        ("artifacts", "artifacts/index.html", "artifacts_data", ()),
        ("artifact", f"artifacts/{slug(busiest)}.html", "artifact_data", (busiest,)),
        ("experiments", "experiments.html", "experiments_data", ()),
        ("store", "store.html", "store_data", ()),
    ]


def timed(fn, repeat: int) -> tuple[float, float, object, float]:
    """(first call's seconds, median of `repeat` calls, the last result, median CPU seconds of this process)."""
    samples, cpu, result = [], [], None
    for _ in range(max(1, repeat)):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        samples.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return samples[0], statistics.median(samples), result, statistics.median(cpu)


def in_process(root: Path, page_list, repeat: int) -> dict[str, dict]:
    """Per page: its data function on a freshly opened read-only repository (as the server opens one per
    request, so no cache of an earlier call helps), then ``render_page``."""
    from artvc.ui import data as ui_data
    from artvc.ui.render import render_page

    def load(function: str, args: tuple) -> dict:
        with ui_data.open_repo(root) as repo:
            return getattr(ui_data, function)(repo, *args)

    out = {}
    for kind, path, function, args in page_list:
        first, median, payload, data_cpu = timed(lambda f=function, a=args: load(f, a), repeat)
        depth = "../" * path.count("/")
        render = timed(lambda p=path, d=payload, r=depth: render_page("/" + p, d, root=r), repeat)
        out[kind] = {"data_first": first, "data": median, "render": render[1], "cpu": data_cpu + render[3]}
        out[kind]["bytes"] = len(str(render[2]).encode())
    return out


def over_http(bench: Bench, page_list, repeat: int) -> dict[str, dict]:
    proc = subprocess.Popen(
        [*bench.art_cmd, "ui", "--port", "0", "--no-open", "--json"],
        cwd=bench.root,
        env=bench.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = None
        assert proc.stdout is not None
        for line in proc.stdout:
            with contextlib.suppress(ValueError, TypeError, KeyError):
                url = json.loads(line)["url"]
                break
        if not url:
            raise SystemExit("art ui printed no URL")
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        base = url.split("?")[0].rstrip("/") + "/"
        out = {}
        for kind, path, _, _ in page_list:

            def get(p: str = path) -> int:
                with urllib.request.urlopen(base + p, timeout=120) as response:
                    return len(response.read())

            first, median, size, _ = timed(get, repeat)
            out[kind] = {"http_first": first, "http": median, "http_bytes": size}
        return out
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def table(page_list, local: dict, remote: dict) -> str:
    head = (
        "page",
        "path",
        "data ms",
        "render ms",
        "in-process ms",
        "CPU ms",
        "HTTP first ms",
        "HTTP ms",
        "KiB",
        "goal",
        "result",
    )
    rows = [head]
    for kind, path, _, _ in page_list:
        a, b = local[kind], remote[kind]
        total = a["data"] + a["render"]
        worst = max(total, b["http"], b["http_first"])
        shown = path if len(path) < 40 else path[:36] + "...."
        rows.append(
            (
                kind,
                shown,
                f"{a['data'] * 1000:.0f}",
                f"{a['render'] * 1000:.0f}",
                f"{total * 1000:.0f}",
                f"{a['cpu'] * 1000:.0f}",
                f"{b['http_first'] * 1000:.0f}",
                f"{b['http'] * 1000:.0f}",
                f"{b['http_bytes'] / 1024:.0f}",
                f"< {GOAL_S * 1000:.0f}",
                "pass" if worst < GOAL_S else "FAIL",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="pipeline runs (each makes 10 artifact versions)")
    parser.add_argument("--commits", type=int, default=20, help="git commits (each with an `art add`)")
    parser.add_argument("--experiments", type=int, default=5, help="`art exp run` experiments")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per page; the median is reported")
    parser.add_argument("--art", default=f"{shlex.quote(sys.executable)} -m artvc", help="the art command")
    parser.add_argument(
        "--keep", type=Path, help="build the repository here and keep it; when it is already built, time it again"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="art-ui-bench-") as scratch:
        root = args.keep or Path(scratch) / "repo"
        bench = Bench(root.resolve(), shlex.split(args.art))
        if (root / ".art").is_dir():
            log(f"timing the repository already built in {root} (--keep)")
        else:
            root.mkdir(parents=True)
            log(f"building {args.runs} runs x {OUTPUTS_PER_RUN} outputs in {root}")
            t = time.perf_counter()
            build(bench, args.runs, args.commits, args.experiments)
            log(f"built in {time.perf_counter() - t:.0f} s")
        busiest = check(bench, args.runs)
        page_list = pages(bench, busiest)
        local = in_process(bench.root, page_list, args.repeat)
        remote = over_http(bench, page_list, args.repeat)
    load = os.getloadavg()[0]
    print(f"art ui pages: {args.runs} runs, {args.runs * OUTPUTS_PER_RUN} artifact versions, median of {args.repeat}")
    print(f"(load average {load:.1f} on {os.cpu_count()} CPUs; CPU ms: the in-process data and render's own CPU time)")
    print(table(page_list, local, remote))
    if args.json:
        args.json.write_text(json.dumps({k: {**local[k], **remote[k]} for k, *_ in page_list}, indent=1))
    worst = [
        max(local[k]["data"] + local[k]["render"], remote[k]["http"], remote[k]["http_first"]) for k, *_ in page_list
    ]
    return 0 if max(worst) < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
