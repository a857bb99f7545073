"""``art add``: store files and directories, write their pointers, ignore them in git, record a run."""

from __future__ import annotations

import os
import stat as stat_mod
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import UnsafePathError, WorkspaceError
from ..objstore.faults import fault_point
from ..objstore.ingest import Ingester, IngestStats
from ..objstore.lineage import Run
from ..objstore.objects import Kind
from ..objstore.oserrors import os_errors
from ..objstore.progress import Progress, ProgressLike, as_progress
from ..objstore.scan import check_name
from ..objstore.sigwalk import tree_walk
from .gitignore import check_ignorable, ignore
from .lockfile import lock_outputs, read_lock
from .paths import check_write, to_repo_path
from .pointers import SUFFIX, Pointer, read_pointer, write_pointer
from .previous import PreviousVersions
from .provenance import GitProbe, environment, git_facts, now_iso
from .repo import PRUNE, Repo
from .runs import record_run
from .tracked import TrackedArtifact

if TYPE_CHECKING:
    from ..objstore.forked_reads import Reader


@dataclass(frozen=True, slots=True)
class AddedArtifact:
    path: str
    pointer: Pointer
    changed: bool


@dataclass(frozen=True, slots=True)
class AddResult:
    artifacts: list[AddedArtifact]
    stats: IngestStats
    run: str | None
    in_git: bool | None = None  # in a git work tree, as the run's git facts found (None: no run recorded)


def _validate(repo: Repo, paths: Sequence[str]) -> list[str]:
    if not paths:
        raise WorkspaceError("nothing to add", hint="name one or more files or directories")
    rels0 = [check_ignorable(to_repo_path(repo.root, p)) for p in paths]
    artifacts = _around(repo, rels0)
    tracked_dirs = {p for p, ptr, _ in artifacts if ptr.kind == "dir"}
    stage_outs = {p: src.partition(":")[2] for p, _, src in artifacts if src.startswith("art.lock:")}
    rels = []
    for user_path, rel in zip(paths, rels0, strict=True):
        full = repo.abspath(rel)
        check_name(str(full))
        if rel.endswith(SUFFIX):
            raise WorkspaceError(
                f"{user_path} is an art pointer, not data",
                path=rel,
                hint=f"add the data itself: art add {rel[: -len(SUFFIX)]}",
            )
        if not os.path.lexists(full):
            raise WorkspaceError(f"{user_path} does not exist", path=rel, hint="check the path and try again")
        if os.path.islink(full) and not os.path.realpath(full).startswith(str(repo.root) + os.sep):
            raise UnsafePathError(
                f"{user_path} is a symlink that leaves the workspace",
                path=rel,
                hint="copy the data into the workspace, or add the link's target",
            )
        owned = next((p for p in stage_outs if rel == p or rel.startswith(p + "/") or p.startswith(rel + "/")), None)
        if owned:
            what = (
                "an output"
                if owned == rel
                else f"{'inside' if len(owned) < len(rel) else 'a folder holding'} output {owned}"
            )
            raise WorkspaceError(
                f"{user_path} is {what} of stage {stage_outs[owned]} (art.lock)",
                path=rel,
                hint="art repro tracks stage outputs; an artifact has one owner",
            )
        inside = next((d for d in tracked_dirs if rel.startswith(d + "/")), None)
        if inside:
            raise WorkspaceError(
                f"{user_path} is inside the tracked directory {inside}",
                path=rel,
                hint=f"re-add the whole directory: art add {inside}",
            )
        if rel in tracked_dirs and _partial(repo, rel, artifacts):
            raise WorkspaceError(
                f"{user_path} is checked out in part (art pull/checkout of files inside it); adding it would "
                "record only the files present",
                path=rel,
                hint=f"fetch the rest first (art pull {rel}), or copy the files you want into a new folder",
            )
        if os.path.islink(full) and not os.path.exists(full):
            raise WorkspaceError(
                f"{user_path} is a symlink to {os.readlink(full)}, which does not exist",
                path=rel,
                hint="create its target first, or remove the dangling link",
            )
        with os_errors("read", full):
            st = os.stat(full)
        if not (stat_mod.S_ISREG(st.st_mode) or stat_mod.S_ISDIR(st.st_mode)):
            raise WorkspaceError(f"{user_path} is neither a file nor a directory", path=rel)
        rels.append(rel)
    return rels


def _around(repo: Repo, rels: list[str]) -> list[TrackedArtifact]:
    """The tracked artifacts ``_validate`` asks about, as ``Repo.artifacts`` lists them, without its walk of the
    whole workspace (which lists every entry of a large folder added the first time: 13 ms of CPU for 20,000
    files, a second listing of a folder of a million): the pointer of each path and of each folder above it,
    found as that walk finds pointers (it enters a folder only when it is one, not a symlink, not a pruned
    name, and has no pointer of its own), and every stage output of ``art.lock``."""
    root = repo.root
    found: dict[str, TrackedArtifact] = {}
    for rel in rels:
        parts = rel.split("/") if rel else []
        for k in range(1, len(parts) + 1):
            here = "/".join(parts[:k])
            pf = root / (here + SUFFIX)
            if os.path.lexists(pf) and not os.path.isdir(pf):  # a pointer (not in a folder the walk skips)
                if here not in found:
                    found[here] = TrackedArtifact(here, read_pointer(pf, where=here + SUFFIX), here + SUFFIX)
                break  # the walk does not enter a tracked folder
            folder = root / here
            if parts[k - 1] in PRUNE or os.path.islink(folder) or not os.path.isdir(folder):
                break
    out = [found[p] for p in sorted(found)]
    for path, pointer, stage in lock_outputs(read_lock(root)):
        out.append(TrackedArtifact(path, pointer, f"art.lock:{stage}"))
    return out


