"""``-S [FILE:]KEY=V1,V2`` for experiments: parse, check that a stage uses the key, expand the grid, and
write a value into a params file's text (TOML keeps its comments; JSON and YAML are re-dumped)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .params import ParamsReader, parse_params
from .spec import Pipeline


@dataclass(frozen=True, slots=True)
class Override:
    """One ``-S``: the params file, the dotted key and the values to try (several make a grid axis)."""

    file: str
    key: str
    values: tuple[Any, ...]

    @property
    def label(self) -> str:
        return f"{self.file}:{self.key}"


def parse_value(text: str) -> Any:
    """A value as typed: JSON scalars (``1``, ``0.5``, ``true``, ``null``, ``"a,b"``), else the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if not isinstance(value, dict | list) else text


def _split(text: str) -> list[str]:
    """Split on commas outside double quotes."""
    parts, current, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts]


def resolve(pipeline: Pipeline, sets: list[str], root: Path) -> list[Override]:
    """Parse each ``-S`` and find the params file of its key among the params the stages use.

    Raises:
        UsageError: for a malformed ``-S``, a key that no stage uses, a key used from two files, a key inside
            a table a stage uses that the file lacks (a typo, most likely), or the same key set twice.
    """
    reader = ParamsReader(root)  # a bare key's file: params.yaml or params.toml, as repro decides
    used = [
        (reader.resolve(ref, stage=stage.name).file, ref.key)
        for stage in pipeline.stages.values()
        for ref in stage.params
    ]
    out: list[Override] = []
    for text in sets:
        spec, eq, raw = text.partition("=")
        file, colon, key = spec.rpartition(":")
        key = key.strip()
        if not eq or not key or any(not p for p in key.split(".")) or (colon and not file):
            raise UsageError(
                f"malformed -S {text!r}", hint="write -S [FILE:]KEY=VALUE[,VALUE...], e.g. -S train.C=0.1,1,10"
            )
        files = sorted({f for f, k in used if (not file or f == file) and (key == k or key.startswith(k + "."))})
        if not files:
            listed = sorted({f"{f}:{k}" for f, k in used})
            raise UsageError(
                f"-S {spec}: no stage uses param {spec}",
                hint=f"params the stages use: {', '.join(listed)}" if listed else "no stage lists params in art.toml",
            )
        if len(files) > 1:
            raise UsageError(f"-S {spec}: {key} is used from {' and '.join(files)}", hint="write -S FILE:KEY=...")
        if not any(k == key for f, k in used if f == files[0]):
            _check_present(root, files[0], key, spec)
        values = tuple(parse_value(v) for v in _split(raw))
        override = Override(files[0], key, values)
        if any(o.label == override.label for o in out):
            raise UsageError(f"-S {override.label} is given twice", hint="list its values once: -S KEY=V1,V2")
        out.append(override)
    return out


def _check_present(root: Path, file: str, key: str, spec: str) -> None:
    try:
        node = _parsed(file, (root / file).read_bytes())
    except OSError:
        return  # the stage's own check names the missing file
    for part in key.split("."):
        node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
    if node is _MISSING:
        raise UsageError(
            f"-S {spec}: {file} has no param {key}",
            hint=f"a stage uses the table around it; add {key} to {file} first if it is new",
        )


def grid(overrides: list[Override]) -> list[dict[str, Any]]:
    """Every combination of the overrides' values (the cartesian product), as ``FILE:KEY`` -> value."""
    axes = [[(o.label, v) for v in dict.fromkeys(o.values, None)] if _hashable(o.values) else [] for o in overrides]
    axes = [a or [(o.label, v) for v in o.values] for a, o in zip(axes, overrides, strict=True)]
    return [dict(point) for point in itertools.product(*axes)]


def _hashable(values: tuple) -> bool:
    try:
        hash(values)
    except TypeError:
        return False
    return True


def with_values(name: str, raw: bytes, values: dict[str, Any]) -> bytes:
    """Return params file ``name``'s text with each dotted key set to its value.

    Raises:
        UsageError: when a key goes through a value that is not a table.
        ParamsError: when the file does not parse.
    """
    suffix = Path(name).suffix.lower()
    if suffix == ".toml":
        return _toml(name, raw, values)
    data = _parsed(name, raw)
    for key, value in values.items():
        _set(data, name, key, value)
    if suffix == ".json":
        return (json.dumps(data, indent=2) + "\n").encode()
    import yaml

    return yaml.safe_dump(data, sort_keys=False).encode()


def _set(data: Any, name: str, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = data
    for part in parents:
        if not isinstance(node, dict):
            break
        node = node.setdefault(part, {})
    if not isinstance(node, dict):
        raise UsageError(f"-S {name}:{key}: {'.'.join(parents)} is not a table in {name}")
    node[last] = value


def _toml(name: str, raw: bytes, values: dict[str, Any]) -> bytes:
    from ..workspace import tomledit

    text = raw.decode()
    _parsed(name, raw)  # the standard parser's errors first
    doc = tomledit.parse(text)
    for key, value in values.items():
        *parents, last = key.split(".")
        table: Any = doc
        for part in parents:
            table = tomledit.child(table, part)
            if not isinstance(table, dict):
                raise UsageError(f"-S {name}:{key}: {part} is not a table in {name}")
        if value is None:
            raise UsageError(f"-S {name}:{key}: TOML has no null value", hint="use a number, boolean or string")
        tomledit.set_key(table, last, value)
    return tomledit.dumps(doc, text).encode()


def _parsed(name: str, raw: bytes) -> Any:
    data = parse_params(raw, name)
    return {} if data is None else data


_MISSING = object()
