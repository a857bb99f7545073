"""``art fetch``: bring the objects a workspace needs from a remote into the local store, verified."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..errors import IntegrityError, TransferError
from ..objstore.objects import Kind
from ..objstore.oid import Oid, is_oid
from ..objstore.stage import FileStage
from ..objstore.types import ObjectKey
from ..objstore.verify import Problem
from .remote import open_remote, transfer_jobs
from .repo import Repo
from .roots import transfer_roots
from .tracked import TrackedArtifact


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a fetch stored; ``problems`` (failed verification) and ``missing`` (not on the remote)."""

    remote: str
    url: str
    roots: int
    objects: int = 0
    bytes: int = 0
    packs: int = 0
    present: int = 0
    runs: int = 0
    requests: int = 0
    missing: list[ObjectKey] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lost_packs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "remote": self.remote,
            "url": self.url,
            "roots": self.roots,
            "objects": self.objects,
            "size": self.bytes,
            "packs": self.packs,
            "already_local": self.present,
            "runs": self.runs,
            "requests": self.requests,
            "missing": [{"oid": str(o), "kind": k.label} for o, k in self.missing],
            "problems": [p.as_dict() for p in self.problems],
            "lost_packs": self.lost_packs,
        }


def fetch(
    repo: Repo,
    targets: Sequence[str] | None = None,
    *,
    remote: str | None = None,
    jobs: int | None = None,
    all_commits: bool = False,
    revs: Iterable[str] | None = None,
    progress: Callable[[int], None] | None = None,
    check: bool = True,
    artifacts: list[TrackedArtifact] | None = None,
    lacking: Iterable[tuple[Oid, Kind]] = (),
    all_runs: bool = False,
    runs: Iterable[str] = (),
    stage: FileStage | None = None,
    defer_runs: list[Oid] | None = None,
) -> FetchResult:
    """Download what the local store lacks for the workspace's artifacts (or ``targets``/``revs``/every commit),
    plus the runs they name and those runs' lineage (``fetch_runs.py``: art.lock's runs, the runs that made
    what is fetched, ``runs`` asked for by id or prefix, and the runs that made their inputs, recursively).
    ``all_runs`` brings every run record on the remote instead (art's behaviour before run-key markers: the
    run cache of a clone now asks the remote's markers, ``art repro --pull``).

    Everything is verified against its id before it is stored; what failed is never stored. ``artifacts`` is
    a selection of the workspace made already (pull's): the workspace is then not walked again. ``lacking``
    are objects below roots the local store holds only in part (``tracked.incomplete_keys``): a root that is
    here is otherwise trusted to be complete, so they are asked for by name. ``stage``: pull's, where the
    large files it will check out are written, proved, as they arrive (``objstore/stage.py``); its
    ``arrivals`` (when set) hear of the verified trees and of each pack stored, for a checkout beside the fetch.
    ``defer_runs``: the runs fetched are added to it for the caller to index (``record_runs``) instead: pull's,
    whose checkout beside the fetch writes the state database meanwhile (``pull_overlap.py``).

    Raises:
        RemoteNotConfiguredError, BackendMissingError: see ``open_remote``.
        StoreIOError: the remote failed (what was verified so far is kept; a re-run resumes).
        IntegrityError: (when ``check``) objects failed verification.
        TransferError: (when ``check``) objects are on neither side.
    """
    from ..objstore.transfer import download
    from .fetch_runs import MAX_GENERATIONS, lineage_frontier, lock_runs_for, marked_runs, resolve_runs

    roots = transfer_roots(repo, targets, all_commits=all_commits, revs=revs, artifacts=artifacts)
    if targets and revs is None and not all_commits:  # the stages that made the paths asked for
        roots |= lock_runs_for(repo, {str(o) for o, k in roots if k != Kind.RUN})
    with repo.lock:
        store = open_remote(repo, remote)
        try:
            store.refresh()
            # every run on the remote: only for --all-runs or a --run prefix (a whole-remote listing: with a
            # checkpoint, a plain fetch never loads every index)
            needs_all = all_runs or any(not is_oid(r.strip().lower()) for r in runs)
            remote_runs = [o.oid for o in store.iter_objects() if o.kind == Kind.RUN] if needs_all else []
            wanted = set(roots) | set(lacking) | resolve_runs(runs, remote_runs)
            if all_runs:
                wanted |= {ObjectKey(o, Kind.RUN) for o in remote_runs}
            else:
                wanted |= marked_runs(repo, store, set(roots), pipelines=not targets and revs is None)
            jobs = transfer_jobs(repo, jobs)
            result = download(store, repo.store, wanted, jobs=jobs, progress=progress, stage=stage)
            _record(repo, result.fetched_runs, defer_runs)
            total = _Totals(result)
            seen: set[Oid] = set()
            frontier = {o for o, k in wanted if k == Kind.RUN}
            for _ in range(MAX_GENERATIONS):  # the lineage closure, one generation per download
                more = {o for o in lineage_frontier(repo, frontier, seen) if store.has(o, Kind.RUN)}
                more -= {o for o in more if (o, Kind.RUN) in total.failed}
                if not more:
                    break
                got = download(store, repo.store, [(o, Kind.RUN) for o in more], jobs=jobs, progress=progress)
                _record(repo, got.fetched_runs, defer_runs)
                total.add(got)
                frontier = more
            out = FetchResult(
                store.name,
                store.url,
                len(roots),
                total.objects,
                total.bytes,
                total.packs,
                total.present,
                len(total.runs),
                store.requests,
                total.missing,
                total.problems,
                total.lost_packs,
            )
        finally:
            store.close()
    if check:
        raise_for(out)
    return out


