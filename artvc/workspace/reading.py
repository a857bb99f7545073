"""``artvc.open`` / ``artvc.read`` / ``art cat``: stream an artifact (or one file of a tracked directory) at a
revision, version or stage without checking it out: from the local store, else the remote with ranged reads
(``objstore/reader.py``)."""

from __future__ import annotations

import io
import os
from contextlib import ExitStack

from ..errors import PathNotTrackedError, RemoteNotConfiguredError, UsageError, WorkspaceError
from ..objstore.oid import Oid
from ..objstore.reader import Sources, open_file
from ..objstore.types import EntryKind
from .external import open_named
from .ls import Listed, artifacts_at
from .paths import to_repo_path
from .repo import Repo


def _locate(arts: dict[str, Listed], sources: Sources, rel: str, where: str) -> tuple[Oid, int]:
    """(file id, size) of the file at workspace path ``rel`` among the tracked artifacts ``arts``."""
    art = arts.get(rel) or next((a for p, a in arts.items() if rel.startswith(p + "/")), None)
    if art is None:
        raise PathNotTrackedError(
            f"{rel} is not tracked by art{where}",
            path=rel,
            hint="see 'art ls' (with --rev, or a URL) for what is tracked",
        )
    if art.path == rel:
        if art.pointer.kind == "dir":
            raise WorkspaceError(f"{rel} is a directory", path=rel, hint=f"open a file inside it: {rel}/NAME")
        return art.pointer.oid, art.pointer.size
    oid = art.pointer.oid
    parts = rel[len(art.path) + 1 :].split("/")
    for i, name in enumerate(parts):
        entry = next((e for e in sources.tree(oid).entries if e.name == name), None)
        if entry is None:
            raise PathNotTrackedError(f"{rel} is not in the tracked directory {art.path}{where}", path=rel)
        last = i == len(parts) - 1
        if entry.kind == EntryKind.FILE and last:
            return entry.oid, entry.size
        if entry.kind != EntryKind.DIR or last:
            what = "a directory" if entry.kind == EntryKind.DIR else f"a {entry.kind} art does not stream"
            raise WorkspaceError(f"{rel} is {what}", path=rel)
        oid = entry.oid
    raise AssertionError("unreachable")


def _commit(repo: Repo, rel: str, rev: str | None, version: str | None, stage: str | None) -> str | None:
    if sum(x is not None for x in (rev, version, stage)) > 1:
        raise UsageError("give at most one of rev, version and stage")
    if version is not None or stage is not None:
        from .registry import resolve_version

        return resolve_version(repo, rel, version=version, stage=stage)
    if rev is None:
        return None
    git = repo.git
    if git is None:
        from ..errors import GitError

        raise GitError("this art repository is not in a git work tree", hint="revisions need git")
    return str(git.resolve(rev).id)


def open_artifact(
    path: str | os.PathLike[str],
    rev: str | None = None,
    version: str | None = None,
    stage: str | None = None,
    remote: str | None = None,
    mode: str = "rb",
    *,
    repo: str | os.PathLike[str] | None = None,
    workspace: Repo | None = None,
) -> io.BufferedReader:
    """Open a tracked file for reading, streamed chunk by chunk (``artvc.open``).

    Args:
        path: the artifact's path, or a file inside a tracked directory (absolute or relative to the current
            directory).
        rev: a git revision (branch, tag, commit); default: what the workspace's pointers name now.
        version, stage: a named version (``v1.2.0``) or the current assignment of a stage (``art tag``).
        remote: the remote to read missing chunks from (default: the default remote, when one is set).
        mode: ``"rb"`` only.
        repo: another art repository (a git URL or the path of a git repository) to read from instead of the
            workspace: ``path`` is then a path in that repository, ``rev``/``version``/``stage`` name its commits
            and tags, and the data is streamed from its default remote (the one its committed .art/config
            names), exactly as for this workspace's remote; no workspace is needed.
        workspace: the workspace (default: the one around the current directory, closed with the file). With
            ``repo``, its store is read first and the source's git mirror is kept in its cache.

    Returns:
        A seekable, read-only binary file. Chunks the local store lacks are read from the remote with ranged
        reads, each verified; nothing is written to the workspace or the store.

    Raises:
        PathNotTrackedError: the path is not tracked at that revision.
        VersionNotFoundError: no such version or stage.
        ObjectNotFoundError: the data is neither in the local store nor on the remote.
    """
    if mode != "rb":
        raise UsageError(f"mode {mode!r} is not supported", hint="artifacts are opened read-only, in binary: 'rb'")
    if repo is not None:
        return _open_external(os.fspath(repo), os.fspath(path), rev, version, stage, remote, workspace)
    with ExitStack() as stack:
        ws = workspace if workspace is not None else stack.enter_context(Repo.find())
        rel = to_repo_path(ws.root, os.path.abspath(path))
        commit = _commit(ws, rel, rev, version, stage)
        chosen = [remote]  # a promised file is read from the remote that promised it, unless one is named
        sources = Sources(ws.store, open_remote=lambda: _remote(ws, chosen[0]))
        stack.callback(sources.close)
        where = f" at {rev or version or stage}" if commit else ""
        oid, size = _locate(artifacts_at(ws, commit), sources, rel, where)
        if remote is None and (name := _promised_by(ws, oid)) is not None:
            from .lazy_fetch import require_listed

            chosen[0] = name
            if sources.remote is not None and sources.remote.name == name:
                require_listed(ws, sources.remote, oid)  # exit 12 naming it when it cannot give the chunks
        f = open_file(sources, oid, size, on_close=stack.pop_all().close)
    return f


def _open_external(
    url: str, path: str, rev: str | None, version: str | None, stage: str | None, remote, workspace: Repo | None
) -> io.BufferedReader:
    """``open_artifact`` with ``repo=URL``: the same verified streaming reader over the source's default remote."""
    if remote is not None:
        raise UsageError(
            "remote= names a remote of this workspace; with repo= the source's default remote is read",
            hint="drop remote=, or pull the artifact into this workspace first",
        )
    rel = path.replace(os.sep, "/").strip("/")
    with ExitStack() as stack:
        ext = stack.enter_context(open_named(url, rel, rev, version, stage, repo=workspace))
        sources = Sources(workspace.store if workspace is not None else None, open_remote=ext.open_remote)
        stack.callback(sources.close)
        where = f" in {ext.url} at {rev or ext.version or ext.stage or 'its default branch'}"
        oid, size = _locate(ext.artifacts(), sources, rel, where)
        f = open_file(sources, oid, size, on_close=stack.pop_all().close)
    return f


def _promised_by(repo: Repo, oid: Oid) -> str | None:
    from .lazy_fetch import promised_by

    return promised_by(repo, oid)


def _remote(repo: Repo, name: str | None):
    from .remote import open_remote

    try:
        return open_remote(repo, name)
    except RemoteNotConfiguredError:
        if name is not None:
            raise
        return None  # no default remote: only the local store is read


def read_artifact(
    path: str | os.PathLike[str],
    rev: str | None = None,
    version: str | None = None,
    stage: str | None = None,
    remote: str | None = None,
    *,
    repo: str | os.PathLike[str] | None = None,
    workspace: Repo | None = None,
) -> bytes:
    """The whole content of a tracked file (``artvc.read``); see ``open_artifact``."""
    with open_artifact(path, rev, version, stage, remote, repo=repo, workspace=workspace) as f:
        return f.read()


open = open_artifact  # ``artvc.open``, exported lazily from artvc/__init__.py
read = read_artifact
