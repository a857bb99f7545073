"""``art diff``'s content summaries of text-like data: rows added/removed for CSV/TSV, keys changed for
JSON, TOML and YAML.

Everything is bounded: a file over ``SUMMARY_MAX`` bytes is not summarised, a CSV is streamed and only a
count per distinct row of the old side is kept (at most ``MAX_ROWS`` of them), the walk over two structured
documents visits at most ``MAX_KEYS`` nodes, and a summary lists at most ``SHOW_KEYS`` keys (``more`` counts
the rest).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import tomllib
from collections.abc import Iterable, Iterator
from typing import Any

SUMMARY_MAX = 16 << 20  # bytes of each side
MAX_ROWS = 1_000_000  # distinct rows remembered of the old side of a CSV
MAX_KEYS = 100_000  # leaves of a JSON/TOML/YAML document
SHOW_KEYS = 50  # changed keys listed in a summary
MAX_VALUE_CHARS = 100  # longer strings are cut in a summary

FORMATS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}


class SummaryError(ValueError):
    """Why a summary could not be made (the diff itself goes on without it)."""


def format_of(path: str) -> str | None:
    """The summary format for a path, by its extension (None: not text-like data)."""
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    return FORMATS.get(name[dot:]) if dot > 0 else None


def summarize(fmt: str, old: Iterable[bytes], new: Iterable[bytes]) -> dict[str, Any]:
    """Compare two contents of format ``fmt``, each given as an iterable of byte blocks.

    Raises:
        SummaryError: when a side cannot be parsed, or exceeds a bound (the reason is the message).
    """
    if fmt in ("csv", "tsv"):
        return {"format": fmt, **_csv(old, new, "\t" if fmt == "tsv" else ",")}
    before, after = _load(fmt, old, "old"), _load(fmt, new, "new")
    return {"format": fmt, **_keys(before, after)}


# -- CSV -----------------------------------------------------------------------------------------------------


class _BlockReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte blocks (so csv can stream a stored file)."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks: Iterator[bytes] = iter(blocks)
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._buf = memoryview(block)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _rows(blocks: Iterable[bytes], delimiter: str, side: str) -> Iterator[list[str]]:
    text = io.TextIOWrapper(io.BufferedReader(_BlockReader(blocks)), encoding="utf-8", errors="replace", newline="")
    try:
        yield from csv.reader(text, delimiter=delimiter)
    except csv.Error as exc:
        raise SummaryError(f"the {side} content is not valid CSV ({exc})") from None


def _csv(old: Iterable[bytes], new: Iterable[bytes], delimiter: str) -> dict[str, Any]:
    counts: dict[int, int] = {}
    old_rows = 0
    old_header: list[str] | None = None
    for row in _rows(old, delimiter, "old"):
        if old_header is None:
            old_header = row
            continue
        key = hash(tuple(row))
        counts[key] = counts.get(key, 0) + 1
        old_rows += 1
        if len(counts) > MAX_ROWS:
            raise SummaryError(f"more than {MAX_ROWS:,} distinct rows")
    new_rows = added = 0
    new_header: list[str] | None = None
    for row in _rows(new, delimiter, "new"):
        if new_header is None:
            new_header = row
            continue
        new_rows += 1
        key = hash(tuple(row))
        left = counts.get(key, 0)
        if left:
            counts[key] = left - 1
        else:
            added += 1
    removed = sum(counts.values())
    out: dict[str, Any] = {"rows_old": old_rows, "rows_new": new_rows, "rows_added": added, "rows_removed": removed}
    a, b = old_header or [], new_header or []
    if a != b:
        out["columns_added"] = [c for c in b if c not in a]
        out["columns_removed"] = [c for c in a if c not in b]
    return out


# -- JSON, TOML, YAML ------------------------------------------------------------------------------------------


def _load(fmt: str, blocks: Iterable[bytes], side: str) -> Any:
    data = bytearray()
    for block in blocks:
        data += block
        if len(data) > SUMMARY_MAX:
            raise SummaryError(f"the {side} content is over {SUMMARY_MAX >> 20} MiB")
    try:
        text = codecs.decode(bytes(data).removeprefix(codecs.BOM_UTF8), "utf-8")
        if fmt == "json":
            return json.loads(text)
        if fmt == "toml":
            return tomllib.loads(text)
        try:
            import yaml
        except ImportError:
            raise SummaryError("YAML summaries need pyyaml (pip install pyyaml)") from None
        return yaml.safe_load(text)
    except SummaryError:
        raise
    except RecursionError:
        raise SummaryError(f"the {side} content is nested too deeply") from None
    except Exception as exc:  # each parser has its own error classes; any of them means "not parseable"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SummaryError(f"the {side} content is not valid {fmt.upper()} ({first[:200]})") from None


def _keys(before: Any, after: Any) -> dict[str, Any]:
    """Walk both documents together: a key on one side only is one added/removed entry (a whole table or list
    counts once), a leaf that differs is one modified entry; tables and lists present on both sides are
    entered (list items by index). Iterative, at most MAX_KEYS nodes visited."""
    changes: list[dict[str, Any]] = []
    stack: list[tuple[str, Any, Any]] = [("", before, after)]
    visited = 0
    while stack:
        key, a, b = stack.pop()
        visited += 1
        if visited > MAX_KEYS:
            raise SummaryError(f"more than {MAX_KEYS:,} keys")
        if isinstance(a, dict) and isinstance(b, dict):
            names = list(a) + [k for k in b if k not in a]
            stack.extend((_join(key, k), a.get(k, _ABSENT), b.get(k, _ABSENT)) for k in reversed(names))
        elif isinstance(a, list) and isinstance(b, list):
            n = max(len(a), len(b))
            stack.extend(
                (f"{key}[{i}]", a[i] if i < len(a) else _ABSENT, b[i] if i < len(b) else _ABSENT)
                for i in reversed(range(n))
            )
        elif a is _ABSENT:
            changes.append({"key": key, "state": "added", "new": _shown(b)})
        elif b is _ABSENT:
            changes.append({"key": key, "state": "removed", "old": _shown(a)})
        elif not (type(a) is type(b) and not isinstance(a, dict | list) and a == b):
            item: dict[str, Any] = {"key": key, "state": "modified", "old": _shown(a), "new": _shown(b)}
            if all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (a, b)):
                item["change"] = round(b - a, 12)
            changes.append(item)
    return {"keys": changes[:SHOW_KEYS], "keys_changed": len(changes), "more": max(0, len(changes) - SHOW_KEYS)}


_ABSENT = object()


def _join(key: str, name: Any) -> str:
    return f"{key}.{name}" if key else str(name)


def _shown(value: Any) -> Any:
    """A value as a summary shows it: scalars as they are (long strings cut, dates as text), a table or list
    as ``{N keys}`` / ``[N items]`` (never expanded: a YAML alias can make a small file a huge document)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return f"{{{len(value)} keys}}" if value else {}
    if isinstance(value, list):
        return f"[{len(value)} items]" if value else []
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "..."
