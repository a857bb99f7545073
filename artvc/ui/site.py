"""The dashboard as a set of pages: ``page`` answers one path (for the server), ``export`` writes them all.

Both go through the route table of ``urls.py``; a page is the data of ``data.py`` rendered by ``render.py``,
its ``/api/...json`` twin is that data as JSON (the CLI's ``--json``), and the two assets are packaged files.
Nothing here writes under the repository; ``export`` writes only its destination (docs/ui.md).
"""

from __future__ import annotations

import html
import json
import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode, urlsplit

from ..errors import ArtError, RemoteError, UnsafePathError, WouldOverwriteError
from ..objstore.faults import fault_point
from ..objstore.oserrors import describe
from ..workspace.paths import is_reserved
from ..workspace.readonly import ReadOnlyRepo
from ..workspace.repo import Repo
from . import data, urls
from .render import render_error, render_page

HTML, JSON = "text/html; charset=utf-8", "application/json"
#: the file at the top of an exported site that marks it as one (``--force`` replaces only such a folder)
MARKER = ".art-ui-export"
FILTERS = ("pipeline", "stage", "branch")


class NotFound(Exception):
    """A path of the route table that names nothing in this repository (an unknown run or artifact)."""


def page(repo: Repo, path: str, query: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    """Answer one request path (without its query string): ``(status, content type, body)``.

    ``repo`` should be a ``ReadOnlyRepo`` (the server opens one per request), so that nothing is written.
    ``query`` holds the runs page's filters (``pipeline``, ``stage``, ``branch``). A path outside the route
    table, or one naming an unknown run or artifact, is a 404 page; ``/`` is a 302 whose body is the target.
    Errors other than "not found" propagate (the server turns them into a 500 page).
    """
    fault_point("ui.page")
    route = urls.resolve(path)
    if route is None:
        return 404, HTML, error_page(404, f"{path} is not a page of this site")
    if route.kind == urls.REDIRECT:
        return 302, HTML, route.key.encode()
    if route.kind == urls.ASSET:
        return 200, urls.ASSETS[route.key], asset(route.key)
    filters = {k: v for k, v in (query or {}).items() if k in FILTERS and v} if route.kind == urls.RUNS else {}
    try:
        payload = _Site(repo).data(route, filters)
    except NotFound as exc:
        return 404, HTML, _not_found(path, exc)
    if route.api:
        return 200, JSON, to_json(payload)
    shown = f"{path}?{urlencode(filters)}" if filters else path  # the runs page shows its filters
    return 200, HTML, render_page(shown, payload, root=urls.root_of(path)).encode("utf-8")


def asset(name: str) -> bytes:
    """The bytes of a packaged asset (``art-ui.css``, ``art-ui.js``)."""
    return resources.files(__package__).joinpath("assets", name).read_bytes()


def to_json(payload: dict) -> bytes:
    """A page's data as the CLI prints it with ``--json``."""
    return json.dumps(payload, indent=2, default=str).encode("utf-8")


def error_page(status: int, message: str) -> bytes:
    """A small self-contained page for an error (no asset, no script)."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{status} {title}</title></head>"
        f"<body><h1>{status} {title}</h1><p>{html.escape(message)}</p>"
        '<p><a href="/index.html">Runs</a></p></body></html>\n'
    ).encode()


def _not_found(path: str, exc: NotFound) -> bytes:
    """The 404 page of a path of the site that names nothing, in the site's look."""
    return render_error(404, str(exc), root=urls.root_of(path)).encode("utf-8")


class _Site:
    """The data behind the pages of one repository, computed once per call (an export asks for the artifact
    list many times)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._artifacts: dict | None = None
        self._runs: dict | None = None
        self._names: dict[str, str] | None = None

    def artifacts(self) -> dict:
        if self._artifacts is None:
            self._artifacts = data.artifacts_data(self.repo)
        return self._artifacts

    def runs(self) -> dict:
        if self._runs is None:
            self._runs = data.runs_data(self.repo)
        return self._runs

    def artifact_names(self) -> dict[str, str]:
        """slug -> artifact name, for every artifact that has a page: those the artifacts page lists, and every
        path a run produced (a run page links its outputs, tracked now or not)."""
        if self._names is None:
            listed = [a.get("name") or a.get("path") for a in self.artifacts().get("artifacts", [])]
            self._names = {urls.slug(n): n for n in [*listed, *self._recorded()] if isinstance(n, str) and n}
        return self._names

    def artifact_name(self, key: str) -> str | None:
        """The artifact whose page is ``key``: first among the names the run index holds (a query), then among
        the tracked paths (which takes a walk of the workspace), so most artifact pages skip the walk."""
        if self._names is None:
            found = next((n for n in self._recorded() if urls.slug(n) == key), None)
            if found is not None:
                return found
        return self.artifact_names().get(key)

    def _recorded(self) -> list[str]:
        """Python pipeline artifact names and the paths runs produced, from the run index."""
        state = self.repo.state
        return [n for n, _, _ in state.artifact_names()] + list(state.path_versions())

    def data(self, route: urls.Route, filters: dict[str, str]) -> dict:
        kind, key = route.kind, route.key
        if kind == urls.RUNS:
            if not filters:
                return self.runs()
            pipeline, stage, branch = (filters.get(k) for k in FILTERS)
            return data.runs_data(self.repo, pipeline=pipeline, stage=stage, branch=branch)
        if kind == urls.RUN:
            try:
                return data.run_data(self.repo, key)
            except LookupError as exc:
                raise NotFound(f"run {key[:10]} is not in this repository") from exc
            except ArtError as exc:
                if exc.exit_code != 1 or isinstance(exc, RemoteError):
                    raise
                raise NotFound(exc.message) from exc
        if kind == urls.ARTIFACT:
            name = self.artifact_name(key)
            if name is None:
                raise NotFound(f"no artifact of this repository has the page {key}.html")
            return data.artifact_data(self.repo, name)
        if kind == urls.ARTIFACTS:
            return self.artifacts()
        if kind == urls.EXPERIMENTS:
            return data.experiments_data(self.repo)
        return data.store_data(self.repo)

    def seeds(self) -> Iterator[str]:
        """The pages every export has: the fixed ones, every listed run and every listed artifact."""
        yield from urls.FIXED
        for run in self.runs().get("pipeline_runs", []):
            oid = run.get("oid")
            if isinstance(oid, str) and urls.resolve(f"/runs/{oid}.html"):
                yield urls.page_path(urls.RUN, oid)
        for key in self.artifact_names():
            yield urls.page_path(urls.ARTIFACT, key)


class Missing(NamedTuple):
    """A link of the site to a path that names nothing: ``page`` links to ``link`` (site paths)."""

    page: str
    link: str


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What ``export`` wrote: the folder, its page count, its file count (pages, JSON, assets, not found
    pages), and the links to pages that name nothing (a "not found" page stands there when the path is one
    of the site's)."""

    dest: Path
    pages: int
    files: int
    missing: list[Missing] = field(default_factory=list)


def export(repo: Repo, dest: str | os.PathLike[str], *, force: bool = False) -> ExportResult:
    """Write the whole site (every page, its JSON and the assets) as static files into ``dest``.

    The site is written into a temp folder beside ``dest`` and renamed into place, so ``dest`` holds the old
    export or the new one, never a mix. ``dest`` may be outside the workspace, never in ``.art``, ``.git``
    or the store.

    Raises:
        UnsafePathError: ``dest`` is (or is inside) the repository's ``.art``, ``.git`` or store, or a symlink.
        WouldOverwriteError: ``dest`` is not empty and ``force`` is False, or it is not a previous export.
        FileSystemError: the OS refused a write; nothing was left at ``dest``.
    """
    dest = Path(os.path.abspath(dest))
    _check_dest(repo, dest)
    replace = _check_existing(dest, force=force)
    if isinstance(repo, ReadOnlyRepo):
        return _export(repo, dest, replace)
    read_only = ReadOnlyRepo(repo.root)  # nothing under the repository is written
    with read_only:
        return _export(read_only, dest, replace)


def _export(repo: ReadOnlyRepo, dest: Path, replace: bool) -> ExportResult:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name[:40]}.", suffix=".art-tmp", dir=dest.parent))
    except OSError as exc:
        raise describe(exc, "write", dest) from exc
    try:
        result = _write_site(repo, tmp, dest)
        fault_point("ui.export-written")
        _swap(tmp, dest, replace)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)  # our own temp folder, made above
        if isinstance(exc, OSError):
            raise describe(exc, "write", dest) from exc
        raise
    return result


