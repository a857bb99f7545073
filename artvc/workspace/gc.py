"""``art gc``: remove objects that nothing kept needs, by a retention policy over git history.

What is kept (docs/gc.md): the workspace as it is (and every other workspace registered in a shared store,
store_users.py); for every selected ref (branches, remote-tracking branches, tags, other refs such as the
stash) the artifacts of the commits the policy keeps (default: every commit reachable from them); the runs
named by the kept ``art.lock`` files; the lineage runs whose outputs include a kept artifact (and,
transitively, the runs that produced their inputs); on a remote, the roots that pushes recorded within the
grace period (objstore/remote_roots.py) and the runs its markers name, with their outputs (younger than
``--keep-within`` when given; objstore/remote_markers.py); everything those reach. Objects in packs younger
than the grace period are never removed.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ArtError, UsageError
from ..objstore.gc import GcPlan, plan_local, rewrite_local
from ..objstore.lineage import Run
from ..objstore.objects import Kind
from ..objstore.oid import Oid, is_oid
from ..objstore.promised import any_promised, settle
from ..objstore.reachability import closure, closure_into
from ..objstore.store.base import ObjectStore
from ..objstore.store.local_check import LiveKeys
from ..objstore.types import ObjectKey
from .repo import Repo
from .roots import revision_roots, workspace_roots

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_duration(text: str | int | float) -> float:
    """Parse ``90s``, ``15m``, ``1h``, ``30d``, ``2w``, ``1y``, ``1d12h`` or a plain number of seconds.

    Raises:
        UsageError: for anything else.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhdwy])", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise UsageError(f"invalid duration {text!r}", hint="use a number and a unit: 90s, 15m, 1h, 30d, 2w, 1y")
    return sum(float(n) * _UNITS[u] for n, u in parts)


@dataclass(frozen=True, slots=True)
class Retention:
    """Which history gc keeps.

    Attributes:
        keep_last: per selected ref, keep only the newest N commits (None: all).
        keep_within: keep commits younger than this many seconds (None: no age limit). With both limits a
            commit is kept when either keeps it; each ref's tip is always kept.
        branches: include branches (``refs/heads``, ``refs/remotes``).
        tags: include tags. When neither ``branches`` nor ``tags`` is asked for, every ref is used.
    """

    keep_last: int | None = None
    keep_within: float | None = None
    branches: bool = False
    tags: bool = False


@dataclass(frozen=True, slots=True)
class GcResult:
    dry_run: bool
    remote: str | None
    commits: int
    live: int
    removed: list[tuple[str, str, int]]
    removed_bytes: int
    spared: int
    packs_rewritten: int
    packs_removed: int
    pack_bytes_before: int = 0
    pack_bytes_after: int = 0
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "remote": self.remote,
            "commits": self.commits,
            "live_objects": self.live,
            "removed_objects": len(self.removed),
            "removed_size": self.removed_bytes,
            "spared_young_objects": self.spared,
            "packs_rewritten": self.packs_rewritten,
            "packs_removed": self.packs_removed,
            "pack_size_before": self.pack_bytes_before,
            "pack_size_after": self.pack_bytes_after,
            "removed": [{"oid": o, "kind": k, "size": n} for o, k, n in self.removed],
            **self.details,
        }


def kept_commits(repo: Repo, retention: Retention, *, now: float | None = None) -> set[str]:
    """Return the commit ids whose artifacts the policy keeps (empty outside git).

    Raises:
        UsageError: for ``keep_last`` below 1.
    """
    git = repo.git
    if git is None:
        return set()
    if retention.keep_last is not None and retention.keep_last < 1:
        raise UsageError("--keep-last must be at least 1", hint="the workspace is always kept; use 1 for the tips")
    now = time.time() if now is None else now
    refs = _selected_refs(git.refs(), retention)
    head = git.head_commit()
    starts = sorted(set(refs.values()) | ({head} if head else set()))
    if retention.keep_last is None and retention.keep_within is None:
        return {commit for commit, _ in git.history(starts)}
    since = None if retention.keep_within is None else now - retention.keep_within
    kept: set[str] = set()
    for start in starts:
        for n, (commit, when) in enumerate(git.history([start])):
            by_count = retention.keep_last is not None and n < retention.keep_last
            by_age = since is not None and when >= since
            if n == 0 or by_count or by_age:
                kept.add(commit)
            elif since is None:
                break  # past the count and there is no age rule: nothing older can be kept
    return kept


