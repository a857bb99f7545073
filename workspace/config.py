"""``.art/config`` (committed) and ``.art/config.local`` (git-ignored, secrets): load, validate, write.

Both are TOML; the local file overrides the shared one key by key. Known sections: ``core``, ``remotes``.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from ..objstore.errors import ConfigError
from .fileio import atomic_write

CORE_DEFAULTS: dict[str, Any] = {
    "remote": "",
    "fsync": False,
    "jobs": 2,
    "strict_pipeline": False,
    "gc_grace": "1h",
}
SECTIONS = ("core", "remotes", "hooks", "gc")
HEADER = "# art configuration (committed). Secrets belong in .art/config.local, which git ignores.\n"


def read_toml(path: Path, *, what: str) -> dict[str, Any]:
    """Parse a TOML file; a missing file is empty.

    Raises:
        ConfigError: on a syntax error, with the file and the parser's line information.
    """
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}", hint="fix the file by hand") from exc


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class Config:
    """Merged view of both config files, with helpers to change one of them."""

    def __init__(self, art_dir: Path) -> None:
        self.shared_path = art_dir / "config"
        self.local_path = art_dir / "config.local"
        self.reload()

    def reload(self) -> None:
        self.shared = read_toml(self.shared_path, what="config")
        self.local = read_toml(self.local_path, what="config")
        self.data = merge(self.shared, self.local)
        for key in self.data:
            if key not in SECTIONS:
                raise ConfigError(f"unknown section [{key}] in .art/config",
                                  hint=f"known sections: {', '.join(SECTIONS)}")

    def core(self, key: str) -> Any:
        return self.data.get("core", {}).get(key, CORE_DEFAULTS.get(key))

    @property
    def remotes(self) -> dict[str, dict[str, Any]]:
        return self.data.get("remotes", {})

    def update(self, mutate, *, local: bool = False) -> None:
        """Apply ``mutate(dict)`` to one of the files and write it atomically."""
        data = copy.deepcopy(self.local if local else self.shared)
        mutate(data)
        path = self.local_path if local else self.shared_path
        atomic_write(path, ("" if local else HEADER) + tomli_w.dumps(data), mode=0o600 if local else 0o644)
        self.reload()
