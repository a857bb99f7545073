"""``art diff``: what changed between two revisions (or a revision and the workspace), with sizes."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ArtError
from ..objstore.objects import Kind
from ..objstore.tree import diff as tree_diff
from .ls import artifacts_at
from .repo import Repo
from .status import current_oid


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    change: str  # added | removed | modified
    old_size: int | None
    new_size: int | None
    old_id: str | None
    new_id: str | None
    files: list[dict] | None = None  # file-level changes inside a directory, when both trees are stored

    def as_dict(self) -> dict:
        d = {
            "path": self.path,
            "change": self.change,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_id": self.old_id,
            "new_id": self.new_id,
        }
        if self.files is not None:
            d["files"] = self.files
        return d


def diff(repo: Repo, a: str | None = None, b: str | None = None) -> list[Change]:
    """Compare artifacts at revision ``a`` (default HEAD) with ``b`` (default: the workspace)."""
    unborn = a is None and repo.git is not None and repo.git.head_commit() is None
    old = {} if unborn else artifacts_at(repo, a or "HEAD")  # before the first commit HEAD is empty
    new = artifacts_at(repo, b)
    if b is None:
        new = {p: _workspace_view(repo, item) for p, item in new.items()}
    out = []
    for path in sorted(old.keys() | new.keys()):
        x, y = old.get(path), new.get(path)
        if x and y and x.pointer.oid == y.pointer.oid:
            continue
        change = "modified" if x and y else ("removed" if x else "added")
        files = _files(repo, x, y) if x and y and x.pointer.kind == y.pointer.kind == "dir" else None
        out.append(
            Change(
                path,
                change,
                x.pointer.size if x else None,
                y.pointer.size if y else None,
                str(x.pointer.oid) if x else None,
                str(y.pointer.oid) if y else None,
                files,
            )
        )
    return out


def _workspace_view(repo: Repo, item):
    """The workspace's current content for an artifact, as a Listed with the actual id (hashing via cache)."""
    from dataclasses import replace

    actual = current_oid(repo, item.path, item.pointer.kind)
    if actual is None or actual == item.pointer.oid:
        return item
    size = repo.abspath(item.path).stat().st_size if item.pointer.kind == "file" else item.pointer.size
    return replace(item, pointer=replace(item.pointer, oid=actual, size=size))


def _files(repo: Repo, x, y) -> list[dict] | None:
    store = repo.store
    if not (store.has(x.pointer.oid, Kind.TREE) and store.has(y.pointer.oid, Kind.TREE)):
        return None
    try:
        return [
            {
                "path": c.path,
                "change": c.change,
                "old_size": c.old.size if c.old else None,
                "new_size": c.new.size if c.new else None,
            }
            for c in tree_diff(store, x.pointer.oid, y.pointer.oid)
        ]
    except ArtError:
        return None
