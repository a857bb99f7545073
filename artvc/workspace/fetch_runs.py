"""Which run records ``art fetch`` brings: the runs the workspace names and their lineage, not every run on
the remote (docs/remotes.md, "Runs").

The runs named are art.lock's ``run`` ids (all of them, or those of the stages whose outputs a fetch of some
paths asks for), the runs that produced the artifacts fetched (known to the local index, else found by the
remote's ``produced/`` markers), the pipeline runs of Python pipelines (the remote's ``pipelines/`` markers:
a fetch of the whole workspace only) and runs asked for by id (``art fetch --run``). Their **lineage
closure** follows, one download per generation: the runs that produced their inputs (``inputs[].run``)
and, for a pipeline-run record, the step runs it names (``steps[].run``). A named run the remote does not
hold is not an error; only roots asked for directly are (``missing``). ``--all-runs`` brings every run
record on the remote, as art did before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import ArtError, ObjectNotFoundError, UsageError
from ..objstore.lineage import Run
from ..objstore.objects import Kind
from ..objstore.oid import Oid, is_oid, is_prefix
from ..objstore.types import ObjectKey
from .lockfile import read_lock
from .repo import Repo
from .runs import load_run

if TYPE_CHECKING:
    from ..objstore.store.remote import RemoteStore

MAX_GENERATIONS = 1000  # a lineage deeper than this is cut (records are immutable: no cycle can be built)


def named_by(run: Run) -> set[Oid]:
    """The runs a run record names: the producers of its inputs, and a pipeline run's step runs."""
    found = {Oid(i["run"]) for i in run.get("inputs", []) if isinstance(i, dict) and is_oid(i.get("run"))}
    if run.get("kind") == "pipeline":
        found |= {Oid(s["run"]) for s in run.get("steps", []) if isinstance(s, dict) and is_oid(s.get("run"))}
    return found


def lock_runs_for(repo: Repo, oids: set[str]) -> set[ObjectKey]:
    """The art.lock runs of the stages that output any of ``oids`` (a fetch of some paths)."""
    out = set()
    for stage in read_lock(repo.root).values():
        if is_oid(stage.get("run")) and any(o.get("id") in oids for o in stage.get("outs", [])):
            out.add(ObjectKey(Oid(stage["run"]), Kind.RUN))
    return out


def resolve_runs(refs: Iterable[str], remote_runs: Iterable[Oid]) -> set[ObjectKey]:
    """Run ids (or prefixes of 4+ hex digits, resolved against the remote's runs) asked for by ``--run``.

    Raises:
        UsageError: for a ref that is not hex or is ambiguous; ObjectNotFoundError when no run matches.
    """
    refs = [r.strip().lower() for r in refs]
    if not refs:
        return set()
    known = sorted({str(o) for o in remote_runs})
    out = set()
    for ref in refs:
        if not is_prefix(ref):
            raise UsageError(f"{ref!r} is not a run id", hint="give a run id or its first 4 or more hex digits")
        found = [o for o in known if o.startswith(ref)]
        if len(found) > 1:
            raise UsageError(f"run prefix {ref} is ambiguous on the remote", hint="give more digits of the run id")
        if not found:
            if is_oid(ref):
                found = [ref]  # reported as missing by the fetch, with the others
            else:
                raise ObjectNotFoundError(ref, "run", hint="no run on the remote has this id or prefix")
        out.add(ObjectKey(Oid(found[0]), Kind.RUN))
    return out


def lineage_frontier(repo: Repo, runs: Iterable[Oid], seen: set[Oid]) -> set[Oid]:
    """The runs ``runs`` reach through ``named_by`` that are not stored here: walks the stored ones (each at
    most once: ``seen``) transitively and returns the others, which the caller downloads (then calls again
    with them) or gives up on."""
    todo = [o for o in runs if o not in seen]
    wanted: set[Oid] = set()
    while todo:
        oid = todo.pop()
        if oid in seen:
            continue
        if not repo.store.has(oid, Kind.RUN):
            wanted.add(oid)
            continue
        seen.add(oid)
        try:
            run = load_run(repo, oid)
        except ArtError:
            continue
        todo.extend(o for o in named_by(run) if o not in seen)
    return wanted


def marked_runs(repo: Repo, store: RemoteStore, roots: set[ObjectKey], *, pipelines: bool) -> set[ObjectKey]:
    """Runs the remote's markers name for this fetch (objstore/remote_runkeys.py): the ``art add`` run of each
    artifact among ``roots`` whose producer the local index does not know (one LIST of ``produced/<id>/`` per
    such artifact; stage outputs are left to art.lock), and with ``pipelines`` every Python pipeline's
    pipeline runs (one LIST of ``pipelines/`` plus one per pipeline). Only names are read: the runs
    themselves come through the verified download.

    Raises:
        StoreIOError: when the remote fails.
    """
    from concurrent.futures import ThreadPoolExecutor

    from ..objstore import remote_runkeys

    staged = {str(o.get("id")) for s in read_lock(repo.root).values() for o in s.get("outs", [])}
    artifacts = sorted({str(o) for o, k in roots if k in (Kind.FILE, Kind.TREE)} - staged)
    known = repo.state.runs_producing_any(artifacts) if artifacts else set()
    produced_by = {r: {str(o) for o in load_outputs(repo, r)} for r in known}
    unknown = [a for a in artifacts if not any(a in outs for outs in produced_by.values())]
    found: set[str] = set()
    if unknown:
        with ThreadPoolExecutor(max_workers=min(remote_runkeys.DEFAULT_JOBS, len(unknown))) as pool:
            for names in pool.map(
                lambda a: remote_runkeys.list_markers(store, a, folder=remote_runkeys.PRODUCED), unknown
            ):
                found.update(names)
    if pipelines:
        for names in remote_runkeys.list_keys(store, folder=remote_runkeys.PIPELINES).values():
            found.update(names)
    return {ObjectKey(Oid(r), Kind.RUN) for r in found if not repo.store.has(Oid(r), Kind.RUN)}


def load_outputs(repo: Repo, run_oid: str) -> list[str]:
    try:
        return [str(o["oid"]) for o in load_run(repo, run_oid).get("outputs", [])]
    except ArtError:
        return []
