"""The store page of ``art ui``: ``art du --json`` (logical, unique, stored bytes) for the workspace, the same
totals for the last commits of HEAD's history, per artifact, and the remotes with what their cached indexes
say is pushed (never the network)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import Any

from ..errors import ArtError
from ..objstore.objects import Kind
from ..objstore.reachability import closure
from ..objstore.store.remote_read import MAX_INDEX_BYTES, check_index
from ..objstore.types import Location, ObjectKey
from ..workspace.du import du
from ..workspace.ls import artifacts_at
from ..workspace.remote import cache_dir, list_remotes
from ..workspace.repo import Repo

MAX_COMMITS = 50


def store_data(repo: Repo) -> dict[str, Any]:
    """``art du --json`` plus ``commits`` (the last ≤ 50 of HEAD's history, newest first), ``artifacts``
    (name, logical, unique, stored: the workspace's) and ``remotes``."""
    out = du(repo).as_dict()
    out["commits"] = commit_sizes(repo)
    out["artifacts"] = [
        {**a, "name": a["path"], "logical": a["logical_size"], "unique": a["unique_size"], "stored": a["stored_size"]}
        for a in out["artifacts"]
    ]
    out["remotes"] = remotes(repo)
    return out


def commit_sizes(repo: Repo, limit: int = MAX_COMMITS) -> list[dict[str, Any]]:
    """Per commit of HEAD's history (newest first): the logical, unique and stored bytes of what it tracks
    (shared chunks counted once). Each artifact version is measured once, however many commits hold it."""
    git = repo.git
    head = git.head_commit() if git is not None else None
    if head is None:
        return []
    store = repo.store
    keys_of: dict[tuple[str, str], set[ObjectKey]] = {}
    located: dict[ObjectKey, Location] = {}
    rows = []
    for i, (commit, when) in enumerate(git.history([head])):
        if i >= limit:
            break
        try:
            listed = artifacts_at(repo, commit)
        except ArtError:
            continue
        every: set[ObjectKey] = set()
        logical = 0
        for item in listed.values():
            p = item.pointer
            key = (str(p.oid), p.kind)
            if key not in keys_of:
                missing: list[ObjectKey] = []
                root = ObjectKey(p.oid, Kind.TREE if p.kind == "dir" else Kind.FILE)
                found = closure(store, [root], missing=missing)
                keys_of[key] = found
                located.update(store.locate_many([k for k in found if k not in located]))
            every |= keys_of[key]
            logical += p.size
        unique = sum(located[k].raw_length for k in every if k in located and k.kind == Kind.CHUNK)
        stored = sum(located[k].length for k in every if k in located)
        rows.append(
            {
                "commit": commit,
                "date": datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "artifacts": len(listed),
                "logical": logical,
                "unique": unique,
                "stored": stored,
            }
        )
    return rows


_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/@]*)@")


def redact(url: str) -> str:
    """``url`` without credentials: user info and the query string are replaced by ``***``."""
    url = _USERINFO.sub(lambda m: f"{m.group(1)}***@", url)
    return url.split("?", 1)[0] + ("?***" if "?" in url else "")


def remotes(repo: Repo) -> list[dict[str, Any]]:
    """Every configured remote: name, URL (redacted), whether it is the default, and how many objects its
    cached indexes (``.art/cache/remotes/NAME``, as of the last push, pull or fetch) list; None: no cache."""
    try:
        infos = list_remotes(repo)
    except ArtError:
        return []
    out = []
    for info in infos:
        pushed, as_of = _cached(str(cache_dir(repo, info.name)))
        out.append(
            {"name": info.name, "url": redact(info.url), "default": info.default, "pushed": pushed, "as_of": as_of}
        )
    return out


def _cached(folder: str) -> tuple[int | None, str | None]:
    try:
        names = [e for e in os.scandir(folder) if e.is_file() and e.name.endswith(".idx")]
    except OSError:
        return None, None
    if not names:
        return None, None
    keys: set[tuple[str, int]] = set()
    newest = 0.0
    for e in names:
        try:
            st = e.stat()
            if st.st_size > MAX_INDEX_BYTES:
                continue
            with open(e.path, "rb") as f:
                entries = check_index(e.name[:-4], f.read())
        except OSError:
            continue
        if entries is None:
            continue
        newest = max(newest, st.st_mtime)
        keys.update((str(x.oid), int(x.kind)) for x in entries)
    as_of = datetime.fromtimestamp(newest, UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if newest else None
    return len(keys), as_of
