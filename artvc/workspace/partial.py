"""Files and globs inside a tracked folder: ``art pull data/images/005.png``, ``art checkout 'data/images/*.png'``.

A target that lies inside a tracked folder (rather than naming artifacts) is a ``Part``: the folder's artifact
and a pattern relative to it, matched one path component at a time (``*``, ``?``, ``[...]`` as in the shell;
a folder that matches brings every file below it). Only the matching files are fetched and written.

The folder's trees are needed to find the files, but the local store must never hold a tree without
everything below it (fetch and status trust a stored tree to be complete). So trees that are not in the store
are read from the remote, verified (their id is the hash of their encoding), and kept apart in
``.art/cache/trees/<oid>``, which a later partial checkout reads (verifying again). Only whole files' objects
enter the store.

A folder checked out in part is ``partial`` in ``art status``: every file there matches the pointer, the
others are absent (``partial_state``).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import (
    ConflictError,
    FormatError,
    ObjectNotFoundError,
    PathNotTrackedError,
    WouldOverwriteError,
)
from ..objstore.fileio import atomic_write
from ..objstore.materialize import SmallFile, materialize_small
from ..objstore.objects import Kind, Tree, TreeEntry
from ..objstore.oid import Oid
from ..objstore.types import EntryKind, ObjectKey
from .paths import ensure_inside, to_repo_path
from .repo import Repo
from .tracked import TrackedArtifact, incomplete_keys

if TYPE_CHECKING:
    from ..objstore.store.remote import RemoteStore

_GLOB = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Part:
    """A target inside tracked folder ``artifact``: ``pattern`` relative to the folder (``user`` as given)."""

    artifact: TrackedArtifact
    pattern: str
    user: str


def split_targets(
    repo: Repo, paths: Sequence[str], artifacts: list[TrackedArtifact] | None = None
) -> tuple[list[str], list[Part]]:
    """Split user paths into those naming whole artifacts (or folders holding some; a glob matching artifact
    paths is expanded to them) and ``Part``s inside a tracked folder. A path naming neither is kept with the
    first list (``tracked.select`` reports it)."""
    arts = repo.artifacts() if artifacts is None else artifacts
    whole: list[str] = []
    parts: list[Part] = []
    for p in paths:
        rel = to_repo_path(repo.root, p)
        rel = rel[:-4] if rel.endswith(".art") else rel
        if any(a.path == rel or a.path.startswith(rel + "/") for a in arts):
            whole.append(p)
            continue
        if _GLOB & set(rel):
            hits = [a.path for a in arts if fnmatch.fnmatchcase(a.path, rel)]
            if hits:
                whole.extend(str(repo.abspath(h)) for h in hits)
                continue
        holder = next((a for a in arts if a.pointer.kind == "dir" and rel.startswith(a.path + "/")), None)
        if holder is None:
            whole.append(p)
        else:
            parts.append(Part(holder, rel[len(holder.path) + 1 :], p))
    return whole, parts


class TreeReader:
    """Trees by id: from the local store, else ``.art/cache/trees/``, else the remote (verified, then cached)."""

    def __init__(self, repo: Repo, remote: RemoteStore | None = None) -> None:
        self.repo, self.remote = repo, remote
        self.cache = repo.art_dir / "cache" / "trees"
        self.fetched = 0  # trees read from the remote
        self.size = 0

    def get(self, oid: Oid) -> Tree:
        store = self.repo.store
        if store.has(oid, Kind.TREE):
            return store.get_tree(oid)
        cached = self.cache / str(oid)
        try:
            return Tree.from_bytes(oid, cached.read_bytes())  # checks the id: a damaged copy is refused
        except FileNotFoundError:
            pass
        except (OSError, FormatError):
            cached.unlink(missing_ok=True)
        if self.remote is None:
            raise ObjectNotFoundError(oid, "tree", hint="fetch what you need first: art pull PATH")
        data = self.remote.get(oid, Kind.TREE)
        tree = Tree.from_bytes(oid, data)
        self.fetched += 1
        self.size += len(data)
        self.cache.mkdir(parents=True, exist_ok=True)
        atomic_write(cached, data, durable=False)
        return tree

    def files(self, oid: Oid, prefix: str = "") -> list[tuple[str, TreeEntry]]:
        """Every file below tree ``oid`` (``prefix``/name, entry)."""
        out = []
        stack = [(oid, prefix)]
        while stack:
            tree_oid, base = stack.pop()
            for e in self.get(tree_oid).entries:
                if e.kind == EntryKind.DIR:
                    stack.append((e.oid, f"{base}{e.name}/"))
                elif e.kind == EntryKind.FILE:
                    out.append((base + e.name, e))
        return out


def matches(reader: TreeReader, part: Part) -> list[tuple[str, TreeEntry]]:
    """The files of ``part``'s folder its pattern names (paths relative to the folder).

    Raises:
        PathNotTrackedError: when nothing matches.
    """
    comps = part.pattern.split("/")
    found: list[tuple[str, TreeEntry]] = []
    stack = [(part.artifact.pointer.oid, 0, "")]
    while stack:
        oid, depth, base = stack.pop()
        for e in reader.get(oid).entries:
            if not fnmatch.fnmatchcase(e.name, comps[depth]):
                continue
            if depth == len(comps) - 1:
                if e.kind == EntryKind.FILE:
                    found.append((base + e.name, e))
                elif e.kind == EntryKind.DIR:
                    found.extend(reader.files(e.oid, f"{base}{e.name}/"))
            elif e.kind == EntryKind.DIR:
                stack.append((e.oid, depth + 1, f"{base}{e.name}/"))
    if not found:
        raise PathNotTrackedError(
            f"{part.user} matches nothing in the tracked folder {part.artifact.path}",
            path=part.pattern,
            hint=f"see what it holds: art ls . {part.artifact.path}",
        )
    return sorted(found, key=lambda f: f[0])


@dataclass(frozen=True, slots=True)
class PartResult:
    restored: list[str]
    unchanged: list[str]
    files_written: int


def write_parts(repo: Repo, wanted: list[tuple[TrackedArtifact, str, TreeEntry]], *, force: bool) -> PartResult:
    """Write the chosen files into the workspace from the local store, each verified before its rename.

    Everything is checked first: nothing is written when one file is lacking from the store, a path leads
    outside the workspace, or (without ``force``) a file there holds other content.

    Raises:
        ObjectNotFoundError, UnsafePathError, ConflictError, WouldOverwriteError.
    """
    lacking: list[ObjectKey] = []
    incomplete_keys(repo.store, {(e.oid, Kind.FILE) for _, _, e in wanted}, lacking=lacking)
    if lacking:
        oid, kind = lacking[0]
        raise ObjectNotFoundError(
            oid, Kind(kind).label, hint="the local store lacks it: fetch the files with 'art pull PATH'"
        )
    todo: list[tuple[str, Path, TreeEntry]] = []
    unchanged: list[str] = []
    folders: set[Path] = set()  # parents checked already (many files share them)
    for a, inner, e in wanted:
        rel = f"{a.path}/{inner}"
        dest = ensure_inside(repo.root, repo.abspath(rel))
        for parent in Path(rel).parents:
            if parent in folders:
                break  # it and every folder above it were checked
            p = repo.abspath(str(parent))
            if str(parent) != "." and (p.is_symlink() or (p.exists() and not p.is_dir())):
                raise ConflictError(f"{parent} is not a folder", path=str(parent), hint="move it away first")
            folders.add(parent)
        if dest.is_symlink() or (dest.exists() and not dest.is_file()):
            raise ConflictError(f"{rel}: something other than a file is there", path=rel, hint="move it away first")
        if dest.is_file():
            if repo.state.oid_of(str(dest), os.stat(dest)) == e.oid:
                unchanged.append(rel)
                continue
            if not force:
                raise WouldOverwriteError(
                    f"{rel} was modified; checking it out would lose the change",
                    path=rel,
                    hint="keep it with 'art add' of the folder, or discard it with --force",
                )
        todo.append((rel, dest, e))
    files = [SmallFile(str(dest), e.oid, e.size, e.executable) for _, dest, e in todo]
    for landed in materialize_small(repo.store, files):  # each written to a temp file, renamed over its place
        for k, st in landed:
            repo.state.record(files[k].dest, st, files[k].oid, written=True)
    repo.state.flush()
    return PartResult([r for r, _, _ in todo], unchanged, len(todo))


def checkout_parts(repo: Repo, parts: list[Part], *, force: bool = False) -> PartResult:
    """Check out the files ``parts`` name from the local store (trees from it or the tree cache)."""
    with repo.lock:
        reader = TreeReader(repo)
        wanted = [(p.artifact, inner, e) for p in parts for inner, e in matches(reader, p)]
        return write_parts(repo, unique(wanted), force=force)


def unique(wanted: list[tuple[TrackedArtifact, str, TreeEntry]]) -> list[tuple[TrackedArtifact, str, TreeEntry]]:
    """``wanted`` without repeats (two patterns naming one file)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for a, inner, e in wanted:
        if (a.path, inner) not in seen:
            seen.add((a.path, inner))
            out.append((a, inner, e))
    return out


def partial_state(repo: Repo, artifact: TrackedArtifact) -> bool:
    """True when folder ``artifact`` is checked out in part: its tree was never fetched whole (it is in the
    tree cache, not in the store), every file in the workspace folder is in the tree with the same content,
    and some of the tree's files are absent. A folder whose tree is in the store had every file here once:
    files missing from it are deletions (``modified``), as they are when the tree is not readable at all."""
    if repo.store.has(artifact.pointer.oid, Kind.TREE):
        return False
    try:
        expected = dict(TreeReader(repo).files(artifact.pointer.oid))
    except (ObjectNotFoundError, FormatError):
        return False
    root = repo.abspath(artifact.path)
    present = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            e = expected.get(rel)
            if e is None or os.path.islink(full) or repo.state.oid_of(full, os.stat(full)) != e.oid:
                return False
            present += 1
    return present < len(expected)
