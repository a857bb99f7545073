"""Code hashes and run keys.

A stage's code hash covers its command (``cmd`` text or ``call`` target), the content of its ``code`` files,
the script of every ``python FILE`` / ``python -m MODULE`` found in ``cmd``, and for ``call`` stages the
source of the function. The run key is blake3 over (code hash, params, sorted (dep path, id)).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..objstore.hashing import hash_bytes
from .errors import SpecError
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


def function_source(call: str, root: Path) -> str:
    """Return the source of ``module:function`` without running the module when possible.

    The module file is found under ``root`` (or on ``sys.path``) and parsed; only when the function is not a
    plain top-level ``def`` there is the module imported (repo root first on ``sys.path``) and
    ``inspect.getsource`` used.

    Raises:
        SpecError: when the module or the function cannot be found.
    """
    import ast

    module, _, func = call.partition(":")
    path = _module_source_path(module, root)
    if path is not None:
        text = path.read_text()
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == func:
                return ast.get_source_segment(text, node, padded=True) or ""
    return _imported_source(module, func, root)


def _module_source_path(module: str, root: Path) -> Path | None:
    base = root / module.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None) if spec else None
    return Path(origin) if origin and origin.endswith(".py") else None


def _imported_source(module: str, func: str, root: Path) -> str:
    import importlib
    import inspect
    import sys

    sys.path.insert(0, str(root))
    try:
        fn = getattr(importlib.import_module(module), func)
        return inspect.getsource(fn)
    except Exception as exc:  # import errors of user code take any form
        raise SpecError(
            f"cannot find the source of {module}:{func}: {exc}",
            hint="'call' names a function defined in a module under the workspace root",
        ) from exc
    finally:
        sys.path.remove(str(root))


def code_facts(stage: Stage, root: Path, file_id: FileId) -> tuple[str, dict[str, str]]:
    """Return (code hash, what was hashed: path or ``call:`` entry -> id).

    ``file_id`` gives the current id of a workspace file (stat cache), or None when it is missing.
    """
    code: dict[str, str] = {}
    paths = list(stage.code)
    if stage.cmd is not None:
        paths += [s for s in scripts_in(stage.cmd, root) if s not in paths]
    for path in paths:
        code[path] = file_id(path) or "missing"
    if stage.call is not None:
        code[f"call:{stage.call}"] = hash_bytes(function_source(stage.call, root).encode())
    payload = {"cmd": stage.cmd, "call": stage.call, "code": code}
    return str(hash_bytes(canonical(payload))), code


def run_key(code_hash: str, params: dict[str, Any], deps: dict[str, str]) -> str:
    """Return the run-cache key: blake3 over the code hash, the param values and the sorted (dep, id) pairs."""
    return str(hash_bytes(canonical([code_hash, params, sorted(deps.items())])))


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
