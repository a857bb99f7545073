"""Stage templates in ``art.toml``: ``vars``, ``${name}`` interpolation, ``foreach`` and ``matrix`` stages.

``spec.parse`` calls ``expand`` on the parsed TOML before validating stages, so every other part of art sees
only plain stages (named ``stage@key`` / ``stage@a-b`` when expanded). Format (docs/pipelines.md, Templates)::

    vars = ["params.yaml", "config.toml:train", {data = "data/raw"}]   # top level (or a [vars] table)

    [stages.train]
    foreach = ["svc", "tree"]           # or a table (key -> item), or "${models}"
    cmd = "python train.py --model ${item} --C ${train.C}"
    outs = ["models/${item}.pkl"]

    [stages.sweep]
    matrix = {model = ["svc", "tree"], C = [0.1, 1, 10]}
    cmd = "python train.py ${item.model} ${item.C}"
    outs = ["sweep/${key}.pkl"]         # key: the part after '@' (svc-0.1, ...)

A name not in any ``vars`` is looked up in ``params.yaml``, then ``params.toml``, read only when needed (so a
pipeline without templates never reads them). Stage ``vars`` override top-level ones; later entries of a list
override earlier ones. This module must not import ``spec`` (spec imports it).
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UnsafePathError
from ..workspace.paths import check_relpath
from . import datafiles
from .errors import SpecError

PIPELINE_NAME = "art.toml"
TEMPLATE_KEYS = frozenset({"foreach", "matrix", "do", "vars"})
DEFAULT_VARS_FILES = ("params.yaml", "params.toml")
OUTPUT_KEYS = ("outs", "metrics", "plots")  # fields whose paths a stage writes
_REF = re.compile(r"(\\?)\$\{([^}]*)\}")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+|\[\d+\])*$")
_SEGMENT = re.compile(r"\.?([A-Za-z0-9_-]+)|\[(\d+)\]")
_KEY = re.compile(r"^[A-Za-z0-9_.+-]{1,100}$")
_MISSING = object()


@dataclass(slots=True)
class Expanded:
    """The ``[stages]`` table with templates expanded, each stage's source line, and the expansions of each
    template (source name -> expanded names, in order)."""

    stages: dict[str, Any]
    lines: dict[str, int]
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _where(name: str, line: int | None) -> str:
    return f"stage {name}" + (f" ({PIPELINE_NAME} line {line})" if line else "")


def uses_templates(data: dict[str, Any]) -> bool:
    """True when the parsed ``art.toml`` has ``vars``, a template stage, or any ``${...}``."""
    if "vars" in data:
        return True
    stages = data.get("stages")
    if not isinstance(stages, dict):
        return False
    return any(isinstance(b, dict) and (TEMPLATE_KEYS & set(b) or _has_ref(b)) for b in stages.values())


def _has_ref(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(_has_ref(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_ref(v) for v in value)
    return False


def expand(data: dict[str, Any], root: Path, lines: dict[str, int], *, vars_line: int | None = None) -> Expanded:
    """Expand the templates of a parsed ``art.toml`` (``data``) whose files live under ``root``.

    Args:
        data: the whole parsed document (``vars`` and ``stages``).
        root: the workspace root (vars files are relative to it).
        lines: stage name -> line of its ``[stages.NAME]`` header.
        vars_line: the line of the top-level ``vars``, for its errors.

    Raises:
        SpecError: an unknown ``${var}``, a malformed template, a vars file that is missing or does not parse,
            two expansions writing the same output, or an expanded name that is already a stage.
    """
    stages = data.get("stages", {})
    if not uses_templates(data):
        return Expanded(stages, lines)
    files = _Files(root)
    top = _vars_layers(data.get("vars"), files, f"'vars' ({PIPELINE_NAME} line {vars_line})" if vars_line else "'vars'")
    out: dict[str, Any] = {}
    out_lines: dict[str, int] = {}
    origin: dict[str, str] = {}  # expanded name -> source name
    groups: dict[str, tuple[str, ...]] = {}
    plain = {n for n, b in stages.items() if not (isinstance(b, dict) and {"foreach", "matrix"} & set(b))}
    for name, body in stages.items():
        line = lines.get(name) or lines.get(f"{name}.do")
        where = _where(name, line)
        if not isinstance(body, dict):
            out[name] = body  # spec reports it
            continue
        made = _expand_stage(name, body, where, line, top, files)
        if "foreach" in body or "matrix" in body:
            groups[name] = tuple(made)
        _check_outputs(made, where, line)
        for new, new_body in made.items():
            if new in out or (new != name and new in plain):
                first = origin.get(new, new)
                at = f" ({PIPELINE_NAME} line {lines[first]})" if first in lines and first != name else ""
                raise SpecError(
                    f"{where}: expands to stage {new}, which is also defined as a plain stage{at}",
                    line=line,
                    hint="rename the plain stage or change the foreach/matrix values",
                )
            out[new], origin[new] = new_body, name
            if line:
                out_lines[new] = line
    return Expanded(out, out_lines, groups)


def _expand_stage(
    name: str, body: dict[str, Any], where: str, line: int | None, top: list[Any], files: _Files
) -> dict[str, dict[str, Any]]:
    """One ``[stages.NAME]`` table -> its stages (itself when it is not a template)."""
    if "foreach" in body and "matrix" in body:
        raise SpecError(f"{where}: use 'foreach' or 'matrix', not both", line=line)
    inner = body
    if "do" in body:
        if "foreach" not in body:
            raise SpecError(f"{where}: 'do' belongs to a 'foreach' stage", line=line)
        inner = body["do"]
        if not isinstance(inner, dict):
            raise SpecError(f"{where}: 'do' must be a table (the stage to repeat)", line=line)
        extra = sorted(set(body) - {"foreach", "do", "vars"})
        if extra:
            raise SpecError(f"{where}: {extra[0]!r} goes inside 'do' (or drop 'do' and write it here)", line=line)
    layers = list(top)
    for holder in (body, inner) if inner is not body else (body,):
        if "vars" in holder:
            layers = _vars_layers(holder["vars"], files, f"{where}: 'vars'", line) + layers
    fields = {k: v for k, v in inner.items() if k not in TEMPLATE_KEYS}
    ctx = _Context(layers, files, where, line)
    if "foreach" in body:
        items = _foreach_items(body["foreach"], ctx, where, line)
    elif "matrix" in body:
        items = _matrix_items(body["matrix"], ctx, where, line)
    else:
        return {name: ctx.fill(fields)}
    if {"item", "key"} & ctx.defined_locally():
        raise SpecError(f"{where}: 'item' and 'key' are set by foreach/matrix; rename that var", line=line)
    made: dict[str, dict[str, Any]] = {}
    for key, item in items:
        full = f"{name}@{key}"
        if full in made:
            raise SpecError(
                f"{where}: two of its expansions are named {full}",
                line=line,
                hint="each foreach/matrix value must give a different name; use a table to name them",
            )
        made[full] = ctx.with_item(key, item).fill(fields)
    return made


def _foreach_items(value: Any, ctx: _Context, where: str, line: int | None) -> list[tuple[str, Any]]:
    value = ctx.whole(value, "foreach")
    if isinstance(value, dict | list) and not value:
        raise SpecError(f"{where}: 'foreach' is empty, so the stage would expand to nothing", line=line)
    if isinstance(value, dict):
        return [(_name_part(str(k), where, line), v) for k, v in value.items()]
    if isinstance(value, list):
        if all(_is_scalar(v) for v in value):
            return [(_name_part(_text(v), where, line), v) for v in value]
        return [(str(i), v) for i, v in enumerate(value)]
    raise SpecError(
        f"{where}: 'foreach' must be a list or a table, got {_type(value)} {_short(value)}",
        line=line,
        hint='write foreach = ["a", "b"], foreach = {a = ..., b = ...}, or foreach = "${a_list_var}"',
    )


def _matrix_items(value: Any, ctx: _Context, where: str, line: int | None) -> list[tuple[str, Any]]:
    if not isinstance(value, dict) or not value:
        raise SpecError(
            f"{where}: 'matrix' must be a table of named lists", line=line, hint='matrix = {model = ["a", "b"]}'
        )
    axes: list[list[tuple[str, Any]]] = []
    for axis, values in value.items():
        values = ctx.whole(values, f"matrix.{axis}")
        if not isinstance(values, list) or not values:
            got = f"got {_type(values)} {_short(values)}" if values != [] else "got an empty one"
            raise SpecError(f"{where}: matrix {axis!r} must be a list of values, {got}", line=line)
        axes.append(
            [(_name_part(_text(v), where, line) if _is_scalar(v) else f"{axis}{i}", v) for i, v in enumerate(values)]
        )
    names = list(value)
    return [
        ("-".join(k for k, _ in combo), dict(zip(names, (v for _, v in combo), strict=True)))
        for combo in itertools.product(*axes)
    ]


def _check_outputs(made: dict[str, dict[str, Any]], where: str, line: int | None) -> None:
    if len(made) < 2:
        return
    writer: dict[str, str] = {}
    for name, body in made.items():
        for key in OUTPUT_KEYS:
            value = body.get(key, [])
            for path in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
                if not isinstance(path, str):
                    continue
                path = path.strip("/")
                if path in writer and writer[path] != name:
                    raise SpecError(
                        f"{where}: expands to two stages writing {path}: {writer[path]} and {name}",
                        line=line,
                        hint="put ${item} or ${key} into each output path so every expansion writes its own",
                    )
                writer[path] = name


# -- vars --------------------------------------------------------------------------------------------------


class _Files:
    """Vars files read at most once per load, relative to the workspace root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, Any] = {}

    def read(self, name: str, where: str, line: int | None) -> Any:
        if name not in self.cache:
            self.cache[name] = _read_vars_file(self.root, name, where, line)
        return self.cache[name]


