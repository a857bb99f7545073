"""Parse a params or vars file (TOML, JSON, YAML) by the suffix of its name: the one parser behind params.py
and templates.py (callers word the errors: a params file and a vars file are different things to a user)."""

from __future__ import annotations

import json
import tomllib
from pathlib import PurePosixPath
from typing import Any

SUFFIXES = (".toml", ".json", ".yaml", ".yml")


def known(name: str) -> bool:
    """Whether ``name`` ends in a suffix ``parse`` reads."""
    return PurePosixPath(name).suffix.lower() in SUFFIXES


def parse(raw: bytes, name: str) -> Any:
    """The value in ``raw``, read as the format ``name``'s suffix says (check ``known`` first).

    Raises:
        ValueError: for an unknown suffix; any parser's own error (each has its type) for malformed content.
    """
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".toml":
        return tomllib.loads(raw.decode())
    if suffix == ".json":
        return json.loads(raw)
    if suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(raw)
    raise ValueError(f"{name}: not a .toml, .json, .yaml or .yml file")
