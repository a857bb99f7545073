"""The run cache across clones: find a run on a remote by its run key (the remote's run-key markers,
``objstore/remote_runkeys.py``) and adopt it here, so that a stage whose result another clone (or a Dask
worker) already pushed is restored instead of run (``art repro --pull``, docs/pipelines.md).

``find`` costs one LIST of ``runkeys/<run_key>/`` plus one GET per marker found and trusts only verified
markers; ``adopt`` downloads the run record and, when asked, its outputs through the ordinary verified
download path (so the local store never holds a run without what it reaches), then indexes the run, after
which the local run cache (``pipeline/runcache.py``) finds it like any local run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ArtError, StoreIOError
from ..objstore.lineage import Run
from ..objstore.objects import Kind
from ..objstore.oid import Oid
from ..objstore.types import ObjectKey
from .repo import Repo

if TYPE_CHECKING:
    from ..objstore.store.remote import RemoteStore


def output_keys(run: Run) -> list[ObjectKey]:
    """The store objects of a run's outputs (trees for directories, files otherwise)."""
    return [
        ObjectKey(Oid(o["oid"]), Kind.TREE if o.get("kind") == "dir" else Kind.FILE) for o in run.get("outputs", [])
    ]


def find(
    repo: Repo,
    remote: RemoteStore,
    run_key: str,
    outs: tuple[str, ...] | list[str],
    *,
    on_bad: Callable[[str], None] | None = None,
) -> Run | None:
    """The newest run the remote's markers name for ``run_key`` that produced exactly ``outs`` (None: a miss).

    ``on_bad`` gets a message for each marker that failed verification (it is never used).

    Raises:
        StoreIOError: when the remote fails.
    """
    from ..objstore import remote_runkeys

    def bad(marker: remote_runkeys.BadMarker) -> None:
        if on_bad is not None:
            on_bad(f"remote {remote.name!r}: ignoring {marker}")

    for run in remote_runkeys.lookup(remote, run_key, on_bad=bad):
        if sorted(str(o.get("path")) for o in run.get("outputs", [])) == sorted(outs):
            return run
    return None


def adopt(repo: Repo, remote: RemoteStore, run: Run, *, fetch_outputs: bool) -> None:
    """Store ``run`` (a record ``find`` returned) in the local store with what it reaches, index it, and with
    ``fetch_outputs`` download its outputs too (``runcache.restore`` can then check them out). The caller
    holds the repository lock.

    Raises:
        TransferError: the run or an output is not on the remote (a gc removed it since).
        IntegrityError: what the remote sent failed verification (nothing of it was stored).
        StoreIOError: the remote failed.
    """
    from ..objstore.transfer import download
    from .fetch import FetchResult, raise_for
    from .remote import transfer_jobs
    from .runs import record_run

    wanted = [ObjectKey(run.oid, Kind.RUN)]
    if fetch_outputs:
        wanted += output_keys(run)
    result = download(remote, repo.store, wanted, jobs=transfer_jobs(repo, None))
    raise_for(
        FetchResult(
            remote.name,
            remote.url,
            len(wanted),
            missing=result.missing,
            problems=result.problems,
            lost_packs=result.lost_packs,
        )
    )
    record_run(repo, run)


class RemoteRunCache:
    """``art repro --pull``: the remote half of the run cache for one repro, opened on first use.

    ``get`` never raises for an unreachable or failing remote: the first failure becomes one warning and
    the rest of the repro uses the local run cache only. ``lookups`` counts the run keys asked for.
    """

    def __init__(self, repo: Repo, remote: str | None, warn: Callable[[str], None]) -> None:
        self.repo, self.name, self.warn = repo, remote, warn
        self._store: RemoteStore | None = None
        self.disabled = False
        self.lookups = 0
        self.hits = 0
        self._requests = 0
        self._label = remote

    def _open(self) -> RemoteStore | None:
        if self._store is None and not self.disabled:
            from .remote import open_remote

            try:
                self._store = open_remote(self.repo, self.name)
            except ArtError as exc:
                self._give_up(exc)
        return self._store

    def _give_up(self, exc: ArtError) -> None:
        self.disabled = True
        self.warn(f"the remote run cache is not used: {exc.message}")

    def get(self, run_key: str, outs: tuple[str, ...]) -> Run | None:
        """Find a run for ``run_key`` on the remote and adopt it with its outputs; None on a miss (or when
        the remote cannot be used). The caller holds the repository lock."""
        store = self._open()
        if store is None:
            return None
        self.lookups += 1
        try:
            run = find(self.repo, store, run_key, outs, on_bad=self.warn)
        except StoreIOError as exc:
            self._give_up(exc)
            return None
        if run is None:
            return None
        try:
            adopt(self.repo, store, run, fetch_outputs=True)
        except StoreIOError as exc:
            self._give_up(exc)
            return None
        except ArtError as exc:  # the run's objects are gone or damaged: run the stage instead
            self.warn(f"cannot use run {str(run.oid)[:10]} from remote {store.name!r}: {exc.message}")
            return None
        self.hits += 1
        return run

    @property
    def requests(self) -> int:
        """Remote requests made so far (lookups and downloads)."""
        return self._requests + (self._store.requests if self._store is not None else 0)

    def stats(self) -> dict:
        """``{remote, lookups, hits, requests, used}`` (``art repro --json``: ``remote_cache``)."""
        return {
            "remote": self._store.name if self._store is not None else self._label,
            "lookups": self.lookups,
            "hits": self.hits,
            "requests": self.requests,
            "used": not self.disabled,
        }

    def close(self) -> None:
        if self._store is not None:
            self._label, self._requests = self._store.name, self._store.requests
            self._store.close()
            self._store = None
