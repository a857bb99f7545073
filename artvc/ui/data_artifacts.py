"""The artifacts pages of ``art ui``: every artifact (Python pipeline outputs, ``PIPELINE/STEP/OUTPUT``, and
tracked paths: ``PATH.art`` pointers and ``art.lock`` outputs), and per artifact its versions across git history
and runs, its metadata, a preview and its lineage both ways."""

from __future__ import annotations

from typing import Any

from ..errors import ArtError
from ..pipeline.flow.artifacts import ArtifactNotFoundError, names, versions
from ..pipeline.lineage import LineageNode, lineage, log, made_by
from ..pipeline.usedby import UsedBy, used_by
from ..workspace.registry import versions as named_versions
from ..workspace.repo import Repo
from .preview import NONE, preview

MAX_GRAPH_NODES = 500  # nodes of one lineage graph (a long history is cut, ``truncated``)


def artifacts_data(repo: Repo) -> dict[str, Any]:
    """``art artifacts --json`` (kind ``artifact``) plus every tracked path (kind ``path``), by name."""
    out: list[dict[str, Any]] = [
        {"name": n, "versions": v, "started": t, "kind": "artifact"} for n, v, t in names(repo)
    ]
    counts = repo.state.path_versions()
    for a in sorted(repo.artifacts(), key=lambda a: a.path):
        n, started = counts.get(a.path, (1, None))
        out.append(
            {
                "name": a.path,
                "versions": max(n, 1),
                "started": started,
                "kind": "path",
                "oid": str(a.pointer.oid),
                "size": a.pointer.size,
                "files": a.pointer.files,
                "source": a.source,
            }
        )
    return {"artifacts": out}


def _tracked(repo: Repo) -> dict[str, Any]:
    return {a.path: a for a in repo.artifacts()}


def artifact_data(repo: Repo, name: str) -> dict[str, Any]:
    """One artifact's page: versions (oldest first), metadata, preview of the newest version, lineage.

    Raises:
        ArtifactNotFoundError: when ``name`` is neither a Python pipeline artifact nor a tracked path.
    """
    if repo.state.artifact_versions(name):
        return _flow_artifact(repo, name)
    tracked = _tracked(repo)
    if name in tracked or repo.state.runs_producing_path(name):
        return _path_artifact(repo, name, tracked.get(name))
    raise ArtifactNotFoundError(f"no artifact named {name!r}", hint="list them with 'art artifacts'")


def _flow_artifact(repo: Repo, name: str) -> dict[str, Any]:
    found = versions(repo, name)
    rows = []
    for v in found:
        d = v.as_dict()
        git = d.get("git") or {}
        rows.append({**d, "commit": git.get("commit"), "created": d.get("started"), "stage": None, "tag": None})
    newest = found[-1]
    shown = preview(repo.store, newest.ref.oid, newest.ref.kind, newest.ref.size, name)
    try:
        made = graph_made_by(made_by(repo, name, newest.ref.oid, newest.record))
    except ArtError:
        made = _empty()
    return {
        "name": name,
        "kind": "artifact",
        "versions": rows,
        "metadata": rows[-1]["metadata"] if rows else {},
        "preview": shown,
        "lineage": {"made_by": made, "used_by": _used_by(repo, name)},
    }


