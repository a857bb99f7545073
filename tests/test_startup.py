"""`art status` stays fast to start: it must not import the heavy modules other commands need."""

import subprocess
import sys

import pytest

HEAVY = ("zstandard", "pyfastcdc", "fsspec", "pygit2", "rich", "concurrent.futures", "multiprocessing")

PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("LOADED", *[m for m in {heavy!r} if m in sys.modules], file=sys.stderr))
sys.argv = ["art", *{args!r}]
runpy.run_module("artvc", run_name="__main__")
"""


def loaded_by(cwd, *args: str) -> list[str]:
    r = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY, args=args)], cwd=cwd, capture_output=True, text=True
    )
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("LOADED"))
    return line.split()[1:]


@pytest.mark.parametrize("args", [["status"], ["status", "--json"], ["status", "--check"]])
def test_status_imports_no_heavy_module(ws, args):
    ws.gen(
        {
            "data": {"a.csv": "a,b\n1,2\n", "sub": {"b.txt": "b"}},
            "model.bin": b"\0" * 300_000,
            "params.toml": "[train]\nlr = 0.1\n",
            "art.toml": '[stages.train]\ncmd = "true"\ndeps = ["data"]\nparams = ["train.lr"]\n',
        }
    )
    ws.art("add", "data", "model.bin")
    assert loaded_by(ws.root, *args) == []


DATA_ONLY = ("hashlib", "tomli_w", "artvc.pipeline.staleness", "artvc.pipeline.spec", "artvc.workspace.partial")


def test_status_of_a_workspace_of_data_alone_loads_no_pipeline_module(ws):
    """Without art.toml and art.lock, a clean status needs neither the pipeline modules nor a TOML writer, nor
    OpenSSL (hashlib) to check the store's registration."""
    ws.gen({"data": {"a.csv": "a,b\n1,2\n", "sub": {"b.txt": "b"}}, "model.bin": b"\0" * 3000})
    ws.art("add", "data", "model.bin")
    r = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=DATA_ONLY, args=["status"])],
        cwd=ws.root,
        capture_output=True,
        text=True,
    )
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("LOADED"))
    assert line.split()[1:] == []
