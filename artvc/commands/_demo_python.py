"""The Python-pipeline part of ``art demo``: three ``@step`` functions passing plain Python values (no numpy, no
scikit-learn: the core install only), run twice; the second run calls no step (docs/python-pipelines.md)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

MODULE_NAME = "words"
PIPELINE = "words_pipeline"
TARGET = f"{MODULE_NAME}:{PIPELINE}"
MODULE = '''"""art demo: a Python pipeline. Run it with `art run words:words_pipeline` (docs/python-pipelines.md)."""

import re

from artvc import pipeline, step

TEXT = (
    "the quick brown fox jumps over the lazy dog; the dog sleeps and the fox runs. "
    "a fox is quick, a dog is lazy, and the story of the fox and the dog is old."
)


@step
def tokenize() -> list:
    return re.findall(r"[a-z']+", TEXT.lower())


@step
def count(words: list) -> dict:
    counts = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return counts


@step
def top(counts: dict, n: int = 3) -> list:
    best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [f"{word} {times}" for word, times in best]


@pipeline
def words_pipeline(n: int = 3):
    top(count(tokenize()), n=n)
'''
STEPS = ("tokenize", "count", "top")


def demo_python(root: Path, say: Callable[[str], None]) -> dict:
    """Write ``words.py`` in ``root`` (an art repository), run its pipeline twice, load the result.

    Returns the numbers the demo prints: per run how many steps executed / were cached, with timings, and the
    loaded value of the last step's output.
    """
    from ..pipeline.flow.artifacts import load
    from ..pipeline.flow.target import load_target

    (root / f"{MODULE_NAME}.py").write_text(MODULE)
    say(f"python pipeline: {' -> '.join(STEPS)}, @step functions in {MODULE_NAME}.py (art run {TARGET})")
    pipe = load_target(root, TARGET)
    numbers: dict = {"steps": len(STEPS)}
    for key, label in (("first", "first run"), ("again", "again, nothing changed")):
        cached: list[str] = []

        def event(kind: str, name: str, _detail: str, cached: list[str] = cached) -> None:
            if kind == "cached":
                cached.append(name)

        t0 = time.perf_counter()
        run = pipe.with_options(root=root, on_event=event)()
        secs = time.perf_counter() - t0
        numbers[key] = {"executed": len(run.executed), "cached": len(run.cached), "duration": round(secs, 3)}
        if cached:
            detail = "Using cached version of " + ", ".join(cached)
        else:
            detail = f"{len(run.executed)} steps executed, outputs stored as artifact versions"
        say(f"{label}: {detail} ({secs:.2f} s)")
    name = f"{PIPELINE}/top/output"
    value = load(name, root=root)
    numbers["loaded"] = value
    say(f'artvc.load("{name}") -> {value}')
    return numbers
