"""``art import-url``: track an object that lives outside any art repository (a bucket object or a file).

The object is read through the same transports as remotes (``s3://``, ``gs://``, ``az://``, ``sftp://``,
``file://`` or a plain path; options as for ``art remote add``), downloaded to a temp file in ``.art/tmp``,
moved to ``OUT`` and added like ``art add`` does; the pointer's ``[source]`` then records the URL and what the
storage said of the object (``size``, ``modified``). ``art status`` lists the object's folder again and calls
the import ``behind`` when either changed; ``art update`` downloads it again.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import PathNotTrackedError, UsageError, WouldOverwriteError
from ..objstore.faults import fault_point
from ..objstore.fileio import remove_if_present
from ..objstore.store.transport_fsspec import open_transport
from ..objstore.tmpowner import token
from .paths import ensure_inside, to_repo_path
from .pointers import SUFFIX, Pointer, UrlSource, write_pointer
from .repo import Repo


def _split(url: str) -> tuple[str, str]:
    """(folder URL, object name) of an object URL or path."""
    if "://" not in url:
        url = os.path.abspath(os.path.expanduser(url))
    folder, _, name = url.rstrip("/").rpartition("/")
    if not name or not folder or folder.endswith(":/"):
        raise UsageError(f"{url!r} does not name an object", hint="e.g. s3://bucket/path/data.csv or ../data.csv")
    return folder or "/", name


def probe(url: str, options: dict[str, Any] | None = None) -> tuple[int, str]:
    """(size, modified) of the object at ``url``, from a listing of its folder.

    Raises:
        PathNotTrackedError: when there is no such object.
        BackendMissingError, StoreIOError: see ``open_transport``.
    """
    folder, name = _split(url)
    transport = open_transport(folder, options, name=folder)
    try:
        entry = next((e for e in transport.list("") if e.name == name and not e.is_dir), None)
    finally:
        transport.close()
    if entry is None:
        raise PathNotTrackedError(f"there is no object at {url}", path=url, hint="check the URL (and its case)")
    modified = datetime.fromtimestamp(entry.mtime, UTC).isoformat().replace("+00:00", "Z") if entry.mtime else ""
    return entry.size, modified


def import_url(
    repo: Repo, url: str, out: str | None = None, *, force: bool = False, options: dict[str, Any] | None = None
) -> tuple[str, UrlSource, bool]:
    """Download the object at ``url`` to ``out`` (default: its name in the current directory), add it, and
    record its source; return (path, source, changed).

    Raises:
        WouldOverwriteError: ``out`` or ``OUT.art`` exists (unless ``force``).
        UnsafePathError: ``out`` is outside the workspace.
        plus the errors of ``probe`` and of the transfer.
    """
    if "://" not in url:
        url = os.path.abspath(os.path.expanduser(url))
    rel = to_repo_path(repo.root, out or _split(url)[1], cwd=Path.cwd())
    full = ensure_inside(repo.root, repo.abspath(rel))
    if not force:
        for p in (full, repo.abspath(rel + SUFFIX)):
            if p.exists() or p.is_symlink():
                raise WouldOverwriteError(
                    f"{to_repo_path(repo.root, p)} already exists",
                    path=str(p),
                    hint="import to another place (OUT), 'art update' an earlier import, or replace it with --force",
                )
    return _bring(repo, url, rel, options if options is not None else options_for(repo, url), old=None)


def _bring(
    repo: Repo, url: str, rel: str, options: dict[str, Any] | None, *, old: UrlSource | None
) -> tuple[str, UrlSource, bool]:
    from .add import add

    size, modified = probe(url, options)
    if old is not None and (old.size, old.modified) == (size, modified) and modified:
        return rel, old, False
    folder, name = _split(url)
    full = repo.abspath(rel)
    with repo.lock:
        tmp = repo.tmp_dir / f"import-url-{token()}.part"
        transport = open_transport(folder, options, name=folder)
        try:
            transport.download(name, str(tmp))
            fault_point("import-url.downloaded")
            full.parent.mkdir(parents=True, exist_ok=True)
            if full.is_dir() and not full.is_symlink():
                raise WouldOverwriteError(f"{rel} is a folder", path=rel, hint="import to another place")
            os.replace(tmp, full)
        finally:
            transport.close()
            remove_if_present(tmp)
        result = add(repo, [str(full)])
        pointer = result.artifacts[0].pointer
        source = UrlSource(url, size, modified, pointer.oid)
        write_pointer(repo.abspath(rel + SUFFIX), Pointer(pointer.oid, pointer.kind, pointer.size, 1, source))
    return rel, source, old is None or old.oid != pointer.oid


def options_for(repo: Repo, url: str) -> dict[str, Any]:
    """The options of the configured remote whose URL the object's URL starts with (endpoint, credentials),
    else none: a bucket needs no remote of its own, only what it takes to reach it."""
    from .remote import list_remotes

    for info in list_remotes(repo):
        base = info.url.rstrip("/")
        if "://" in base and base.split("/")[:3] == url.split("/")[:3]:  # the same scheme and bucket
            return dict(info.options)
    return {}


def update_url(repo: Repo, rel: str, source: UrlSource) -> tuple[str, UrlSource, bool]:
    """Download the object again when its size or modification time changed."""
    return _bring(repo, source.url, rel, options_for(repo, source.url), old=source)
