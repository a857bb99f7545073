"""Code hashes and run keys.

A stage's code hash covers its command (``cmd`` text or ``call`` target), the content of its ``code`` files,
the script of every ``python FILE`` / ``python -m MODULE`` found in ``cmd``, and for ``call`` stages the
source of the function and of every function, class and constant it reaches in the user's own modules
(``codehash.call_closure``), one ``call:module:qualname`` entry each.
The run key is blake3 over (code hash, params, sorted (dep path, id)).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..objstore.hashing import hash_bytes
from .codehash import call_closure
from .spec import Stage

_PYTHON = re.compile(r"^(.*/)?python(\d+(\.\d+)*)?$")
_SEPARATORS = frozenset({"&&", "||", ";", "|", "&", ";;", "(", ")"})
FileId = Callable[[str], str | None]


def scripts_in(cmd: str, root: Path) -> list[str]:
    """Return the repo-relative scripts that ``cmd`` runs with python (existing files inside ``root``)."""
    try:
        lexer = shlex.shlex(cmd, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        tokens = cmd.split()
    found = []
    for i, tok in enumerate(tokens):
        if not _PYTHON.match(tok) or (
            i
            and tokens[i - 1] not in _SEPARATORS
            and "=" not in tokens[i - 1]
            and tokens[i - 1] not in ("exec", "env", "time", "nice")
        ):
            continue
        script = _script_after(tokens[i + 1 :], root)
        if script and script not in found:
            found.append(script)
    return found


def _script_after(args: list[str], root: Path) -> str | None:
    it = iter(args)
    for arg in it:
        if arg in _SEPARATORS or arg == "-c":
            return None
        if arg == "-m":
            module = next(it, "")
            return _module_file(module, root)
        if arg in ("-W", "-X"):
            next(it, None)
            continue
        if arg.startswith("-"):
            continue
        return _inside(arg, root)
    return None


def _module_file(module: str, root: Path) -> str | None:
    base = module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__main__.py"):
        found = _inside(candidate, root)
        if found:
            return found
    return None


def _inside(path: str, root: Path) -> str | None:
    p = Path(path)
    full = p if p.is_absolute() else root / p
    try:
        rel = full.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    return rel.as_posix() if full.is_file() else None


def code_facts(stage: Stage, root: Path, file_id: FileId) -> tuple[str, dict[str, str]]:
    """Return (code hash, what was hashed: path or ``call:module:qualname`` entry -> id).

    ``file_id`` gives the current id of a workspace file (stat cache), or None when it is missing.

    Raises:
        SpecError: when a call stage's function cannot be found or a module it reaches cannot be parsed.
    """
    code: dict[str, str] = {}
    paths = list(stage.code)
    if stage.cmd is not None:
        paths += [s for s in scripts_in(stage.cmd, root) if s not in paths]
    for path in paths:
        code[path] = file_id(path) or "missing"
    if stage.call is not None:
        _, pieces = call_closure(stage.call, root)
        code.update({f"call:{piece}": oid for piece, oid in pieces.items()})
    payload = {"cmd": stage.cmd, "call": stage.call, "code": code}
    return str(hash_bytes(canonical(payload))), code


def run_key(code_hash: str, params: dict[str, Any], deps: dict[str, str]) -> str:
    """Return the run-cache key: blake3 over the code hash, the param values and the sorted (dep, id) pairs."""
    return str(hash_bytes(canonical([code_hash, params, sorted(deps.items())])))


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
