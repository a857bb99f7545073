"""The plan of a checkout: what to write, what to delete and what is refused, decided without changing the
workspace (the model is dvc-data's compare -> diff -> apply).

``plan_checkout`` compares each selected artifact with what is on disk (``status``), applies the one rule of
``safety`` (refusals), diffs every stored tree against the folder it will replace, and finally asks the store,
in one batched presence check (``tracked.incomplete_keys``), whether it holds every object the writes need.
It reads the workspace (and may hash files the stat cache cannot vouch for) but creates, replaces and deletes
nothing there. ``checkout.apply_plan`` starts only from a plan with nothing refused and nothing lacking, so a
missing object leaves the workspace exactly as it was.

The plan holds names and ids, never file contents: per file to write in a folder that is there, its path inside
the artifact and its tree entry (a few hundred bytes); per folder the checkout creates, only its path and tree id
(every file of that tree is written: the apply step reads the tree again, one folder at a time). A folder's tree
of more than ``safety.DECODED_MAX`` entries is never decoded whole: each step reads its entries one at a time
(``EncodedTree``). So a checkout of a million files into an empty place plans in a few MiB, in one folder or many.
"""

from __future__ import annotations

import os
import stat as stat_mod
from array import array
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConflictError, ObjectNotFoundError, UnsafePathError, WorkspaceError, WouldOverwriteError
from ..objstore.objects import Kind, TreeEntry
from ..objstore.oid import Oid
from ..objstore.types import EntryKind, ObjectKey
from .paths import check_name, check_tree_links, is_reserved
from .pointers import PointerError
from .repo import Repo
from .safety import DIR, FILE, LINK, OTHER, TreeCache, check_tree, would_lose
from .status import CONFLICT, MODIFIED, NOT_IN_STORE, UNCHANGED, ArtifactStatus, status
from .tracked import TrackedArtifact, incomplete_keys

if TYPE_CHECKING:
    from ..objstore.store.local import LocalStore


class Op(Enum):
    """One change to the workspace's structure (files are written separately, after every ``Op``)."""

    UNLINK = "unlink"  # a file or symlink in the way, or not in the stored tree
    RMTREE = "rmtree"  # a folder in the way, or not in the stored tree
    MKDIR = "mkdir"  # a folder of the stored tree that is not there
    LINK = "link"  # a symlink of the stored tree that is not there (or points elsewhere)


Step = tuple[Op, str, str | None]  # (op, path inside the artifact, symlink target)
Write = tuple[str, TreeEntry]  # (path inside the artifact, "" for a file artifact; what to write there)
Folder = tuple[str, Oid]  # (path inside the artifact, tree): a folder the checkout creates, every file of it written


@dataclass(slots=True)
class ArtifactPlan:
    """How one artifact is brought in line with its pointer.

    ``dest`` is where it is written (the path, or the in-workspace target of a symlink at the path). ``clear``
    is removed first: ``blocker`` (a file where a parent folder belongs) and whatever of the other kind is at
    ``dest`` (``Op.UNLINK`` or ``Op.RMTREE``). A folder that is not there is built whole in a staging folder
    (``fresh``) and renamed into place. ``steps`` then change the folder structure and ``writes`` the files,
    both with paths relative to ``dest``.
    """

    status: ArtifactStatus
    dest: Path
    fresh: bool = False
    blocker: str | None = None
    clear: Op | None = None
    steps: list[Step] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    folders: list[Folder] = field(default_factory=list)
    folder_files: int = 0  # how many files ``folders`` hold, and their bytes
    folder_bytes: int = 0
    absent: ObjectKey | None = None  # the first object a file of ``folders`` needs that the store lacks
    # the index rows the presence check found for the files of ``folders`` (by the folder's path), kept for the
    # write so each file is looked up once: five int64 a file, in tree order (``LOCATED_AT_MOST`` files a plan)
    located: dict[str, array[int]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.status.path

    @property
    def files(self) -> int:
        """How many files writing this artifact creates or replaces."""
        return len(self.writes) + self.folder_files

    @property
    def size(self) -> int:
        """Their bytes."""
        return sum(e.size for _, e in self.writes) + self.folder_bytes


@dataclass(slots=True)
class CheckoutPlan:
    """What a checkout would do. ``refused``: artifacts the rules forbid replacing (with the reason, an error);
    ``lacking``: artifacts the local store cannot write, with the first object it lacks for each."""

    todo: list[ArtifactPlan] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[str, WorkspaceError]] = field(default_factory=list)
    lacking: list[tuple[str, ObjectKey]] = field(default_factory=list)
    # trees decoded while planning, for the apply step: up to 100,000 entries (~35 MiB), decoded again beyond
    trees: TreeCache = field(default_factory=lambda: TreeCache(100_000))

    @property
    def files(self) -> int:
        """How many files the plan writes."""
        return sum(a.files for a in self.todo)

    @property
    def blocked(self) -> bool:
        return bool(self.refused or self.lacking)


