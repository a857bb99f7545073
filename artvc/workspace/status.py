"""``art status``: compare each tracked artifact with its pointer, hashing only what the stat cache can't vouch for.

States: ``unchanged``, ``modified``, ``missing`` (not in the workspace), ``not-in-store`` (the workspace may
be fine, but the local store lacks the pointer's object, ``tracked.incomplete(shallow=True)``: push impossible,
checkout impossible),
``partial`` (a folder checked out in part by ``art pull``/``art checkout`` of files inside it: every file
there matches the pointer, the others are absent; ``partial.partial_state``; counts as clean),
``conflict`` (the path holds something art must not replace without ``--force``, or must not write at all:
a folder where a file belongs holding files the store lacks, a symlink, a device, a parent that is a file,
a symlink leading outside the workspace; ``reason`` says which).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from enum import StrEnum
from stat import S_ISDIR, S_ISREG
from typing import TYPE_CHECKING, NamedTuple

from ..objstore.oid import Oid
from ..objstore.scan import walk_tree
from ..objstore.treecache import keep_snapshots, resolve_tree, scan_folder
from .pointers import Pointer
from .repo import Repo
from .safety import ABSENT, DIR, FILE, LINK, Place, place, would_lose
from .tracked import TrackedArtifact, incomplete, select

if TYPE_CHECKING:
    from .fsmonitor import Changes

__all__ = ["ArtifactStatus", "StatusResult", "current_oid", "select", "status"]


class ArtifactState(StrEnum):
    """An artifact's state in the workspace (``state`` in ``art status --json``)."""

    UNCHANGED = "unchanged"
    MODIFIED = "modified"
    MISSING = "missing"
    NOT_IN_STORE = "not-in-store"
    CONFLICT = "conflict"
    PARTIAL = "partial"


UNCHANGED, MODIFIED, MISSING, NOT_IN_STORE, CONFLICT, PARTIAL = ArtifactState


