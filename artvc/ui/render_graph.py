"""Graphs as inline SVG: the run DAG and the lineage graphs, laid out by ``layout`` (no script needed to read).

Each node is a box in its state's colour and line style with its name and, under it, a text line (the state,
or the node's kind), so the states can be told apart without colour; a long name is cut with an ellipsis and
given whole in the node's ``<title>``. A node with a link is an SVG ``<a>``: on the run page the link is the
step's detail section (``#step-N``), which the script shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .layout import NODE_HEIGHT, layout
from .render_base import esc

CHAR_WIDTH = 7.4  # average advance of the node font (13px system-ui), for box widths
MIN_WIDTH, MAX_WIDTH, PADDING = 110.0, 300.0, 28.0
MAX_NODES = 400  # nodes drawn in one graph (the rest are listed as "not drawn")


@dataclass(slots=True)
class GraphNode:
    """One node to draw: ``key`` names it in edges; ``attrs`` become its ``data-*`` attributes."""

    key: str
    label: str
    sub: str
    cls: str
    href: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)


def fit(label: str) -> tuple[str, float]:
    """The label as drawn (cut with an ellipsis when too long) and the box width that holds it."""
    room = int((MAX_WIDTH - PADDING) / CHAR_WIDTH)
    if len(label) <= room:
        shown = label
    elif "/" in label:  # a path or an artifact name: its end says the most
        shown = "\u2026" + label[-(room - 1) :]
    else:
        shown = label[: room - 1] + "\u2026"
    return shown, max(MIN_WIDTH, min(MAX_WIDTH, len(shown) * CHAR_WIDTH + PADDING))


def graph_svg(
    nodes: list[GraphNode],
    edges: list[tuple[str, str]],
    *,
    testid: str,
    node_testid: str,
    edge_testid: str,
    title: str,
    empty: str = "nothing to draw",
) -> str:
    """The graph as an ``<svg data-testid=testid>`` sized to its layout (scrolls in its container)."""
    dropped = max(0, len(nodes) - MAX_NODES)
    nodes = nodes[:MAX_NODES]
    fitted = {n.key: fit(n.label) for n in nodes}
    placed = layout([n.key for n in nodes], edges, widths={k: w for k, (_, w) in fitted.items()})
    marker = f"{testid}-arrow"
    parts = [
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" class="arrowhead"/></marker></defs>'
    ]
    for r in placed.routes:
        end = "marker-start" if r.reversed else "marker-end"
        parts.append(
            f'<path class="edge" data-testid="{edge_testid}" data-from="{esc(r.source)}" data-to="{esc(r.target)}" '
            f'd="{r.d}" {end}="url(#{marker})"/>'
        )
    for n in nodes:
        box = placed.boxes[n.key]
        shown, _ = fitted[n.key]
        data = "".join(f' data-{k}="{esc(v)}"' for k, v in n.attrs.items())
        tip = f"<title>{esc(n.label)} ({esc(n.sub)})</title>" if shown != n.label else ""
        inner = (
            f'{tip}<rect x="{box.x}" y="{box.y}" width="{box.width}" height="{box.height}" rx="8"/>'
            f'<text class="name" x="{box.cx:.1f}" y="{box.y + 19:.1f}">{esc(shown)}</text>'
            f'<text class="sub" x="{box.cx:.1f}" y="{box.y + 36:.1f}">{esc(n.sub)}</text>'
        )
        if n.href:
            inner = f'<a href="{esc(n.href)}" aria-label="{esc(n.label)}: {esc(n.sub)}">{inner}</a>'
        parts.append(f'<g class="node {n.cls}" data-testid="{node_testid}"{data}>{inner}</g>')
    if not nodes:
        parts.append(f'<text class="empty" x="12" y="{NODE_HEIGHT / 2 + 12:.0f}">{esc(empty)}</text>')
    width, height = (placed.width, placed.height) if nodes else (220.0, NODE_HEIGHT + 24)
    svg = (
        f'<svg class="graph" data-testid="{testid}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="group" aria-label="{esc(title)}">{"".join(parts)}</svg>'
    )
    note = f'<p class="muted">{dropped:,} more nodes are not drawn.</p>' if dropped else ""
    return f'<div class="graph-wrap">{svg}</div>{note}'
