"""Bounded previews of stored artifacts for ``art ui``: the head of a text or CSV file, a JSON document, an
image as a ``data:`` URI. Only the bytes a preview needs are read, chunk by chunk through the store (never a
whole large artifact); a folder is previewed by its first previewable file."""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any

from ..errors import ArtError
from ..objstore.oid import Oid
from ..objstore.store.base import ObjectStore
from ..objstore.tree import walk

MAX_TEXT = 4096  # characters of a text or JSON preview
MAX_ROWS = 20  # rows of a CSV preview
MAX_CELL = 200  # characters of one CSV cell
MAX_IMAGE = 200 << 10  # bytes of an image shown inline (larger ones are not previewed)
MAX_JSON = 256 << 10  # a JSON file up to this size is parsed and pretty-printed; larger: its head as text
HEAD = 64 << 10  # bytes read for a text or CSV head
MAX_ENTRIES = 200  # files of a folder looked at for one to preview

IMAGES = {".png": ("image/png", b"\x89PNG\r\n\x1a\n"), ".jpg": ("image/jpeg", b"\xff\xd8\xff"),
          ".jpeg": ("image/jpeg", b"\xff\xd8\xff"), ".gif": ("image/gif", b"GIF8")}  # fmt: skip
TEXTS = (".txt", ".md", ".log", ".yaml", ".yml", ".toml", ".py", ".ini", ".cfg")
CSVS = {".csv": ",", ".tsv": "\t"}
NONE: dict[str, Any] = {"type": "none"}


def _suffix(name: str) -> str:
    base = name.rsplit("/", 1)[-1].lower()
    return base[base.rfind(".") :] if "." in base else ""


def _rank(name: str) -> int:
    s = _suffix(name)
    if s in IMAGES or s in CSVS or s == ".json":
        return 0
    return 1 if s in TEXTS or not s else 2


def preview(store: ObjectStore, oid: str, kind: str, size: int | None, name: str) -> dict[str, Any]:
    """The preview of a stored artifact (``kind`` file or dir) named ``name``: ``{"type": "text"|"csv"|
    "json"|"image"|"none", ...}`` with ``text`` (≤ 4 KB), ``rows`` (≤ 20) or ``data_uri`` (≤ 200 KB), the
    ``file`` shown and whether the preview was ``truncated``. Anything unreadable previews as ``none``."""
    try:
        if kind == "dir":
            files = []
            for i, e in enumerate(walk(store, Oid(oid))):
                if i >= MAX_ENTRIES:
                    break
                if e.entry.kind == "file":
                    files.append((_rank(e.path), e.path, e.entry))
            if not files:
                return dict(NONE)
            _, path, entry = min(files, key=lambda f: (f[0], f[1]))
            out = _file(store, str(entry.oid), int(entry.size), path)
            return {**out, "file": path}
        if kind == "file":
            return {**_file(store, oid, int(size or 0), name), "file": name.rsplit("/", 1)[-1]}
    except (ArtError, OSError, ValueError):
        pass
    return dict(NONE)


def _head(store: ObjectStore, oid: str, size: int, limit: int) -> bytes:
    """The first ``limit`` bytes of a stored file, read chunk by chunk."""
    parts, got = [], 0
    for block in store.iter_file(Oid(oid), size):
        parts.append(block)
        got += len(block)
        if got >= limit:
            break
    return b"".join(parts)[:limit]


def _file(store: ObjectStore, oid: str, size: int, path: str) -> dict[str, Any]:
    s = _suffix(path)
    if s in IMAGES:
        mime, magic = IMAGES[s]
        if size > MAX_IMAGE:
            return {"type": "none", "reason": f"image over {MAX_IMAGE >> 10} KB"}
        data = _head(store, oid, size, MAX_IMAGE)
        if not data.startswith(magic):
            return dict(NONE)
        return {"type": "image", "mime": mime, "data_uri": f"data:{mime};base64,{base64.b64encode(data).decode()}"}
    if s == ".json" and size <= MAX_JSON:
        data = _head(store, oid, size, MAX_JSON)
        try:
            text = json.dumps(json.loads(data.decode("utf-8")), indent=2, sort_keys=True, ensure_ascii=False)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return _text(data, size)
        return {"type": "json", "text": text[:MAX_TEXT], "truncated": len(text) > MAX_TEXT}
    head = _head(store, oid, size, HEAD)
    if b"\x00" in head[:8192]:
        return dict(NONE)
    if s in CSVS:
        return _csv(head, size, CSVS[s])
    return _text(head, size)


def _text(head: bytes, size: int) -> dict[str, Any]:
    text = head.decode("utf-8", "replace")
    return {"type": "text", "text": text[:MAX_TEXT], "truncated": len(text) > MAX_TEXT or size > len(head)}


def _csv(head: bytes, size: int, delimiter: str) -> dict[str, Any]:
    text = head.decode("utf-8", "replace")
    lines = text.splitlines()
    cut = size > len(head)
    if cut and lines:
        lines = lines[:-1]  # the last line read may be cut short
    try:
        rows = [
            [cell[:MAX_CELL] for cell in row]
            for row in csv.reader(io.StringIO("\n".join(lines[: MAX_ROWS + 1])), delimiter=delimiter)
        ]
    except csv.Error:
        return _text(head, size)
    return {"type": "csv", "rows": rows[:MAX_ROWS], "truncated": cut or len(lines) > MAX_ROWS}
