"""Metrics files (JSON, YAML, TOML, CSV/TSV): load them flattened to dotted names, read them at a git revision
from the store, and compare two sides (``art metrics show`` / ``art metrics diff``, ``art params diff``).

A stage declares its metrics files in ``metrics = [...]``; they are outputs like ``outs`` (stored, cached,
restored), so at a revision their content is found through that commit's ``art.lock`` in the local store.
Everything read is bounded: a file over ``MAX_METRICS_SIZE`` bytes or with more than ``MAX_KEYS`` values is
refused with an error naming it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtError, IntegrityError
from ..objstore.hashing import ContentHasher
from ..objstore.oid import Oid
from ..workspace.lockfile import LOCK_NAME, parse_lock_text
from ..workspace.paths import check_relpath
from . import templates
from .errors import MetricsError, SpecError
from .spec import PIPELINE_NAME, load

if TYPE_CHECKING:
    from ..workspace.repo import Repo

MAX_METRICS_SIZE = 16 << 20  # bytes of one metrics (or params) file
MAX_KEYS = 100_000  # values in one flattened file
FORMATS = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".csv": "csv", ".tsv": "tsv"}
_TOML_AT = re.compile(r"line (\d+), column (\d+)")


def flatten(obj: Any) -> dict[str, Any]:
    """Flatten nested tables and lists to ``{"a.b.0": scalar}`` (dotted names, list items by index).

    Scalars (str, int, float, bool, None) are kept as they are; anything else (a YAML date) becomes its text.
    An empty table or list is kept as a value. Iterative, at most ``MAX_KEYS`` values.

    Raises:
        ValueError: beyond ``MAX_KEYS`` values.
    """
    out: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        name, node = stack.pop()
        if isinstance(node, dict) and node:
            stack.extend((f"{name}.{k}" if name else str(k), v) for k, v in reversed(list(node.items())))
        elif isinstance(node, list) and node:
            stack.extend((f"{name}.{i}" if name else str(i), v) for i, v in reversed(list(enumerate(node))))
        else:
            if len(out) >= MAX_KEYS:
                raise ValueError(f"more than {MAX_KEYS:,} values")
            out[name] = node if node is None or isinstance(node, str | int | float | bool | dict | list) else str(node)
    return out


def load_metrics(path: Path, *, name: str | None = None) -> dict[str, Any]:
    """Read and parse the metrics file at ``path`` (``name``: how errors call it), flattened.

    Raises:
        MetricsError: when it cannot be read, is too large, has an unknown type or does not parse (naming the
            file and the line).
    """
    name = name or path.name
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_METRICS_SIZE + 1)
    except IsADirectoryError as exc:
        raise MetricsError(f"metrics file {name} is a folder", path=name) from exc
    except OSError as exc:
        raise MetricsError(f"cannot read metrics file {name}: {exc.strerror or exc}", path=name) from exc
    return parse_metrics(raw, name)


def parse_metrics(raw: bytes, name: str) -> dict[str, Any]:
    """Parse the content of metrics file ``name`` by its extension, flattened (see ``load_metrics``)."""
    if len(raw) > MAX_METRICS_SIZE:
        raise MetricsError(f"metrics file {name} is over {MAX_METRICS_SIZE >> 20} MiB", path=name)
    suffix = name[name.rfind(".") :].lower() if "." in name.rsplit("/", 1)[-1] else ""
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise MetricsError(
            f"metrics file {name} has an unknown type",
            path=name,
            hint="metrics files end in .json, .yaml, .yml, .toml, .csv or .tsv",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MetricsError(f"metrics file {name} is not UTF-8 text (byte {exc.start})", path=name) from exc
    data = _csv(text, name, "\t" if fmt == "tsv" else ",") if fmt in ("csv", "tsv") else _structured(fmt, text, name)
    if not isinstance(data, dict | list):
        raise MetricsError(
            f"metrics file {name} holds a single value, not named metrics",
            path=name,
            hint='write a table of named values, e.g. {"accuracy": 0.9}',
        )
    try:
        return flatten(data)
    except ValueError as exc:
        raise MetricsError(f"metrics file {name} has {exc}", path=name) from exc


def _structured(fmt: str, text: str, name: str) -> Any:
    try:
        if fmt == "json":
            return json.loads(text)
        if fmt == "toml":
            return tomllib.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as exc:  # each parser has its own error classes; any of them means "does not parse"
        line, column, why = parse_error_at(exc)
    at = f" at line {line}, column {column}" if line else ""
    raise MetricsError(f"metrics file {name} is not valid {fmt.upper()}{at}: {why}", path=name, line=line)


def parse_error_at(exc: BaseException) -> tuple[int | None, int | None, str]:
    """(line, column, reason in one line) of a JSON, TOML or YAML parser's error; the position may be None."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.lineno, exc.colno, exc.msg
    if isinstance(exc, tomllib.TOMLDecodeError):
        m = _TOML_AT.search(str(exc))
        return (int(m.group(1)) if m else None), (int(m.group(2)) if m else None), str(exc).split(" (at ")[0]
    if isinstance(exc, RecursionError):
        return None, None, "nested too deeply"
    mark = getattr(exc, "problem_mark", None)  # yaml.MarkedYAMLError: 0-based position
    why = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
    if mark is not None:
        return mark.line + 1, mark.column + 1, str(why)
    return None, None, str(why)


