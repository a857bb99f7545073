"""Path rules: user arguments into repo-relative paths, and checks on every path read from stored data.

A path from a pointer, tree, lock file or remote is untrusted: it must be relative, normalised, free of
``..``, not inside ``.git`` or ``.art`` (in any letter case: case-insensitive file systems), and must not reach
outside the workspace through a symlink. A symlink art writes must resolve inside the workspace, judged
against the tree being written (``check_tree_links``), not only by its text.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..errors import UnsafePathError, WorkspaceError

RESERVED = frozenset({".git", ".art"})
# characters HFS+ ignores in names (so ".g\u200cit" is ".git" there), as git's own check does
_IGNORABLE = dict.fromkeys([*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF])


def is_reserved(name: str) -> bool:
    """True when ``name`` is ``.git`` or ``.art`` on some file system: any letter case, with trailing dots or
    spaces (Windows drops them), or with characters HFS+ ignores."""
    if name.isascii():  # the common case: no ignorable characters, and casefold is lower
        return name[:1] == "." and name.rstrip(". ").lower() in RESERVED
    return name.translate(_IGNORABLE).rstrip(". ").casefold() in RESERVED


def check_name(name: str, *, where: str = "tree") -> str:
    """Validate one path component read from stored data.

    Raises:
        UnsafePathError: for empty, ``.``, ``..``, reserved names, or names with ``/``, ``\\`` or NUL.
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or is_reserved(name):
        raise UnsafePathError(
            f"unsafe name {name!r} in {where}",
            path=name,
            hint="the data was produced by another tool or tampered with; it was not written",
        )
    return name


def check_relpath(path: str, *, where: str = "pointer") -> str:
    """Validate a repo-relative POSIX path read from stored data; return it normalised.

    Raises:
        UnsafePathError: when the path is absolute, escapes the workspace or names a reserved folder.
    """
    if not path or path.startswith("/") or "\\" in path or "\0" in path or (len(path) > 1 and path[1] == ":"):
        raise UnsafePathError(
            f"unsafe path {path!r} in {where}",
            path=path,
            hint="paths in art files must be relative to the workspace root",
        )
    parts = [p for p in PurePosixPath(path).parts if p != "."]
    for part in parts:
        check_name(part, where=where)
    return "/".join(parts)


def ensure_inside(root: Path, target: Path) -> Path:
    """Check that ``target``'s parent directories resolve inside ``root`` (no symlink escape).

    Raises:
        UnsafePathError: when a symlinked parent leads outside the workspace (or into ``.git``/``.art``).
    """
    if not inside(root, os.path.realpath(target.parent)):
        raise UnsafePathError(
            f"{target} lies outside the workspace (through a symlink)",
            path=str(target),
            hint="remove the symlink or track the data where it really is",
        )
    return target


def check_write(root: Path, target: Path) -> Path:
    """Check a small file art is about to replace (a pointer, a ``.gitignore``): neither its folder nor,
    when it is a symlink, what it points to may lie outside the workspace (art would read the outside file
    into the workspace, where git could publish it).

    Raises:
        UnsafePathError: when the path or its folder leads outside the workspace.
    """
    ensure_inside(root, target)
    if os.path.islink(target) and not inside(root, os.path.realpath(target)):
        raise UnsafePathError(
            f"{target} is a symlink that leads outside the workspace",
            path=str(target),
            hint="remove the symlink; art writes this file itself",
        )
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
        raise UnsafePathError(
            f"{user_path} is outside the repository", path=str(user_path), hint=f"art works on files under {root}"
        )
    rel = resolved.relative_to(real_root).as_posix()
    if rel == ".":
        raise WorkspaceError(
            "cannot track the repository root itself",
            path=str(user_path),
            hint="add the data files or folders inside it",
        )
    reserved = next((c for c in rel.split("/") if is_reserved(c)), None)
    if reserved is not None:
        raise UnsafePathError(
            f"{user_path} is inside {reserved}, which art never tracks",
            path=str(user_path),
            hint="add files from the workspace instead",
        )
    return rel


def inside(root: Path, resolved: str | os.PathLike) -> bool:
    """True when the resolved path ``resolved`` lies in the workspace ``root`` and not in ``.git``/``.art``."""
    real_root = os.path.realpath(root)
    rel = os.path.relpath(resolved, real_root)
    if rel == ".":
        return True
    parts = Path(rel).parts
    return parts[0] != ".." and not os.path.isabs(rel) and not any(is_reserved(p) for p in parts)


def check_tree_links(root: Path, at: str, links: dict[str, str], real: bool = True) -> None:
    """Check that every symlink of a tree about to be written at ``at`` resolves inside the workspace.

    ``links`` maps each link's path inside the tree to its target. Each target is resolved component by
    component against what the workspace will hold: the tree's own links first (so ``y -> ..`` followed by
    ``z -> y/../..`` is seen for what it is), then the links already on disk outside the tree. A target that
    is absolute, climbs above the workspace root or reaches ``.git``/``.art`` is refused, as ``art add``
    refuses such links.

    Raises:
        UnsafePathError: for the first link that would resolve outside the workspace (nothing is written).
    """
    base = [p for p in at.split("/") if p]

    def on_disk(parts: list[str]) -> str | None:
        if not real or parts[: len(base)] == base:  # inside the tree: what is on disk there is replaced
            return None
        try:
            target = os.readlink(os.path.join(root, *parts))
        except OSError:
            return None
        if os.path.isabs(target):
            rel = os.path.relpath(target, os.path.realpath(root))
            return "/" if rel.startswith("..") else "/".join([".."] * (len(parts) - 1) + [rel])
        return target

    def link_at(parts: list[str]) -> str | None:
        if parts[: len(base)] == base and len(parts) > len(base):
            return links.get("/".join(parts[len(base) :]))
        return on_disk(parts)

    for name, target in links.items():
        where = base + name.split("/")
        if _resolve(where[:-1], target, link_at, 0) is None:
            raise UnsafePathError(
                f"symlink {'/'.join(where)} would point outside the workspace ({target})",
                path="/".join(where),
                hint="the stored tree is unsafe; nothing was written",
            )


def _resolve(cur: list[str], target: str, link_at, depth: int) -> list[str] | None:
    """Resolve ``target`` from the folder ``cur`` (parts below the root); None when it leaves the workspace."""
    if os.path.isabs(target) or "\\" in target or depth > 40:  # 40: the kernel's own limit on link hops
        return None
    cur = list(cur)
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not cur:
                return None
            cur.pop()
            continue
        if is_reserved(part):
            return None
        cur.append(part)
        link = link_at(cur)
        if link is not None:
            resolved = _resolve(cur[:-1], link, link_at, depth + 1)
            if resolved is None:
                return None
            cur = resolved
    return cur
