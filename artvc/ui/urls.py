"""The dashboard's URL scheme: ``slug`` for artifact names and the fixed route table (docs/ui.md).

A request path is matched *as sent*, never decoded or normalised: every path the site serves is plain ASCII
(``[A-Za-z0-9._/-]``), so a ``%``-escape, a backslash, a ``..`` segment, a NUL or an absolute URL cannot match
any route and is answered 404. Nothing here touches the file system; the same paths are the files of an
exported site.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..objstore.hashing import hash_bytes

# page kinds
RUNS, RUN, ARTIFACTS, ARTIFACT, EXPERIMENTS, STORE = "runs", "run", "artifacts", "artifact", "experiments", "store"
ASSET, REDIRECT = "asset", "redirect"
PAGE_KINDS = (RUNS, RUN, ARTIFACTS, ARTIFACT, EXPERIMENTS, STORE)

#: the packaged files served under /assets/ (nothing else is)
ASSETS = {"art-ui.css": "text/css; charset=utf-8", "art-ui.js": "text/javascript; charset=utf-8"}

#: the pages whose path is fixed (the others carry a run oid or an artifact slug)
FIXED = {
    "/index.html": RUNS,
    "/artifacts/index.html": ARTIFACTS,
    "/experiments.html": EXPERIMENTS,
    "/store.html": STORE,
}
REDIRECTS = {"/": "/index.html"}

_SLUG_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_OID = r"[0-9a-f]{64}"
_SLUG = r"[A-Za-z0-9._-]{0,80}-[0-9a-f]{10}"
_RUN = re.compile(rf"/runs/({_OID})")
_ARTIFACT = re.compile(rf"/artifacts/({_SLUG})")


class Route(NamedTuple):
    """What a path names: a page ``kind`` with its ``key`` (a run oid, an artifact slug, an asset name, or
    "" for a fixed page), and whether it is the page's JSON (``/api/...json``) rather than its HTML."""

    kind: str
    key: str = ""
    api: bool = False


def slug(name: str) -> str:
    """The file name stem of an artifact's page: readable, safe in a URL and a file name, and unique (a hash
    of the full name follows the cleaned, truncated one)."""
    return _SLUG_CHARS.sub("_", name)[:80] + "-" + hash_bytes(name.encode("utf-8"))[:10]


def resolve(path: str) -> Route | None:
    """The route of a request path (without the query), or None for anything the site does not serve."""
    if path in REDIRECTS:
        return Route(REDIRECT, REDIRECTS[path])
    if path.startswith("/assets/"):
        name = path[len("/assets/") :]
        return Route(ASSET, name) if name in ASSETS else None
    api = path.startswith("/api/") and path.endswith(".json")
    if api:
        stem = path[len("/api") : -len(".json")]
    elif path.endswith(".html"):
        stem = path[: -len(".html")]
    else:
        return None
    kind = FIXED.get(stem + ".html")
    if kind is not None:
        return Route(kind, "", api)
    for pattern, kind in ((_RUN, RUN), (_ARTIFACT, ARTIFACT)):
        m = pattern.fullmatch(stem)
        if m:
            return Route(kind, m.group(1), api)
    return None


def page_path(kind: str, key: str = "") -> str:
    """The HTML path of a page (the inverse of ``resolve`` for pages)."""
    if kind == RUN:
        return f"/runs/{key}.html"
    if kind == ARTIFACT:
        return f"/artifacts/{key}.html"
    return next(p for p, k in FIXED.items() if k == kind)


def api_path(path: str) -> str:
    """The JSON twin of a page path: ``/runs/X.html`` -> ``/api/runs/X.json``."""
    return "/api" + path[: -len(".html")] + ".json"


def root_of(path: str) -> str:
    """The relative prefix from a path's folder to the site root (``""`` for /index.html, ``"../"`` for
    /runs/X.html): every link in a page starts with it, so the site works from any folder and ``file://``."""
    return "../" * (path.count("/") - 1)
