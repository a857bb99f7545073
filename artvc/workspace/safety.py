"""What art may replace in the workspace: one rule for status, checkout, pull and the post-checkout hook.

Nothing that the store cannot give back is deleted or replaced without ``--force``, and nothing is created,
replaced or deleted at a path whose resolved location leaves the workspace (not even with ``--force``).

``place`` looks at what is on disk at an artifact's path without following anything it should not;
``would_lose`` says whether replacing it would drop content the store does not hold.
"""

from __future__ import annotations

import os
import stat as stat_mod
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..objstore.objects import AnyTree, Kind, Tree, read_tree
from ..objstore.oid import Oid
from .paths import check_name, check_tree_links, inside, is_reserved
from .repo import Repo
from .tracked import incomplete_keys

if TYPE_CHECKING:
    from ..objstore.store.base import ObjectStore

ABSENT, FILE, DIR, LINK, OTHER = None, "file", "dir", "link", "other"


class Place(NamedTuple):
    """What is at an artifact's path.

    ``dest`` is where art writes: the path itself, or the resolved path when the path is a symlink to an
    entry of the artifact's kind inside the workspace. ``kind`` is what is there (``FILE``, ``DIR``, ``LINK``
    for a symlink art will not follow, ``OTHER`` for a device, socket or pipe, ``ABSENT``). ``unsafe`` says
    why art must not write there at all; ``blocker`` is a parent path that exists but is not a directory.
    """

    dest: Path
    kind: str | None
    unsafe: str | None = None
    blocker: str | None = None


def place(repo: Repo, path: str, want: str) -> Place:
    """Look at the workspace path ``path`` for an artifact of kind ``want`` ("file" or "dir")."""
    root = repo.root
    full = repo.abspath(path)
    parts = path.split("/")
    for i in range(1, len(parts)):
        parent = root.joinpath(*parts[:i])
        try:
            st = os.lstat(parent)
        except (FileNotFoundError, NotADirectoryError):
            break
        if stat_mod.S_ISDIR(st.st_mode):
            continue
        rel = "/".join(parts[:i])
        if stat_mod.S_ISLNK(st.st_mode):
            real = os.path.realpath(parent)
            if not inside(root, real):
                return Place(full, ABSENT, unsafe=f"{rel} is a symlink that leads outside the workspace")
            if os.path.isdir(real):
                continue
        return Place(full, ABSENT, blocker=rel)
    try:
        st = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return Place(full, ABSENT)
    mode = st.st_mode
    if stat_mod.S_ISLNK(mode):
        target = Path(os.path.realpath(full))
        if not inside(root, target):
            return Place(full, LINK, unsafe=f"{path} is a symlink that leads outside the workspace")
        if (want == FILE and target.is_file()) or (want == DIR and target.is_dir()):
            return Place(target, want)
        return Place(full, LINK)
    if stat_mod.S_ISREG(mode):
        return Place(full, FILE)
    if stat_mod.S_ISDIR(mode):
        return Place(full, DIR)
    return Place(full, OTHER)


def would_lose(repo: Repo, where: Place, actual: Oid | None, target: Oid | None = None, target_kind: str = DIR) -> bool:
    """True when replacing what is at ``where`` would drop something the store cannot give back.

    ``actual`` is the id of what is there (when known). A file is safe to replace when its content is
    stored; a folder when its whole tree is stored, or when each of its files is stored and each of its
    symlinks is also in ``target`` (the tree about to be written) at the same place. A symlink art does not
    follow and any other kind of entry are never safe: the store holds neither.
    """
    store = repo.store
    if where.kind is ABSENT:
        return False
    if where.kind == FILE:
        return actual is None or not store.has_file(actual)
    if where.kind != DIR:
        return True
    if actual is not None and _complete(repo, actual):
        return False
    wanted = _links(repo, target) if target is not None and target_kind == DIR else {}
    state = repo.state
    stack = [""]
    while stack:
        prefix = stack.pop()
        with os.scandir(os.path.join(where.dest, prefix)) as it:
            entries = list(it)
        for e in entries:
            rel = prefix + e.name
            if is_reserved(e.name):  # never stored; checkout keeps it unless the whole folder goes
                lost = target_kind == FILE
            elif e.is_dir(follow_symlinks=False):
                stack.append(rel + "/")
                continue
            elif e.is_symlink():
                lost = wanted.get(rel) != os.readlink(e.path)
            else:  # a device, socket or pipe holds no data
                lost = e.is_file(follow_symlinks=False) and not store.has_file(
                    state.oid_of(e.path, e.stat(follow_symlinks=False))
                )
            if lost:
                return True
    return False


