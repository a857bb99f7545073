"""Which run produced which artifact, and which runs have a given run key (the run cache): a local index in
``state.db`` over the run objects in the store, rebuilt from them by ``reindex_runs``."""

from __future__ import annotations

from ..errors import ObjectNotFoundError
from ..objstore.lineage import Run
from ..objstore.objects import Kind
from ..objstore.oid import Oid
from .repo import Repo


def record_run(repo: Repo, run: Run) -> None:
    """Index ``run``'s outputs so lineage can find the run that made an artifact, and its run key (if any)."""
    outputs = [(o["oid"], o["path"]) for o in run.get("outputs", [])]
    key = str(run["run_key"]) if run.get("run_key") and run.get("exit_status", 0) == 0 else None
    repo.state.add_run(str(run.oid), run.get("started", ""), outputs, key)


def runs_with_key(repo: Repo, key: str) -> list[str]:
    """Return the ids of successful runs recorded with run key ``key``, newest first (the run cache)."""
    return repo.state.runs_with_key(key)


def load_run(repo: Repo, oid: str) -> Run:
    """Read a run object from the store.

    Raises:
        ObjectNotFoundError: when it is not stored.
    """
    return Run.from_bytes(Oid(oid), repo.store.get(Oid(oid), Kind.RUN))


def reindex_runs(repo: Repo) -> int:
    """Rebuild the index from every run object in the store (after a pull); return how many were seen."""
    n = 0
    for obj in repo.store.iter_objects():
        if obj.kind == Kind.RUN:
            record_run(repo, load_run(repo, obj.oid))
            n += 1
    return n


def producing_run(repo: Repo, oid: str, path: str | None = None) -> Run | None:
    """Return the newest run that produced ``oid`` (at ``path`` when given), or None."""
    for run_oid in repo.state.runs_producing(oid, path):
        try:
            return load_run(repo, run_oid)
        except ObjectNotFoundError:
            continue
    return None