class ArtifactStatus(NamedTuple):
    path: str
    state: ArtifactState
    pointer: Pointer
    source: str
    actual: Oid | None = None
    reason: str | None = None  # for a conflict: what is in the way
    where: Place | None = None  # what is on disk at the path (for checkout)

    @property
    def unsafe(self) -> bool:
        """True when art must not write at the path at all (it leads outside the workspace)."""
        return self.where is not None and self.where.unsafe is not None

    def as_dict(self) -> dict:
        out = {
            "path": self.path,
            "state": self.state,
            "oid": str(self.pointer.oid),
            "kind": self.pointer.kind,
            "size": self.pointer.size,
            "source": self.source,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


class StatusResult(NamedTuple):
    artifacts: list[ArtifactStatus]

    @property
    def clean(self) -> bool:
        return all(a.state in (UNCHANGED, PARTIAL) for a in self.artifacts)


def current_oid(repo: Repo, path: str, kind: str, changes: Changes | None = None) -> Oid | None:
    """Return the id of what is in the workspace at ``path`` now (None when missing or of another kind).

    A folder is one stat walk when nothing in it changed since ``art add``, ``art checkout`` or the last status
    remembered its signature (``objstore/treecache.py``); otherwise only the folders that changed are rebuilt,
    their files hashed only where the stat cache cannot vouch for them. With ``changes`` (the file-system
    monitor's answer, ``workspace/fsmonitor.py``) only the folders it reports are read.
    """
    full = repo.abspath(path)
    state = repo.state
    try:
        st = os.stat(full)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if kind == "file":
        if not S_ISREG(st.st_mode):
            return None
        return state.oid_of(str(full), st)
    if not S_ISDIR(st.st_mode):
        return None
    changes = changes if changes is not None else repo.monitor
    if changes is not None:
        return changes.tree_oid(path)
    snaps = state.snapshots_under(path, _stored_tree(repo))
    try:
        scanned = scan_folder(str(full), listings=True, snaps=snaps)
    except OSError:  # unreadable somewhere: the plain walk says where, as a FileSystemError
        tree, _ = walk_tree(str(full), repo.root, state.oids_of)
        return tree.oid

    def known(rel: str, sig: bytes) -> tuple[Oid, int] | None:
        return state.tree_entry(f"{path}/{rel}" if rel else path, sig.hex())

    hit = known("", scanned.signature)
    if hit is not None:  # nothing changed: large folders get a snapshot for the next change, once
        if scanned.watched:
            keep_snapshots(scanned, known, snaps)
        return hit[0]
    return resolve_tree(str(full), repo.root, scanned, state.digests_of, known, state.folders_under(path), snaps)


def _stored_tree(repo: Repo) -> Callable[[Oid], bytes | None]:
    """The encoding of a tree in the local store, checked against its id (None when missing or damaged)."""

    def read(oid: Oid) -> bytes | None:
        from ..errors import ArtError
        from ..objstore.hashing import hash_object
        from ..objstore.types import Kind

        try:
            data = repo.store.get(oid, Kind.TREE)
        except ArtError:
            return None
        return data if hash_object("tree", data) == oid else None

    return read


def status(
    repo: Repo, paths: Sequence[str] | None = None, *, artifacts: list[TrackedArtifact] | None = None
) -> StatusResult:
    """Return the state of each tracked artifact (all, or those under ``paths``; chosen from ``artifacts`` when
    the caller has selected them already, so the workspace is not walked for pointers again).

    With ``core.fsmonitor`` on, the file-system monitor says which folders to read (``workspace/fsmonitor.py``).
    """
    chosen = select(repo, paths, artifacts)
    if repo.config.core("fsmonitor"):
        from .fsmonitor import session

        with session(repo, whole=not paths and artifacts is None) as changes:
            return _status(repo, chosen, changes)
    return _status(repo, chosen, None)


def _status(repo: Repo, chosen: list[TrackedArtifact], changes: Changes | None) -> StatusResult:
    looked = []
    for a in chosen:
        path, pointer = a.path, a.pointer
        where = place(repo, path, pointer.kind)
        actual, reason = None, _conflict(where)
        if reason is None and where.kind == pointer.kind:
            actual, reason = _same_kind_oid(repo, path, pointer.kind, changes)
        elif reason is None and where.kind is not ABSENT:  # a file where a folder belongs, or the reverse
            actual = _other_oid(repo, path, where.kind, changes)
            if would_lose(repo, where, actual, pointer.oid, pointer.kind):
                reason = (
                    f"a folder with data the store lacks is where file {path} belongs"
                    if where.kind == DIR
                    else f"a file the store lacks is where folder {path} belongs"
                )
        looked.append((a, where, actual, reason))
    same = [a.pointer for a, where, actual, reason in looked if reason is None and actual == a.pointer.oid]
    lacking = incomplete(repo.store, same, shallow=True) if same else set()  # status reads no trees
    out = []
    for a, where, actual, reason in looked:
        if reason is not None:
            state = CONFLICT
        elif where.kind is ABSENT or actual is None:
            state = MISSING
        elif actual != a.pointer.oid:
            state = PARTIAL if a.pointer.kind == "dir" and where.kind == DIR and _partial(repo, a) else MODIFIED
        elif a.pointer.oid in lacking:
            state = NOT_IN_STORE
        else:
            state = UNCHANGED
        out.append(ArtifactStatus(a.path, state, a.pointer, a.source, actual, reason, where))
    repo.state.flush()
    return StatusResult(out)


def _partial(repo: Repo, a: TrackedArtifact) -> bool:
    from ..objstore.types import Kind

    if repo.store.has(a.pointer.oid, Kind.TREE):  # ``partial_state``'s first answer, without loading its module
        return False
    from .partial import partial_state

    return partial_state(repo, a)


def _conflict(where: Place) -> str | None:
    """Why the path can't simply be replaced, whatever the store holds (None when it can)."""
    if where.unsafe:
        return where.unsafe
    if where.blocker:
        return f"{where.blocker} is not a folder"
    if where.kind == LINK:
        return "a symlink is there (art does not replace it without --force)"
    if where.kind not in (ABSENT, FILE, DIR):
        return "neither a file nor a folder is there (a device, socket or pipe)"
    return None


def _same_kind_oid(repo: Repo, path: str, kind: str, changes: Changes | None) -> tuple[Oid | None, str | None]:
    """The id of what is at ``path``; a folder holding a symlink that leaves the workspace is a conflict
    (art stores no such link, and checkout removes it only with ``--force``, never following it)."""
    from ..errors import UnsafePathError

    try:
        return current_oid(repo, path, kind, changes), None
    except UnsafePathError as exc:
        return None, str(exc)


def _other_oid(repo: Repo, path: str, kind: str, changes: Changes | None) -> Oid | None:
    from ..errors import UnsafePathError

    try:
        return current_oid(repo, path, kind, changes)
    except UnsafePathError:  # a folder holding a symlink that leaves the workspace: never stored
        return None