def _complete(repo: Repo, oid: Oid) -> bool:
    return not incomplete_keys(repo.store, [(oid, Kind.TREE)])


class TreeCache(dict):
    """Trees a checkout reads (the plan, which checks them as it reads them, then the apply step; ``check_tree``
    first only for an artifact refused anyway), each decoded once and kept for the next step, up to ``budget``
    entries in all: beyond that they are decoded again rather than held.
    A tree of more than ``DECODED_MAX`` entries (one folder of many files) is never decoded whole nor kept:
    ``read`` gives it as an ``EncodedTree`` whose entries are decoded again, one at a time, by every step
    that reads them, so memory stays flat however many files one folder holds (about 350 bytes of Python
    objects per decoded entry against 60 of encoding)."""

    def __init__(self, budget: int = 200_000) -> None:
        super().__init__()
        self.budget = budget

    def read(self, store: ObjectStore, oid: Oid, *, take: bool = False) -> AnyTree:
        """Tree ``oid``, from the cache (removed from it with ``take``) or the store; either kind is read with
        ``iter_entries``.

        Raises:
            ObjectNotFoundError: when it is not stored.
            FormatError: when its stored bytes do not hash to ``oid``, or (as they are read) its entries are
                malformed.
        """
        tree = self.pop(oid, None) if take else self.get(oid)
        if tree is not None:
            return tree
        data = store.get(oid, Kind.TREE)
        return read_tree(oid, data)

    def keep(self, tree: AnyTree) -> None:
        """Keep ``tree`` for the next step, when it is decoded and within the budget."""
        if isinstance(tree, Tree) and len(tree.entries) <= self.budget:
            self.budget -= len(tree.entries)
            self[tree.oid] = tree


def check_tree(repo: Repo, at: str, oid: Oid, cache: TreeCache | None = None) -> None:
    """Check a stored tree before any of it is written at ``at``: every name, and every symlink resolved
    against the tree itself and the workspace around it (``paths.check_tree_links``).

    Raises:
        UnsafePathError: for an unsafe name or a link that would resolve outside the workspace.
        ObjectNotFoundError: when a tree of it is not stored.
    """
    check_tree_links(repo.root, at, _links(repo, oid, cache=cache, check=True))


def _links(repo: Repo, oid: Oid, *, cache: TreeCache | None = None, check: bool = False) -> dict[str, str]:
    """The symlinks of stored tree ``oid`` by their path inside it (empty when the tree is not stored)."""
    store = repo.store
    if not check and not store.has(oid, Kind.TREE):
        return {}
    out: dict[str, str] = {}
    stack = [("", oid)]
    while stack:
        prefix, tree_oid = stack.pop()
        if not check and not store.has(tree_oid, Kind.TREE):
            continue
        tree = (cache if cache is not None else TreeCache(0)).read(store, tree_oid)
        if cache is not None:
            cache.keep(tree)
        for e in tree.iter_entries():
            if check:
                check_name(e.name)
            if e.kind == "dir":
                stack.append((f"{prefix}{e.name}/", e.oid))
            elif e.kind == "symlink" and e.target is not None:
                out[prefix + e.name] = e.target
    return out
