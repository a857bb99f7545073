"""``art fetch``: bring the objects a workspace needs from a remote into the local store, verified."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..errors import IntegrityError, TransferError
from ..objstore.objects import Kind
from ..objstore.oid import Oid
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
) -> FetchResult:
    """Download what the local store lacks for the workspace's artifacts (or ``targets``/``revs``/every commit),
    plus every run record on the remote (lineage and the run cache work in a fresh clone).

    Everything is verified against its id before it is stored; what failed is never stored. ``artifacts`` is
    a selection of the workspace made already (pull's): the workspace is then not walked again. ``lacking``
    are objects below roots the local store holds only in part (``tracked.incomplete_keys``): a root that is
    here is otherwise trusted to be complete, so they are asked for by name.

    Raises:
        RemoteNotConfiguredError, BackendMissingError: see ``open_remote``.
        StoreIOError: the remote failed (what was verified so far is kept; a re-run resumes).
        IntegrityError: (when ``check``) objects failed verification.
        TransferError: (when ``check``) objects are on neither side.
    """
    from ..objstore.transfer import download

    roots = transfer_roots(repo, targets, all_commits=all_commits, revs=revs, artifacts=artifacts)
    with repo.lock:
        store = open_remote(repo, remote)
        try:
            store.refresh()
            wanted = set(roots) | set(lacking) | {(o.oid, o.kind) for o in store.iter_objects() if o.kind == Kind.RUN}
            result = download(store, repo.store, wanted, jobs=transfer_jobs(repo, jobs), progress=progress)
            _record_runs(repo, result.fetched_runs)
            out = FetchResult(
                store.name,
                store.url,
                len(roots),
                result.objects,
                result.bytes,
                result.packs,
                result.present,
                len(result.fetched_runs),
                store.requests,
                result.missing,
                result.problems,
                result.lost_packs,
            )
        finally:
            store.close()
    if check:
        raise_for(out)
    return out


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
        first = result.problems[0]
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        raise IntegrityError(
            f"{len(result.problems)} object(s) from remote {result.remote!r} failed verification and were not "
            f"stored: {first.kind} {first.oid[:10]}: {first.detail}{more}",
            problems=result.problems,
            hint=f"the remote copy is damaged; repair it from a clone that has the data intact: "
            f"art fsck --remote {result.remote} --read-data --repair",
        )
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


def _record_runs(repo: Repo, runs: list[Oid]) -> None:
    from .runs import load_run, record_run

    for oid in runs:
        record_run(repo, load_run(repo, oid))