def plan_checkout(
    repo: Repo,
    paths: Sequence[str] | None = None,
    *,
    force: bool = False,
    artifacts: list[TrackedArtifact] | None = None,
    ready: AbstractSet[Oid] = frozenset(),
    trees: TreeCache | None = None,
    arriving: bool = False,
) -> CheckoutPlan:
    """Plan the checkout of the artifacts under ``paths`` (all when empty; chosen from ``artifacts`` when the
    caller selected them already). Nothing in the workspace is changed. ``ready``: files a lazy pull wrote and
    proved in its stage (``FileStage.ready``), not in the store: they count as present (docs/design.md,
    "A pull at one write"). ``trees``: the cache the plan reads trees through (and hands to the apply step); a
    pull's checkout beside its fetch passes one holding the trees the fetch verified, not stored yet
    (``pull_overlap.py``). ``arriving``: that checkout's objects are still being fetched: none is checked present
    (a file whose object never comes is not written, and its folder never put in place) and no tree is
    remembered complete.

    Raises:
        PointerError: a file pointer's ``size`` disagrees with the stored file (the pointer is wrong).
        CorruptObjectError, FormatError: a stored tree that cannot be decoded.
    """
    plan = CheckoutPlan() if trees is None else CheckoutPlan(trees=trees)
    trees = plan.trees
    room = [LOCATED_AT_MOST]  # files whose index rows the plan may still keep for the write
    for a in status(repo, paths, artifacts=artifacts).artifacts:
        if a.state in (UNCHANGED, NOT_IN_STORE) and a.actual == a.pointer.oid:
            plan.unchanged.append(a.path)
            continue
        problem = _refusal(repo, a, force, trees)
        if problem is not None:
            plan.refused.append((a.path, problem))
            continue
        _check_pointer_size(repo, a)
        try:
            planned = _plan_artifact(repo, a, trees, ready, room, arriving=arriving)
        except ObjectNotFoundError as exc:  # a tree of it is not stored
            plan.lacking.append((a.path, ObjectKey(Oid(exc.oid), Kind.TREE)))
            continue
        except UnsafePathError as exc:  # a name or link of its tree (checked as the plan reads it)
            plan.refused.append((a.path, exc))
            continue
        if planned.absent is None:
            plan.todo.append(planned)
            continue
        oid, kind = planned.absent  # an object fsck quarantined is damaged, not missing (exit 3)
        repo.store.raise_if_quarantined(oid, *((Kind.FILE, Kind.CHUNK) if kind == Kind.FILE else (kind,)))
        plan.lacking.append((a.path, planned.absent))
    if not arriving:
        _check_presence(repo, plan, ready)
    return plan


