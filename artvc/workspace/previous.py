"""The previous version of each file ``add`` stores again: what the artifact's pointer (``PATH.art``) tracks at
that path, a file artifact's id or the file's entry in a directory artifact's tree.

``add`` hands it to ingest, which tries the chunks of that version at about the same offset as delta bases
(``objstore/near.py``, docs/design.md#deltas). Only compression depends on it: an unreadable pointer, a tree
not in the store or a path that was not tracked gives no previous version, never an error.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..errors import ArtError
from ..objstore.objects import Kind, Tree, TreeEntry
from ..objstore.oid import Oid
from ..objstore.types import EntryKind
from .pointers import SUFFIX, Pointer, read_pointer
from .repo import Repo


class PreviousVersions:
    """The tracked versions of the artifacts ``rels`` (paths relative to the workspace) of ``repo``."""

    def __init__(self, repo: Repo, rels: Sequence[str]) -> None:
        self._store = repo.store
        self._tracked: dict[str, Pointer] = {}
        self._trees: dict[Oid, dict[str, TreeEntry]] = {}
        for rel in rels:
            path = repo.abspath(rel + SUFFIX)
            try:
                if os.path.isfile(path):
                    self._tracked[os.fspath(repo.abspath(rel))] = read_pointer(path, where=rel + SUFFIX)
            except ArtError:
                continue

    def previous_many(self, paths: list[str]) -> list[Oid | None]:
        """The tracked id of the file at each of ``paths`` (absolute), None when there is none."""
        return [self._one(p) for p in paths] if self._tracked else [None] * len(paths)

    def _one(self, path: str) -> Oid | None:
        pointer = self._tracked.get(path)
        if pointer is not None:
            return pointer.oid if pointer.kind == "file" else None
        root, rest = path, []
        while True:  # the artifact holding ``path``: its nearest ancestor that is tracked
            root, name = os.path.split(root)
            if not name:
                return None
            rest.append(name)
            pointer = self._tracked.get(root)
            if pointer is not None:
                break
        if pointer.kind != "dir":
            return None
        oid = pointer.oid
        for i, name in enumerate(reversed(rest)):
            entry = self._entries(oid).get(name)
            last = i == len(rest) - 1
            if entry is None or entry.kind != (EntryKind.FILE if last else EntryKind.DIR):
                return None
            oid = entry.oid
        return oid

    def _entries(self, oid: Oid) -> dict[str, TreeEntry]:
        entries = self._trees.get(oid)
        if entries is None:
            try:
                tree = Tree.from_bytes(oid, self._store.get(oid, Kind.TREE))
                entries = {e.name: e for e in tree.entries}
            except ArtError:
                entries = {}
            self._trees[oid] = entries
        return entries
