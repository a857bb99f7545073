"""The messages between an ``art repro`` client and the workers that run its stages (docs/formats.md).

A **task spec** tells a worker what to run: the stage (or Python step), its run key, the code tree and every
dependency by id, the outputs it must write, the remote both sides share (its URL and non-secret options
only: workers use their own credential chain) and the resources it needs. A **result** tells the client what
happened: exit status, the run record's id on the remote and each output's id.

Both travel as canonical msgpack (``encode_spec``/``encode_result``) and are checked field by field on decode
(``decode_spec``/``decode_result``): either side may be a different machine, so nothing is trusted — sizes are
bounded (64 KiB a message), paths must stay inside the workspace, ids must be ids, options must not look like
secrets. Anything else raises ``ProtocolError`` naming the field.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ...errors import ArtError, FormatError
from ...objstore import codec
from ...objstore.oid import is_oid

VERSION = 1
MAX_MESSAGE = 64 << 10  # bytes of one encoded spec or result
MAX_PATHS = 4096  # deps or outs of one task
MAX_TAIL = 50  # lines of stdout/stderr tail in a result
MAX_LINE = 2048  # bytes of one tail line (longer lines are cut by the worker)
MAX_NAME = 512  # bytes of a stage/step name
KINDS = ("stage", "step")
DEP_KINDS = ("file", "dir", "tree")  # "tree" is a synonym of "dir" (a tree object)
_SESSION = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
_RESOURCE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}\Z")
_CALL = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*\Z")
_SECRET_WORDS = ("secret", "password", "passphrase", "token", "credential", "account_key", "private_key", "sas")
_SECRET_KEYS = frozenset({"key", "secret", "password", "token", "access_key_id", "secret_access_key", "sas_token"})

SPEC_FIELDS = frozenset(
    {
        "v",
        "art",
        "session",
        "kind",
        "name",
        "run_key",
        "code_hash",
        "params",
        "code_tree",
        "code",
        "argv",
        "call",
        "deps",
        "outs",
        "env",
        "remote",
        "git",
        "resources",
        "extra",
    }
)
RESULT_FIELDS = frozenset(
    {
        "v",
        "ok",
        "returncode",
        "run_oid",
        "cached",
        "outs",
        "started",
        "duration",
        "host",
        "pid",
        "worker",
        "stderr_tail",
        "stdout_tail",
        "bytes_downloaded",
        "error",
        "missing",
        "cancelled",
        "extra",
    }
)


class ProtocolError(FormatError):
    """A task spec or result is malformed, too large or unsafe (exit code 3: it cannot be trusted)."""


def _fail(what: str, field: str, why: str) -> ProtocolError:
    return ProtocolError(f"invalid {what}: {field} {why}")


def looks_secret(key: str) -> bool:
    """True for an option or variable name that may carry a credential (it never travels in a message)."""
    k = key.lower()
    return k in _SECRET_KEYS or any(w in k for w in _SECRET_WORDS)


def _relpath(value: object, what: str, field: str) -> str:
    from ...workspace.paths import check_relpath

    if not codec.is_str(value, 4096, empty=False):
        raise _fail(what, field, "must be a path of at most 4096 bytes")
    assert isinstance(value, str)
    try:
        out = check_relpath(value, where=what)
    except ArtError as exc:
        raise _fail(what, field, f"is unsafe: {value[:80]!r}") from exc
    if not out or out.split("/")[0] in (".git", ".art"):
        raise _fail(what, field, f"is unsafe: {value[:80]!r}")
    return out


def _str(value: object, what: str, field: str, max_bytes: int = MAX_NAME, *, empty: bool = True) -> str:
    if not codec.is_str(value, max_bytes, empty=empty) or "\0" in value:  # type: ignore[operator]
        raise _fail(what, field, f"must be a text of at most {max_bytes} bytes")
    assert isinstance(value, str)
    return value


def _opt_str(value: object, what: str, field: str, max_bytes: int = MAX_NAME) -> str | None:
    return None if value is None else _str(value, what, field, max_bytes)


def _number(value: object, what: str, field: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(what, field, "must be a finite number")
    if value < 0 or (positive and value == 0):
        raise _fail(what, field, "must be positive" if positive else "must not be negative")
    return value


def _dict(value: object, what: str, field: str) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _fail(what, field, "must be a table with text keys")
    return value


def _list(value: object, what: str, field: str, limit: int) -> list:
    if not isinstance(value, list) or len(value) > limit:
        raise _fail(what, field, f"must be a list of at most {limit} items")
    return value


def _options(value: object, what: str, field: str) -> dict[str, Any]:
    opts = _dict(value, what, field)
    for k, v in opts.items():
        if looks_secret(k) or (isinstance(v, dict) and any(looks_secret(str(s)) for s in v)):
            raise _fail(what, f"{field}.{k[:40]}", "looks like a secret: workers use their own credentials")
    return opts


def _remote(value: object, what: str) -> dict[str, Any]:
    from urllib.parse import urlsplit

    remote = _dict(value, what, "remote")
    if set(remote) - {"url", "options", "name"}:
        raise _fail(what, "remote", f"has unknown keys {sorted(set(remote) - {'url', 'options', 'name'})}")
    url = _str(remote.get("url"), what, "remote.url", 4096, empty=False)
    if "://" in url:
        try:
            has_password = urlsplit(url).password is not None
        except ValueError as exc:
            raise _fail(what, "remote.url", "is not a URL") from exc
        if has_password:
            raise _fail(what, "remote.url", "carries a password: workers use their own credentials")
    elif not url.startswith("/"):
        raise _fail(what, "remote.url", "must be a URL or an absolute path")
    return {
        "url": url,
        "options": _options(remote.get("options", {}), what, "remote.options"),
        "name": _opt_str(remote.get("name"), what, "remote.name", 256),
    }


def check_resources(value: object, what: str = "resources") -> dict[str, float]:
    """A table of resource names -> positive finite numbers (``{GPU = 1, MEMORY = 16e9}``)."""
    res = _dict(value, what, "resources")
    if len(res) > 64:
        raise _fail(what, "resources", "must name at most 64 resources")
    out = {}
    for k, v in res.items():
        if not _RESOURCE.match(k):
            raise _fail(what, f"resources.{k[:40]}", "is not a resource name (letters, digits, _ . -)")
        out[k] = _number(v, what, f"resources.{k}", positive=True)
    return out


def check_spec(spec: object) -> dict[str, Any]:
    """Return the validated task spec (a new dict with normalised paths).

    Raises:
        ProtocolError: when a field is missing, has the wrong type, is unsafe or out of bounds.
    """
    what = "task spec"
    s = _dict(spec, what, "spec")
    if s.get("v") != VERSION:
        raise _fail(what, "v", f"must be {VERSION} (got {str(s.get('v'))[:20]!r})")
    unknown = set(s) - SPEC_FIELDS
    if unknown:
        raise _fail(what, "spec", f"has unknown fields {sorted(unknown)[:5]}")
    kind = s.get("kind")
    if kind not in KINDS:
        raise _fail(what, "kind", f"must be one of {', '.join(KINDS)}")
    session = s.get("session")
    if not isinstance(session, str) or not _SESSION.match(session):
        raise _fail(what, "session", "must be 1-64 letters, digits, _ . -")
    for field in ("run_key", "code_tree"):
        if not is_oid(s.get(field)):
            raise _fail(what, field, "must be an object id")
    argv = s.get("argv")
    if isinstance(argv, list):
        argv = [_str(a, what, "argv[]", 16384) for a in _list(argv, what, "argv", 1024)]
    elif argv is not None:
        argv = _str(argv, what, "argv", 32768)
    call = s.get("call")
    if call is not None and (not isinstance(call, str) or not _CALL.match(call) or len(call) > MAX_NAME):
        raise _fail(what, "call", "must be module:function")
    if kind == "stage" and (argv is None) == (call is None):
        raise _fail(what, "argv", "or call (exactly one) is required for a stage")
    deps = []
    for i, d in enumerate(_list(s.get("deps", []), what, "deps", MAX_PATHS)):
        d = _dict(d, what, f"deps[{i}]")
        if d.get("kind") not in DEP_KINDS:
            raise _fail(what, f"deps[{i}].kind", f"must be one of {', '.join(DEP_KINDS)}")
        if not is_oid(d.get("oid")):
            raise _fail(what, f"deps[{i}].oid", "must be an object id")
        run = d.get("run")
        if run is not None and not is_oid(run):
            raise _fail(what, f"deps[{i}].run", "must be an object id or null")
        path = _relpath(d.get("path"), what, f"deps[{i}].path")
        deps.append({"path": path, "oid": d["oid"], "kind": d["kind"], "run": run})
    outs = [_relpath(o, what, f"outs[{i}]") for i, o in enumerate(_list(s.get("outs", []), what, "outs", MAX_PATHS))]
    if len(set(outs)) != len(outs):
        raise _fail(what, "outs", "names a path twice")
    env = _dict(s.get("env", {}), what, "env")
    for k, v in env.items():
        if not _ENV_NAME.match(k) or looks_secret(k):
            raise _fail(what, f"env.{k[:40]}", "is not a variable name, or looks like a secret")
        _str(v, what, f"env.{k}", 8192)
    git = _dict(s.get("git", {}), what, "git")
    dirty = git.get("dirty")
    if dirty is not None and not isinstance(dirty, bool):
        raise _fail(what, "git.dirty", "must be true, false or absent")
    out = {
        "v": VERSION,
        "art": _str(s.get("art"), what, "art", 64, empty=False),
        "session": session,
        "kind": kind,
        "name": _str(s.get("name"), what, "name", empty=False),
        "run_key": s["run_key"],
        "code_hash": _str(s.get("code_hash"), what, "code_hash", 256),
        "params": _dict(s.get("params", {}), what, "params"),
        "code_tree": s["code_tree"],
        "code": _code(s.get("code", {}), what),
        "argv": argv,
        "call": call,
        "deps": deps,
        "outs": outs,
        "env": dict(env),
        "remote": _remote(s.get("remote"), what),
        "git": {
            "commit": _opt_str(git.get("commit"), what, "git.commit", 128),
            "dirty": dirty,
            "branch": _opt_str(git.get("branch"), what, "git.branch", 1024),
        },
        "resources": check_resources(s.get("resources", {}), what),
    }
    if "extra" in s:
        out["extra"] = _dict(s["extra"], what, "extra")
    return out


def _code(value: object, what: str) -> dict[str, str]:
    code = _dict(value, what, "code")
    if len(code) > MAX_PATHS or not all(codec.is_str(v, 256) for v in code.values()):
        raise _fail(what, "code", "must map at most 4096 names to ids")
    return code


def check_result(result: object) -> dict[str, Any]:
    """Return the validated task result.

    Raises:
        ProtocolError: when a field is missing, has the wrong type or is out of bounds.
    """
    what = "task result"
    r = _dict(result, what, "result")
    if r.get("v") != VERSION:
        raise _fail(what, "v", f"must be {VERSION}")
    unknown = set(r) - RESULT_FIELDS
    if unknown:
        raise _fail(what, "result", f"has unknown fields {sorted(unknown)[:5]}")
    ok = r.get("ok")
    if not isinstance(ok, bool):
        raise _fail(what, "ok", "must be true or false")
    if not codec.is_int(r.get("returncode"), -(1 << 31), 1 << 31):
        raise _fail(what, "returncode", "must be an integer")
    run_oid = r.get("run_oid")
    if run_oid is not None and not is_oid(run_oid):
        raise _fail(what, "run_oid", "must be an object id or null")
    if ok and run_oid is None:
        raise _fail(what, "run_oid", "is required when ok")
    outs = []
    for i, o in enumerate(_list(r.get("outs", []), what, "outs", MAX_PATHS)):
        o = _dict(o, what, f"outs[{i}]")
        if not is_oid(o.get("id")):
            raise _fail(what, f"outs[{i}].id", "must be an object id")
        if o.get("kind") not in ("file", "dir"):
            raise _fail(what, f"outs[{i}].kind", "must be file or dir")
        if not codec.is_int(o.get("size")) or not codec.is_int(o.get("files", 1)):
            raise _fail(what, f"outs[{i}].size", "and files must be non-negative integers")
        path = _relpath(o.get("path"), what, f"outs[{i}].path")
        outs.append({"path": path, "id": o["id"], "kind": o["kind"], "size": o["size"], "files": o.get("files", 1)})
    tails = {}
    for field in ("stderr_tail", "stdout_tail"):
        lines = _list(r.get(field, []), what, field, MAX_TAIL)
        tails[field] = [_str(line, what, f"{field}[]", MAX_LINE) for line in lines]
    out: dict[str, Any] = {
        "v": VERSION,
        "ok": ok,
        "returncode": r["returncode"],
        "run_oid": run_oid,
        "cached": bool(_bool(r.get("cached", False), what, "cached")),
        "cancelled": bool(_bool(r.get("cancelled", False), what, "cancelled")),
        "outs": outs,
        "started": _number(r.get("started", 0.0), what, "started"),
        "duration": _number(r.get("duration", 0.0), what, "duration"),
        "host": _str(r.get("host", ""), what, "host", 256),
        "pid": _int(r.get("pid", 0), what, "pid"),
        "worker": _str(r.get("worker", ""), what, "worker", 1024),
        "bytes_downloaded": _int(r.get("bytes_downloaded", 0), what, "bytes_downloaded"),
        "missing": [_relpath(p, what, "missing[]") for p in _list(r.get("missing", []), what, "missing", MAX_PATHS)],
        **tails,
    }
    if r.get("error") is not None:
        out["error"] = _str(r["error"], what, "error", 8192)
    if "extra" in r:
        out["extra"] = _dict(r["extra"], what, "extra")
    return out


def _bool(value: object, what: str, field: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(what, field, "must be true or false")
    return value


def _int(value: object, what: str, field: str) -> int:
    if not codec.is_int(value):
        raise _fail(what, field, "must be a non-negative integer")
    assert isinstance(value, int)
    return value


def _encode(value: dict[str, Any], what: str) -> bytes:
    data = codec.encode(value)
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"{what} of {len(data)} bytes exceeds the limit of {MAX_MESSAGE} bytes")
    return data


def _decode(data: object, what: str) -> object:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProtocolError(f"invalid {what}: not bytes")
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"{what} of {len(data)} bytes exceeds the limit of {MAX_MESSAGE} bytes")
    try:
        return codec.decode(bytes(data), what=what)
    except FormatError as exc:
        raise ProtocolError(str(exc)) from exc


def encode_spec(spec: dict[str, Any]) -> bytes:
    """Validate and encode a task spec (canonical msgpack, at most ``MAX_MESSAGE`` bytes)."""
    return _encode(check_spec(spec), "task spec")


def decode_spec(data: object) -> dict[str, Any]:
    """Decode and validate a task spec (bounded before anything is parsed)."""
    return check_spec(_decode(data, "task spec"))


def encode_result(result: dict[str, Any]) -> bytes:
    """Validate and encode a task result."""
    return _encode(check_result(result), "task result")


def decode_result(data: object) -> dict[str, Any]:
    """Decode and validate a task result."""
    return check_result(_decode(data, "task result"))


def clip_lines(lines: list[str]) -> list[str]:
    """The last ``MAX_TAIL`` lines, each cut to ``MAX_LINE`` bytes (what a result may carry)."""
    out = []
    for line in lines[-MAX_TAIL:]:
        raw = line.encode("utf-8", "replace")
        out.append(raw[: MAX_LINE - 4].decode("utf-8", "ignore") if len(raw) > MAX_LINE else line)
    return out