def _check_presence(repo: Repo, plan: CheckoutPlan, ready: AbstractSet[Oid] = frozenset()) -> None:
    """Move the artifacts whose ``writes`` need an object the store lacks from ``todo`` to ``lacking``: one
    batched presence check over those files of every artifact (their manifests and chunks included), except in
    folders whose tree the store's completeness memo vouches for (everything below it is stored). The files of
    ``folders`` were checked while planning (``_plan_tree``)."""
    roots = {
        ObjectKey(a.status.pointer.oid, Kind.TREE) for a in plan.todo if a.writes and a.status.pointer.kind == "dir"
    }
    whole = repo.store.known_complete(roots) if roots and repo.store.complete_generation() is not None else set()
    keys = {
        (entry.oid, Kind.FILE)
        for a in plan.todo
        if (a.status.pointer.oid, Kind.TREE) not in whole
        for _, entry in a.writes
        if entry.oid not in ready
    }
    if not keys:
        return
    lacking: list[ObjectKey] = []
    absent = incomplete_keys(repo.store, keys, lacking=lacking)
    if not absent:
        return
    for key in lacking:  # an object fsck quarantined is damaged, not missing (exit 3)
        repo.store.raise_if_quarantined(key[0], *((Kind.FILE, Kind.CHUNK) if key[1] == Kind.FILE else (key[1],)))
    keep = []
    for a in plan.todo:
        first = next((ObjectKey(e.oid, Kind.FILE) for _, e in a.writes if (e.oid, Kind.FILE) in absent), None)
        if first is None:
            keep.append(a)
        else:
            plan.lacking.append((a.path, first))
    plan.todo = keep


def _refusal(repo: Repo, a: ArtifactStatus, force: bool, trees: TreeCache) -> WorkspaceError | None:
    """Why ``a`` must not be restored now (None when it may): the one rule of ``safety`` applied."""
    if a.unsafe:
        return UnsafePathError(
            f"{a.reason}; art never writes through it",
            path=a.path,
            hint="remove or replace the symlink, then run the command again",
        )
    other = None if force else _other_refusal(repo, a)
    if other is not None and a.pointer.kind == "dir":  # an unsafe tree is the graver refusal: checked first
        try:
            check_tree(repo, _rel(repo, a), a.pointer.oid, trees)
        except UnsafePathError as exc:
            return exc
        except ObjectNotFoundError:
            pass
    # a tree to write is checked whole (names, links resolved against it) by the plan as it reads it, even
    # with force, before anything is written (``_plan_tree``): not read a time more for the check alone
    return other


def _other_refusal(repo: Repo, a: ArtifactStatus) -> WorkspaceError | None:
    """A refusal ``force`` lifts: something in the way, or changes the store cannot give back."""
    if a.state == CONFLICT:
        return ConflictError(
            f"{a.path} is in the way: {a.reason}", path=a.path, hint="move it elsewhere, or use --force to replace it"
        )
    if (
        a.state == MODIFIED
        and a.where is not None
        and would_lose(repo, a.where, a.actual, a.pointer.oid, a.pointer.kind)
    ):
        return WouldOverwriteError(
            f"{a.path} has changes that are not added", path=a.path, hint="'art add' them to keep them, or use --force"
        )
    return None


def _check_pointer_size(repo: Repo, a: ArtifactStatus) -> None:
    """A file pointer whose ``size`` disagrees with the stored file is a bad pointer, not a damaged store.

    Raises:
        PointerError: naming the pointer (or art.lock stage) as the culprit.
    """
    if a.pointer.kind != "file" or not repo.store.has_file(a.pointer.oid):
        return
    actual = repo.store.file_size(a.pointer.oid, expect=a.pointer.size)
    if actual != a.pointer.size:
        lock = a.source.startswith("art.lock:")
        where = a.source if lock else f"pointer {a.source}"
        raise PointerError(
            f"{where} is wrong: size = {a.pointer.size} but the stored file has {actual} bytes",
            path=a.path,
            hint="re-run the stage with 'art repro'"
            if lock
            else f"restore the pointer with 'git checkout -- {a.source}', or "
            f"re-add the data with 'art add {a.path}'; the store is fine",
        )


def _rel(repo: Repo, a: ArtifactStatus) -> str:
    dest = a.where.dest if a.where is not None else repo.abspath(a.path)
    return Path(os.path.relpath(dest, repo.root)).as_posix()


