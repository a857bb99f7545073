"""``art.lock``: per pipeline stage, the ids of what made and what is its current output.

The workspace layer reads the outputs (status, push, gc need them); ``pipeline`` writes the file.
Format (docs/formats.md): TOML, ``version = 1``, then ``[stages.NAME]`` tables with ``cmd``, ``code_hash``,
``run``, ``params`` and arrays of tables ``deps`` / ``outs`` ({path, id, kind, size, files}).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from ..objstore.errors import ConfigError
from .config import read_toml
from .fileio import atomic_write
from .paths import check_relpath
from .pointers import Pointer, PointerError, pointer_from_fields

LOCK_NAME = "art.lock"
HEADER = "# art.lock: written by 'art repro'. Commit it with art.toml; do not edit by hand.\n"


# One parsed art.lock per process, keyed by the file's stat: ``art status`` reads it for the artifacts and again
# for the stages, and TOML parsing dominates on a long pipeline. Callers get a deep copy they may change.
_parsed: dict[str, tuple[tuple, dict[str, Any]]] = {}


def read_lock(root: Path) -> dict[str, Any]:
    """Return the ``stages`` table of ``art.lock`` (empty when there is none).

    Raises:
        ConfigError: when the file is not valid TOML or has another version.
    """
    import copy
    import os

    path = root / LOCK_NAME
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    key = (st.st_ino, st.st_mtime_ns, st.st_size)
    hit = _parsed.get(str(path))
    if hit is None or hit[0] != key:
        data = read_toml(path, what="lock file")
        if data and data.get("version") != 1:
            raise ConfigError(f"{LOCK_NAME} has version {data.get('version')!r}, expected 1",
                              hint="regenerate it with 'art repro'")
        hit = _parsed[str(path)] = (key, data.get("stages", {}))
    return copy.deepcopy(hit[1])


def parse_lock_text(text: bytes) -> dict[str, Any]:
    import tomllib

    try:
        data = tomllib.loads(text.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{LOCK_NAME} is not valid TOML: {exc}") from exc
    return data.get("stages", {})


def write_lock(root: Path, stages: dict[str, Any]) -> None:
    """Replace ``art.lock`` atomically. Callers hold the repository lock and read the file under it first."""
    import copy
    import os

    path = root / LOCK_NAME
    atomic_write(path, HEADER + tomli_w.dumps({"version": 1, "stages": stages}))
    st = os.stat(path)  # the next read_lock needs no parse unless another process replaces the file
    _parsed[str(path)] = ((st.st_ino, st.st_mtime_ns, st.st_size), copy.deepcopy(stages))


def out_pointer(out: dict[str, Any], *, where: str = LOCK_NAME) -> Pointer:
    """Turn one ``outs`` entry into a Pointer (validated like a pointer file)."""
    fields = {k: out[k] for k in ("id", "kind", "size", "files") if k in out}
    pointer = pointer_from_fields({"version": 1, **fields})
    if pointer is None:
        raise PointerError(f"output {out.get('path')!r} in {where} is malformed", path=where,
                           hint="regenerate it with 'art repro'")
    return pointer


def lock_outputs(stages: dict[str, Any]) -> list[tuple[str, Pointer, str]]:
    """Return (path, pointer, stage) for every output recorded in a lock's stages table."""
    out = []
    for name, stage in stages.items():
        for entry in stage.get("outs", []):
            path = check_relpath(str(entry.get("path", "")), where=LOCK_NAME)
            out.append((path, out_pointer(entry), name))
    return out
