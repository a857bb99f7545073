"""Render plots to one self-contained HTML page: inline SVG charts drawn here, no script, no network.

``render_html(plots, revisions)`` is the whole interface (the dashboard embeds ``render_sections``): line and
scatter charts overlay every revision's series with a legend, bar charts group the revisions' bars per category, a
confusion matrix is a heat-map table per revision, and images are embedded as ``data:`` URIs. The page
carries a Content-Security-Policy that forbids every fetch, so a browser opening it loads nothing, even from
an SVG image's own references. ``chart_pages`` gives each chart as its own page with its size, for PNG export.
"""

from __future__ import annotations

import base64
import math
from html import escape
from typing import Any

from .plots import Confusion, Plot, Series

GENERATOR = "art plots"  # <meta name="generator">: marks a page art wrote (and may replace)
WIDTH, HEIGHT = 640, 360  # the drawing area of a chart with its axes, in CSS pixels
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 14, 44
LEGEND_ROW = 20
CELL_W, CELL_H, HEAD_W = 52, 28, 120  # confusion matrix cells and its row-header column
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:0 0 2px}
.revs{color:#555;margin:0 0 16px} .meta{color:#666;font-size:12px;margin:0 0 6px}
.plot{margin:0 0 28px;break-inside:avoid} .note{color:#a33;font-size:13px;margin:4px 0}
svg.chart text{font:12px system-ui,sans-serif;fill:#333} svg.chart .grid{stroke:#e5e5e5}
svg.chart .axis{stroke:#666} .figures{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
figure{margin:0} figcaption{font-size:13px;color:#444;margin:2px 0 6px} img{max-width:100%;border:1px solid #ddd}
table.confusion{border-collapse:collapse;table-layout:fixed}
table.confusion th,table.confusion td{border:1px solid #ccc;height:26px;text-align:center;overflow:hidden;
white-space:nowrap;text-overflow:ellipsis;font-size:12px;padding:0 2px}
table.confusion td,table.confusion thead th{width:48px;max-width:48px}
table.confusion tbody th{width:116px;max-width:116px;text-align:right}
"""


def render_html(plots: list[Plot], revisions: list[str], *, title: str = "art plots") -> str:
    """Return one HTML page showing ``plots`` (their revisions in the order of ``revisions``).

    The page needs nothing else: no script, no stylesheet or font to fetch; images are inline.
    """
    sections = render_sections(plots, revisions)
    revs = ", ".join(escape(r) for r in revisions)
    body = f"<h1>{escape(title)}</h1>\n<p class=revs>revisions: {revs}</p>\n{sections or '<p>no plots</p>'}"
    return _page(title, body)


def render_sections(plots: list[Plot], revisions: list[str]) -> str:
    """The charts of ``plots`` without the page around them (the dashboard embeds them; ``STYLE`` styles them)."""
    return "\n".join(_section(i, plot, revisions) for i, plot in enumerate(plots))


def chart_pages(plots: list[Plot], revisions: list[str]) -> list[tuple[Plot, str, int, int]]:
    """Each data plot alone on a page: (plot, html, width, height) in CSS pixels, for a PNG per chart.

    Image plots are left out (they already are images).
    """
    out = []
    for i, plot in enumerate(plots):
        if plot.spec.is_image:
            continue
        width, height = _size(plot, revisions)
        out.append((plot, _page(plot.spec.title or plot.spec.path, _section(i, plot, revisions)), width, height))
    return out


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f'<meta name="generator" content="{GENERATOR}">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _size(plot: Plot, revisions: list[str]) -> tuple[int, int]:
    """The page size that holds one chart's section (title, meta line, chart, notes) with the body margin."""
    head = 16 + 24 + 22 + 16 + 22 * len(plot.notes)
    if plot.spec.template == "confusion":
        sizes = [_table_size(m) for m in plot.matrices] or [(0, 0)]
        return max(WIDTH, sum(w for w, _ in sizes) + 24 * len(sizes)) + 32, head + max(h for _, h in sizes) + 16
    return WIDTH + 32, head + HEIGHT + _legend_height(_legend(plot.series, revisions)) + 8


def _section(i: int, plot: Plot, revisions: list[str]) -> str:
    spec = plot.spec
    meta = spec.path if spec.is_image else f"{spec.path} · {spec.template}"
    if spec.is_image:
        chart = _images(plot, revisions)
    elif spec.template == "confusion":
        chart = _matrices(plot.matrices, revisions)
    else:
        chart = _chart(plot, revisions) if plot.series else ""
    notes = "".join(f"<p class=note>{escape(rev)}: {escape(text)}</p>" for rev, text in plot.notes)
    return (
        f'<section class=plot id="plot-{i}" data-template="{escape(spec.template)}" data-path="{escape(spec.path)}">\n'
        f"<h2>{escape(spec.title or spec.path)}</h2>\n<p class=meta>{escape(meta)}</p>\n{chart}\n{notes}</section>"
    )


# -- images and matrices -------------------------------------------------------------------------------------


def _images(plot: Plot, revisions: list[str]) -> str:
    figures = []
    for rev, mime, data in sorted(plot.images, key=lambda item: _rank(revisions, item[0])):
        uri = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        figures.append(
            f'<figure><figcaption>{escape(rev)}</figcaption><img src="{uri}" alt="{escape(plot.spec.path)} at '
            f'{escape(rev)}"></figure>'
        )
    return f"<div class=figures>{''.join(figures)}</div>" if figures else ""


def _rank(revisions: list[str], rev: str) -> int:
    return revisions.index(rev) if rev in revisions else len(revisions)


def _table_size(m: Confusion) -> tuple[int, int]:
    n = len(m.labels)
    return HEAD_W + 2 + (CELL_W + 1) * n, 22 + (CELL_H + 1) * (n + 2)


def _matrices(matrices: list[Confusion], revisions: list[str]) -> str:
    tables = []
    for m in sorted(matrices, key=lambda m: _rank(revisions, m.rev)):
        top = max((c for row in m.counts for c in row), default=0) or 1
        head = "".join(f'<th title="{escape(lab)}">{escape(lab)}</th>' for lab in m.labels)
        rows = []
        for lab, counts in zip(m.labels, m.counts, strict=True):
            cells = []
            for c in counts:
                alpha = c / top
                ink = "#fff" if alpha > 0.55 else "#222"
                cells.append(f'<td style="background:rgba(31,119,180,{alpha:.3f});color:{ink}">{c}</td>')
            rows.append(f'<tr><th title="{escape(lab)}">{escape(lab)}</th>{"".join(cells)}</tr>')
        tables.append(
            f"<figure><figcaption>{escape(m.rev)} (rows: actual, columns: predicted)</figcaption>"
            f'<table class=confusion data-rev="{escape(m.rev)}"><thead><tr><th></th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></figure>"
        )
    return f"<div class=figures>{''.join(tables)}</div>" if tables else ""


# -- SVG charts ----------------------------------------------------------------------------------------------


def _legend(series: list[Series], revisions: list[str]) -> list[tuple[str, str]]:
    """(label, colour) per series, in revision order; the label names the y field when there are several."""
    several = len({s.y for s in series}) > 1
    ordered = sorted(series, key=lambda s: _rank(revisions, s.rev))
    return [(f"{s.rev}: {s.y}" if several else s.rev, PALETTE[i % len(PALETTE)]) for i, s in enumerate(ordered)]


def _legend_rows(items: list[tuple[str, str]]) -> list[list[tuple[str, str, float]]]:
    rows: list[list[tuple[str, str, float]]] = [[]]
    x = float(LEFT)
    for label, colour in items:
        width = 28 + 7.2 * min(len(label), 60)
        if rows[-1] and x + width > WIDTH - RIGHT:
            rows.append([])
            x = float(LEFT)
        rows[-1].append((label, colour, x))
        x += width + 12
    return rows


def _legend_height(items: list[tuple[str, str]]) -> int:
    return LEGEND_ROW * len(_legend_rows(items)) + 6


def _chart(plot: Plot, revisions: list[str]) -> str:
    spec = plot.spec
    ordered = sorted(plot.series, key=lambda s: _rank(revisions, s.rev))
    legend = _legend(ordered, revisions)
    height = HEIGHT + _legend_height(legend)
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    ys = [p[1] for s in ordered for p in s.points]
    ylo, yhi = _span(ys, zero=spec.template == "bar")
    yticks = _ticks(ylo, yhi)
    ylo, yhi = min(ylo, yticks[0]), max(yhi, yticks[-1])

    def sy(v: float) -> float:
        return y1 - (v - ylo) / (yhi - ylo) * (y1 - y0)

    parts = [f'<line class=grid x1="{x0}" x2="{x1}" y1="{sy(t):.1f}" y2="{sy(t):.1f}"/>' for t in yticks]
    parts += [f'<text x="{x0 - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>' for t in yticks]
    if spec.template == "bar":
        parts += _bars(ordered, legend, sy, x0, x1, y1, ylo)
    else:
        xs = [float(p[0]) for s in ordered for p in s.points]
        xlo, xhi = _span(xs, zero=False)
        xticks = _ticks(xlo, xhi)
        xlo, xhi = min(xlo, xticks[0]), max(xhi, xticks[-1])

        def sx(v: float) -> float:
            return x0 + (v - xlo) / (xhi - xlo) * (x1 - x0)

        parts += [f'<line class=grid x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{y0}" y2="{y1}"/>' for t in xticks]
        parts += [f'<text x="{sx(t):.1f}" y="{y1 + 16}" text-anchor="middle">{_fmt(t)}</text>' for t in xticks]
        for s, (_, colour) in zip(ordered, legend, strict=True):
            pts = [(sx(float(x)), sy(y)) for x, y in s.points]
            if spec.template == "scatter" or len(pts) == 1:
                dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"/>' for x, y in pts)
                parts.append(f'<g class=series data-rev="{escape(s.rev)}" fill="{colour}">{dots}</g>')
            elif pts:
                d = "M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in pts)
                parts.append(
                    f'<path class=series data-rev="{escape(s.rev)}" d="{d}" fill="none" stroke="{colour}" '
                    'stroke-width="1.8"/>'
                )
    parts.append(f'<line class=axis x1="{x0}" x2="{x1}" y1="{y1}" y2="{y1}"/>')
    parts.append(f'<line class=axis x1="{x0}" x2="{x0}" y1="{y0}" y2="{y1}"/>')
    x_label = spec.x_label or next((s.x for s in ordered if s.x), "row")
    y_label = spec.y_label or ", ".join(dict.fromkeys(s.y for s in ordered))
    parts.append(f'<text x="{(x0 + x1) / 2}" y="{y1 + 36}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(
        f'<text transform="translate(14 {(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">{escape(y_label)}</text>'
    )
    for r, row in enumerate(_legend_rows(legend)):
        top = HEIGHT + r * LEGEND_ROW
        for label, colour, x in row:
            parts.append(
                f'<g class=legend><rect x="{x:.1f}" y="{top + 2}" width="18" height="10" fill="{colour}"/>'
                f'<text x="{x + 24:.1f}" y="{top + 11}">{escape(label[:60])}</text></g>'
            )
    return (
        f'<svg class=chart width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role=img '
        f'aria-label="{escape(spec.title or spec.path)}">{"".join(parts)}</svg>'
    )


def _bars(ordered: list[Series], legend: list[tuple[str, str]], sy, x0: float, x1: float, y1: float, ylo: float):
    categories: dict[str, None] = {}
    for s in ordered:
        for x, _ in s.points:
            categories.setdefault(str(x), None)
    names = list(categories)
    if not names:
        return []
    group = (x1 - x0) / len(names)
    bar = group * 0.8 / len(ordered)
    base = sy(max(ylo, 0.0))
    parts = []
    step = max(1, math.ceil(len(names) * 40 / (x1 - x0)))  # label every n-th category when they crowd
    for i, name in enumerate(names):
        if i % step == 0:
            cx = x0 + group * (i + 0.5)
            parts.append(f'<text x="{cx:.1f}" y="{y1 + 16}" text-anchor="middle">{escape(name[:12])}</text>')
    for k, (s, (_, colour)) in enumerate(zip(ordered, legend, strict=True)):
        rects = []
        for x, y in s.points:
            left = x0 + group * names.index(str(x)) + group * 0.1 + bar * k
            top, bottom = sorted((sy(y), base))
            rects.append(
                f'<rect x="{left:.1f}" y="{top:.1f}" width="{max(bar - 1, 1):.1f}" '
                f'height="{max(bottom - top, 0.5):.1f}"/>'
            )
        parts.append(f'<g class=series data-rev="{escape(s.rev)}" fill="{colour}">{"".join(rects)}</g>')
    return parts


def _span(values: list[float], *, zero: bool) -> tuple[float, float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    return lo, hi


def _ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """About ``count`` round tick values covering [lo, hi]."""
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks: list[float] = []
    t = first
    while t < hi + step * 0.5 and len(ticks) < 4 * count:
        ticks.append(0.0 if abs(t) < step * 1e-9 else t)
        t = first + step * len(ticks)
    return ticks


def _fmt(v: Any) -> str:
    return f"{v:.6g}"
