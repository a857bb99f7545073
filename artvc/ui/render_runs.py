"""The Runs page (every run, newest first, filterable) and the Run page (its DAG, legend and step details)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from .render_base import (
    artifact_href,
    duration,
    esc,
    flat,
    human_size,
    items,
    kv_list,
    legend,
    link,
    obj,
    page,
    run_href,
    seq,
    short_oid,
    sort_value,
    state_badge,
    state_of,
    when,
)
from .render_graph import GraphNode, graph_svg

FILTERS = ("pipeline", "stage", "branch")
COUNTS = ("executed", "cached", "failed", "skipped")
MAX_STRIP = 24  # step squares drawn per runs row


def runs_page(data: dict[str, Any], *, root: str, query: str = "") -> str:
    runs = items(data, "pipeline_runs")
    asked = {k: v[0] for k, v in parse_qs(query).items() if k in FILTERS and v}
    choices: dict[str, dict[str, None]] = {k: {} for k in FILTERS}
    rows = []
    for r in runs:
        steps = items(r, "steps")
        for key, value in (("pipeline", r.get("pipeline")), ("branch", r.get("branch"))):
            if isinstance(value, str) and value:
                choices[key].setdefault(value, None)
        for s in steps:
            if isinstance(s.get("name"), str):
                choices["stage"].setdefault(s["name"], None)
        rows.append(_run_row(r, steps, root))
    filters = "".join(_filter(key, asked.get(key, ""), choices[key]) for key in FILTERS)
    head = "".join(
        f'<th scope="col" data-sort-key="{key}"><button type="button">{label}</button></th>'
        for key, label in (
            ("oid", "Run"), ("kind", "Kind"), ("pipeline", "Pipeline"), ("started", "Started"),
            ("duration", "Duration"), ("commit", "Commit"), ("branch", "Branch"), ("user", "User"),
            ("steps", "Steps"),
        )
    )  # fmt: skip
    table = (
        f'<div class="table-wrap"><table class="data" id="runs-table" data-testid="runs-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        if rows
        else '<p class="empty">No runs yet: run a pipeline with <code>art run MODULE:PIPELINE</code> or '
        "<code>art repro</code>, or add data with <code>art add</code>.</p>"
        '<table class="data" id="runs-table" data-testid="runs-table"><tbody></tbody></table>'
    )
    body = (
        f'<h1>Runs</h1>\n<p class="lead">{len(runs):,} run{"s" if len(runs) != 1 else ""}, newest first: '
        "pipelines, <code>art repro</code>, experiments and <code>art add</code>.</p>\n"
        f'<form class="filters" method="get" data-testid="runs-filters">{filters}'
        f'<button type="submit">Filter</button>'
        f'<output class="count" data-testid="runs-count" aria-live="polite">{len(runs):,} shown</output></form>\n'
        f"{table}"
    )
    return page(kind="runs", title="Runs", body=body, data=data, root=root)


def _filter(key: str, value: str, choices: dict[str, None]) -> str:
    options = "".join(f'<option value="{esc(c)}"></option>' for c in choices)
    return (
        f'<label>{key} <input type="search" name="{key}" data-testid="filter-{key}" list="choices-{key}" '
        f'value="{esc(value)}" autocomplete="off" placeholder="any"></label>'
        f'<datalist id="choices-{key}">{options}</datalist>'
    )


def _run_row(r: dict[str, Any], steps: list[dict[str, Any]], root: str) -> str:
    oid = r.get("oid")
    kind = str(r.get("kind") or "pipeline")
    pipeline = str(r.get("pipeline") or "")
    names = [str(s.get("name")) for s in steps if s.get("name") is not None]
    strip = "".join(
        f'<span class="sq st-{state_of(s.get("state"))}" title="{esc(s.get("name"))}: {state_of(s.get("state"))}">'
        "</span>"
        for s in steps[:MAX_STRIP]
    )
    counts = " ".join(
        f'<span class="count-badge st-{k}" title="{k}">{r[k]} {k}</span>'
        for k in COUNTS
        if isinstance(r.get(k), int) and r[k]
    )
    exp = f' <span class="muted">{esc(r.get("experiment"))}</span>' if r.get("experiment") else ""
    commit = r.get("commit")
    dirty = '<span class="dirty" title="uncommitted changes">*</span>' if r.get("dirty") else ""
    total = len(steps)
    return (
        f'<tr data-testid="run-row" data-oid="{esc(oid)}" data-kind="{esc(kind)}" data-pipeline="{esc(pipeline)}" '
        f'data-branch="{esc(r.get("branch") or "")}" data-steps="{esc(json.dumps(names))}">'
        f'<td data-sort-value="{esc(oid)}">{link(run_href(root, oid), short_oid(oid))}</td>'
        f'<td><span class="kind kind-{esc(kind)}">{esc(kind)}</span></td>'
        f"<td>{esc(pipeline)}{exp}</td>"
        f'<td data-sort-value="{esc(r.get("started") or "")}">{when(r.get("started"))}</td>'
        f'<td class="num" data-sort-value="{esc(sort_value(r.get("duration")))}">{duration(r.get("duration"))}</td>'
        f"<td>{short_oid(commit, 8)}{dirty}</td>"
        f"<td>{esc(r.get('branch') or '')}</td><td>{esc(r.get('user') or '')}</td>"
        f'<td data-sort-value="{total}"><span class="strip">{strip}</span> {counts}</td></tr>'
    )


# -- one run -------------------------------------------------------------------------------------------------


def run_page(data: dict[str, Any], *, root: str) -> str:
    run = obj(data, "run")
    dag = obj(data, "dag")
    steps = obj(data, "steps")
    nodes = items(dag, "nodes")
    names = list(dict.fromkeys([str(n.get("name")) for n in nodes] + [str(k) for k in steps]))
    state = {str(n.get("name")): state_of(n.get("state")) for n in nodes}
    for s in items(run, "steps"):
        state.setdefault(str(s.get("name")), state_of(s.get("state")))
    anchor = {name: f"step-{i}" for i, name in enumerate(names)}
    graph = [
        GraphNode(
            key=name,
            label=name,
            sub=f"{state.get(name, 'not-run')}",
            cls=f"st-{state.get(name, 'not-run')}",
            href=f"#{anchor[name]}",
            attrs={"step": name, "state": state.get(name, "not-run")},
        )
        for name in names
    ]
    edges = [(str(e[0]), str(e[1])) for e in seq(dag, "edges") if isinstance(e, list | tuple) and len(e) == 2]
    svg = graph_svg(graph, edges, testid="dag", node_testid="dag-node", edge_testid="dag-edge", title="pipeline DAG")
    sections = "".join(_step_section(name, obj(steps, name), state.get(name), i, root) for i, name in enumerate(names))
    pipeline = str(run.get("pipeline") or run.get("kind") or "run")
    oid = run.get("oid")
    index = "".join(
        f'<li><a href="#{anchor[n]}" data-step="{esc(n)}">{esc(n)}</a> {state_badge(state.get(n, "not-run"))}</li>'
        for n in names
    )
    body = (
        f'<p class="crumbs"><a href="{root}index.html">Runs</a> / run {short_oid(oid)}</p>\n'
        f'<h1>{esc(pipeline)} <span class="muted">run {esc(str(oid or "")[:10])}</span></h1>\n'
        f"{_facts(run)}\n"
        f'<section class="card dag-card"><h2>Steps</h2>{legend()}{svg}'
        f'<ol class="step-index" aria-label="steps">{index}</ol></section>\n'
        f'<div class="step-details">{sections or "<p class=empty>This run recorded no steps.</p>"}</div>'
    )
    return page(kind="runs", title=f"{pipeline} run {str(oid or '')[:10]}", body=body, data=data, root=root)


def _facts(run: dict[str, Any]) -> str:
    commit = run.get("commit")
    rows = [
        ("kind", esc(run.get("kind") or "")),
        ("run", f'<code class="oid">{esc(run.get("oid") or "")}</code>'),
        ("experiment", esc(run.get("experiment") or "")),
        ("started", when(run.get("started"))),
        ("duration", duration(run.get("duration"))),
        ("commit", (short_oid(commit) if commit else "") + (" (uncommitted changes)" if run.get("dirty") else "")),
        ("branch", esc(run.get("branch") or "")),
        ("user", esc(run.get("user") or "")),
        ("steps", " ".join(f"{run[k]} {k}" for k in COUNTS if isinstance(run.get(k), int))),
    ]
    if run.get("exit_status"):
        rows.append(("exit status", esc(run.get("exit_status"))))
    dl = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in rows if v)
    return f'<dl class="facts" data-testid="run-facts">{dl}</dl>'


def _step_section(name: str, step: dict[str, Any], state: str | None, i: int, root: str) -> str:
    st = state_of(state)
    code = step.get("code_hash")
    code_html = short_oid(code, 16) if code else '<span class="muted">not recorded</span>'
    command = f'<pre class="command"><code>{esc(step.get("command"))}</code></pre>' if step.get("command") else ""
    facts = [
        ("started", when(step.get("started"))),
        ("duration", duration(step.get("duration"))),
    ]
    status = step.get("exit_status", step.get("returncode"))
    if status is not None:
        facts.append(("exit status", esc(status)))
    record = link(run_href(root, step.get("run_oid")), short_oid(step.get("run_oid"))) if step.get("run_oid") else ""
    if record:
        facts.append(("run record", record))
    dl = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)
    return (
        f'<section class="card step-detail" id="step-{i}" data-testid="step-detail" data-step="{esc(name)}" '
        f'data-state="{st}" tabindex="-1">'
        f'<h2>{esc(name)} {state_badge(st)}</h2><dl class="facts">{dl}</dl>'
        f'<h3>Code</h3><p data-testid="step-code-hash">code hash {code_html}</p>{command}'
        f"<h3>Parameters</h3>{kv_list(flat(step.get('params')), testid='step-params', empty='no parameters')}"
        f"<h3>Inputs</h3>{_files(items(step, 'inputs'), 'step-inputs', root, producer=True)}"
        f"<h3>Outputs</h3>{_files(items(step, 'outputs'), 'step-outputs', root, producer=False)}"
        f"<h3>Environment</h3>{kv_list(flat(step.get('env')), testid='step-env', empty='not recorded')}"
        f"<h3>Logs</h3>{_logs(step)}</section>"
    )


def _files(files: list[dict[str, Any]], testid: str, root: str, *, producer: bool) -> str:
    if not files:
        return f'<p class="muted" data-testid="{testid}">none</p>'
    last = "<th>made by</th>" if producer else "<th>type</th>"
    rows = []
    for f in files:
        name = f.get("name") if f.get("name") is not None else f.get("path")
        target = f.get("artifact")
        shown = link(artifact_href(root, target), esc(name), title=str(target or ""))
        if f.get("param"):
            shown += f' <span class="muted">as <code>{esc(f["param"])}</code></span>'
        if producer:
            who = f.get("producer")
            extra = link(run_href(root, who), short_oid(who)) if isinstance(who, str) else esc(who or "")
        else:
            extra = esc(f.get("type") or f.get("kind") or "")
        rows.append(
            f"<tr><td>{shown}</td><td>{short_oid(f.get('oid'))}</td>"
            f'<td class="num">{human_size(f.get("size"))}</td><td>{extra}</td></tr>'
        )
    return (
        f'<div class="table-wrap"><table class="data compact" data-testid="{testid}"><thead><tr><th>name</th>'
        f'<th>oid</th><th class="num">size</th>{last}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def _logs(step: dict[str, Any]) -> str:
    blocks = []
    for key, label in (("stdout_tail", "stdout"), ("stderr_tail", "stderr")):
        lines = step.get(key)
        if isinstance(lines, list) and lines:
            text = "\n".join(str(line) for line in lines)
            blocks.append(f'<h4>{label} (last lines)</h4><pre class="log log-{label}">{esc(text)}</pre>')
    inner = "".join(blocks) or '<p class="muted">no output recorded</p>'
    return f'<div data-testid="step-logs">{inner}</div>'
