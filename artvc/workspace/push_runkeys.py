"""``art push``: publish the markers of the runs a push sent (objstore/remote_runkeys.py).

After the data, its index files and the root record are published (under the remote's shared lock), every
pushed run record whose record and outputs are all on the remote gets its markers: a successful run with a
run key ``runkeys/<run_key>/<run_oid>`` (the run cache of every other clone, ``art repro --pull``, and of Dask
workers then finds it with one listing), an ``art add`` run ``produced/<artifact>/<run_oid>`` and a Python
pipeline's pipeline run ``pipelines/<name hash>/<run_oid>`` (``art fetch`` finds them without downloading
every run). Runs this push uploaded get theirs at once (one PUT each); runs the remote already held are
backfilled after one LIST per marker folder, unless this clone has seen their marker before
(``.art/cache/remotes/NAME/runkeys-<url hash>.known``: markers are immutable, so a no-op push costs nothing).
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ArtError, FileSystemError
from ..objstore import remote_runkeys
from ..objstore.faults import fault_point
from ..objstore.fileio import atomic_write
from ..objstore.hashing import hash_bytes
from ..objstore.lineage import Run
from ..objstore.objects import Kind
from ..objstore.oid import is_oid
from ..objstore.types import ObjectKey
from .remote_runcache import output_keys
from .repo import Repo
from .runs import load_run

if TYPE_CHECKING:
    from ..objstore.store.remote import RemoteStore

JOBS = 8
DONE = "run"  # "run/<oid>" in the known file: every marker of that run is on the remote (or it gets none)


class KnownMarkers:
    """The markers this clone has seen on one remote URL (a cache: lost or damaged, it is only slower)."""

    def __init__(self, folder: Path | None, url: str) -> None:
        self.path = folder / f"runkeys-{str(hash_bytes(url.encode()))[:16]}.known" if folder else None
        self.seen: set[str] = set()
        self._new = False
        if self.path is not None:
            try:
                text = self.path.read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError):
                text = ""
            self.seen = {line for line in text.split() if _valid(line)}

    def __contains__(self, item: str) -> bool:
        return item in self.seen

    def add(self, entry: str) -> None:
        if entry not in self.seen:
            self.seen.add(entry)
            self._new = True

    def save(self) -> None:
        if self.path is None or not self._new:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, "".join(f"{e}\n" for e in sorted(self.seen)), durable=False)
        except (OSError, FileSystemError):
            pass


def _valid(line: str) -> bool:
    folder, _, rest = line.partition("/")
    if folder == DONE:
        return is_oid(rest)
    key, _, oid = rest.partition("/")
    return folder in remote_runkeys.FOLDERS and is_oid(key) and is_oid(oid)


def _on_remote(store: RemoteStore, key: ObjectKey, uploaded: Container[ObjectKey]) -> bool:
    if key in uploaded:  # a push's chunk packs are not in the view (objstore/transfer.upload_closure)
        return True
    if key.kind == Kind.FILE:
        return store.has(key.oid, Kind.FILE) or store.has(key.oid, Kind.CHUNK)
    return store.has(key.oid, key.kind)


def markable(
    repo: Repo,
    store: RemoteStore,
    roots: Iterable[ObjectKey],
    skip: AbstractSet[ObjectKey] = frozenset(),
    uploaded: Container[ObjectKey] = frozenset(),
) -> tuple[list[tuple[str, str, Run]], list[Run]]:
    """(folder, key, run) of every marker the runs among ``roots`` (less ``skip``) deserve on ``store``: runs
    stored here (``remote_runkeys.names_for``) whose record and every output are committed on the remote; and
    the runs that get no marker at all (nothing to do for them, ever)."""
    out, none = [], []
    for key in sorted({k for k in roots if k.kind == Kind.RUN} - skip):
        if not repo.store.has(key.oid, Kind.RUN) or not store.has(key.oid, Kind.RUN):
            continue
        try:
            run = load_run(repo, key.oid)
        except ArtError:
            continue
        names = [(f, n) for f in remote_runkeys.FOLDERS for n in remote_runkeys.names_for(f, run)]
        if not names:
            none.append(run)
        elif all(_on_remote(store, k, uploaded) for k in output_keys(run)):
            out += [(f, n, run) for f, n in names]
    return out, none


def publish_markers(
    repo: Repo,
    store: RemoteStore,
    roots: Iterable[ObjectKey],
    *,
    uploaded: Container[ObjectKey],
    trust_cache: bool = True,
) -> int:
    """Publish the missing markers of the pushed runs; return how many were written. The caller holds the
    remote's shared lock and has published the objects' index files (markers never precede them).

    ``uploaded``: the objects this push sent (their runs need no listing: they cannot have a marker yet
    unless another clone pushed the same run, and publishing again writes the same bytes).

    Raises:
        StoreIOError: when the remote fails.
    """
    known = KnownMarkers(store.cache_dir, store.url)
    roots = set(roots)
    done = {k for k in roots if k not in uploaded and f"{DONE}/{k.oid}" in known} if trust_cache else set()
    wanted, unmarked = markable(repo, store, roots, done, uploaded)  # a run seen complete before is not even read
    for run in unmarked:
        known.add(f"{DONE}/{run.oid}")
    todo: list[tuple[str, str, Run]] = []
    check: dict[tuple[str, str], list[Run]] = {}
    for folder, key, run in wanted:
        if ObjectKey(run.oid, Kind.RUN) in uploaded:  # sent again after a gc: its marker went with it
            todo.append((folder, key, run))
        elif trust_cache and f"{folder}/{key}/{run.oid}" in known:
            continue
        else:
            check.setdefault((folder, key), []).append(run)
    if check:
        with ThreadPoolExecutor(max_workers=min(JOBS, len(check))) as pool:
            found = pool.map(lambda fk: remote_runkeys.list_markers(store, fk[1], folder=fk[0]), check)
            listed = dict(zip(check, found, strict=True))
        for (folder, key), candidates in check.items():
            for run in candidates:
                if str(run.oid) in listed[(folder, key)]:
                    known.add(f"{folder}/{key}/{run.oid}")
                else:
                    todo.append((folder, key, run))
    if todo:
        fault_point("runkeys.objects-committed")  # here, not in the pool: a kill leaves no marker at all
        with ThreadPoolExecutor(max_workers=min(JOBS, len(todo))) as pool:
            list(pool.map(lambda t: remote_runkeys.publish_in(store, *t), todo))
        for folder, key, run in todo:
            known.add(f"{folder}/{key}/{run.oid}")
    for _, _, run in wanted:  # every marker of these runs is on the remote now
        known.add(f"{DONE}/{run.oid}")
    known.save()
    return len(todo)
