"""The roots of what a workspace needs: its pointers and art.lock outputs (now, or at git revisions), the runs
that art.lock names or that produced them, and the runs of Python pipelines (with their outputs). Push sends
their closure, fetch brings it, gc keeps it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..objstore.objects import Kind
from ..objstore.oid import Oid, is_oid
from ..objstore.types import ObjectKey
from .lockfile import LOCK_NAME, parse_lock_text, read_lock
from .ls import artifacts_at
from .pointers import Pointer
from .repo import Repo
from .tracked import TrackedArtifact, select


def pointer_key(pointer: Pointer) -> ObjectKey:
    return ObjectKey(pointer.oid, Kind.TREE if pointer.kind == "dir" else Kind.FILE)


def transfer_roots(
    repo: Repo,
    targets: Sequence[str] | None = None,
    *,
    all_commits: bool = False,
    revs: Iterable[str] | None = None,
    artifacts: list[TrackedArtifact] | None = None,
) -> set[ObjectKey]:
    """The roots a push or a fetch works on: revisions, every commit, or the workspace (maybe only targets;
    ``artifacts`` is a selection already made, e.g. by pull), plus the runs that produced those artifacts when
    the local run index knows them."""
    if revs is not None:
        roots = revision_roots(repo, list(revs))
    elif all_commits:
        roots = all_commit_roots(repo)
    else:
        roots = workspace_roots(repo, targets or None, artifacts=artifacts)
    return roots | _producing_runs(repo, {o for o, _ in roots})


def _producing_runs(repo: Repo, oids: set[Oid]) -> set[ObjectKey]:
    if not oids:
        return set()
    found = {ObjectKey(Oid(r), Kind.RUN) for r in repo.state.runs_producing_any(sorted(oids))}
    store = repo.store
    return {k for k in found if store.has(*k)}


def _lock_runs(stages: dict) -> set[ObjectKey]:
    return {ObjectKey(Oid(s["run"]), Kind.RUN) for s in stages.values() if is_oid(s.get("run"))}


def workspace_roots(
    repo: Repo, paths: Iterable[str] | None = None, *, artifacts: list[TrackedArtifact] | None = None
) -> set[ObjectKey]:
    """Roots for the workspace as it is (optionally only the artifacts under ``paths``, chosen from
    ``artifacts`` when the caller has selected them already)."""
    paths = list(paths) if paths else None
    roots = {a.key for a in select(repo, paths, artifacts)}
    if not paths:
        roots |= _lock_runs(read_lock(repo.root)) | flow_runs(repo)
    return roots


def flow_runs(repo: Repo) -> set[ObjectKey]:
    """The step and pipeline runs of Python pipelines the local run index knows (stored here): roots of the
    workspace, so push sends them with their outputs (a run's closure) and gc keeps them (docs/gc.md)."""
    store = repo.store
    found = {ObjectKey(Oid(r), Kind.RUN) for r in repo.state.flow_runs() if is_oid(r)}
    return {k for k in found if store.has(*k)}


def revision_roots(repo: Repo, revs: Iterable[str]) -> set[ObjectKey]:
    """Roots for the artifacts tracked at each git revision in ``revs``."""
    roots: set[ObjectKey] = set()
    git = repo.git
    for rev in revs:
        roots |= {pointer_key(item.pointer) for item in artifacts_at(repo, rev).values()}
        if git is not None:
            for path, data in git.files_at(rev, repo.git_prefix, (LOCK_NAME,)):
                if path == LOCK_NAME:
                    roots |= _lock_runs(parse_lock_text(data))
    return roots


def all_commit_roots(repo: Repo, *, all_refs: bool = True) -> set[ObjectKey]:
    """Roots for every commit reachable from every branch and tag (or HEAD only)."""
    git = repo.git
    if git is None:
        return workspace_roots(repo)
    return revision_roots(repo, git.revisions(all_refs=all_refs)) | workspace_roots(repo)
