"""The experiments page of ``art ui``: ``art exp show --json`` plus the plots ``art plots`` draws, for the
baseline (HEAD) and the newest recorded experiments (the page selects which to show)."""

from __future__ import annotations

import base64
from typing import Any

from ..errors import ArtError
from ..pipeline.exp_show import BASELINE, exp_show
from ..pipeline.exps import ExpState, experiments
from ..pipeline.plots import Confusion, Plot, PlotSpec, Series
from ..pipeline.plotscollect import MAX_REVISIONS, gather
from ..workspace.repo import Repo

MAX_INLINE_IMAGE = 200 << 10  # bytes of a plot image embedded as a data: URI


def experiments_data(repo: Repo) -> dict[str, Any]:
    """``art exp show --json`` (``experiments``, ``param_columns``, ``metric_columns``) plus ``plots``:
    ``{"revisions": [experiment names, "baseline" first], "plots": [art plots' JSON of each plot, with each
    revision's ``rev`` the experiment's name and images as ``data_uri``]}``; ``plots_of`` turns it back into
    what ``plotsrender`` draws."""
    try:
        table = exp_show(repo)
    except ArtError as exc:
        return {
            "experiments": [],
            "param_columns": [],
            "metric_columns": [],
            "plots": _no_plots(),
            "error": exc.message,
        }
    out: dict[str, Any] = {
        "experiments": [r.as_dict() for r in table.rows],
        "param_columns": table.param_columns,
        "metric_columns": table.metric_columns,
    }
    out["plots"] = _plots(repo, [(r.name, r.commit) for r in table.rows if r.state != str(ExpState.QUEUED)])
    return out


def _no_plots() -> dict[str, Any]:
    return {"revisions": [], "plots": []}


def _plots(repo: Repo, rows: list[tuple[str, str]]) -> dict[str, Any]:
    base = [r for r in rows if r[0] == BASELINE]
    exps = [r for r in rows if r[0] != BASELINE and r[1]]
    exps = exps[-(MAX_REVISIONS - len(base)) :] if len(exps) > MAX_REVISIONS - len(base) else exps
    chosen = base + exps
    seen: dict[str, str] = {}
    for name, commit in chosen:
        seen.setdefault(commit, name)  # an experiment that changed nothing may share the baseline's commit
    if not seen:
        return _no_plots()
    try:
        plots, labels = gather(repo, list(seen))
    except ArtError:
        return _no_plots()
    rename = dict(zip(labels, seen.values(), strict=True))
    out = []
    for plot in plots:
        d = plot.as_dict()
        d["x_label"], d["y_label"] = plot.spec.x_label, plot.spec.y_label
        images = {rev: (mime, data) for rev, mime, data in plot.images}
        xs = {s.rev: s.x for s in plot.series}
        for r in d["revisions"]:
            rev = r["rev"]
            r["rev"] = rename.get(rev, rev)
            for s in r.get("series", []):
                s["x"] = xs.get(rev)
            if rev in images and "image" in r:
                mime, data = images[rev]
                if len(data) <= MAX_INLINE_IMAGE:
                    r["image"]["data_uri"] = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        out.append(d)
    if len(experiments(repo, queued=False)) > len(exps):
        truncated = True
    else:
        truncated = False
    return {"revisions": [rename.get(lab, lab) for lab in labels], "plots": out, "truncated": truncated}


def plots_of(data: dict[str, Any]) -> tuple[list[Plot], list[str]]:
    """The ``plots`` of ``experiments_data`` as ``plotsrender`` takes them: (plots, revision labels)."""
    plots = []
    for d in data.get("plots", []):
        spec = PlotSpec(
            str(d["path"]),
            str(d.get("template", "line")),
            d.get("x"),
            tuple(d.get("y") or ()),
            str(d.get("title") or ""),
            str(d.get("x_label") or ""),
            str(d.get("y_label") or ""),
        )
        plot = Plot(spec)
        for r in d.get("revisions", []):
            rev = str(r["rev"])
            plot.oids[rev] = r.get("oid")
            for s in r.get("series", []):
                plot.series.append(Series(rev, str(s["y"]), [tuple(p) for p in s["points"]], s.get("x")))
            if "matrix" in r:
                plot.matrices.append(Confusion(rev, list(r["matrix"]["labels"]), list(r["matrix"]["counts"])))
            image = r.get("image") or {}
            uri = image.get("data_uri")
            if isinstance(uri, str) and "," in uri:
                plot.images.append((rev, str(image.get("type")), base64.b64decode(uri.split(",", 1)[1])))
            if "note" in r:
                plot.notes.append((rev, str(r["note"])))
        plots.append(plot)
    return plots, [str(r) for r in data.get("revisions", [])]
