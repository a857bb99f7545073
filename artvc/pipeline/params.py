"""Parameter files (TOML, JSON or YAML): read each once, look up dotted keys. Only listed keys count.

A bare key (no ``FILE:``) is looked up in ``params.yaml`` when it exists, else ``params.toml``; when both
exist, in the one that has the key (both having it is an error naming both). ``params_at`` reads every
params file of the pipeline at a git revision or in the workspace (``art params diff``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtError
from ..workspace.paths import check_relpath
from . import datafiles
from .errors import ParamsError, SpecError
from .metrics import MAX_METRICS_SIZE, flatten, parse_error_at
from .spec import DEFAULT_PARAMS, DEFAULT_PARAMS_FILES, PIPELINE_NAME, ParamRef, parse_param

if TYPE_CHECKING:
    from ..workspace.repo import Repo

_MISSING = object()


class ParamsReader:
    """Reads params files under ``root`` on demand and caches them for the reader's lifetime."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, Any] = {}
        self._defaults: list[str] | None = None  # which of DEFAULT_PARAMS_FILES exist

    def value(self, ref: ParamRef, *, stage: str = "") -> Any:
        """Return the value of ``ref`` (a dotted key in a params file).

        Raises:
            ParamsError: when the file is missing or malformed, or lacks the key.
        """
        ref = self.resolve(ref, stage=stage)
        node = _lookup(self._load(ref.file, stage), ref.key)
        if node is _MISSING:
            who = f"stage {stage}: " if stage else ""
            raise ParamsError(
                f"{who}param {ref.key} is not in {ref.file}",
                file=ref.file,
                hint=f"add {ref.key} to {ref.file}, or remove it from the stage's params",
            )
        return node

    def resolve(self, ref: ParamRef, *, stage: str = "") -> ParamRef:
        """Return ``ref`` with its file decided: a bare key goes to params.yaml or params.toml.

        Raises:
            ParamsError: when both params.yaml and params.toml define the key (or one of them is malformed).
        """
        if not ref.bare:
            return ref
        if self._defaults is None:
            self._defaults = [f for f in DEFAULT_PARAMS_FILES if (self.root / f).is_file()]
        have = self._defaults
        if len(have) < 2:
            return ParamRef(have[0] if have else DEFAULT_PARAMS, ref.key)
        holding = [f for f in have if _lookup(self._load(f, stage), ref.key) is not _MISSING]
        if len(holding) > 1:
            who = f"stage {stage}: " if stage else ""
            raise ParamsError(
                f"{who}param {ref.key} is defined in both {' and '.join(holding)}",
                file=holding[0],
                hint=f"keep {ref.key} in one of them, or name the file in art.toml ({holding[0]}:{ref.key})",
            )
        return ParamRef(holding[0] if holding else have[0], ref.key)

    def _load(self, file: str, stage: str) -> Any:
        if file not in self._files:
            self._files[file] = load_params_file(self.root / file, file, stage)
        return self._files[file]

    def invalidate(self) -> None:
        self._files.clear()
        self._defaults = None


def _lookup(data: Any, key: str) -> Any:
    node = data
    for part in key.split("."):
        node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
        if node is _MISSING:
            break
    return node


def load_params_file(path: Path, name: str, stage: str = "") -> Any:
    """Parse a params file by its extension (.toml, .json, .yaml/.yml).

    Raises:
        ParamsError: for a missing or malformed file, or an unknown extension.
    """
    who = f"stage {stage}: " if stage else ""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ParamsError(
            f"{who}params file {name} does not exist", file=name, hint=f"create {name} or fix the params entry"
        ) from exc
    return parse_params(raw, name, stage)


def parse_params(raw: bytes, name: str, stage: str = "") -> Any:
    """Parse the content of params file ``name`` by its extension (see ``load_params_file``)."""
    who = f"stage {stage}: " if stage else ""
    if not datafiles.known(name):
        raise ParamsError(
            f"{who}params file {name} has an unknown type",
            file=name,
            hint="params files end in .toml, .json, .yaml or .yml",
        )
    try:
        return datafiles.parse(raw, name)
    except Exception as exc:  # each parser has its own error type; all mean "malformed"
        line, column, why = parse_error_at(exc)
        at = f" at line {line}, column {column}" if line else ""
        raise ParamsError(f"{who}params file {name} is malformed{at}: {why}", file=name) from exc


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


def params_at(repo: Repo, rev: str | None) -> dict[str, dict[str, Any]]:
    """Return every params file of the pipeline, flattened (dotted keys), by path: in the workspace (``rev``
    None) or at git revision ``rev``.

    The files are those the stages of ``art.toml`` name, plus params.yaml and params.toml when present; a
    file absent on that side is left out (so it shows as added or removed in a diff).

    Raises:
        GitError: when ``rev`` names no commit (or there is no git repository).
        ParamsError: when a params file is malformed or too large; SpecError for an unreadable art.toml.
    """
    read = _reader(repo, rev)
    toml_text = read(PIPELINE_NAME)
    names = set(DEFAULT_PARAMS_FILES)
    if toml_text is not None:
        names |= _params_files(toml_text, rev)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(names):
        raw = read(name)
        if raw is None:
            continue
        where = f"{rev}:{name}" if rev else name
        if len(raw) > MAX_METRICS_SIZE:
            raise ParamsError(f"params file {where} is over {MAX_METRICS_SIZE >> 20} MiB", file=name)
        data = parse_params(raw, where)
        out[name] = flatten(data if data is not None else {})
    return out


def _reader(repo: Repo, rev: str | None):
    """A function reading a workspace file's bytes in the workspace or at ``rev`` (None when absent)."""
    if rev is None:

        def read_disk(name: str) -> bytes | None:
            try:
                return (repo.root / name).read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None

        return read_disk
    from ..errors import GitError

    git = repo.git
    if git is None:
        raise GitError("this art repository is not in a git work tree", hint="revisions need git")
    commit = git.commit_id(rev)
    return lambda name: git.file_at(commit, repo.git_prefix, name)


def _params_files(text: bytes, rev: str | None) -> set[str]:
    """The params files the stages of an art.toml text name (bare keys: the default files)."""
    where = f"{rev}:{PIPELINE_NAME}" if rev else PIPELINE_NAME
    try:
        data = tomllib.loads(text.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise SpecError(f"{where} is not valid TOML: {exc}") from exc
    files: set[str] = set()
    stages = data.get("stages")
    for body in stages.values() if isinstance(stages, dict) else ():
        entries = body.get("params", []) if isinstance(body, dict) else []
        for entry in [entries] if isinstance(entries, str) else entries:
            if not isinstance(entry, str):
                continue
            try:
                ref = parse_param(entry)
                if not ref.bare:
                    files.add(check_relpath(ref.file, where=where))
            except ArtError:
                continue  # the pipeline itself reports a malformed entry when it runs
    return files
