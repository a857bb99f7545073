"""Run-key markers on a remote: the remote half of the run cache, one listing per run key.

A run cache lookup needs "which successful runs have run key K?". Locally ``state.db`` answers it; on a remote
the answer is a folder per run key holding one small file per run:

    runkeys/<run_key>/<run_oid>    the run record's bytes (exactly the RUN object's payload)

so a hit costs one LIST of ``runkeys/<run_key>/`` plus one GET per marker, and needs no index lookup: the
content is verified against its name (the run id is the blake3 of those bytes, ``Run.from_bytes``) and
decoded by the bounded run decoder; its ``run_key`` field must be the folder's name and its exit status 0.
A marker that fails any check is ignored and reported (``on_bad``), never trusted.

Two more folders of the same shape let a clone find the few runs it needs without downloading every run
(``art fetch``, workspace/fetch_runs.py):

    produced/<artifact id>/<run_oid>     an ``art add`` run, under the id of each artifact it recorded
    pipelines/<blake3 of name>/<run_oid> a Python pipeline's pipeline-run record (``art run``)

**Publish order** (docs/remotes.md): the run object and every output object are committed first (their
packs' index files published, under the shared remote lock), the marker last. A marker therefore never names
a run whose objects a reader cannot fetch; a writer killed before the marker (fault point
``runkeys.objects-committed``) leaves committed objects without a marker, which a later push completes.
Markers are content-named and immutable, so publishing twice, or from two clients, writes the same bytes.
Remote gc keeps the runs markers name (and their outputs) and deletes the markers of runs it deletes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING

from ..errors import FormatError
from .faults import fault_point
from .hashing import hash_bytes
from .lineage import Run
from .oid import Oid, is_oid
from .types import Kind

if TYPE_CHECKING:
    from .store.remote import RemoteStore

__all__ = [
    "FOLDERS",
    "MARKERS_DIR",
    "MAX_MARKER",
    "PIPELINES",
    "PRODUCED",
    "BadMarker",
    "delete",
    "list_keys",
    "list_markers",
    "lookup",
    "lookup_in",
    "lookup_many",
    "marker_path",
    "names_for",
    "pipeline_key",
    "publish",
    "publish_in",
    "read_marker",
]

MARKERS_DIR = "runkeys"
PRODUCED = "produced"
PIPELINES = "pipelines"
FOLDERS = (MARKERS_DIR, PRODUCED, PIPELINES)
MAX_MARKER = 16 << 20  # bytes: a larger marker is refused as damaged (run records are a few KB)
DEFAULT_JOBS = 8
REPRO_PIPELINE = "art.toml"  # the pipeline name of art repro's own pipeline-run records (not published)

OnBad = Callable[["BadMarker"], None]


class BadMarker(ValueError):
    """A marker that cannot be trusted: ``path`` on the remote and why (``reason``)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"run-key marker {path}: {reason}")
        self.path = path
        self.reason = reason


def pipeline_key(name: str) -> str:
    """The folder name of a Python pipeline under ``pipelines/``: the blake3 of its name."""
    return str(hash_bytes(name.encode("utf-8", "surrogatepass")))


def names_for(folder: str, run: Run) -> list[str]:
    """The names under which ``run`` belongs in ``folder`` (empty: it gets no marker there)."""
    if folder == MARKERS_DIR:
        ok = is_oid(run.get("run_key")) and run.get("exit_status", 0) == 0
        return [str(run.get("run_key"))] if ok else []
    if folder == PRODUCED:
        return sorted({str(o["oid"]) for o in run.get("outputs", [])}) if run.get("kind") == "add" else []
    if folder == PIPELINES:
        name = run.get("pipeline")
        ok = run.get("kind") == "pipeline" and isinstance(name, str) and name != REPRO_PIPELINE
        return [pipeline_key(str(name))] if ok else []
    raise ValueError(f"unknown marker folder {folder!r}")


def _path(folder: str, key: str, run_oid: str) -> str:
    if folder not in FOLDERS:
        raise ValueError(f"unknown marker folder {folder!r}")
    if not is_oid(key):
        raise ValueError(f"not a run key: {str(key)[:80]!r}")
    if not is_oid(run_oid):
        raise ValueError(f"not a run id: {str(run_oid)[:80]!r}")
    return f"{folder}/{key}/{run_oid}"


def marker_path(run_key: str, run_oid: str) -> str:
    """Where the marker of run ``run_oid`` under run key ``run_key`` is, relative to the remote root.

    Raises:
        ValueError: when either is not a full lowercase hex id (nothing else may become a remote path).
    """
    return _path(MARKERS_DIR, run_key, run_oid)


def publish(remote: RemoteStore, run_key: str, run: Run) -> None:
    """Publish the marker of ``run`` under ``run_key`` (atomic: a reader sees nothing or the whole record;
    idempotent: the same name always holds the same bytes).

    The caller has committed the run object and its outputs (their index files are published) and holds
    the remote's shared lock; the run object must be in ``remote``'s view (a refresh or ``add_pack`` showed it).

    Raises:
        ValueError: when ``run`` is not a successful run with that run key, or its object is not committed
            on ``remote`` (a bug in the caller: a marker must never precede its objects).
        StoreIOError: when the remote fails.
    """
    fault_point("runkeys.objects-committed")
    publish_in(remote, MARKERS_DIR, run_key, run)


