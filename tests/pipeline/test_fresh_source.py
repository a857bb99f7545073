"""A stage runs its code as it is on disk, even where Python's bytecode cache would run the old one: an edit that
keeps the module's size and its modification time in whole seconds (made within one second of the last import,
or with the time set back). Each test writes the stale ``.pyc`` itself (``py_compile``), so it fails on code
that imports through the interpreter's cache, whatever the timing."""

from __future__ import annotations

import os
import py_compile
import sys
from pathlib import Path

import pytest

from tests.pipeline.helpers import repro_json, statuses


def _stale_cache(module: Path, old: str, new: str) -> None:
    """Leave ``module`` with the ``new`` source but a valid-looking ``.pyc`` of the ``old`` one."""
    assert len(old) == len(new)
    module.write_text(old)
    st = module.stat()
    py_compile.compile(str(module), doraise=True)  # timestamp-based: records mtime (seconds) and size
    module.write_text(new)
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_call_stage_runs_the_source_not_a_stale_pyc_of_the_same_size_and_second(ws):
    body = 'V = "{}"\n\n\ndef make():\n    open("made.txt", "w").write(V)\n'
    ws.gen({"proj": {"__init__.py": "", "m.py": body.format("a")}, "in.txt": "x\n"})
    ws.gen({"art.toml": '[stages.make]\ncall = "proj.m:make"\ndeps = ["in.txt"]\nouts = ["made.txt"]\n'})
    assert statuses(repro_json(ws)) == {"make": "ran"}
    assert (ws.root / "made.txt").read_text() == "a"

    _stale_cache(ws.root / "proj/m.py", body.format("a"), body.format("b"))
    result = repro_json(ws)
    assert [p["reasons"] for p in result["plan"]] == [["code changed: call:proj.m:V"]]
    assert statuses(result) == {"make": "ran"}
    assert (ws.root / "made.txt").read_text() == "b"  # the old bytecode would have written "a" again


@pytest.fixture
def _restore_import_state():
    path, hooks = list(sys.path), list(sys.path_hooks)
    yield
    sys.path[:] = path
    sys.path_hooks[:] = hooks
    sys.path_importer_cache.clear()
    for name in [n for n in sys.modules if n == "pipe" or n.startswith("pipe.")]:
        del sys.modules[name]


PIPE = """from typing import Annotated

from artvc import pipeline, step

V = "{}"


@step
def emit() -> Annotated[str, "value"]:
    with open("emitted.txt", "w") as f:
        f.write(V)
    return V


@pipeline
def p():
    emit()
"""


def test_a_python_pipeline_runs_the_source_not_a_stale_pyc(ws, _restore_import_state):
    ws.gen({"pipe.py": PIPE.format("a")})
    ws.git("add", "-A")
    ws.git("commit", "-qm", "pipe")
    ws.art("run", "pipe:p")
    assert (ws.root / "emitted.txt").read_text() == "a"

    _stale_cache(ws.root / "pipe.py", PIPE.format("a"), PIPE.format("b"))
    sys.modules.pop("pipe", None)
    ws.art("run", "pipe:p")
    assert (ws.root / "emitted.txt").read_text() == "b"


def test_installed_libraries_inside_the_workspace_keep_their_bytecode(tmp_path, _restore_import_state):
    from artvc.pipeline.fresh_source import install

    lib = tmp_path / ".venv/lib/python3/site-packages"
    mine = tmp_path / "src"
    for folder, name in ((lib, "libmod_fs"), (mine, "mymod_fs")):
        folder.mkdir(parents=True)
        _stale_cache(folder / f"{name}.py", 'V = "a"\n', 'V = "b"\n')
    install(tmp_path)
    install(tmp_path)  # idempotent: one hook for the root
    assert sum(getattr(h, "art_root", None) is not None for h in sys.path_hooks) == 1
    sys.path[:0] = [str(lib), str(mine)]
    import libmod_fs  # type: ignore[import-not-found]
    import mymod_fs  # type: ignore[import-not-found]

    try:
        assert mymod_fs.V == "b"  # a workspace module: its source
        assert libmod_fs.V == "a"  # a library's cache is trusted as Python trusts it
    finally:
        sys.modules.pop("libmod_fs", None)
        sys.modules.pop("mymod_fs", None)
