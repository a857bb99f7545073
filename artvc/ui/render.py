"""The dashboard's pages as HTML: ``render_page(path, data, root=...)`` for each path of the URL scheme.

Pages are rendered on the server (and by the static export) from the JSON of the matching data function
(``artvc.ui.data``), which each page also embeds as ``<script type="application/json" id="art-data">``. The
pages read without script; ``assets/art-ui.js`` adds: click a DAG node for its step, sort tables, filter the
runs, pick the experiments plotted. Nothing is fetched from anywhere else (no CDN, no font, no ``fetch()``).
The DOM contract (``data-testid`` names) is in docs/ui.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .render_artifacts import artifact_page, artifacts_page
from .render_base import esc, page
from .render_experiments import experiments_page
from .render_runs import run_page, runs_page
from .render_store import store_page

_RUN = re.compile(r"runs/[0-9a-f]{64}\.html")
_ARTIFACT = re.compile(r"artifacts/[A-Za-z0-9._-]{0,80}-[0-9a-f]{10}\.html")
_PAGES: dict[str, Callable[..., str]] = {
    "artifacts/index.html": artifacts_page,
    "experiments.html": experiments_page,
    "store.html": store_page,
}


def render_page(path: str, data: dict[str, Any], *, root: str) -> str:
    """The HTML of the page at ``path`` (``/index.html``, ``runs/OID.html``, ...; a ``?query`` pre-fills the runs
    filters) from its data; ``root`` is the relative prefix from that page to the site root (``""``, ``"../"``).

    Raises:
        ValueError: ``path`` is not a page of the URL scheme.
    """
    path, _, query = path.partition("?")
    path = path.lstrip("/") or "index.html"
    data = data if isinstance(data, dict) else {}
    if path == "index.html":
        return runs_page(data, root=root, query=query)
    if path in _PAGES:
        return _PAGES[path](data, root=root)
    if _RUN.fullmatch(path):
        return run_page(data, root=root)
    if _ARTIFACT.fullmatch(path):
        return artifact_page(data, root=root)
    raise ValueError(f"no dashboard page at {path!r}")


def render_error(status: int, message: str, *, root: str) -> str:
    """A page for an error (404 and the like) with the same look and navigation."""
    body = f'<h1>{esc(status)}</h1>\n<p class="lead" data-testid="error">{esc(message)}</p>'
    return page(kind="error", title=str(status), body=body, data={"error": message, "status": status}, root=root)
