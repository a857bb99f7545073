"""Which run produced which artifact, which runs consumed it, and which runs have a given run key (the run
cache): a local index in ``state.db`` over the run objects in the store, rebuilt from them by ``reindex_runs``
(automatically, once, by the queries that need the whole index: ``ensure_indexed``). Step runs (Python
pipelines) also index their outputs as artifact versions, and pipeline runs (``art run``, ``art repro``) are
listed for ``art runs``."""

from __future__ import annotations

from ..errors import ArtError, ObjectNotFoundError, UsageError
from ..objstore.lineage import Run
from ..objstore.objects import Kind
from ..objstore.oid import Oid, is_oid, is_prefix
from .repo import Repo


def record_run(repo: Repo, run: Run) -> None:
    """Index ``run``: its outputs (lineage finds the run that made an artifact), what it consumed (its inputs,
    code files and params files: ``art lineage --used-by``) and its run key (if any)."""
    outputs = [(o["oid"], o["path"]) for o in run.get("outputs", [])]
    key = str(run["run_key"]) if run.get("run_key") and run.get("exit_status", 0) == 0 else None
    repo.state.add_run(str(run.oid), run.get("started", ""), outputs, key, consumed=consumed_by(run))
    kind = run.get("kind")
    if kind == "step" and outputs:
        repo.state.add_versions(str(run.oid), run.get("started", ""), [(p, o) for o, p in outputs])
    elif kind == "pipeline":
        repo.state.add_pipeline_run(str(run.oid), str(run.get("pipeline", "")), run.get("started", ""))


def consumed_by(run: Run) -> list[tuple[str, str | None, str | None]]:
    """(path, oid, producing run) of what ``run`` read: its inputs, then code files and params files."""
    out: list[tuple[str, str | None, str | None]] = [
        (i["path"], i.get("oid"), i.get("run")) for i in run.get("inputs", [])
    ]
    code = run.get("code") or {}
    out += [(k, v, None) for k, v in code.items() if isinstance(k, str) and not k.startswith("call:")]
    params = run.get("params") or {}
    files = {k.rpartition(":")[0] for k in params if isinstance(k, str) and ":" in k}
    out += [(f, None, None) for f in sorted(files)]
    return out


def ensure_indexed(repo: Repo) -> None:
    """Rebuild the run index from the store once when it predates what it records now (or was lost)."""
    if not repo.state.runs_indexed():
        reindex_runs(repo)
        repo.state.set_runs_indexed()


def find_run(repo: Repo, ref: str) -> Run:
    """The run whose id is ``ref`` or starts with it (at least 4 hex digits).

    Raises:
        UsageError: when ``ref`` is not hex, or more than one run starts with it.
        ObjectNotFoundError: when no stored run has that id or prefix.
    """
    text = ref.strip().lower()
    if not is_prefix(text):
        raise UsageError(f"{ref!r} is not a run id", hint="give a run id or its first 4 or more hex digits")
    if is_oid(text) and repo.store.has(Oid(text), Kind.RUN):
        return load_run(repo, text)
    ensure_indexed(repo)
    found = repo.state.runs_with_prefix(text)
    if len(found) > 1:
        shown = ", ".join(f[:12] for f in found[:5]) + (" ..." if len(found) > 5 else "")
        raise UsageError(f"run prefix {text} is ambiguous: {shown}", hint="give more digits of the run id")
    if not found:
        raise ObjectNotFoundError(
            text,
            "run",
            hint=f"no run in the local store has this id; 'art fetch --run {text[:10]}' downloads it and its "
            "lineage from the remote ('art fetch --all-runs': every run)",
        )
    return load_run(repo, found[0])


def run_packages(repo: Repo, run: Run) -> str:
    """The installed-distributions list (``name==version`` lines) recorded with ``run``.

    Raises:
        ArtError: when the run records none; ObjectNotFoundError when the list is not in the local store.
    """
    oid = run.get("packages")
    if not is_oid(oid):
        raise ArtError(f"run {str(run.oid)[:10]} records no package list", hint="only stage runs record one")
    return repo.store.get(Oid(oid), Kind.CHUNK).decode("utf-8", "replace")


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
