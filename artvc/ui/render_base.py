"""What every dashboard page shares: the page shell (nav, assets, the embedded JSON), escaping, links, formats.

Every value from the data is untrusted (names, params and paths may hold markup, quotes, any unicode): it goes
through ``esc`` (text and attributes), ``json_block`` (the ``art-data`` script) or a checked URL builder. Links
are relative to ``root``, the prefix from the page to the site root, so one HTML file works from the server and
from ``file://``; no page names an external URL.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from html import escape
from typing import Any

from .urls import slug  # the pages link an artifact by the server's own slug

STATES = ("executed", "cached", "failed", "skipped", "up-to-date", "not-run")
STATE_MARK = {
    "executed": "\u2713",  # check mark
    "cached": "\u21bb",  # clockwise arrow (reused)
    "failed": "\u2717",  # ballot x
    "skipped": "\u2013",  # en dash
    "up-to-date": "\u21bb",
    "not-run": "\u2013",
}
STATE_HELP = {
    "executed": "ran in this run",
    "cached": "result reused from the run cache",
    "failed": "ran and failed",
    "skipped": "not run (an upstream step failed, or not selected)",
    "up-to-date": "already up to date, nothing to do",
    "not-run": "not run",
}
NAV = (("runs", "Runs", "index.html"), ("artifacts", "Artifacts", "artifacts/index.html"),
       ("experiments", "Experiments", "experiments.html"), ("store", "Store", "store.html"))  # fmt: skip
ROW_CAP = 200  # rows shown before "show all" in long tables (the rest are in the page, hidden by CSS)
_HEX64 = re.compile(r"[0-9a-f]{64}")


def esc(value: Any) -> str:
    """Any value as HTML text or attribute content (quotes escaped)."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        return escape(text, quote=True)
    return text  # the common case, checked in C: 5x faster than escape() on long tables


def state_of(value: Any) -> str:
    """A known state name, or ``not-run`` for anything else the data holds."""
    return value if isinstance(value, str) and value in STATES else "not-run"


def run_href(root: str, oid: Any) -> str | None:
    """The relative link to a run's page, or None when ``oid`` is not a full run id."""
    return f"{root}runs/{oid}.html" if isinstance(oid, str) and _HEX64.fullmatch(oid) else None


def artifact_href(root: str, name: Any) -> str | None:
    return f"{root}artifacts/{slug(name)}.html" if isinstance(name, str) and name else None


def link(href: str | None, text: str, *, title: str = "", cls: str = "") -> str:
    """``<a>`` when there is a link, else a ``<span>`` (``text`` is already HTML)."""
    attrs = (f' title="{esc(title)}"' if title else "") + (f' class="{cls}"' if cls else "")
    return f'<a href="{esc(href)}"{attrs}>{text}</a>' if href else f"<span{attrs}>{text}</span>"


def short_oid(oid: Any, n: int = 10) -> str:
    """An oid shortened to ``n`` characters with the full one in ``title``."""
    if not isinstance(oid, str) or not oid:
        return '<span class="muted">\u2014</span>'
    return f'<code class="oid" title="{esc(oid)}">{esc(oid[:n])}</code>'


def human_size(n: Any) -> str:
    if not isinstance(n, int | float) or isinstance(n, bool) or not math.isfinite(n):
        return "\u2014"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover - the loop returns


def duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not math.isfinite(seconds):
        return "\u2014"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {sec} s"


def when(iso: Any) -> str:
    """A recorded ISO-8601 time as ``<time>`` (date and time to the second, UTC as recorded)."""
    if not isinstance(iso, str) or not iso:
        return '<span class="muted">\u2014</span>'
    shown = iso.replace("T", " ")[:19]
    return f'<time datetime="{esc(iso)}">{esc(shown)}</time>'


def number(value: Any) -> str:
    """A param or metric value as short text."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return repr(value) if len(repr(value)) <= 12 else f"{value:.6g}"  # 1.0 stays 1.0, 0.1+0.2 is 0.3
    if isinstance(value, int | str):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)[:500]


def sort_value(value: Any) -> str:
    """``data-sort-value`` of a cell: numbers as numbers, the rest as text (empty sorts last)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value) if math.isfinite(value) else ""
    return "" if value is None else number(value)