def _selected_refs(refs: dict[str, str], retention: Retention) -> dict[str, str]:
    if not retention.branches and not retention.tags:
        return refs
    prefixes = (("refs/heads/", "refs/remotes/") if retention.branches else ()) + (
        ("refs/tags/",) if retention.tags else ()
    )
    return {name: commit for name, commit in refs.items() if name.startswith(prefixes)}


def lineage_runs(store: ObjectStore, artifact_oids: AbstractSet[str], named: Iterable[ObjectKey]) -> set[ObjectKey]:
    """Return the runs to keep: ``named`` ones, those whose outputs include a kept artifact, and the runs that
    produced their inputs (transitively). Unreadable runs are skipped (gc never fails on them; fsck reports)."""
    runs: dict[str, Run] = {}
    for obj in store.iter_objects():
        if obj.kind == Kind.RUN:
            try:
                runs[obj.oid] = Run.from_bytes(obj.oid, store.get(obj.oid, Kind.RUN))
            except ArtError:
                continue
    keep: set[str] = {oid for oid, _ in named}
    keep |= {
        oid
        for oid, run in runs.items()
        if any(isinstance(o, dict) and o.get("oid") in artifact_oids for o in run.get("outputs") or [])
    }
    stack = list(keep)
    while stack:
        run = runs.get(stack.pop())
        if run is None:
            continue
        for inp in run.get("inputs") or []:
            parent = inp.get("run") if isinstance(inp, dict) else None
            if is_oid(parent) and parent not in keep:
                keep.add(parent)
                stack.append(parent)
    return {ObjectKey(Oid(o), Kind.RUN) for o in keep}


def live_set(
    repo: Repo,
    retention: Retention,
    store: ObjectStore,
    *,
    now: float | None = None,
    others: Sequence[Repo] = (),
    extra: Iterable[ObjectKey] = (),
) -> tuple[set[ObjectKey], int]:
    """Return (every key to keep in ``store``, number of commits kept).

    ``others``: further workspaces whose needs count too (those sharing the store), under the same policy;
    ``extra``: further roots (those a recent push recorded on a remote).
    """
    roots, count = live_roots(repo, retention, store, now=now, others=others, extra=extra)
    return closure(store, roots, missing=[]), count


def live_roots(
    repo: Repo,
    retention: Retention,
    store: ObjectStore,
    *,
    now: float | None = None,
    others: Sequence[Repo] = (),
    extra: Iterable[ObjectKey] = (),
) -> tuple[set[ObjectKey], int]:
    """The roots of ``live_set`` (what the kept commits, the workspaces and the kept runs name) and the number
    of commits kept."""
    roots: set[ObjectKey] = set(extra)
    count = 0
    for ws in (repo, *others):
        commits = kept_commits(ws, retention, now=now)
        roots |= workspace_roots(ws) | revision_roots(ws, sorted(commits))
        count += len(commits)
    named_runs = {k for k in roots if k[1] == Kind.RUN}
    artifacts = {oid for oid, kind in roots if kind != Kind.RUN}
    roots |= lineage_runs(store, artifacts, named_runs)
    return roots, count


def sharing_workspaces(repo: Repo, *, skip: Iterable[str] = ()) -> list[Repo]:
    """Open every other workspace registered in ``repo``'s store (the caller closes them).

    A registered workspace that is readable and now uses another store (repointed, or the original of a
    copied workspace: ``cp -r`` copies the registry along with the store) is not a user of this store: it is
    left out, as git leaves out a worktree that no longer points back.

    Raises:
        ArtError: when a registered workspace cannot be read (moved, deleted, damaged, or its store is gone);
            the hint says how to forget it.
    """
    from . import store_users

    store_root = repo.store.root
    out: list[Repo] = []
    try:
        for entry in store_users.entries(store_root):
            if entry.id in skip or (entry.root is not None and Path(entry.root) == repo.root):
                continue
            problem = entry.problem  # always set for an entry without a root (store_users.entries)
            if not problem and entry.root is not None:
                problem = _unreadable(Path(entry.root), store_root)
            if problem is _OTHER_STORE:
                continue
            if problem or entry.root is None:
                which = entry.root or entry.id
                raise ArtError(
                    f"workspace {which}, which shares the store {store_root}, cannot be read: "
                    f"{problem}; gc would delete what it needs",
                    hint=f"if it is gone for good: art gc --forget-workspace {which}; if it moved, "
                    "run 'art status' in its new place once, then forget the old path",
                )
            out.append(Repo(Path(entry.root)))
    except BaseException:
        for other in out:
            other.close()
        raise
    return out


