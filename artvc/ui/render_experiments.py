"""The Experiments page: experiments × params × metrics (sortable, selectable) and their plots.

The plots are drawn by ``pipeline.plotsrender`` (the same charts as ``art plots``) from the JSON of
``art plots --json`` (each plot's spec and, per revision, its series, matrix, image or note), rebuilt here into
``Plot`` values with every field checked: the data is stored and untrusted. Each series carries its revision
(``data-rev``): the script shows the series of the selected experiments only.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from ..pipeline.plots import TEMPLATES, Confusion, Plot, PlotSpec, Series
from ..pipeline.plotsrender import render_sections
from .render_base import esc, items, number, page, seq, short_oid, sort_value, when

MAX_PLOTS = 50
MAX_POINTS = 100_000  # per series
MAX_LABELS = 100  # classes of a confusion matrix


def experiments_page(data: dict[str, Any], *, root: str) -> str:
    exps = items(data, "experiments")
    params = [c for c in seq(data, "param_columns") if isinstance(c, str)]
    metrics = [c for c in seq(data, "metric_columns") if isinstance(c, str)]
    head = (
        '<th scope="col" class="select"><span class="visually-hidden">plot</span></th>'
        + "".join(
            f'<th scope="col" data-sort-key="{k}"><button type="button">{label}</button></th>'
            for k, label in (("name", "Experiment"), ("state", "State"), ("commit", "Commit"), ("created", "Created"))
        )
        + "".join(_column_head("param", c) for c in params)
        + "".join(_column_head("metric", c) for c in metrics)
    )
    rows = [_row(e, params, metrics) for e in exps]
    plots, revisions = plots_from_json(data.get("plots"))
    if plots:
        charts = render_sections(plots, revisions)
    else:
        charts = '<p class="muted">No plots: declare <code>plots</code> in a stage of <code>art.toml</code>.</p>'
    body = (
        '<h1>Experiments</h1>\n<p class="lead">The baseline (HEAD) and every experiment with their params and '
        "metrics. Click a column to sort; tick the experiments to compare in the plots.</p>\n"
        '<section class="card"><div class="table-wrap"><table class="data" id="exp-table" data-testid="exp-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        f"{'' if rows else '<p class=empty>No experiments yet: <code>art exp run</code>.</p>'}</section>\n"
        f'<section class="card plots" data-testid="exp-plots"><h2>Plots</h2>{charts}</section>'
    )
    return page(kind="experiments", title="Experiments", body=body, data=data, root=root)


def _column_head(kind: str, column: str) -> str:
    short = column.split(":", 1)[1] if ":" in column else column
    return (
        f'<th scope="col" class="{kind}" data-sort-key="{kind}:{esc(column)}" title="{kind} {esc(column)}">'
        f'<button type="button"><span class="col-kind">{kind}</span> {esc(short)}</button></th>'
    )


def _values(rows: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in rows if isinstance(rows, list) else []:
        if isinstance(r, dict):
            out[f"{r.get('path')}:{r.get('key')}"] = r.get("value")
    return out


def _row(e: dict[str, Any], params: list[str], metrics: list[str]) -> str:
    name = str(e.get("name") or "")
    p, m = _values(e.get("params")), _values(e.get("metrics"))
    cells = "".join(
        f'<td class="num {kind}" data-sort-value="{esc(sort_value(values.get(c)))}">'
        f"{esc(number(values[c])) if c in values else ''}</td>"
        for kind, cols, values in (("param", params, p), ("metric", metrics, m))
        for c in cols
    )
    state = e.get("state") or ("baseline" if name == "baseline" else "")
    return (
        f'<tr data-testid="exp-row" data-exp="{esc(name)}" data-commit="{esc(e.get("commit") or "")}">'
        f'<td class="select"><input type="checkbox" data-testid="exp-select" value="{esc(name)}" checked '
        f'aria-label="plot {esc(name)}"></td>'
        f'<th scope="row" data-sort-value="{esc(name)}">{esc(name)}</th>'
        f'<td><span class="kind">{esc(state)}</span></td><td data-sort-value="{esc(e.get("commit") or "")}">'
        f"{short_oid(e.get('commit'), 8) if e.get('commit') else ''}</td>"
        f'<td data-sort-value="{esc(e.get("created_at") or "")}">{when(e.get("created_at"))}</td>{cells}</tr>'
    )


# -- plots from their JSON -----------------------------------------------------------------------------------


def plots_from_json(value: Any) -> tuple[list[Plot], list[str]]:
    """``Plot`` values and revision labels from ``art plots --json`` (or its ``plots`` list alone).

    Anything malformed is left out: a plot without a path or with an unknown template, points that are not
    numbers, a matrix that is not square, an image that is not base64.
    """
    if isinstance(value, dict):
        raw, revisions = value.get("plots"), value.get("revisions")
    else:
        raw, revisions = value, None
    plots = [p for p in (_plot(d) for d in (raw if isinstance(raw, list) else [])[:MAX_PLOTS]) if p is not None]
    labels = [str(r) for r in revisions] if isinstance(revisions, list) else []
    for plot in plots:
        for rev in [s.rev for s in plot.series] + [m.rev for m in plot.matrices] + [i[0] for i in plot.images]:
            if rev not in labels:
                labels.append(rev)
    return plots, labels


def _text(value: Any) -> str:
    return value[:200] if isinstance(value, str) else ""


def _plot(d: Any) -> Plot | None:
    if not isinstance(d, dict) or not isinstance(d.get("path"), str) or not d["path"]:
        return None
    template = d.get("template") if d.get("template") in (*TEMPLATES, "image") else None
    if template is None:
        return None
    y = seq(d, "y")
    spec = PlotSpec(
        d["path"][:500],
        template,
        _text(d.get("x")) or None,
        tuple(_text(v) for v in y[:16] if _text(v)),
        _text(d.get("title")),
        _text(d.get("x_label")),
        _text(d.get("y_label")),
    )
    plot = Plot(spec)
    for r in seq(d, "revisions"):
        if isinstance(r, dict) and r.get("rev") is not None:
            _add(plot, str(r["rev"])[:200], r)
    return plot


def _add(plot: Plot, rev: str, r: dict[str, Any]) -> None:
    template = plot.spec.template
    for s in seq(r, "series"):
        if isinstance(s, dict) and template in ("line", "scatter", "bar"):
            points = _points(s.get("points"), bar=template == "bar")
            plot.series.append(Series(rev, _text(s.get("y")) or "y", points, plot.spec.x))
    matrix = r.get("matrix")
    if isinstance(matrix, dict) and template == "confusion":
        labels, counts = matrix.get("labels"), matrix.get("counts")
        if (
            isinstance(labels, list)
            and 0 < len(labels) <= MAX_LABELS
            and isinstance(counts, list)
            and len(counts) == len(labels)
            and all(isinstance(row, list) and len(row) == len(labels) for row in counts)
            and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for row in counts for c in row)
        ):
            plot.matrices.append(Confusion(rev, [str(x)[:200] for x in labels], counts))
    image = r.get("image")
    if isinstance(image, dict) and template == "image":
        uri = image.get("data_uri")
        head, _, payload = uri.partition(",") if isinstance(uri, str) else ("", "", "")
        mime = head[5:].removesuffix(";base64") if head.startswith("data:image/") else ""
        try:
            content = base64.b64decode(payload, validate=True) if mime else b""
        except (binascii.Error, ValueError):
            content = b""
        if content:
            plot.images.append((rev, mime, content))
        else:
            plot.notes.append((rev, "image not embedded"))
    if isinstance(r.get("note"), str):
        plot.notes.append((rev, r["note"][:500]))


def _points(value: Any, *, bar: bool) -> list[tuple[Any, float]]:
    out: list[tuple[Any, float]] = []
    for p in (value if isinstance(value, list) else [])[:MAX_POINTS]:
        if not isinstance(p, list | tuple) or len(p) != 2:
            continue
        x, y = p
        if not _finite(y):
            continue
        if bar:
            out.append((str(x)[:200], float(y)))
        elif _finite(x):
            out.append((x, float(y)))
    return out


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
