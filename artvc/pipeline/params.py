"""Parameter files (TOML, JSON or YAML): read each once, look up dotted keys. Only listed keys count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ParamsError
from .spec import ParamRef

_MISSING = object()


class ParamsReader:
    """Reads params files under ``root`` on demand and caches them for the reader's lifetime."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, Any] = {}

    def value(self, ref: ParamRef, *, stage: str = "") -> Any:
        """Return the value of ``ref`` (a dotted key in a params file).

        Raises:
            ParamsError: when the file is missing or malformed, or lacks the key.
        """
        data = self._load(ref.file, stage)
        node: Any = data
        for part in ref.key.split("."):
            node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
            if node is _MISSING:
                who = f"stage {stage}: " if stage else ""
                raise ParamsError(
                    f"{who}param {ref.key} is not in {ref.file}",
                    file=ref.file,
                    hint=f"add {ref.key} to {ref.file}, or remove it from the stage's params",
                )
        return node

    def _load(self, file: str, stage: str) -> Any:
        if file not in self._files:
            self._files[file] = load_params_file(self.root / file, file, stage)
        return self._files[file]

    def invalidate(self) -> None:
        self._files.clear()


def load_params_file(path: Path, name: str, stage: str = "") -> Any:
    """Parse a params file by its extension (.toml, .json, .yaml/.yml).

    Raises:
        ParamsError: for a missing or malformed file, an unknown extension, or YAML without pyyaml.
    """
    who = f"stage {stage}: " if stage else ""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ParamsError(
            f"{who}params file {name} does not exist", file=name, hint=f"create {name} or fix the params entry"
        ) from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib

            return tomllib.loads(raw.decode())
        if suffix == ".json":
            return json.loads(raw)
        if suffix in (".yaml", ".yml"):
            return _yaml(raw, name)
    except ParamsError:
        raise
    except Exception as exc:  # each parser has its own error type; all mean "malformed"
        raise ParamsError(f"{who}params file {name} is malformed: {exc}", file=name) from exc
    raise ParamsError(
        f"{who}params file {name} has an unknown type",
        file=name,
        hint="params files end in .toml, .json, .yaml or .yml",
    )


def _yaml(raw: bytes, name: str) -> Any:
    try:
        import yaml
    except ImportError as exc:
        raise ParamsError(
            f"reading {name} needs PyYAML, which is not installed",
            file=name,
            hint="pip install pyyaml (art's 'yaml' extra), or use a TOML or JSON params file",
        ) from exc
    return yaml.safe_load(raw)


def normalize(value: Any) -> Any:
    """Make a param value storable in TOML and msgpack (None and dates included) and comparable."""
    if value is None:
        return {"null": True}
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)
