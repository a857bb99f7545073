"""Draw the stage graph: readable text, mermaid, graphviz dot, or a JSON-ready dict. Pure functions."""

from __future__ import annotations

import json
from collections.abc import Mapping

from .dag import Graph

MERMAID_STYLES = {
    "ran": "fill:#d4f7d4,stroke:#2a7a2a",
    "cached": "fill:#d4e8f7,stroke:#2a5a7a",
    "up-to-date": "fill:#eeeeee,stroke:#777777",
    "failed": "fill:#f7d4d4,stroke:#a02a2a",
    "stale": "fill:#f7ecd4,stroke:#a07a2a",
    "not-run": "fill:#ffffff,stroke:#a02a2a,stroke-dasharray: 4",
}
DOT_COLORS = {
    "ran": "palegreen",
    "cached": "lightblue",
    "up-to-date": "gray90",
    "failed": "salmon",
    "stale": "khaki",
    "not-run": "white",
}


def text(graph: Graph, marks: Mapping[str, str] | None = None) -> str:
    """An indented tree from each source stage; a stage with several parents is drawn under the first and
    referenced ("see above") under the others. ``marks`` adds a status column."""
    marks = marks or {}
    lines: list[tuple[str, str]] = []
    drawn: set[str] = set()

    def visit(name: str, prefix: str, last: bool | None) -> None:
        connector = "" if last is None else ("└── " if last else "├── ")
        if name in drawn:
            lines.append((f"{prefix}{connector}{name}  (see above)", ""))
            return
        drawn.add(name)
        lines.append((f"{prefix}{connector}{name}", marks.get(name, "")))
        children = [c for c in graph.order if c in graph.downstream[name]]
        inner = prefix if last is None else prefix + ("    " if last else "│   ")
        for i, child in enumerate(children):
            visit(child, inner, i == len(children) - 1)

    for name in graph.order:
        if not graph.upstream[name]:
            visit(name, "", None)
    width = max((len(label) for label, _ in lines), default=0)
    return "\n".join(f"{label:<{width}}  [{mark}]" if mark else label for label, mark in lines)


def _id(name: str) -> str:
    return "s_" + "".join(c if c.isalnum() else "_" for c in name)


def mermaid(graph: Graph, marks: Mapping[str, str] | None = None) -> str:
    """A mermaid flowchart (paste into Markdown); node classes follow ``marks``."""
    marks = marks or {}
    out = ["flowchart TD"]
    for name in graph.order:
        label = f"{name}<br/>{marks[name]}" if name in marks else name
        out.append(f'    {_id(name)}["{label}"]')
    out += [f"    {_id(a)} --> {_id(b)}" for a, b in graph.edges()]
    used = sorted(set(marks.values()) & set(MERMAID_STYLES))
    out += [f"    classDef {m.replace('-', '_')} {MERMAID_STYLES[m]}" for m in used]
    out += [
        f"    class {_id(n)} {m.replace('-', '_')}"
        for n, m in marks.items()
        if m in MERMAID_STYLES and n in graph.stages
    ]
    return "\n".join(out)


def dot(graph: Graph, marks: Mapping[str, str] | None = None) -> str:
    """A graphviz digraph (``art dag --dot | dot -Tsvg > dag.svg``)."""
    marks = marks or {}
    out = ["digraph pipeline {", "    rankdir=TB;", '    node [shape=box, style="rounded,filled", fillcolor=white];']
    for name in graph.order:
        attrs = [f"label={json.dumps(name + (chr(10) + marks[name] if name in marks else ''))}"]
        if marks.get(name) in DOT_COLORS:
            attrs.append(f"fillcolor={DOT_COLORS[marks[name]]}")
        out.append(f"    {json.dumps(name)} [{', '.join(attrs)}];")
    out += [f"    {json.dumps(a)} -> {json.dumps(b)};" for a, b in graph.edges()]
    out.append("}")
    return "\n".join(out)


def as_dict(graph: Graph, marks: Mapping[str, str] | None = None) -> dict:
    """Stages (in topological order, with cmd, deps, outs and mark) and edges, for ``--json``."""
    marks = marks or {}
    stages = []
    for name in graph.order:
        s = graph.stages[name]
        stages.append(
            {
                "name": name,
                "cmd": s.cmd,
                "call": s.call,
                "deps": list(s.deps),
                "outs": list(s.outs),
                "upstream": sorted(graph.upstream[name]),
                "state": marks.get(name),
            }
        )
    return {"stages": stages, "edges": [list(e) for e in graph.edges()]}
