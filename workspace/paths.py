"""Path rules: user arguments into repo-relative paths, and checks on every path read from stored data.

A path from a pointer, tree, lock file or remote is untrusted: it must be relative, normalised, free of
``..``, not inside ``.git`` or ``.art``, and must not reach outside the workspace through a symlink.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..objstore.errors import UnsafePathError, WorkspaceError

RESERVED = frozenset({".git", ".art"})


def check_name(name: str, *, where: str = "tree") -> str:
    """Validate one path component read from stored data.

    Raises:
        UnsafePathError: for empty, ``.``, ``..``, reserved names, or names with ``/``, ``\\`` or NUL.
    """
    if not name or name in (".", "..") or name in RESERVED or any(c in name for c in "/\\\0"):
        raise UnsafePathError(f"unsafe name {name!r} in {where}", path=name,
                              hint="the data was produced by another tool or tampered with; it was not written")
    return name


def check_relpath(path: str, *, where: str = "pointer") -> str:
    """Validate a repo-relative POSIX path read from stored data; return it normalised.

    Raises:
        UnsafePathError: when the path is absolute, escapes the workspace or names a reserved folder.
    """
    if not path or path.startswith("/") or "\\" in path or "\0" in path or (len(path) > 1 and path[1] == ":"):
        raise UnsafePathError(f"unsafe path {path!r} in {where}", path=path,
                              hint="paths in art files must be relative to the workspace root")
    parts = [p for p in PurePosixPath(path).parts if p != "."]
    for part in parts:
        check_name(part, where=where)
    return "/".join(parts)


def ensure_inside(root: Path, target: Path) -> Path:
    """Check that ``target``'s parent directories resolve inside ``root`` (no symlink escape).

    Raises:
        UnsafePathError: when a symlinked parent leads outside the workspace.
    """
    parent = Path(os.path.realpath(target.parent))
    if not parent.is_relative_to(os.path.realpath(root)):
        raise UnsafePathError(f"{target} lies outside the workspace (through a symlink)", path=str(target),
                              hint="remove the symlink or track the data where it really is")
    return target


def to_repo_path(root: Path, user_path: str | os.PathLike, *, cwd: Path | None = None) -> str:
    """Turn a user path (absolute, or relative to ``cwd``, default the repo root) into a repo-relative one.

    Raises:
        UnsafePathError: outside the repository, or inside ``.git`` / ``.art``.
    """
    p = Path(user_path)
    if not p.is_absolute():
        p = (cwd or root) / p
    p = Path(os.path.normpath(p))
    real_root = Path(os.path.realpath(root))
    # resolve symlinks in the parent only: the last component may itself be a (checked) symlink
    resolved = Path(os.path.realpath(p.parent)) / p.name if p != p.parent else real_root
    if resolved != real_root and not resolved.is_relative_to(real_root):
        raise UnsafePathError(f"{user_path} is outside the repository", path=str(user_path),
                              hint=f"art works on files under {root}")
    rel = resolved.relative_to(real_root).as_posix()
    if rel == ".":
        raise WorkspaceError("cannot track the repository root itself", path=str(user_path),
                             hint="add the data files or folders inside it")
    if rel.split("/")[0] in RESERVED:
        raise UnsafePathError(f"{user_path} is inside {rel.split('/')[0]}, which art never tracks",
                              path=str(user_path), hint="add files from the workspace instead")
    return rel
