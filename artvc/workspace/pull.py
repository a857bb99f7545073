"""``art pull``: fetch from a remote, then check the workspace out (only what fetched completely).

A file artifact the fetch brings, and a file of ``LARGE_FILE`` bytes or more in a tracked folder, is written to a
temp file while its chunks stream by, verified, and checkout renames that file into place
(``objstore/stage.py``): a pull reads each byte once. A tracked folder that is not in the workspace at all is
checked out beside the fetch, each file written as soon as its pack is adopted, and put in place once the fetch
ended whole (``pull_overlap.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..objstore.materialize_large import LARGE_FILE
from ..objstore.objects import Kind
from ..objstore.oid import Oid
from ..objstore.progress import ProgressLike, as_progress
from ..objstore.stage import FileStage
from .checkout import CheckoutResult, checkout
from .fetch import FetchResult, fetch, raise_for, record_runs
from .forked_writes import Writer
from .pull_overlap import Overlap
from .pull_writer import fork_writer
from .repo import Repo
from .tracked import ObjectKey, TrackedArtifact, incomplete, incomplete_keys, select


@dataclass(frozen=True, slots=True)
class PullResult:
    fetch: FetchResult
    checkout: CheckoutResult
    beside: str | None = None  # what stopped the checkout beside the fetch (one line; ``art pull -v`` says it)

    def as_dict(self) -> dict:
        return {
            **self.fetch.as_dict(),
            "restored": self.checkout.restored,
            "unchanged": self.checkout.unchanged,
            "files_written": self.checkout.files_written,
        }


def pull(
    repo: Repo,
    targets: Sequence[str] | None = None,
    *,
    remote: str | None = None,
    jobs: int | None = None,
    force: bool = False,
    progress: ProgressLike = None,
    checkout_progress: ProgressLike = None,
    all_runs: bool = False,
    writer: Writer | None = None,
) -> PullResult:
    """Fetch, then check out the artifacts (all, or ``targets``) whose objects are now all local.

    The workspace is walked for pointer files once: the fetch and the checkout share one selection. Artifacts
    that could not be fetched completely (``tracked.incomplete``) are left as they are; the fetch's problems
    are raised after the checkout of the others. Folders that are not there are checked out beside the fetch
    (``pull_overlap.Overlap``), the rest after it. Runs: those the workspace names and their lineage, or with
    ``all_runs`` every run on the remote (see ``fetch``). ``writer``: a writer process the caller forked (and
    closes) before it started a thread (``pull_writer.fork_writer``; a progress bar on a terminal runs one), for
    the checkout beside the fetch; without one, the pull forks its own when it can.

    Raises:
        IntegrityError: objects failed verification (they were not stored and nothing was written from them).
        TransferError: objects are on neither side.
        WouldOverwriteError: local changes that are not added would be lost (use ``force``).
        plus the errors of ``fetch``.
    """
    with repo.lock:
        if targets:
            from .partial import split_targets

            everything = repo.artifacts()
            whole, parts = split_targets(repo, list(targets), everything)
            if parts:
                return pull_parts(repo, whole, parts, everything, remote=remote, jobs=jobs, force=force)
            targets = whole  # a glob naming whole artifacts, expanded
        paths = list(targets) if targets else None
        arts = select(repo, paths)
        below: list[ObjectKey] = []  # what stored artifacts lack (a lost pack, a quarantined object): fetch it too
        incomplete_keys(repo.store, {a.key for a in arts}, lacking=below)
        # file artifacts, and large files in tracked folders, are written as the fetch proves them (stage.py)
        wanted = {a.pointer.oid for a in arts if a.pointer.kind == "file"}
        folders = any(a.pointer.kind == "dir" for a in arts)
        with FileStage(repo.art_dir / "tmp" / "stage", wanted, min_size=LARGE_FILE if folders else None) as stage:
            fetched, first, stopped = _fetch_beside(
                repo,
                paths,
                arts,
                stage,
                force=force,
                folders=folders,
                remote=remote,
                jobs=jobs,
                progress=progress,
                checkout_progress=checkout_progress,
                lacking=below,
                all_runs=all_runs,
                writer=writer,
            )
            if fetched.problems or fetched.missing:  # else everything asked for (and what is below it) arrived
                lacking = incomplete(repo.store, [a.pointer for a in arts])
                arts = [a for a in arts if a.pointer.oid not in lacking]
            arts = [a for a in arts if a.path not in first.restored]  # not those checked out beside the fetch
            done = (
                checkout(repo, paths, force=force, progress=checkout_progress, artifacts=arts, staged=stage)
                if arts
                else CheckoutResult([], [], 0)
            )
            done = CheckoutResult(
                first.restored + done.restored, done.unchanged, first.files_written + done.files_written
            )
    raise_for(fetched)
    return PullResult(fetched, done, stopped)


def _fetch_beside(
    repo: Repo,
    paths: list[str] | None,
    arts: list[TrackedArtifact],
    stage: FileStage,
    *,
    force: bool,
    folders: bool,
    checkout_progress: ProgressLike,
    writer: Writer | None = None,
    **options,
) -> tuple[FetchResult, CheckoutResult, str | None]:
    """``fetch`` (with ``options``) and, when ``folders``, the checkout of the folders not in the workspace
    beside it (``pull_overlap.Overlap``); return what the fetch did, what that checkout put in place and what
    stopped it (``Overlap.problem``: the ordinary checkout after the fetch did its part)."""
    beside = Overlap(repo, arts, stage, force=force) if folders else None
    runs: list[Oid] = []  # indexed once the checkout beside the fetch is over (the state database's one writer)
    # a writer process, forked now (while this process runs one thread) unless the caller made one: the checkout
    # beside the fetch hands it the files of a large new folder as they arrive (``forked_writes.Writer``)
    forked = fork_writer(repo) if beside is not None and writer is None else None
    stage.writer = writer if beside is not None and writer is not None else forked
    try:
        if beside is not None:
            beside.start()
        try:
            fetched = fetch(
                repo, paths, check=False, artifacts=arts, stage=stage, defer_runs=runs if beside else None, **options
            )
        except BaseException:
            if beside is not None:  # nothing it wrote is put in place
                beside.finish(whole=False)
                record_runs(repo, runs)
            raise
        as_progress(checkout_progress).phase("checking out", noun="files")  # the bar may have shown the fetch
        if beside is None:
            return fetched, CheckoutResult([], [], 0), None
        try:  # an interrupt while the checkout ends (``Overlap.finish``) still indexes the runs fetched
            beside.finish(whole=not (fetched.problems or fetched.missing))
        finally:
            record_runs(repo, runs)
        return fetched, beside.result, beside.problem
    finally:
        stage.writer = None
        if forked is not None:
            forked.close()


def pull_parts(repo: Repo, whole, parts, everything, *, remote, jobs, force) -> PullResult:
    """Pull files inside tracked folders (``partial.Part``s), and whole artifacts named alongside them: only
    the trees on the way down (read from the remote, verified, cached apart) and the matching files' objects."""
    from ..objstore.transfer import download
    from .partial import TreeReader, matches, write_parts
    from .remote import open_remote, transfer_jobs

    first = (
        pull(repo, whole, remote=remote, jobs=jobs, force=force) if whole else None
    )  # whole artifacts: the ordinary way
    store = open_remote(repo, remote)
    try:
        store.refresh()
        reader = TreeReader(repo, store)
        wanted = [(p.artifact, inner, e) for p in parts for inner, e in matches(reader, p)]
        got = download(store, repo.store, {(e.oid, Kind.FILE) for _, _, e in wanted}, jobs=transfer_jobs(repo, jobs))
        fetched = FetchResult(
            store.name,
            store.url,
            len(parts),
            got.objects + reader.fetched,
            got.bytes + reader.size,
            got.packs,
            got.present,
            0,
            store.requests,
            got.missing,
            got.problems,
            got.lost_packs,
        )
    finally:
        store.close()
    raise_for(fetched)
    from .partial import unique

    done = write_parts(repo, unique(wanted), force=force)
    if first is not None:
        f = first.fetch
        fetched = FetchResult(
            f.remote,
            f.url,
            f.roots + fetched.roots,
            f.objects + fetched.objects,
            f.bytes + fetched.bytes,
            f.packs + fetched.packs,
            f.present + fetched.present,
            f.runs,
            f.requests + fetched.requests,
        )
        c = first.checkout
        return PullResult(
            fetched,
            CheckoutResult(
                c.restored + done.restored, c.unchanged + done.unchanged, c.files_written + done.files_written
            ),
        )
    return PullResult(fetched, CheckoutResult(done.restored, done.unchanged, done.files_written))
