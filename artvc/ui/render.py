"""TEMP stand-in from h/uiserver until h/uipages delivers: a bare page with the nav and the data's links."""

from __future__ import annotations

import html
import json

from .urls import slug


def render_page(path: str, data: dict, *, root: str) -> str:
    links = [f"{root}index.html", f"{root}artifacts/index.html", f"{root}experiments.html", f"{root}store.html"]
    links += [f"{root}runs/{r['oid']}.html" for r in data.get("pipeline_runs", [])]
    links += [f"{root}artifacts/{slug(a['name'])}.html" for a in data.get("artifacts", []) if "name" in a]
    nav = "".join(f'<a href="{html.escape(u)}">{html.escape(u)}</a> ' for u in links)
    blob = json.dumps(data).replace("</", "<\\/")
    return (
        f'<!doctype html><html><head><link rel="stylesheet" href="{root}assets/art-ui.css">'
        f'<script src="{root}assets/art-ui.js" defer></script></head><body><nav data-testid="nav">{nav}</nav>'
        f"<h1>{html.escape(path)}</h1>"
        f'<script type="application/json" id="art-data">{blob}</script></body></html>'
    )