def _vars_layers(value: Any, files: _Files, where: str, line: int | None = None) -> list[Any]:
    """``vars`` (a table, or a list of tables and FILE[:KEY,...] strings) -> lookup layers, first wins."""
    if value is None:
        return []
    entries = value if isinstance(value, list) else [value]
    layers: list[Any] = []
    for entry in entries:
        if isinstance(entry, dict):
            layers.append(entry)
        elif isinstance(entry, str) and entry:
            layers.append(_file_layer(entry, files, where, line))
        else:
            raise SpecError(
                f"{where} must be a table or a list of tables and file names, got {_type(entry)} {_short(entry)}",
                line=line,
                hint='vars = ["params.yaml", "other.toml:train", {seed = 7}]',
            )
    return layers[::-1]  # later entries override earlier ones


def _file_layer(entry: str, files: _Files, where: str, line: int | None) -> dict[str, Any]:
    name, sep, keys = entry.partition(":")
    data = files.read(name, where, line)
    if not isinstance(data, dict):
        raise SpecError(f"{where}: vars file {name} does not hold a table at its top", line=line)
    if not sep:
        return data
    picked: dict[str, Any] = {}
    for key in (k.strip() for k in keys.split(",")):
        node: Any = data
        for part in key.split("."):
            node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
            if node is _MISSING:
                raise SpecError(f"{where}: {key} is not in vars file {name}", line=line)
        target = picked
        *parents, last = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = node
    return picked


