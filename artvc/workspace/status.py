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
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from stat import S_ISDIR, S_ISREG

from ..objstore.oid import Oid
from ..objstore.scan import quick_signature, walk_tree
from ..objstore.treecache import FolderScan, resolve_tree, scan_folder
from ..objstore.types import EntryKind
from .pointers import Pointer
from .repo import Repo
from .safety import ABSENT, DIR, FILE, LINK, Place, place, would_lose
from .tracked import TrackedArtifact, incomplete, select

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


@dataclass(frozen=True, slots=True)
class ArtifactStatus:
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


@dataclass(frozen=True, slots=True)
class StatusResult:
    artifacts: list[ArtifactStatus]

    @property
    def clean(self) -> bool:
        return all(a.state in (UNCHANGED, PARTIAL) for a in self.artifacts)


def current_oid(repo: Repo, path: str, kind: str) -> Oid | None:
    """Return the id of what is in the workspace at ``path`` now (None when missing or of another kind).

    A folder is one stat walk when nothing in it changed since the stat cache last saw it; otherwise only the
    folders that changed are rebuilt (``objstore/treecache.py``), their files hashed only where the stat cache
    cannot vouch for them.
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
    try:
        scanned = scan_folder(str(full))
    except OSError:  # unreadable somewhere: the plain walk says where, as a FileSystemError
        tree, _ = walk_tree(str(full), repo.root, state.oids_of)
        return tree.oid
    cached = state.dir_entry(path)
    if cached and cached[0] == scanned.signature.hex():
        _remember_inner(repo, path, scanned, Oid(cached[1]))
        return Oid(cached[1])
    if cached and _as_left(str(full), cached[0], scanned):
        # as add or checkout left it: they record the walk's fingerprint (``scan.quick_signature``), not the
        # per-folder signatures; adopt their tree once and remember the folders, so the next status is one walk
        state.set_dir(path, scanned.signature.hex(), Oid(cached[1]))
        _remember_inner(repo, path, scanned, Oid(cached[1]))
        return Oid(cached[1])

    def known(rel: str, sig: bytes) -> tuple[Oid, int] | None:
        return state.tree_entry(f"{path}/{rel}", sig.hex())

    def remember(rel: str, sig: bytes, oid: Oid, size: int) -> None:
        if rel:
            state.set_tree(f"{path}/{rel}", sig.hex(), oid, size)
        else:
            state.set_dir(path, sig.hex(), oid)
            state.set_tree(path, sig.hex(), oid, size)  # every folder below is remembered too

    return resolve_tree(str(full), repo.root, scanned, state.oids_of, known, remember)


def _as_left(full: str, fingerprint: str, scanned: FolderScan) -> bool:
    """True when the folder's fingerprint, taken after ``scanned``, is the one add or checkout recorded, and a
    second per-folder walk still gives ``scanned``'s signature (nothing changed between the walks)."""
    if quick_signature(full) != fingerprint:
        return False
    try:
        return scan_folder(full).signature == scanned.signature
    except OSError:
        return False


def _remember_inner(repo: Repo, path: str, scanned: FolderScan, oid: Oid) -> None:
    """Remember the subfolders' trees of a folder whose signature matched (``oid`` is its tree), read from the
    store's trees, so that the next change inside rebuilds only the folders on the way to it. Folders that
    already have their row cost one query per 500; a marker row for ``path`` itself skips even that."""
    state = repo.state
    top = scanned.signature.hex()
    if not scanned.complete or state.tree_entry(path, top) is not None or len(scanned.sigs) < 2:
        return
    sigs = scanned.sigs
    have = state.tree_sigs([f"{path}/{rel}" for rel in sigs if rel])
    lacking = {rel for rel, (sig, _) in sigs.items() if rel and have.get(f"{path}/{rel}") != sig.hex()}
    if lacking:
        wanted = {rel.rpartition("/")[0] for rel in lacking}  # folders whose stored tree names a lacking one
        for rel in list(wanted):
            while rel:
                rel = rel.rpartition("/")[0]
                wanted.add(rel)
        from ..errors import ArtError

        queue = [("", oid)]
        try:
            while queue:
                rel, tree_oid = queue.pop()
                for e in repo.store.get_tree(tree_oid).entries:
                    if e.kind != EntryKind.DIR:
                        continue
                    sub = f"{rel}/{e.name}" if rel else e.name
                    seen = sigs.get(sub)
                    if seen is None:
                        continue
                    if sub in lacking:
                        state.set_tree(f"{path}/{sub}", seen[0].hex(), e.oid, e.size)
                    if seen[1] and sub in wanted:
                        queue.append((sub, e.oid))
        except ArtError:  # the tree is not in the store (or is damaged): the rows wait for a rebuild
            return
    state.set_tree(path, top, oid, -1)


def status(
    repo: Repo, paths: Sequence[str] | None = None, *, artifacts: list[TrackedArtifact] | None = None
) -> StatusResult:
    """Return the state of each tracked artifact (all, or those under ``paths``; chosen from ``artifacts`` when
    the caller has selected them already, so the workspace is not walked for pointers again)."""
    looked = []
    for a in select(repo, paths, artifacts):
        path, pointer = a.path, a.pointer
        where = place(repo, path, pointer.kind)
        actual, reason = None, _conflict(where)
        if reason is None and where.kind == pointer.kind:
            actual, reason = _same_kind_oid(repo, path, pointer.kind)
        elif reason is None and where.kind is not ABSENT:  # a file where a folder belongs, or the reverse
            actual = _other_oid(repo, path, where.kind)
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


def _same_kind_oid(repo: Repo, path: str, kind: str) -> tuple[Oid | None, str | None]:
    """The id of what is at ``path``; a folder holding a symlink that leaves the workspace is a conflict
    (art stores no such link, and checkout removes it only with ``--force``, never following it)."""
    from ..errors import UnsafePathError

    try:
        return current_oid(repo, path, kind), None
    except UnsafePathError as exc:
        return None, str(exc)


def _other_oid(repo: Repo, path: str, kind: str) -> Oid | None:
    from ..errors import UnsafePathError

    try:
        return current_oid(repo, path, kind)
    except UnsafePathError:  # a folder holding a symlink that leaves the workspace: never stored
        return None