def _csv(text: str, name: str, delimiter: str) -> dict[str, Any]:
    """A header row then rows of values: one row gives ``{column: value}``, several ``{row.column: value}``."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[dict[str, Any]] = []
    header: list[str] | None = None
    try:
        for row in reader:
            if not row:
                continue
            if header is None:
                header = row
                continue
            if len(row) != len(header):
                raise MetricsError(
                    f"metrics file {name} is not valid CSV at line {reader.line_num}: "
                    f"{len(row)} values for {len(header)} columns",
                    path=name,
                    line=reader.line_num,
                )
            rows.append({k: _number(v) for k, v in zip(header, row, strict=True)})
            if len(rows) * len(header) > MAX_KEYS:
                raise MetricsError(f"metrics file {name} has more than {MAX_KEYS:,} values", path=name)
    except csv.Error as exc:
        raise MetricsError(
            f"metrics file {name} is not valid CSV at line {reader.line_num}: {exc}", path=name, line=reader.line_num
        ) from exc
    if len(rows) == 1:
        return rows[0]
    return {str(i): r for i, r in enumerate(rows)}


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


# -- metrics of a pipeline, in the workspace or at a revision -------------------------------------------------


def metrics_at(repo: Repo, rev: str | None) -> dict[str, dict[str, Any]]:
    """Return the metrics of every stage's ``metrics`` files, flattened, by path: in the workspace (``rev``
    None: the files on disk) or at git revision ``rev`` (their ids from that commit's ``art.lock``, their content
    from the local store). A metrics file absent on that side is left out.

    Raises:
        GitError: when ``rev`` names no commit. MetricsError: when a file does not parse, or its content is
        not in the local store. SpecError: when art.toml or art.lock at ``rev`` is unreadable.
    """
    if rev is None:
        pipeline = load(repo.root, check_deps=False)
        paths = [m for s in pipeline.stages.values() for m in s.metrics] if pipeline else []
        return {p: load_metrics(repo.abspath(p), name=p) for p in paths if repo.abspath(p).exists()}
    from ..errors import GitError

    git = repo.git
    if git is None:
        raise GitError("this art repository is not in a git work tree", hint="revisions need git")
    commit = git.commit_id(rev)
    toml_text = git.file_at(commit, repo.git_prefix, PIPELINE_NAME)
    if toml_text is None:
        return {}
    paths = declared_metrics(toml_text, where=f"{rev}:{PIPELINE_NAME}", root=repo.root)
    if not paths:
        return {}
    lock_text = git.file_at(commit, repo.git_prefix, LOCK_NAME)
    outs = {}
    if lock_text is not None:
        try:
            stages = parse_lock_text(lock_text)
        except ArtError as exc:
            raise SpecError(f"{rev}:{LOCK_NAME}: {exc.message}", file=LOCK_NAME) from exc
        outs = {e["path"]: e for s in stages.values() for e in s.get("outs", [])}
    found = {}
    for path in paths:
        entry = outs.get(path)
        if entry is not None:
            found[path] = parse_metrics(_stored(repo, entry, f"{rev}:{path}"), f"{rev}:{path}")
    return found


def declared_metrics(text: bytes, *, where: str, root: Path | None = None) -> list[str]:
    """The ``metrics`` paths of every stage in the text of an ``art.toml`` (as committed: not validated beyond
    what reading them needs). ``foreach``/``matrix`` stages and ``${var}`` are expanded first, with the vars
    files found under ``root`` (the workspace's: an approximation for a revision whose vars files differ).

    Raises:
        SpecError: when the text is not TOML, its templates do not expand, or a metrics path is unsafe.
    """
    try:
        data = tomllib.loads(text.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise SpecError(f"{where} is not valid TOML: {exc}") from exc
    stages = data.get("stages")
    if root is not None and isinstance(stages, dict) and templates.uses_templates(data):
        stages = templates.expand(data, root, {}).stages
    paths: list[str] = []
    for body in stages.values() if isinstance(stages, dict) else ():
        entries = body.get("metrics", []) if isinstance(body, dict) else []
        for entry in [entries] if isinstance(entries, str) else entries:
            if isinstance(entry, str) and entry:
                path = check_relpath(entry.rstrip("/"), where=where)
                if path and path not in paths:
                    paths.append(path)
    return paths


def _stored(repo: Repo, entry: dict[str, Any], where: str) -> bytes:
    """The content of one ``art.lock`` output entry, from the local store (bounded, checked against its id)."""
    oid, size = entry.get("id"), entry.get("size")
    if entry.get("kind", "file") != "file" or not isinstance(oid, str) or not isinstance(size, int):
        raise MetricsError(f"metrics file {where} is not recorded as a file in art.lock", path=where)
    if size > MAX_METRICS_SIZE:
        raise MetricsError(f"metrics file {where} is over {MAX_METRICS_SIZE >> 20} MiB", path=where)
    store = repo.store
    try:
        key = Oid(oid)
    except ValueError as exc:
        raise MetricsError(f"metrics file {where} has a malformed id in art.lock", path=where) from exc
    if not store.has_file(key):
        raise MetricsError(
            f"metrics file {where} ({oid[:10]}) is not in the local store",
            path=where,
            hint="run 'art fetch' (or 'art pull') to download it",
        )
    hasher = ContentHasher()
    data = bytearray()
    for block in store.iter_file(key, size):
        hasher.update(block)
        data += block
        if len(data) > size:
            break
    if len(data) != size or hasher.oid() != key:
        raise IntegrityError(f"the stored content of {oid[:10]} ({where}) does not match its id (run art fsck)")
    return bytes(data)


# -- comparing two sides -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValueChange:
    """One named value (a metric or a param) on two sides: ``old``/``new`` are None when absent on that side;
    ``change`` (new - old) and ``change_ratio`` (change / |old|) only for two numbers."""

    path: str
    key: str
    old: Any
    new: Any
    change: float | int | None
    change_ratio: float | None
    changed: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "key": self.key,
            "old": self.old,
            "new": self.new,
            "change": self.change,
            "change_ratio": self.change_ratio,
        }


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def diff_values(
    a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]], *, include_unchanged: bool = False
) -> list[ValueChange]:
    """Compare two ``{path: {key: value}}`` sides (``metrics_at`` / ``params_at``), sorted by path then key.

    Only changed values (added, removed or different) unless ``include_unchanged``.
    """
    rows = []
    for path in sorted(a.keys() | b.keys()):
        old_file, new_file = a.get(path, {}), b.get(path, {})
        for key in sorted(old_file.keys() | new_file.keys()):
            old: Any = old_file.get(key)
            new: Any = new_file.get(key)
            changed = (key in old_file) != (key in new_file) or type(old) is not type(new) or old != new
            if not changed and not include_unchanged:
                continue
            change = ratio = None
            if _is_number(old) and _is_number(new):
                change = round(new - old, 12)
                ratio = round(change / abs(old), 12) if old else None
            rows.append(ValueChange(path, key, old, new, change, ratio, changed))
    return rows
