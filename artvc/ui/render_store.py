"""The Store page: logical / unique / stored bytes (dedup and compression) overall, over commits, per artifact;
the remotes and what the cached remote index says is pushed."""

from __future__ import annotations

from typing import Any

from ..pipeline.plots import Plot, PlotSpec, Series
from ..pipeline.plotsrender import render_sections
from .render_base import (
    artifact_href,
    capped_rows,
    esc,
    human_size,
    items,
    link,
    obj,
    page,
    short_oid,
    sort_value,
    when,
)

SIZES = ("logical", "unique", "stored")


def size(d: dict[str, Any], key: str) -> Any:
    """``logical`` / ``unique`` / ``stored`` under either name (``art du --json`` says ``logical_size``)."""
    value = d.get(key, d.get(f"{key}_size"))
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def ratio(a: Any, b: Any) -> str:
    return f"{a / b:.2f}\u00d7" if isinstance(a, int | float) and isinstance(b, int | float) and b > 0 else "\u2014"


def store_page(data: dict[str, Any], *, root: str) -> str:
    body = (
        '<h1>Store</h1>\n<p class="lead">What the tracked artifacts take: <b>logical</b> (their files), '
        "<b>unique</b> (distinct chunks, deduplicated) and <b>stored</b> (compressed in packs).</p>\n"
        f"{_summary(data)}\n"
        f'<section class="card"><h2>Over the commits</h2>{_commits(items(data, "commits"))}</section>\n'
        f'<section class="card"><h2>Per artifact</h2>{_artifacts(items(data, "artifacts"), root)}</section>\n'
        f'<section class="card"><h2>Remotes</h2>{_remotes(items(data, "remotes"))}</section>'
    )
    return page(kind="store", title="Store", body=body, data=data, root=root)


def _summary(data: dict[str, Any]) -> str:
    total = obj(data, "total")
    store = obj(data, "store")
    logical, unique, stored = (size(total, k) for k in SIZES)
    cards = [
        ("logical", human_size(logical), "the bytes of the tracked files"),
        ("unique", human_size(unique), "distinct chunks (shared ones counted once)"),
        ("stored", human_size(stored), "in packs, compressed"),
        ("dedup", ratio(logical, unique), "logical / unique"),
        ("compression", ratio(unique, stored), "unique / stored"),
    ]
    if store:
        cards.append(
            (
                "local store",
                human_size(store.get("pack_size")),
                f"{esc(store.get('objects', 0))} objects in {esc(store.get('packs', 0))} packs",
            )
        )
    tiles = "".join(
        f'<div class="stat" data-stat="{esc(k)}"><div class="stat-label">{esc(k)}</div>'
        f'<div class="stat-value">{v}</div><div class="stat-note">{note}</div></div>'
        for k, v, note in cards
    )
    missing = total.get("missing_objects")
    warn = (
        f'<p class="note">{esc(missing)} objects are not in the local store: unique and stored count only what is '
        "here (<code>art fetch</code> for the full figures).</p>"
        if isinstance(missing, int) and missing
        else ""
    )
    return f'<section class="card stats" data-testid="store-summary">{tiles}{warn}</section>'


def _commits(commits: list[dict[str, Any]]) -> str:
    rows = [
        f'<tr data-commit="{esc(c.get("commit"))}"><td>{short_oid(c.get("commit"), 8)}</td>'
        f'<td data-sort-value="{esc(c.get("date") or "")}">{when(c.get("date"))}</td>'
        + "".join(
            f'<td class="num" data-sort-value="{esc(sort_value(size(c, k)))}">{human_size(size(c, k))}</td>'
            for k in SIZES
        )
        + "</tr>"
        for c in commits
    ]
    head = "".join(
        f'<th scope="col" data-sort-key="{k}"{" class=num" if k in SIZES else ""}><button type="button">{k}</button>'
        "</th>"
        for k in ("commit", "date", *SIZES)
    )
    chart = _chart(commits) if len(commits) > 1 else ""
    body, more = capped_rows(rows, "store-commits", noun="commits")
    empty = "" if rows else '<p class="muted">No commits measured.</p>'
    return (
        f'{chart}{empty}<div class="table-wrap"><table class="data" id="store-commits" data-testid="store-commits">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{more}"
    )


def _chart(commits: list[dict[str, Any]]) -> str:
    """Sizes over the commits, oldest first (the same line chart as ``art plots``)."""
    ordered = list(reversed(commits))  # the data lists the newest first
    series = [
        Series(k, "bytes", [(i, float(v)) for i, c in enumerate(ordered) if (v := size(c, k)) is not None], "commit")
        for k in SIZES
    ]
    spec = PlotSpec("commits", "line", "commit", ("bytes",), "Bytes per commit", "commit (oldest first)")
    chart = render_sections([Plot(spec, series=[s for s in series if s.points])], list(SIZES))
    return f'<div class="plots">{chart}</div>'


def _artifacts(artifacts: list[dict[str, Any]], root: str) -> str:
    rows = []
    for a in artifacts:
        name = a.get("name") if a.get("name") is not None else a.get("path")
        logical, unique, stored = (size(a, k) for k in SIZES)
        rows.append(
            f'<tr data-name="{esc(name)}"><td data-sort-value="{esc(name)}">'
            f"{link(artifact_href(root, name), esc(name))}</td>"
            + "".join(
                f'<td class="num" data-sort-value="{esc(sort_value(v))}">{human_size(v)}</td>'
                for v in (logical, unique, stored)
            )
            + f'<td class="num">{ratio(logical, unique)}</td><td class="num">{ratio(unique, stored)}</td></tr>'
        )
    head = "".join(
        f'<th scope="col" data-sort-key="{k}"{"" if k == "name" else " class=num"}><button type="button">{k}'
        "</button></th>"
        for k in ("name", *SIZES, "dedup", "compression")
    )
    body, more = capped_rows(rows, "store-artifacts", noun="artifacts")
    empty = "" if rows else '<p class="muted">Nothing tracked.</p>'
    return (
        f'{empty}<div class="table-wrap"><table class="data" id="store-artifacts" data-testid="store-artifacts">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{more}"
    )


def _remotes(remotes: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr data-remote="{esc(r.get("name"))}"><td>{esc(r.get("name"))}</td><td><code>{esc(r.get("url"))}</code>'
        f'</td><td class="num">{esc(r["pushed"]) if isinstance(r.get("pushed"), int) else "unknown"}</td>'
        f"<td>{when(r.get('as_of'))}</td></tr>"
        for r in remotes
    )
    empty = "" if rows else '<p class="muted">No remote configured (<code>art remote add</code>).</p>'
    return (
        f'{empty}<div class="table-wrap"><table class="data" data-testid="store-remotes"><thead><tr><th>name</th>'
        '<th>url</th><th class="num">objects pushed</th><th>as of</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
        '<p class="muted">From the cached remote index: the page never contacts a remote.</p>'
    )