def publish_in(remote: RemoteStore, folder: str, key: str, run: Run) -> None:
    """``publish`` into any marker folder (``key`` must be one of ``names_for(folder, run)``).

    Unlike ``publish`` it passes no fault point: callers that publish many markers from a pool of threads
    pass ``runkeys.objects-committed`` once, on their own thread, before the first marker (a kill there must
    leave no marker at all, which it could not promise if a pool thread reached it while another published).
    """
    path = _path(folder, key, str(run.oid))
    if key not in names_for(folder, run):
        what = "a successful run with run key" if folder == MARKERS_DIR else f"a run for {folder}/"
        raise ValueError(f"run {str(run.oid)[:10]} is not {what} {str(key)[:10]}")
    if not remote.has(run.oid, Kind.RUN):
        raise ValueError(f"run {str(run.oid)[:10]} is not committed on remote {remote.name!r}: no marker before it")
    remote.publish_bytes(path, run.to_bytes())


def _check(folder: str, key: str, name: str, size: int | None, read: Callable[[], bytes]) -> Run:
    path = f"{folder}/{key}/{name}"
    if not is_oid(name):
        raise BadMarker(path, "its name is not a run id")
    if size is not None and size > MAX_MARKER:
        raise BadMarker(path, f"larger than {MAX_MARKER} bytes")
    data = read()
    if len(data) > MAX_MARKER:
        raise BadMarker(path, f"larger than {MAX_MARKER} bytes")
    try:
        run = Run.from_bytes(Oid(name), bytes(data))
    except FormatError as exc:
        raise BadMarker(path, str(exc)) from exc
    if key not in names_for(folder, run):
        if folder != MARKERS_DIR:
            raise BadMarker(path, f"the record does not belong under {folder}/{key[:10]}")
        if run.get("run_key") != key:
            raise BadMarker(path, "the record has another run key")
        raise BadMarker(path, "the record is of a failed run")
    return run


def _newest_first(runs: Iterable[Run]) -> list[Run]:
    return sorted(runs, key=lambda r: (str(r.get("started", "")), str(r.oid)), reverse=True)


def lookup(remote: RemoteStore, run_key: str, *, on_bad: OnBad | None = None) -> list[Run]:
    """The verified runs the remote's markers name for ``run_key``, newest first (``started``, then id).

    One LIST of ``runkeys/<run_key>/`` plus one GET per marker found. A marker that is damaged, too large,
    misnamed, of another run key or of a failed run is left out and passed to ``on_bad``; one deleted between
    the listing and the read is left out silently.

    Raises:
        ValueError: when ``run_key`` is not a run key.
        StoreIOError: when the remote fails.
    """
    return lookup_in(remote, MARKERS_DIR, run_key, on_bad=on_bad)


def lookup_in(remote: RemoteStore, folder: str, key: str, *, on_bad: OnBad | None = None) -> list[Run]:
    """``lookup`` in any marker folder."""
    _path(folder, key, "0" * 64)
    found: list[Run] = []
    for entry in remote.list_files(f"{folder}/{key}"):
        path = f"{folder}/{key}/{entry.name}"
        try:
            found.append(_check(folder, key, entry.name, entry.size, partial(_read, remote, path)))
        except FileNotFoundError:
            continue  # removed by gc meanwhile
        except BadMarker as bad:
            if on_bad is not None:
                on_bad(bad)
    return _newest_first(found)


def _read(remote: RemoteStore, path: str) -> bytes:
    return remote.transport.read(path, 0, MAX_MARKER + 1)


def lookup_many(
    remote: RemoteStore,
    keys: Iterable[str],
    jobs: int = DEFAULT_JOBS,
    *,
    on_bad: OnBad | None = None,
    folder: str = MARKERS_DIR,
) -> dict[str, list[Run]]:
    """``lookup`` for each distinct key, at most ``jobs`` at a time; every key is in the answer (maybe ``[]``).

    Raises:
        ValueError: when a key is not a run key.
        StoreIOError: when the remote fails (the first failure; the other lookups are left to finish).
    """
    wanted = list(dict.fromkeys(keys))
    for key in wanted:
        _path(folder, key, "0" * 64)
    if not wanted:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(wanted)))) as pool:
        futures = {key: pool.submit(lookup_in, remote, folder, key, on_bad=on_bad) for key in wanted}
        return {key: fut.result() for key, fut in futures.items()}


def list_markers(remote: RemoteStore, run_key: str, *, folder: str = MARKERS_DIR) -> list[str]:
    """The names under ``<folder>/<run_key>/`` that look like run ids (one LIST; contents not read)."""
    _path(folder, run_key, "0" * 64)
    return sorted(e.name for e in remote.list_files(f"{folder}/{run_key}") if is_oid(e.name))


def list_keys(remote: RemoteStore, *, jobs: int = DEFAULT_JOBS, folder: str = MARKERS_DIR) -> dict[str, list[str]]:
    """{key: [run ids]} of every marker in ``folder`` (1 LIST of the folder + 1 per key; contents are not
    read: gc and fsck verify what they rely on). Folders whose name is not a hex id are skipped."""
    keys = sorted(e.name for e in remote.transport.list(folder) if e.is_dir and is_oid(e.name))
    if not keys:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(keys)))) as pool:
        listed = pool.map(lambda k: list_markers(remote, k, folder=folder), keys)
        return {k: v for k, v in zip(keys, listed, strict=True) if v}


def read_marker(remote: RemoteStore, run_key: str, run_oid: str, *, folder: str = MARKERS_DIR) -> Run:
    """Read and verify one marker.

    Raises:
        BadMarker: when it cannot be trusted; FileNotFoundError when it is gone; StoreIOError.
    """
    path = _path(folder, run_key, run_oid)
    return _check(folder, run_key, run_oid, None, partial(_read, remote, path))


def delete(remote: RemoteStore, run_key: str, run_oid: str, *, folder: str = MARKERS_DIR) -> None:
    """Remove one marker (gc, under the exclusive lock); a marker already gone is fine."""
    remote.delete_quietly(_path(folder, run_key, run_oid))
