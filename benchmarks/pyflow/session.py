"""Child process of benchmarks/python_pipeline.py: run one tool's pipeline in-process several times.

    python session.py TOOL OUT.json LABEL:SEED ...

TOOL is zenml, art or floor (the module TOOL_pipeline.py next to this file). Each LABEL:SEED calls the
pipeline once with that seed and times the call (wall and CPU seconds of this process); the bodies it ran are
read back from $BENCH_BODY_LOG. The samples go to OUT.json (stdout and stderr are the tool's own chatter).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time


def bodies_since(offset: int) -> tuple[list[list], int]:
    """The (name, wall seconds, CPU seconds) lines appended to the body log after byte `offset`, and the new end."""
    path = os.environ["BENCH_BODY_LOG"]
    if not os.path.exists(path):
        return [], offset
    with open(path) as fh:
        fh.seek(offset)
        text = fh.read()
        end = fh.tell()
    return [[name, float(wall), float(cpu)] for name, wall, cpu in (ln.split() for ln in text.splitlines() if ln)], end


def main() -> int:
    tool, out, plan = sys.argv[1], sys.argv[2], sys.argv[3:]
    t0 = time.perf_counter()
    run_once = importlib.import_module(f"{tool}_pipeline").bench_pipeline
    imported = time.perf_counter() - t0
    _, offset = bodies_since(0)
    samples = []
    for item in plan:
        label, seed = item.rsplit(":", 1)
        start, cpu = time.perf_counter(), time.process_time()
        run_once(seed=int(seed))
        wall, used = time.perf_counter() - start, time.process_time() - cpu
        bodies, offset = bodies_since(offset)
        samples.append({"label": label, "seed": int(seed), "wall_s": wall, "cpu_s": used, "bodies": bodies})
    with open(out, "w") as fh:
        json.dump({"tool": tool, "import_s": imported, "samples": samples}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
