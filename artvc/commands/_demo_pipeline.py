"""The pipeline part of ``art demo``: a three-stage stdlib-only pipeline, reproduced, changed, restored."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

COUNT = """import json, re
words = re.findall(r"[a-z']+", open("pipe/text.txt").read().lower())
counts = {}
for w in words:
    counts[w] = counts.get(w, 0) + 1
json.dump(dict(sorted(counts.items())), open("pipe/counts.json", "w"), indent=1)
"""
TOP = """import json, tomllib
n = tomllib.load(open("pipe/params.toml", "rb"))["top"]["n"]
counts = json.load(open("pipe/counts.json"))
best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
open("pipe/top.txt", "w").write("".join(f"{w} {c}\\n" for w, c in best))
"""
REPORT = """lines = open("pipe/top.txt").read().splitlines()
open("pipe/report.md", "w").write("# Top words\\n\\n" + "".join(f"- {l}\\n" for l in lines))
"""
TEXT = (
    "the quick brown fox jumps over the lazy dog; the dog sleeps and the fox runs. "
    "a fox is quick, a dog is lazy, and the story of the fox and the dog is old.\n"
) * 20


def demo_pipeline(root: Path, say: Callable[[str], None]) -> dict:
    """Write a 3-stage pipeline in ``root`` (an art repo), reproduce it, change a param, change it back.

    Returns the numbers the demo prints: stages, and per step how many ran / were cached, with timings.
    """
    from ..pipeline.lineage import lineage
    from ..pipeline.repro import repro
    from ..pipeline.spec import add_stage
    from ..workspace.repo import Repo

    py = shlex.quote(sys.executable)
    (root / "pipe").mkdir(exist_ok=True)
    for name, text in (
        ("count.py", COUNT),
        ("top.py", TOP),
        ("report.py", REPORT),
        ("text.txt", TEXT),
        ("params.toml", "[top]\nn = 3\n"),
    ):
        (root / "pipe" / name).write_text(text)
    add_stage(root, "count", {"cmd": f"{py} pipe/count.py", "deps": ["pipe/text.txt"], "outs": ["pipe/counts.json"]})
    add_stage(
        root,
        "top",
        {
            "cmd": f"{py} pipe/top.py",
            "deps": ["pipe/counts.json"],
            "outs": ["pipe/top.txt"],
            "params": ["pipe/params.toml:top.n"],
        },
    )
    add_stage(root, "report", {"cmd": f"{py} pipe/report.py", "deps": ["pipe/top.txt"], "outs": ["pipe/report.md"]})
    say("pipeline: count -> top (param top.n) -> report, written to art.toml")
    numbers: dict = {"stages": 3}
    with Repo(root) as repo:
        numbers["first"] = _step(repo, repro, say, "first repro")
        numbers["noop"] = _step(repo, repro, say, "again, nothing changed")
        (root / "pipe/params.toml").write_text("[top]\nn = 5\n")
        numbers["param_changed"] = _step(repo, repro, say, "top.n = 5")
        (root / "pipe/params.toml").write_text("[top]\nn = 3\n")
        numbers["param_restored"] = _step(repo, repro, say, "top.n back to 3")
        node = lineage(repo, str(root / "pipe/report.md"))
        depth, n = 0, node
        while n.inputs:
            depth, n = depth + 1, n.inputs[0]
        numbers["lineage_depth"] = depth
        say(f"art lineage pipe/report.md: {depth} runs back to the source text")
    return numbers


def _step(repo, repro, say, label: str) -> dict:
    t0 = time.perf_counter()
    result = repro(repo)
    secs = time.perf_counter() - t0
    counts = {s: result.count(s) for s in ("ran", "cached", "up-to-date")}
    detail = ", ".join(f"{o.name} {o.status}" for o in result.outcomes) or "every stage up to date"
    say(f"{label}: {detail} ({secs:.2f} s)")
    return {**counts, "duration": round(secs, 3)}