def _plan_artifact(
    repo: Repo,
    a: ArtifactStatus,
    trees: TreeCache,
    ready: AbstractSet[Oid] = frozenset(),
    room: list[int] | None = None,
    *,
    arriving: bool = False,
) -> ArtifactPlan:
    where, pointer = a.where, a.pointer
    assert where is not None
    out = ArtifactPlan(a, where.dest, blocker=where.blocker)
    if pointer.kind == "file":
        out.clear = Op.RMTREE if where.kind == DIR else Op.UNLINK if where.kind in (LINK, OTHER) else None
        out.writes.append(("", TreeEntry(where.dest.name, EntryKind.FILE, pointer.oid, pointer.size)))
        return out
    if where.kind in (FILE, LINK, OTHER):
        out.clear = Op.UNLINK
    out.fresh = out.clear is not None or not os.path.lexists(where.dest)
    _plan_tree(repo, out, trees, ready, _rel(repo, a), room if room is not None else [0], arriving=arriving)
    return out


def _plan_tree(
    repo: Repo,
    out: ArtifactPlan,
    trees: TreeCache,
    ready: AbstractSet[Oid] = frozenset(),
    at: str = "",
    room: list[int] | None = None,
    *,
    arriving: bool = False,
) -> None:
    """Diff stored tree ``out.status.pointer.oid`` against the folder at ``out.dest`` (``at``, relative to the
    workspace root) into ``out.steps``, ``out.writes`` and ``out.folders``.

    The tree is checked whole as it is read, as ``safety.check_tree`` checks it: each name before it is used,
    then every link resolved against the tree and the workspace around it (the plan only reads the workspace,
    so nothing is written before the check is done: an unsafe tree raises and its artifact is refused). Nothing is
    followed: a symlink in the way is removed, never written through; ``.git``/``.art`` folders (which art
    never stores) are left alone. Iterative (a stack of folders), so any depth the file system allows works.
    A folder that is not there goes to ``out.folders`` whole, its files checked present in the store here,
    one query per 2,048 files as its entries stream by (``out.absent`` names the first missing object), unless
    the completeness memo vouches for the artifact's tree; a fresh artifact found complete is remembered so.
    The query asks where each file is (``locate_chunks``), and those rows are kept in ``out.located`` for the
    write while ``room`` (files, shared by the plan) lasts: a file is then looked up in the index once.

    Raises:
        ObjectNotFoundError: a tree of it is not stored.
        UnsafePathError: for an unsafe name or a link that would resolve outside the workspace.
    """
    store, root = repo.store, ObjectKey(out.status.pointer.oid, Kind.TREE)
    links: dict[str, str] = {}
    gen = store.complete_generation()
    check = not arriving and (gen is None or not store.known_complete([root]))  # arriving: nothing to check yet
    if ready:  # files a lazy pull staged are not stored: the tree is not complete in the store
        gen = None
    stack: list[tuple[str, Oid, bool]] = [("", out.status.pointer.oid, not out.fresh)]
    while stack:
        rel, oid, exists = stack.pop()
        tree = trees.read(store, oid, take=True)
        folder = os.path.join(out.dest, rel) if rel else str(out.dest)
        prefix = f"{rel}/" if rel else ""
        present: dict[str, os.DirEntry] = {}
        entries: Iterable[TreeEntry] = tree.iter_entries()
        if exists:
            entries = tuple(entries)  # read twice: a folder that is there holds these files already
            with os.scandir(folder) as it:
                present = {e.name: e for e in it}
            wanted = {e.name for e in entries}
            for name, d in present.items():
                if name not in wanted and not is_reserved(name):
                    out.steps.append((Op.RMTREE if _is_dir(d) else Op.UNLINK, prefix + name, None))
        subdirs: list[tuple[str, Oid, bool]] = []
        files: list[tuple[str, TreeEntry, os.DirEntry]] = []
        new: list[TreeEntry] = []  # files of a folder that is not there, a batch at a time (checked present)
        new_files = new_bytes = 0
        rows: array[int] | None = array("q") if check and not exists and room and room[0] > 0 else None
        for entry in entries:
            path, e = prefix + check_name(entry.name), present.get(entry.name)
            if entry.kind == "dir":
                real_dir = e is not None and _is_dir(e)
                if e is not None and not real_dir:
                    out.steps.append((Op.UNLINK, path, None))
                if not real_dir:
                    out.steps.append((Op.MKDIR, path, None))
                subdirs.append((path, entry.oid, real_dir))
            elif entry.kind == "symlink":
                if entry.target is not None:
                    links[path] = entry.target
                if e is None or not e.is_symlink() or os.readlink(e.path) != entry.target:
                    if e is not None and _is_dir(e):
                        out.steps.append((Op.RMTREE, path, None))
                    out.steps.append((Op.LINK, path, entry.target))
            elif not exists:
                new_files += 1
                new_bytes += entry.size
                if check and out.absent is None and entry.oid not in ready:
                    new.append(entry)
                    if len(new) >= _PRESENCE_BATCH:
                        out.absent, new = _absent(store, new, rows), []
                        if rows is not None and room and len(rows) > 5 * room[0]:
                            rows = None  # past the plan's budget: never held whole (a folder of a million files)
                else:
                    rows = None  # not every file of the folder located: the write locates them
            elif e is None:
                out.writes.append((path, entry))
            else:
                files.append((path, entry, e))
        if new_files:
            out.folders.append((rel, oid))
            out.folder_files += new_files
            out.folder_bytes += new_bytes
            trees.keep(tree)  # for the apply step, when decoded and within the cache's budget
            if new and out.absent is None:
                out.absent = _absent(store, new, rows)
            if rows is not None and room and out.absent is None and len(rows) == 5 * new_files <= 5 * room[0]:
                room[0] -= new_files
                out.located[rel] = rows
        _plan_files(repo, out, files)
        stack.extend(reversed(subdirs))
    check_tree_links(repo.root, at, links)
    if check and out.fresh and out.absent is None and gen is not None:
        store.remember_complete([root], gen)