def _read_vars_file(root: Path, name: str, where: str, line: int | None) -> Any:
    try:
        rel = check_relpath(name, where=PIPELINE_NAME)
    except UnsafePathError as exc:
        raise SpecError(
            f"{where}: vars file {name!r} must be relative to the workspace root, without '..'", line=line
        ) from exc
    path = root / rel
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    if not real.startswith(real_root + os.sep):
        raise SpecError(f"{where}: vars file {name!r} leads outside the workspace through a symlink", line=line)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise SpecError(f"{where}: vars file {name} does not exist", line=line) from exc
    except OSError as exc:
        raise SpecError(f"{where}: cannot read vars file {name}: {exc.strerror or exc}", line=line) from exc
    return _parse_data(raw, name, where, line)


def _parse_data(raw: bytes, name: str, where: str, line: int | None) -> Any:
    if not datafiles.known(name):
        raise SpecError(f"{where}: vars file {name} must end in .yaml, .yml, .toml or .json", line=line)
    try:
        return datafiles.parse(raw, name)
    except Exception as exc:  # each parser has its own error type; all mean "malformed"
        raise SpecError(f"{where}: vars file {name} is malformed: {exc}", line=line) from exc


# -- interpolation -----------------------------------------------------------------------------------------


class _Context:
    """The variables one stage sees: foreach/matrix ``item`` and ``key``, its vars, top-level vars, then the
    default params files (read on first use)."""

    def __init__(self, layers: list[Any], files: _Files, where: str, line: int | None) -> None:
        self.layers, self.files, self.where, self.line = layers, files, where, line
        self.local: dict[str, Any] = {}

    def defined_locally(self) -> set[str]:
        return {k for layer in self.layers if isinstance(layer, dict) for k in layer}

    def with_item(self, key: str, item: Any) -> _Context:
        ctx = _Context(self.layers, self.files, self.where, self.line)
        ctx.local = {"item": item, "key": key}
        return ctx

    def lookup(self, ref: str, field_name: str) -> Any:
        if not _VAR.match(ref):
            raise SpecError(f"{self.where}: malformed reference ${{{ref}}} in {field_name!r}", line=self.line)
        parts = [m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _SEGMENT.finditer(ref)]
        head = str(parts[0])
        node = self._root(head, ref, field_name)
        for i, part in enumerate(parts[1:], 1):
            node = _step(node, part)
            if node is _MISSING:
                so_far = ref if i == len(parts) - 1 else _join(parts[: i + 1])
                raise SpecError(
                    f"{self.where}: unknown variable ${{{ref}}} in {field_name!r} ({so_far} does not exist)",
                    line=self.line,
                )
        return node

    def _root(self, head: str, ref: str, field_name: str) -> Any:
        if head in self.local:
            return self.local[head]
        for layer in self.layers:
            if isinstance(layer, dict) and head in layer:
                return layer[head]
        found = [n for n in DEFAULT_VARS_FILES if head in self._default(n)]
        if len(found) > 1:
            raise SpecError(
                f"{self.where}: variable {head} is in both {found[0]} and {found[1]}",
                line=self.line,
                hint='name the file in vars (vars = ["params.yaml"]) or remove one of the keys',
            )
        if found:
            return self._default(found[0])[head]
        raise SpecError(
            f"{self.where}: unknown variable ${{{ref}}} in {field_name!r}",
            line=self.line,
            hint="define it in vars (top level or in the stage), in params.yaml or params.toml"
            + (", or use ${item}/${key} inside a foreach or matrix stage" if head in ("item", "key") else ""),
        )

    def _default(self, name: str) -> dict[str, Any]:
        if not (self.files.root / name).is_file():
            return {}
        data = self.files.read(name, self.where, self.line)
        return data if isinstance(data, dict) else {}

    def whole(self, value: Any, field_name: str) -> Any:
        """A value that may be one ``${var}`` standing for a list or table (foreach, matrix axes)."""
        if isinstance(value, str):
            m = _REF.fullmatch(value.strip())
            if m and not m.group(1):
                return self.lookup(m.group(2).strip(), field_name)
        return value

    def fill(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {k: self._value(v, k) for k, v in fields.items()}

    def _value(self, value: Any, field_name: str) -> Any:
        if isinstance(value, str):
            return self._string(value, field_name)
        if isinstance(value, list):
            out: list[Any] = []
            for v in value:
                filled = self._value(v, field_name)
                out.extend(filled if isinstance(filled, list) and isinstance(v, str) else [filled])
            return out
        if isinstance(value, dict):
            return {k: self._value(v, field_name) for k, v in value.items()}
        return value

    def _string(self, text: str, field_name: str) -> Any:
        m = _REF.fullmatch(text)
        if m and not m.group(1):  # the whole field: a list or table stays one
            value = self.lookup(m.group(2).strip(), field_name)
            return value if isinstance(value, list | dict) else _text(value)

        def sub(m: re.Match[str]) -> str:
            if m.group(1):
                return "${" + m.group(2) + "}"  # \${...}: a literal ${...}
            ref = m.group(2).strip()
            value = self.lookup(ref, field_name)
            if isinstance(value, list | dict):
                raise SpecError(
                    f"{self.where}: ${{{ref}}} in {field_name!r} is a {_type(value)}, which cannot be put "
                    "inside a string",
                    line=self.line,
                    hint=f'only a whole entry may be a list (deps = ["${{{ref}}}"])',
                )
            return _text(value)

        return _REF.sub(sub, text)


def _step(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(str(part), _MISSING)
    if isinstance(node, list):
        try:
            return node[int(part)]
        except (ValueError, IndexError):
            return _MISSING
    return _MISSING


def _join(parts: list[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (p if i == 0 else f".{p}") for i, p in enumerate(parts))


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _text(value: Any) -> str:
    """A scalar as it goes into a command line or a path (booleans and null as in TOML/YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _name_part(text: str, where: str, line: int | None) -> str:
    if not _KEY.match(text):
        raise SpecError(
            f"{where}: {text!r} cannot be part of a stage name (after '@')",
            line=line,
            hint="names use letters, digits, '_', '-', '.' and '+'; a foreach table names each item itself",
        )
    return text


def _type(value: Any) -> str:
    kinds: dict[type, str] = {dict: "table", list: "list", str: "string", bool: "boolean", int: "integer"}
    return kinds.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
