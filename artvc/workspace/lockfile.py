"""``art.lock``: per pipeline stage, the ids of what made and what is its current output.

The workspace layer reads the outputs (status, push, gc need them); ``pipeline`` writes the file.
Format (docs/formats.md): TOML, ``version = 1``, then ``[stages.NAME]`` tables with ``cmd``, ``code_hash``,
``run``, ``params`` and arrays of tables ``deps`` / ``outs`` ({path, id, kind, size, files}).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..objstore.codec import is_int, toml_loads
from ..objstore.fileio import atomic_write
from .config import read_toml
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
    import os

    path = root / LOCK_NAME
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    import copy  # only with a lock file (its import costs a status of data alone ~3 M instructions)

    key = (st.st_ino, st.st_mtime_ns, st.st_size)
    hit = _parsed.get(str(path))
    if hit is None or hit[0] != key:
        data = read_toml(path, what="lock file", kind="art.lock")
        if data and not is_int(data.get("version"), 1, 1):
            raise ConfigError(
                f"{LOCK_NAME} has version {data.get('version')!r}, expected 1", hint="regenerate it with 'art repro'"
            )
        hit = _parsed[str(path)] = (key, _stages(data))
    return copy.deepcopy(hit[1])


def parse_lock_text(text: bytes) -> dict[str, Any]:
    """Parse the text of an ``art.lock`` (from git history) and check its structure (see ``read_lock``).

    Raises:
        ConfigError: when it is not valid TOML or its tables have the wrong shape.
    """
    return _stages(toml_loads(text, what=LOCK_NAME, kind="art.lock", error=ConfigError))


_STAGE_STRINGS = ("cmd", "call", "code_hash", "run", "run_key")


def _stages(data: dict[str, Any]) -> dict[str, Any]:
    """Return the ``stages`` table after checking the types every reader relies on.

    Raises:
        ConfigError: naming the first stage or key of the wrong type.
    """
    stages = data.get("stages", {})
    hint = "regenerate it with 'art repro'"
    if not isinstance(stages, dict):
        raise ConfigError(f"'stages' in {LOCK_NAME} is not a table", hint=hint)
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            raise ConfigError(f"stage {name!r} in {LOCK_NAME} is not a table", hint=hint)
        for key in _STAGE_STRINGS:
            if key in stage and not isinstance(stage[key], str):
                raise ConfigError(f"'{key}' of stage {name!r} in {LOCK_NAME} is not a string", hint=hint)
        for key in ("code", "params"):
            if key in stage and not isinstance(stage[key], dict):
                raise ConfigError(f"'{key}' of stage {name!r} in {LOCK_NAME} is not a table", hint=hint)
        for key in ("deps", "outs"):
            entries = stage.get(key, [])
            if not (
                isinstance(entries, list)
                and all(isinstance(e, dict) and isinstance(e.get("path"), str) for e in entries)
            ):
                raise ConfigError(
                    f"'{key}' of stage {name!r} in {LOCK_NAME} is not a list of tables with a 'path'", hint=hint
                )
    return stages


def write_lock(root: Path, stages: dict[str, Any]) -> None:
    """Replace ``art.lock`` atomically. Callers hold the repository lock and read the file under it first."""
    import copy
    import os

    path = root / LOCK_NAME
    import tomli_w  # only writers need it (start-up time of the commands that only read)

    atomic_write(path, HEADER + tomli_w.dumps({"version": 1, "stages": stages}))
    st = os.stat(path)  # the next read_lock needs no parse unless another process replaces the file
    _parsed[str(path)] = ((st.st_ino, st.st_mtime_ns, st.st_size), copy.deepcopy(stages))


def out_pointer(out: dict[str, Any], *, where: str = LOCK_NAME) -> Pointer:
    """Turn one ``outs`` entry into a Pointer (validated like a pointer file)."""
    fields = {k: out[k] for k in ("id", "kind", "size", "files") if k in out}
    pointer = pointer_from_fields({"version": 1, **fields})
    if pointer is None:
        raise PointerError(
            f"output {out.get('path')!r} in {where} is malformed", path=where, hint="regenerate it with 'art repro'"
        )
    return pointer


def lock_outputs(stages: dict[str, Any]) -> list[tuple[str, Pointer, str]]:
    """Return (path, pointer, stage) for every output recorded in a lock's stages table."""
    out = []
    for name, stage in stages.items():
        for entry in stage.get("outs", []):
            path = check_relpath(str(entry.get("path", "")), where=LOCK_NAME)
            out.append((path, out_pointer(entry), name))
    return out