_PRESENCE_BATCH = 2048  # files of a folder the checkout creates checked present with one query
LOCATED_AT_MOST = 100_000  # files whose index rows a plan keeps for the write (40 bytes each: 4 MB at most)
_NOT_A_CHUNK = (-1, 0, 0, 0, 0)


def _absent(store: LocalStore, entries: list[TreeEntry], rows: array[int] | None = None) -> ObjectKey | None:
    """The first of these files whose objects (manifest and chunks) the store lacks; None when it has all.
    One query for the one-chunk files (the chunk is the file: where it is stored is appended to ``rows``, five
    ints a file, the pack -1 for the others), a walk only for the others."""
    found = store.locate_chunks([e.oid for e in entries])
    rest = [ObjectKey(e.oid, Kind.FILE) for e, row in zip(entries, found, strict=True) if row is None]
    if rows is not None:
        for row in found:
            rows.extend(_NOT_A_CHUNK if row is None else row)
    if not rest:
        return None
    lacking: list[ObjectKey] = []
    incomplete_keys(store, rest, lacking=lacking)
    return lacking[0] if lacking else None


def _plan_files(repo: Repo, out: ArtifactPlan, files: list[tuple[str, TreeEntry, os.DirEntry]]) -> None:
    """Queue the files of one folder that differ from the tree (one stat-cache query for the folder)."""
    regular, items = [], []
    for path, entry, e in files:
        st = e.stat(follow_symlinks=False)
        if stat_mod.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111) == entry.executable:
            regular.append((path, entry))
            items.append((e.path, st))
        else:
            if stat_mod.S_ISDIR(st.st_mode):
                out.steps.append((Op.RMTREE, path, None))
            out.writes.append((path, entry))
    if items:
        for (path, entry), oid in zip(regular, repo.state.oids_of(items), strict=True):
            if oid != entry.oid:
                out.writes.append((path, entry))


def _is_dir(e: os.DirEntry) -> bool:
    try:
        return e.is_dir(follow_symlinks=False)
    except OSError:
        return False
