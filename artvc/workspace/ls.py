"""``art ls``: the tracked artifacts, in the workspace or at a git revision (read through pygit2)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GitError, ObjectNotFoundError, PathNotTrackedError, RemoteNotConfiguredError
from ..objstore.objects import EntryKind, Tree, TreeEntry
from ..objstore.oid import Oid
from .lockfile import LOCK_NAME, lock_outputs, parse_lock_text
from .paths import check_relpath, to_repo_path
from .pointers import SUFFIX, Pointer, parse_pointer
from .repo import Repo

if TYPE_CHECKING:
    from .scm import Git


@dataclass(frozen=True, slots=True)
class Listed:
    path: str
    pointer: Pointer
    source: str

    def as_dict(self) -> dict:
        return {"path": self.path, "source": self.source, **self.pointer.as_dict()}


def artifacts_at(repo: Repo, rev: str | None) -> dict[str, Listed]:
    """Return the artifacts tracked in the workspace (``rev`` None) or in git commit ``rev``, by path.

    Raises:
        GitError: when there is no git repository or ``rev`` names no commit.
    """
    if rev is None:
        return {p: Listed(p, ptr, src) for p, ptr, src in repo.artifacts()}
    git = repo.git
    if git is None:
        raise GitError("this art repository is not in a git work tree", hint="revisions need git")
    return listed_in(git, rev, repo.git_prefix)


def listed_in(git: Git, rev: str, prefix: str) -> dict[str, Listed]:
    """The artifacts that pointer files and art.lock track in git revision ``rev``, below ``prefix``, by path."""
    out: dict[str, Listed] = {}
    for path, data in git.files_at(rev, prefix, (SUFFIX, LOCK_NAME)):
        if path.endswith(SUFFIX):
            rel = check_relpath(path[: -len(SUFFIX)], where=f"{rev}:{path}")
            out[rel] = Listed(rel, parse_pointer(data, where=f"{rev}:{path}"), path)
        elif path == LOCK_NAME:
            for p, ptr, stage in lock_outputs(parse_lock_text(data)):
                out[p] = Listed(p, ptr, f"art.lock:{stage}")
    return dict(sorted(out.items()))


def ls(repo: Repo, *, rev: str | None = None) -> list[Listed]:
    """List tracked artifacts, sorted by path."""
    return list(artifacts_at(repo, rev).values())


def is_workspace_path(repo: Repo, arg: str, *, cwd: Path | None = None) -> bool:
    """True when ``art ls ARG`` names a path of this workspace rather than another repository: ``arg`` is no
    URL (``scheme://``, ``user@host:path``), lies inside the workspace once resolved (relative to ``cwd``), and
    is not a git repository of its own (a clone kept inside the workspace is still listed as a source)."""
    if "://" in arg or (":" in arg.split("/", 1)[0] and not os.path.exists(arg)):
        return False
    p = Path(arg)
    p = Path(os.path.realpath(p if p.is_absolute() else (cwd or Path.cwd()) / p))
    root = Path(os.path.realpath(repo.root))
    if p != root and not p.is_relative_to(root):
        return False
    return p == root or not ((p / ".git").exists() or ((p / "HEAD").is_file() and (p / "objects").is_dir()))


def ls_path(repo: Repo, arg: str, *, rev: str | None = None, cwd: Path | None = None) -> list[dict]:
    """What workspace path ``arg`` holds at ``rev`` (default: the workspace's pointers): a tracked file's row;
    a tracked folder's (or a folder inside one's) entries, one level; or the artifacts below an untracked
    folder. A folder's trees come from the local store, else ``.art/cache/trees/``, else the default remote
    (each verified, then cached), so a folder not yet pulled can be listed. Rows use ``art ls``'s keys.

    Raises:
        UnsafePathError: ``arg`` leaves the workspace.
        PathNotTrackedError: it names nothing tracked.
        ObjectNotFoundError: a tree is in no store and no remote is configured.
    """
    base = cwd or Path.cwd()
    resolved = Path(os.path.realpath(Path(arg) if Path(arg).is_absolute() else base / arg))
    arts = artifacts_at(repo, rev)
    if resolved == Path(os.path.realpath(repo.root)):
        return [a.as_dict() for a in arts.values()]
    rel = to_repo_path(repo.root, arg, cwd=base).removesuffix(SUFFIX)
    if rel in arts and arts[rel].pointer.kind == "file":
        return [arts[rel].as_dict()]
    if rel in arts:
        return _entries(repo, arts[rel].pointer.oid, rel)
    below = [a.as_dict() for p, a in arts.items() if p.startswith(rel + "/")]
    if below:
        return below
    holder = next((a for p, a in arts.items() if a.pointer.kind == "dir" and rel.startswith(p + "/")), None)
    if holder is not None:
        entry = _walk(repo, holder, rel[len(holder.path) + 1 :])
        if entry is not None and entry.kind == EntryKind.DIR:
            return _entries(repo, entry.oid, rel)
        if entry is not None:
            return [_row(rel, entry)]
    raise PathNotTrackedError(
        f"{arg} is not tracked{f' at {rev}' if rev else ''}",
        path=arg,
        hint="see 'art ls' for what is tracked",
    )


def _row(path: str, e: TreeEntry) -> dict:
    kind = {EntryKind.DIR: "dir", EntryKind.FILE: "file"}.get(e.kind, "link")
    return {"path": path, "kind": kind, "size": e.size, "oid": str(e.oid)}


def _entries(repo: Repo, oid: Oid, rel: str) -> list[dict]:
    return [_row(f"{rel}/{e.name}", e) for e in _tree(repo, oid).entries]


def _walk(repo: Repo, holder: Listed, inner: str) -> TreeEntry | None:
    """The entry ``inner`` names inside directory artifact ``holder``, or None."""
    oid = holder.pointer.oid
    entry = None
    for name in inner.split("/"):
        if entry is not None and entry.kind != EntryKind.DIR:
            return None
        entry = next((e for e in _tree(repo, oid).entries if e.name == name), None)
        if entry is None:
            return None
        oid = entry.oid
    return entry


def _tree(repo: Repo, oid: Oid) -> Tree:
    """Tree ``oid`` from the local store or tree cache, else from the default remote when there is one."""
    from .partial import TreeReader
    from .remote import open_remote

    try:
        return TreeReader(repo).get(oid)
    except ObjectNotFoundError as missing:
        try:
            remote = open_remote(repo)
        except RemoteNotConfiguredError:
            raise missing from None
    try:
        remote.refresh()
        return TreeReader(repo, remote).get(oid)
    finally:
        remote.close()
