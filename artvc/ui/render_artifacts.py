"""The Artifacts list and the Artifact page (versions, metadata, a preview, lineage both ways)."""

from __future__ import annotations

import re
from typing import Any

from .render_base import (
    artifact_href,
    capped_rows,
    esc,
    flat,
    human_size,
    items,
    kv_list,
    link,
    obj,
    page,
    run_href,
    seq,
    short_oid,
    sort_value,
    state_of,
    when,
)
from .render_graph import GraphNode, graph_svg

_IMAGE_URI = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*")


def artifacts_page(data: dict[str, Any], *, root: str) -> str:
    entries = items(data, "artifacts")
    for extra in ("paths", "tracked"):  # tracked paths, when the data lists them apart
        entries += [e if isinstance(e, dict) else {"name": e, "kind": "path"} for e in seq(data, extra)]
    rows = []
    for a in entries:
        name = a.get("name") if a.get("name") is not None else a.get("path")
        kind = str(a.get("kind") or ("path" if a.get("path") and not a.get("name") else "artifact"))
        versions = a.get("versions")
        count = len(versions) if isinstance(versions, list) else versions
        latest = a.get("started") or a.get("latest") or a.get("created")
        rows.append(
            f'<tr data-testid="artifact-row" data-name="{esc(name)}" data-kind="{esc(kind)}">'
            f'<td data-sort-value="{esc(name)}">{link(artifact_href(root, name), esc(name))}</td>'
            f'<td><span class="kind kind-{esc(kind)}">{esc(kind)}</span></td>'
            f'<td class="num" data-sort-value="{esc(sort_value(count))}">{esc(count if count is not None else "")}</td>'
            f'<td data-sort-value="{esc(latest or "")}">{when(latest)}</td></tr>'
        )
    body_rows, more = capped_rows(rows, "artifacts-table", noun="artifacts")
    head = "".join(
        f'<th scope="col" data-sort-key="{k}"{" class=num" if k == "versions" else ""}>'
        f'<button type="button">{label}</button></th>'
        for k, label in (("name", "Name"), ("kind", "Kind"), ("versions", "Versions"), ("latest", "Latest"))
    )
    empty = "" if rows else '<p class="empty">No artifacts yet: <code>art add</code> a path or run a pipeline.</p>'
    body = (
        f'<h1>Artifacts</h1>\n<p class="lead">{len(rows):,} artifact{"s" if len(rows) != 1 else ""}: the outputs '
        "of Python pipelines (<code>PIPELINE/STEP/OUTPUT</code>) and tracked paths.</p>\n"
        f'{empty}<div class="table-wrap"><table class="data" id="artifacts-table" data-testid="artifacts-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{body_rows}</tbody></table></div>{more}"
    )
    return page(kind="artifacts", title="Artifacts", body=body, data=data, root=root)


def artifact_page(data: dict[str, Any], *, root: str) -> str:
    name = str(data.get("name") or "")
    kind = str(data.get("kind") or "artifact")
    versions = items(data, "versions")
    lineage = obj(data, "lineage")
    graphs = "".join(
        f'<section class="card"><h2>{title}</h2><p class="muted">{note}</p>'
        f"{_lineage(lineage.get(key), name, testid, root, empty)}</section>"
        for key, testid, title, note, empty in (
            ("made_by", "lineage-made-by", "Made by", "the runs and inputs this artifact came from", "no record"),
            ("used_by", "lineage-used-by", "Used by", "the runs that read it and what they made", "not used yet"),
        )
    )
    meta = kv_list(flat(data.get("metadata")), testid="artifact-metadata", empty="no metadata")
    body = (
        f'<p class="crumbs"><a href="{root}artifacts/index.html">Artifacts</a> / {esc(name)}</p>\n'
        f'<h1>{esc(name)} <span class="kind kind-{esc(kind)}">{esc(kind)}</span></h1>\n'
        f'<p class="lead">{len(versions):,} version{"s" if len(versions) != 1 else ""} across git history and '
        "runs.</p>\n"
        f'<div class="two-col"><section class="card"><h2>Preview</h2>{_preview(data.get("preview"))}</section>'
        f'<section class="card"><h2>Metadata</h2>{meta}</section></div>\n'
        f'<section class="card"><h2>Versions</h2>{_versions(versions, root)}</section>\n'
        f"{graphs}"
    )
    return page(kind="artifacts", title=name or "Artifact", body=body, data=data, root=root)