def flat(values: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts as dotted (key, value) rows, in their order."""
    if not isinstance(values, dict):
        return [(prefix, values)] if prefix else []
    rows: list[tuple[str, Any]] = []
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            rows += flat(value, name)
        else:
            rows.append((name, value))
    return rows


def obj(data: Any, key: str) -> dict[str, Any]:
    """``data[key]`` when it is a dict, else an empty one."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def seq(data: Any, key: str) -> list[Any]:
    """``data[key]`` when it is a list, else an empty one."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []


def items(data: Any, key: str) -> list[dict[str, Any]]:
    """``data[key]`` as a list of dicts (anything else in the data is left out)."""
    value = data.get(key) if isinstance(data, dict) else None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def kv_list(rows: Iterable[tuple[str, Any]], *, testid: str, empty: str) -> str:
    """``key = value`` rows (a list: the text reads ``key = value`` with or without CSS)."""
    lis = [f'<li><span class="k">{esc(k)}</span> = <code class="v">{esc(number(v))}</code></li>' for k, v in rows]
    if not lis:
        return f'<ul class="kv" data-testid="{testid}"><li class="muted">{esc(empty)}</li></ul>'
    return f'<ul class="kv" data-testid="{testid}">{"".join(lis)}</ul>'


def state_badge(state: str) -> str:
    return f'<span class="badge st-{state}" data-state="{state}">{STATE_MARK[state]} {state}</span>'


def legend(testid: str = "dag-legend") -> str:
    """The state legend: a swatch in the state's colour and style, its name, and what it means."""
    lis = "".join(
        f'<li data-state="{s}" title="{esc(STATE_HELP[s])}"><span class="swatch st-{s}"></span>'
        f'<span class="badge st-{s}">{STATE_MARK[s]} {s}</span></li>'
        for s in STATES
    )
    return f'<ul class="legend" data-testid="{testid}" aria-label="step states">{lis}</ul>'


def capped_rows(rows: list[str], table_id: str, *, noun: str) -> tuple[str, str]:
    """Rows past ``ROW_CAP`` get class ``more`` (hidden until the table is the URL's target) and the link.

    Returns (rows HTML, the "show all" link or "").
    """
    if len(rows) <= ROW_CAP:
        return "".join(rows), ""
    shown = "".join(rows[:ROW_CAP])
    rest = "".join(r.replace("<tr ", '<tr class="more" ', 1) for r in rows[ROW_CAP:])
    more = (
        f'<p class="show-all"><a href="#{table_id}" data-show-all="{table_id}">show all {len(rows):,} {noun}</a> '
        f"(the first {ROW_CAP:,} are shown)</p>"
    )
    return shown + rest, more


def json_block(data: Any) -> str:
    """The page's data as an inert JSON script: ``<``, ``>``, ``&`` and line separators are \\u-escaped, so
    no value can close the script element."""
    text = json.dumps(data, ensure_ascii=True, sort_keys=False, default=str, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="art-data">{text}</script>'


def safe_json(data: Any) -> Any:
    """``data`` with NaN and infinities replaced by None (the JSON block must be standard JSON)."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {str(k): safe_json(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [safe_json(v) for v in data]
    return data


def page(*, kind: str, title: str, body: str, data: Any, root: str) -> str:
    """One whole page: head (stylesheet and script from ``root``assets/), the nav, ``body``, the JSON."""
    current = ' aria-current="page"'
    nav = "".join(f'<a href="{root}{href}"{current if key == kind else ""}>{label}</a>' for key, label, href in NAV)
    try:
        block = json_block(data)
    except ValueError:  # NaN or infinity somewhere in the data
        block = json_block(safe_json(data))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="art ui">\n'
        f"<title>{esc(title)} \u00b7 art</title>\n"
        f'<link rel="stylesheet" href="{root}assets/art-ui.css">\n'
        f'<script src="{root}assets/art-ui.js" defer></script>\n'
        f'</head>\n<body data-page="{kind}">\n'
        f'<header class="top"><a class="brand" href="{root}index.html">art</a>'
        f'<nav data-testid="nav" aria-label="pages">{nav}</nav></header>\n'
        f'<main id="main">\n{body}\n</main>\n{block}\n</body></html>\n'
    )