_OTHER_STORE = "it uses another store"


def _unreadable(root: Path, store_root: Path) -> str | None:
    """Why the workspace at ``root`` cannot be counted as a user of ``store_root`` (None: it can;
    ``_OTHER_STORE``: it is readable and uses another store that exists, so it needs nothing from this one)."""
    if not (root / ".art" / "config").is_file():
        return "there is no art workspace there any more (moved or deleted?)"
    try:
        with Repo(root) as other:
            store_dir = other.store_dir
    except ArtError as exc:
        return str(exc)
    try:
        if not os.path.samefile(store_dir, store_root):
            return _OTHER_STORE
    except OSError:
        return f"it now uses the store {store_dir}, which does not exist"
    return None


def forget_workspaces(repo: Repo, paths: Sequence[str], *, dry_run: bool) -> list:
    """Remove the registry entries of workspaces that are gone (``--forget-workspace``); return them.

    Raises:
        UsageError: when a path is not registered, or names a workspace that still uses this store.
    """
    from . import store_users

    store_root = repo.store.root
    found = store_users.entries(store_root)
    chosen = []
    for path in paths:
        wanted = {os.path.abspath(path), path}
        if os.path.exists(path):
            wanted.add(str(Path(path).resolve()))
        entry = next((e for e in found if e.root in wanted or e.id == path), None)
        if entry is None:
            known = ", ".join(e.root or e.id for e in found) or "none"
            raise UsageError(
                f"no workspace {path} is registered in the store {store_root}", hint=f"registered: {known}"
            )
        if entry.root is not None and not _unreadable(Path(entry.root), store_root):
            raise UsageError(
                f"workspace {entry.root} still uses the store {store_root}; forgetting it would "
                "let gc delete what it needs",
                hint="delete that workspace (or change its core.store) first",
            )
        chosen.append(entry)
    if not dry_run:
        for entry in chosen:
            entry.file.unlink(missing_ok=True)
    return chosen


def grace_seconds(repo: Repo, grace: str | float | None) -> float:
    return parse_duration(repo.config.core("gc_grace") if grace is None else grace)


def gc(
    repo: Repo,
    retention: Retention | None = None,
    *,
    grace: str | float | None = None,
    dry_run: bool = False,
    remote: str | None = None,
    now: float | None = None,
    progress: Callable[[int], None] | None = None,
    phase: Callable[[str], None] | None = None,
    forget: Sequence[str] = (),
) -> GcResult:
    """Remove unreachable objects from the local store (or from ``remote``).

    Args:
        repo: the workspace.
        retention: which history to keep (default: everything reachable from every ref).
        grace: objects in packs younger than this are never removed (default ``core.gc_grace``, 1h).
        dry_run: plan only; report what would be removed.
        remote: collect this remote instead of the local store.
        now: the current time (tests).
        progress: called with the number of objects copied.
        phase: remote only: called after each phase ("copied", "indexes-deleted", "packs-deleted"; tests).
        forget: local only: workspaces that shared the store and are gone; their registry entries are removed
            (not with ``dry_run``) and their needs no longer count.

    Raises:
        UsageError: for a bad duration or ``keep_last``, or a workspace to forget that is not gone.
        RepoLockedError: when another art command holds the repository or the store (in any workspace that
            shares it), or another gc or a push the remote.
        ArtError: when a workspace registered in the store cannot be read (see ``sharing_workspaces``).
        RemoteNotConfiguredError, StoreIOError: for an unknown or failing remote.
        CorruptObjectError: when a live object to be copied is damaged (nothing is removed then).
    """
    retention = retention or Retention()
    now = time.time() if now is None else now
    cutoff = now - grace_seconds(repo, grace)
    if remote is not None:
        if forget:
            raise UsageError("--forget-workspace is about the local store", hint="run it without --remote")
        return _gc_remote(
            repo, retention, remote=remote, cutoff=cutoff, dry_run=dry_run, now=now, progress=progress, phase=phase
        )
    # the store lock, exclusive: no art command in any workspace sharing the store runs meanwhile
    with repo.lock, repo.store_lock.exclusive():
        store = repo.store
        forgotten = forget_workspaces(repo, forget, dry_run=dry_run)
        others = sharing_workspaces(repo, skip=[e.id for e in forgotten])
        try:
            store.reindex()
            roots, commits = live_roots(repo, retention, store, now=now, others=others)
        finally:
            for other in others:
                other.close()
        files = store.pack_files()
        mtimes = {name: path.stat().st_mtime for name, path in files.items()}
        with LiveKeys(store) as live:  # a table beside the index, not a set: flat memory at any size
            closure_into(store, roots, live, missing=[])
            live.add_bases()  # a live delta keeps the chunks it is built on
            gc_plan = plan_local(live, mtimes, cutoff)
        before = store.stats()["pack_bytes"]
        if not dry_run:
            rewrite_local(store, gc_plan, progress=progress)
        # promised files (a lazy pull's) have no chunks here to keep; the promises of manifests gone are dropped
        promised = len(settle(store)) if not dry_run and any_promised(store) else 0
        after = before if dry_run else store.stats()["pack_bytes"]
    result = _result(gc_plan, dry_run=dry_run, remote=None, commits=commits, before=before, after=after)
    result.details["workspaces"] = [str(other.root) for other in others]
    result.details["forgotten_workspaces"] = [e.root or e.id for e in forgotten]
    if promised:
        result.details["promised_files"] = promised
    return result