def _path_artifact(repo: Repo, name: str, listed: Any) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    by_oid: dict[str, dict[str, Any]] = {}
    try:
        history = list(reversed(log(repo, str(repo.root / name))))
    except ArtError:
        history = []
    for v in history:
        row: dict[str, Any] = {"version": None, "oid": v.oid, "size": v.size, "commit": v.commit, "tag": None,
                               "stage": None, "run_oid": None, "created": v.as_dict()["time"], "summary": v.summary,
                               "source": v.source}  # fmt: skip
        rows.append(row)
        by_oid.setdefault(v.oid, row)
    try:
        named = named_versions(repo, str(repo.root / name)).versions
    except ArtError:
        named = []
    for nv in named:
        found = next((r for r in rows if r["commit"] == nv.commit), None) or by_oid.get(str(nv.oid))
        if found is None:
            continue
        row = found
        if nv.version and not row["tag"]:
            row["tag"] = nv.version
            row["version"] = nv.version
        if nv.stages:
            row["stage"] = ", ".join(nv.stages)
    for oid, run, started in repo.state.runs_producing_path(name):
        known = by_oid.get(oid)
        if known is None:
            new: dict[str, Any] = {"version": None, "oid": oid, "size": None, "commit": None, "tag": None,
                                   "stage": None, "run_oid": run, "created": started,
                                   "source": f"run:{run}"}  # fmt: skip
            rows.append(new)
            by_oid[oid] = new
        elif known["run_oid"] is None:
            known["run_oid"] = run
    rows.sort(key=lambda r: str(r["created"] or ""))
    current = listed.pointer if listed is not None else None
    if current is not None:
        shown = preview(repo.store, str(current.oid), current.kind, current.size, name)
        metadata = {"kind": current.kind, "size": current.size, "files": current.files}
    elif rows:
        shown, metadata = dict(NONE), {}
    else:
        shown, metadata = dict(NONE), {}
    try:
        made = graph_made_by(lineage(repo, str(repo.root / name)))
    except ArtError:
        made = _empty()
    return {
        "name": name,
        "kind": "path",
        "versions": rows,
        "metadata": metadata,
        "preview": shown,
        "lineage": {"made_by": made, "used_by": _used_by(repo, name)},
    }


def _empty() -> dict[str, Any]:
    return {"nodes": [], "edges": []}


def _used_by(repo: Repo, name: str) -> dict[str, Any]:
    try:
        return graph_used_by(used_by(repo, str(repo.root / name)))
    except ArtError:
        return _empty()


class _Graph:
    """Nodes (artifacts and runs, each once; ``key`` names a node in ``edges``) and [from, to] edges in the
    direction data flows."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: list[list[str]] = []
        self.truncated = False

    def artifact(self, path: str, oid: str | None, *, page: bool = True) -> str:
        """An artifact node; ``page``: it has an artifact page to link to (``"artifact": null`` for a source no
        run made, such as a stage's script in git, which has none)."""
        key = f"artifact:{path}@{oid}"
        if key not in self.nodes:
            self.nodes[key] = {"key": key, "type": "artifact", "name": path, "oid": oid, "artifact": None}
        if page:
            self.nodes[key]["artifact"] = path
        return key

    def run(self, summary: dict[str, Any]) -> str:
        key = f"run:{summary['oid']}"
        if key not in self.nodes:
            label = summary.get("stage") or summary.get("kind") or "run"
            self.nodes[key] = {"key": key, "type": "run", "name": str(label), "run_oid": summary["oid"],
                               "kind": summary.get("kind")}  # fmt: skip
            if isinstance(summary.get("started"), str):
                self.nodes[key]["started"] = summary["started"]
        return key

    def edge(self, a: str, b: str) -> None:
        if [a, b] not in self.edges:
            self.edges.append([a, b])

    def full(self) -> bool:
        self.truncated = self.truncated or len(self.nodes) >= MAX_GRAPH_NODES
        return self.truncated

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"nodes": list(self.nodes.values()), "edges": self.edges}
        if self.truncated:
            out["truncated"] = True
        return out


def graph_made_by(root: LineageNode) -> dict[str, Any]:
    """``art lineage`` (what made an artifact, back to its sources) as nodes and edges."""
    from ..pipeline.lineage import summarize

    g = _Graph()
    stack = [root]
    while stack and not g.full():
        node = stack.pop()
        me = g.artifact(node.path, node.oid, page=node is root or node.run is not None)
        if node.run is None:
            continue
        r = g.run(summarize(node.run))
        g.edge(r, me)
        for i in node.inputs:
            g.edge(g.artifact(i.path, i.oid, page=i.run is not None), r)
            stack.append(i)
    return g.as_dict()


def graph_used_by(tree: UsedBy) -> dict[str, Any]:
    """``art lineage --used-by`` (what read an artifact, down to the final outputs) as nodes and edges."""
    from ..pipeline.lineage import summarize

    g = _Graph()
    root = g.artifact(tree.path, None)
    stack = [(root, r) for r in tree.used_by]
    while stack and not g.full():
        parent, node = stack.pop()
        r = g.run(summarize(node.run))
        g.edge(parent, r)
        for o in node.outputs:
            out = g.artifact(o.path, o.oid)
            g.edge(r, out)
            stack += [(out, u) for u in o.used_by]
    return g.as_dict()