def _partial(repo: Repo, rel: str, artifacts) -> bool:
    from .partial import partial_state

    return any(a.path == rel and partial_state(repo, a) for a in artifacts)


def add(
    repo: Repo,
    paths: Sequence[str],
    *,
    progress: ProgressLike = None,
    jobs: int | None = None,
    reader: Reader | None = None,
) -> AddResult:
    """Store ``paths`` and point at them from ``PATH.art`` files.

    Args:
        repo: the workspace.
        paths: files or directories, absolute or relative to the workspace root.
        progress: a ``Progress`` (or a byte-count callback): its totals come from the stat walk every added
            folder gets anyway (and each file's stat), then bytes and files advance as they are stored.
        jobs: worker threads for hashing and compression (default: ``core.jobs``).
        reader: a reading process the command forked as it started (``objstore/forked_reads.Reader``): the files
            of folders nothing is known of are read and hashed there while this process stores them.

    Raises:
        WorkspaceError: for a missing path, a path inside a tracked directory, or a pointer given as data.
        UnsafePathError: for paths outside the workspace, in ``.git``/``.art``, or symlinks leaving it.
    """
    rels = _validate(repo, paths)
    progress = as_progress(progress)
    started, t0 = now_iso(), time.monotonic()
    with repo.lock:
        _totals(repo, rels, progress)
        facts = _Facts(repo)
        try:
            store, state = repo.store, repo.state
            results: list[tuple[str, Pointer]] = []
            with (
                store.writer() as writer,
                Ingester(
                    writer,
                    store.params,
                    store.compressor,
                    cache=state,
                    guard=repo.root,
                    progress=progress,
                    jobs=jobs or int(repo.config.core("jobs")),
                    previous=PreviousVersions(repo, rels).previous_many if repo.config.core("delta") else None,
                    reader=reader,
                ) as ing,
            ):
                for rel in rels:
                    full = repo.abspath(rel)
                    if full.is_dir():
                        tree, files = ing.add_tree(full, state.folders_under(rel))  # status needs no walk of its own
                        results.append((rel, Pointer(tree.oid, "dir", tree.size, files)))
                    else:
                        oid, size = ing.add_file(full)
                        results.append((rel, Pointer(oid, "file", size, 1)))
                stats = ing.stats
                state.flush()
                added = _compare_pointers(repo, results)
                run = _add_run(started, time.monotonic() - t0, added, facts)
                if run is not None:
                    writer.put(run.oid, Kind.RUN, run.to_bytes())
            # the pack is sealed and indexed: only now may pointers name its objects
            finish_pointers(repo, added)
            if run is not None:
                record_run(repo, run)
        finally:
            facts.close()
    return AddResult(added, stats, run.oid if run else None, facts.in_git)


class _Facts:
    """The git state and machine facts of the add's run record (``git_facts``, ``environment``). git's state is
    asked of the git executable as the add starts (``GitProbe``): it runs beside the add on another core, and
    the add loads no pygit2 (about a third of art's start-up). Only when git cannot answer (not installed, no
    work tree, refused) are the facts read through pygit2, when asked for."""

    def __init__(self, repo: Repo) -> None:
        self._repo = repo
        self._probe = GitProbe(repo.root)
        self.in_git: bool | None = None  # known once the facts were read

    def get(self) -> tuple[dict, dict]:
        """(git facts, environment)."""
        git = self._probe.result()
        if git is None:
            git = git_facts(self._repo.git)
        self.in_git = git["dirty"] is not None  # outside git every fact is None
        return git, environment()

    def close(self) -> None:
        """Stop git if its answer was not asked for (no run recorded, or the add failed)."""
        self._probe.close()


def _totals(repo: Repo, rels: list[str], progress: Progress) -> None:
    """Tell a progress bar that is drawn what is to come: a stat walk of each folder (skipped when nothing is
    drawn)."""
    if not progress.shown:
        return
    files, size = 0, 0
    for rel in rels:
        full = repo.abspath(rel)
        if full.is_dir():
            n, nbytes = tree_walk(str(full))
            files, size = files + n, size + nbytes
        else:
            with os_errors("read", full):
                files, size = files + 1, size + full.stat().st_size
    progress.total(bytes=size, files=files)


def _compare_pointers(repo: Repo, results: list[tuple[str, Pointer]]) -> list[AddedArtifact]:
    out = []
    for rel, pointer in results:
        pf = check_write(repo.root, repo.abspath(rel + SUFFIX))
        parent = rel.rpartition("/")[0]
        check_write(repo.root, repo.abspath(f"{parent}/.gitignore" if parent else ".gitignore"))
        old = pf.read_text() if pf.exists() else None
        changed = old != pointer.to_text()
        out.append(AddedArtifact(rel, pointer, changed))
    return out


def _add_run(started: str, duration: float, added: list[AddedArtifact], facts: _Facts) -> Run | None:
    """Build the 'add' lineage record for the artifacts whose content changed (None when none did)."""
    changed = [a for a in added if a.changed]
    if not changed:
        return None
    git, machine = facts.get()
    fields = {
        "kind": "add",
        "started": started,
        "duration": round(duration, 3),
        "outputs": [
            {"path": a.path, "oid": str(a.pointer.oid), "kind": a.pointer.kind, "size": a.pointer.size} for a in changed
        ],
        "git": git,
        **machine,
    }
    return Run(fields)


def finish_pointers(repo: Repo, added: list[AddedArtifact]) -> None:
    """Write pointer files and .gitignore entries (after the objects they name are committed)."""
    for a in added:
        if a.changed:
            write_pointer(repo.abspath(a.path + SUFFIX), a.pointer)
            fault_point("add.pointer-written")
        ignore(repo.root, a.path)