def _result(gc_plan: GcPlan, *, dry_run: bool, remote: str | None, commits: int, before: int, after: int) -> GcResult:
    removed = sorted((str(o.oid), Kind(o.kind).label, o.raw_length) for o in gc_plan.doomed)
    return GcResult(
        dry_run,
        remote,
        commits,
        gc_plan.live,
        removed,
        gc_plan.doomed_bytes,
        len(gc_plan.spared),
        len(gc_plan.rewrite),
        len(gc_plan.drop),
        before,
        after,
    )


def _gc_remote(
    repo: Repo, retention: Retention, *, remote: str, cutoff: float, dry_run: bool, now: float, progress, phase
) -> GcResult:
    """Collect a remote under its gc lock; trees and manifests are read locally when possible."""
    from ..objstore.gc import Overlay, RemoteLock, plan_remote, rewrite_remote
    from ..objstore.remote_markers import all_markers, delete_markers, doomed_markers, marker_roots
    from ..objstore.remote_roots import drop_records, recent_roots
    from .remote import open_remote, transfer_jobs

    store = open_remote(repo, remote)
    try:
        with RemoteLock(store) as lock:
            store.refresh()
            # what pushes from other clones relied on lately, whether or not their commits are here yet
            recorded = recent_roots(store, cutoff)
            # the remote run cache: runs its markers name, with their outputs (younger than --keep-within)
            markers = all_markers(store)
            reader = Overlay(repo.store, store)
            marked = marker_roots(reader, markers, now - retention.keep_within if retention.keep_within else None)
            live, commits = live_set(repo, retention, reader, now=now, extra=recorded.roots | marked)
            remote_plan = plan_remote(store, live, cutoff)
            doomed = doomed_markers(store, markers, live)
            before = sum(store.list_packs().values())
            if not dry_run:
                delete_markers(store, doomed)  # first: no marker may name a run that is gone
                staging = store.staging_dir(repo.tmp_dir / "gc")
                rewrite_remote(
                    store,
                    remote_plan,
                    lock=lock,
                    jobs=transfer_jobs(repo, None),
                    staging_dir=staging,
                    progress=progress,
                    phase=phase,
                )
                drop_records(store, recorded.expired)
            after = before if dry_run else sum(store.list_packs().values())
    finally:
        store.close()
    result = _result(
        remote_plan.objects, dry_run=dry_run, remote=store.name, commits=commits, before=before, after=after
    )
    result.details["garbage_packs"] = len(remote_plan.garbage)
    result.details["root_records"] = len(recorded.recent)
    result.details["expired_root_records"] = len(recorded.expired)
    result.details["markers"] = len(markers)
    result.details["removed_markers"] = len(doomed)
    result.details["broken_locks"] = [f"pid {b.pid} on {b.host}" for b in lock.broken]
    return result
