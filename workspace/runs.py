"""Which run produced which artifact: a local index (in ``state.db``) over the run objects in the store."""

from __future__ import annotations

from ..objstore.errors import ObjectNotFoundError
from ..objstore.lineage import Run
from ..objstore.objects import Kind
from ..objstore.oid import Oid
from .repo import Repo


def record_run(repo: Repo, run: Run) -> None:
    """Index ``run``'s outputs so lineage can find the run that made an artifact."""
    rows = [(o["oid"], o["path"], str(run.oid), run.get("started", "")) for o in run.get("outputs", [])]
    db = repo.state.db
    db.execute("BEGIN")
    db.executemany("INSERT OR IGNORE INTO produced VALUES (?, ?, ?, ?)", rows)
    db.execute("COMMIT")


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
    sql = "SELECT run FROM produced WHERE oid=?" + (" AND path=?" if path else "") + " ORDER BY started DESC"
    args = (oid, path) if path else (oid,)
    for (run_oid,) in repo.state.db.execute(sql, args):
        try:
            return load_run(repo, run_oid)
        except ObjectNotFoundError:
            continue
    return None