def _write_site(repo: Repo, tmp: Path, dest: Path) -> ExportResult:
    """Render every page reachable from the seeds into ``tmp``: each page's links are followed, so every
    link of the exported site resolves to a file in it (a linked page that names nothing gets a "not found"
    page, and is reported)."""
    site = _Site(repo)
    queue: list[tuple[str, str | None]] = [(p, None) for p in site.seeds()]
    seen: set[str] = set()
    missing: list[Missing] = []
    files = pages = 0
    while queue:
        path, linked_from = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        route = urls.resolve(path)
        if route is None or route.kind == urls.REDIRECT or route.api:
            if route is None or route.kind == urls.REDIRECT:
                missing.append(Missing(linked_from or "", path))
            continue
        if route.kind == urls.ASSET:
            continue  # written below
        try:
            payload = site.data(route, {})
        except NotFound as exc:
            missing.append(Missing(linked_from or "", path))
            _write(tmp, path, _not_found(path, exc))
            files += 1
            continue
        text = render_page(path, payload, root=urls.root_of(path))
        _write(tmp, path, text.encode("utf-8"))
        _write(tmp, urls.api_path(path), to_json(payload))
        files, pages = files + 2, pages + 1
        queue.extend((p, path) for p in links(path, text) if p not in seen)
    for name in urls.ASSETS:
        _write(tmp, f"/assets/{name}", asset(name))
        files += 1
    _write(tmp, "/" + MARKER, json.dumps({"generator": "art ui --export", "pages": pages}).encode())
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)  # mkdtemp made it private; the site is meant to be shared
    return ExportResult(dest, pages, files, sorted(missing))


