"""Small pipelines for the tests: stdlib-only scripts run with the test's own Python."""

from __future__ import annotations

import json
import shlex
import sys

PY = shlex.quote(sys.executable)

IMPORTER = """import sys
open("side.log", "a").write("importer\\n")
rows = open("data/raw.csv").read().splitlines()
open("prepared.csv", "w").write("\\n".join(r.upper() for r in rows) + "\\n")
"""

TRAINER = """import sys, tomllib
open("side.log", "a").write("trainer\\n")
p = tomllib.load(open("params.toml", "rb"))["train"]
rows = open("prepared.csv").read().split()
open("model.txt", "w").write(f"model=svc C={p['C']} n={len(rows)}\\n")
"""

TRAINER_TREE = TRAINER.replace("model=svc", "model=tree")

EVALUATOR = """open("side.log", "a").write("evaluator\\n")
model = open("model.txt").read().strip()
open("metrics.json", "w").write('{"model": "%s"}\\n' % model)
"""


def ml_pipeline(ws, *, add_raw: bool = True) -> None:
    """importer -> trainer -> evaluator on data/raw.csv (art-added unless add_raw is False)."""
    ws.gen(
        {
            "data": {"raw.csv": "a,1\nb,2\nc,3\n"},
            "src": {"importer.py": IMPORTER, "trainer.py": TRAINER, "evaluator.py": EVALUATOR},
            "params.toml": "[train]\nC = 1.0\nseed = 7\n",
            "art.toml": f"""
[stages.importer]
cmd = "{PY} src/importer.py"
deps = ["data/raw.csv"]
outs = ["prepared.csv"]

[stages.trainer]
cmd = "{PY} src/trainer.py"
deps = ["prepared.csv"]
outs = ["model.txt"]
params = ["params.toml:train.C"]

[stages.evaluator]
cmd = "{PY} src/evaluator.py"
deps = ["model.txt"]
outs = ["metrics.json"]
""",
        }
    )
    if add_raw:
        ws.art("add", "data/raw.csv")


def side_log(ws) -> list[str]:
    p = ws.root / "side.log"
    return p.read_text().split() if p.exists() else []


def clear_side_log(ws) -> None:
    (ws.root / "side.log").unlink(missing_ok=True)


def repro_json(ws, *args: str, code: int = 0) -> dict:
    r = ws.art("repro", "--json", *args, code=code)
    return json.loads(r.stdout) if code == 0 else {}


def statuses(result: dict) -> dict[str, str]:
    return {s["name"]: s["state"] for s in result["stages"]}


def lock(ws) -> dict:
    import tomllib

    return tomllib.loads((ws.root / "art.lock").read_text())["stages"]