def _versions(versions: list[dict[str, Any]], root: str) -> str:
    rows = []
    for v in versions:
        tag = v.get("tag")
        tag = ", ".join(str(t) for t in tag) if isinstance(tag, list) else tag
        run = v.get("run_oid")
        rows.append(
            f'<tr data-testid="version-row" data-oid="{esc(v.get("oid"))}">'
            f'<td class="num" data-sort-value="{esc(sort_value(v.get("version")))}">{esc(v.get("version") or "")}</td>'
            f"<td>{short_oid(v.get('oid'))}</td>"
            f'<td class="num" data-sort-value="{esc(sort_value(v.get("size")))}">{human_size(v.get("size"))}</td>'
            f"<td>{short_oid(v.get('commit'), 8) if v.get('commit') else ''}</td>"
            f"<td>{esc(tag or '')}</td><td>{esc(v.get('stage') or '')}</td>"
            f"<td>{link(run_href(root, run), short_oid(run)) if run else ''}</td>"
            f'<td data-sort-value="{esc(v.get("created") or "")}">{when(v.get("created"))}</td></tr>'
        )
    body, more = capped_rows(rows, "versions-table", noun="versions")
    head = "".join(
        f'<th scope="col" data-sort-key="{k}"><button type="button">{k}</button></th>'
        for k in ("version", "oid", "size", "commit", "tag", "stage", "run", "created")
    )
    empty = "" if rows else '<p class="empty">No version recorded.</p>'
    return (
        f'{empty}<div class="table-wrap"><table class="data" id="versions-table" data-testid="versions-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{more}"
    )


def _preview(preview: Any) -> str:
    p = preview if isinstance(preview, dict) else {}
    kind = p.get("type") if p.get("type") in ("text", "csv", "json", "image") else "none"
    inner = '<p class="muted">no preview for this content</p>'
    if kind in ("text", "json") and isinstance(p.get("text"), str):
        inner = f'<pre class="preview-text">{esc(p["text"])}</pre>'
    elif kind == "csv" and isinstance(p.get("rows"), list) and p["rows"]:
        rows = [r if isinstance(r, list) else [r] for r in p["rows"]]
        head = "".join(f"<th>{esc(c)}</th>" for c in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
        inner = (
            f'<div class="table-wrap"><table class="data compact"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>"
        )
    elif kind == "image" and isinstance(p.get("data_uri"), str) and _IMAGE_URI.fullmatch(p["data_uri"]):
        inner = f'<img class="preview-image" src="{esc(p["data_uri"])}" alt="preview">'
    return f'<div class="preview" data-testid="artifact-preview" data-type="{kind}">{inner}</div>'


def _lineage(graph: Any, current: str, testid: str, root: str, empty: str) -> str:
    g = graph if isinstance(graph, dict) else {}
    raw = seq(g, "nodes")
    nodes: dict[str, GraphNode] = {}
    for n in raw:
        node = _lineage_node(n, current, root)
        if node is not None:
            nodes.setdefault(node.key, node)
    edges = [e for e in (_edge(e) for e in seq(g, "edges")) if e is not None]
    return graph_svg(
        list(nodes.values()), edges, testid=testid, node_testid="lineage-node", edge_testid="lineage-edge",
        title=testid.replace("-", " "), empty=empty,
    )  # fmt: skip


def _lineage_node(n: Any, current: str, root: str) -> GraphNode | None:
    """A lineage node: an artifact (``type`` artifact, ``name`` its path or name, ``oid``) or a run (``type``
    run, ``name`` its step or stage, ``kind``, ``run_oid``); ``key`` names it in the edges."""
    if isinstance(n, str):
        n = {"name": n}
    if not isinstance(n, dict):
        return None
    name = next((n[k] for k in ("name", "path", "label", "oid") if n.get(k) is not None), None)
    key = next((n[k] for k in ("key", "id") if n.get(k) is not None), name)
    if key is None:
        return None
    ntype = str(n.get("type") or ("run" if n.get("run_oid") else "artifact"))
    is_run = ntype in ("run", "step", "stage")
    state = n.get("state")
    if is_run:
        sub = f"{n.get('kind') or 'run'} run"
        href = run_href(root, n.get("run_oid"))
    else:
        oid = n.get("oid")
        sub = f"{ntype} \u00b7 {oid[:8]}" if isinstance(oid, str) and oid else ntype
        target = n.get("artifact", name)  # null: a source with no artifact page (a script in git)
        href = artifact_href(root, target) if target is not None and target != current else None
    if state:
        sub += f" \u00b7 {state_of(state)}"
    cls = "lin-run" if is_run else "lin-artifact"
    cls += f" st-{state_of(state)}" if state else ""
    if not is_run and name == current:
        cls += " current"
    return GraphNode(str(key), str(name), sub, cls, href, {"name": str(name), "kind": ntype})


def _edge(e: Any) -> tuple[str, str] | None:
    if isinstance(e, list | tuple) and len(e) == 2:
        return str(e[0]), str(e[1])
    if isinstance(e, dict):
        a = e.get("from", e.get("source"))
        b = e.get("to", e.get("target"))
        return (str(a), str(b)) if a is not None and b is not None else None
    return None