def damaged(remote: str, problems: list[Problem], noun: str = "object(s)", fate: str = "stored") -> IntegrityError:
    """The error for what came from ``remote`` and failed verification (``problems``, not empty): the count,
    the first one named, the repair hint."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return IntegrityError(
        f"{len(problems)} {noun} from remote {remote!r} failed verification and were not {fate}: "
        f"{first.kind} {first.oid[:10]}: {first.detail}{more}",
        problems=problems,
        hint=f"the remote copy is damaged; repair it from a clone that has the data intact: "
        f"art fsck --remote {remote} --read-data --repair",
    )


def raise_for(result: FetchResult) -> None:
    """Turn a fetch's problems into one error (integrity first: it matters more than absence)."""
    if result.lost_packs and (result.missing or result.problems):  # the cause first
        more = f" (and {len(result.lost_packs) - 1} more)" if len(result.lost_packs) > 1 else ""
        raise IntegrityError(
            f"objects are lost from remote {result.remote!r}: it lists pack {result.lost_packs[0][:10]}{more} but "
            "the pack file is missing",
            problems=[Problem(p, "pack", "indexed pack is missing") for p in result.lost_packs],
            hint=f"repair the remote from a clone that has the data: art fsck --remote {result.remote} --repair",
        )
    if result.problems:
        raise damaged(result.remote, result.problems)
    if result.missing:
        oid, kind = result.missing[0]
        more = f" (and {len(result.missing) - 1} more)" if len(result.missing) > 1 else ""
        raise TransferError(
            f"{len(result.missing)} object(s) are on neither the remote {result.remote!r} nor "
            f"here: {kind.label} {oid[:10]}{more}",
            failed=[str(o) for o, _ in result.missing],
            remote=result.remote,
            hint=f"push them from the clone that added them ('art push'); an index the remote "
            f"holds but art refuses is listed by 'art fsck --remote {result.remote}'",
        )


class _Totals:
    """The sum of a fetch's downloads (the first one, then one per lineage generation)."""

    def __init__(self, first) -> None:
        self.objects, self.bytes, self.packs, self.present = first.objects, first.bytes, first.packs, first.present
        self.runs = list(first.fetched_runs)
        self.missing, self.problems = list(first.missing), list(first.problems)
        self.lost_packs = list(first.lost_packs)

    @property
    def failed(self) -> set[ObjectKey]:
        return set(self.missing) | {ObjectKey(Oid(p.oid), Kind.RUN) for p in self.problems if p.kind == "run"}

    def add(self, more) -> None:
        self.objects += more.objects
        self.bytes += more.bytes
        self.packs += more.packs
        self.present += more.present
        self.runs += more.fetched_runs
        self.missing += more.missing
        self.problems += more.problems
        self.lost_packs += [p for p in more.lost_packs if p not in self.lost_packs]


def _record(repo: Repo, runs: list[Oid], defer: list[Oid] | None) -> None:
    if defer is not None:
        defer.extend(runs)
    else:
        record_runs(repo, runs)


def record_runs(repo: Repo, runs: list[Oid]) -> None:
    """Index the run records ``runs`` (stored) in the state database (``runs.record_run``)."""
    from .runs import load_run, record_run

    for oid in runs:
        record_run(repo, load_run(repo, oid))