def _write(tmp: Path, path: str, body: bytes) -> None:
    target = tmp.joinpath(*path.lstrip("/").split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as f:
        f.write(body)


def links(path: str, text: str) -> list[str]:
    """The site paths a page at ``path`` links to (``href`` and ``src``; external and ``data:`` URLs,
    fragments and queries dropped)."""
    parser = _Links()
    parser.feed(text)
    found = []
    for link in parser.found:
        parts = urlsplit(link)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), parts.path))
        found.append(target if target.startswith("/") else "/" + target)
    return found


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.extend(v for k, v in attrs if k in ("href", "src") and v)


def _check_dest(repo: Repo, dest: Path) -> None:
    """Refuse a destination in (or holding) the repository's ``.art``, ``.git`` or store, or a symlink."""
    if dest.is_symlink():
        raise UnsafePathError(
            f"{dest} is a symlink; art ui --export writes a real folder", path=str(dest), hint="give the folder itself"
        )
    real = Path(os.path.realpath(dest.parent)) / dest.name
    guarded = [repo.art_dir, repo.store_dir]
    try:
        git = repo.git
    except ArtError:
        git = None
    if git is not None:
        guarded.append(Path(git.git_dir))
    for g in guarded:
        g = Path(os.path.realpath(g))
        if real == g or g in real.parents or real in g.parents:
            raise UnsafePathError(
                f"art ui --export will not write to {dest}: it is or holds the repository's {g.name}",
                path=str(dest),
                hint="export to a folder outside .art, .git and the store, e.g. art ui --export site",
            )
    if any(is_reserved(part) for part in real.parts):
        raise UnsafePathError(
            f"art ui --export will not write to {dest}: it is inside a .git or .art folder", path=str(dest)
        )


def _check_existing(dest: Path, *, force: bool) -> bool:
    """True when ``dest`` is a previous export to replace; False when it is absent or an empty folder."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise describe(exc, "read", dest) from exc
    if stat.S_ISDIR(st.st_mode) and not any(os.scandir(dest)):
        return False
    if not force:
        raise WouldOverwriteError(
            f"{dest} exists and is not an empty folder",
            path=str(dest),
            hint="give a new or empty folder, or --force to replace a previous export of art ui",
        )
    if not stat.S_ISDIR(st.st_mode) or not looks_like_export(dest):
        raise WouldOverwriteError(
            f"{dest} is not a previous export of art ui; art will not delete it, not even with --force",
            path=str(dest),
            hint=f"give a new or empty folder (an export holds only the site's pages and {MARKER})",
        )
    return True


def looks_like_export(folder: Path) -> bool:
    """True when ``folder`` holds the marker and nothing but folders and regular files at paths of the site
    (what an earlier ``export`` wrote), so replacing it loses nothing else."""
    if not (folder / MARKER).is_file():
        return False
    for base, dirs, names in os.walk(folder):
        rel = Path(base).relative_to(folder).as_posix()
        prefix = "/" if rel == "." else f"/{rel}/"
        for name in dirs:
            if os.path.islink(os.path.join(base, name)) or not _site_folder(prefix + name + "/"):
                return False
        for name in names:
            full = os.path.join(base, name)
            if not stat.S_ISREG(os.lstat(full).st_mode):
                return False
            if prefix + name != "/" + MARKER and urls.resolve(prefix + name) is None:
                return False
    return True


def _site_folder(prefix: str) -> bool:
    return prefix in ("/runs/", "/artifacts/", "/assets/", "/api/", "/api/runs/", "/api/artifacts/")


def _swap(tmp: Path, dest: Path, replace: bool) -> None:
    """Rename the finished site into place; a replaced export goes to a temp name first, then is deleted."""
    if not replace:
        os.rename(tmp, dest)  # onto an absent name or an empty folder
        return
    old = tmp.with_name(tmp.name.replace(".art-tmp", ".old.art-tmp"))
    if not looks_like_export(dest):  # changed since it was checked
        raise WouldOverwriteError(f"{dest} changed while the site was written; it was left alone", path=str(dest))
    os.rename(dest, old)
    try:
        os.rename(tmp, dest)
    except BaseException:
        os.rename(old, dest)  # put the previous export back
        raise
    shutil.rmtree(old)
