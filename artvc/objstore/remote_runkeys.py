"""Run-key markers on a remote: the remote half of the run cache, one listing per run key.

A run cache lookup needs "which successful runs have run key K?". Locally ``state.db`` answers it; on a remote
the answer is a folder per run key holding one small file per run:

    runkeys/<run_key>/<run_oid>    the run record's bytes (exactly the RUN object's payload)

so a hit costs one LIST of ``runkeys/<run_key>/`` plus one GET per marker, and needs no index lookup: the
content is verified against its name (the run id is the blake3 of those bytes, ``Run.from_bytes``) and
decoded by the bounded run decoder; its ``run_key`` field must be the folder's name and its exit status 0.
A marker that fails any check is ignored and reported (``on_bad``), never trusted.

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
from .lineage import Run
from .oid import Oid, is_oid
from .types import Kind

if TYPE_CHECKING:
    from .store.remote import RemoteStore

__all__ = [
    "MARKERS_DIR",
    "MAX_MARKER",
    "BadMarker",
    "delete",
    "list_keys",
    "list_markers",
    "lookup",
    "lookup_many",
    "marker_path",
    "publish",
]

MARKERS_DIR = "runkeys"
MAX_MARKER = 16 << 20  # bytes: a larger marker is refused as damaged (run records are a few KB)
DEFAULT_JOBS = 8

OnBad = Callable[["BadMarker"], None]


class BadMarker(ValueError):
    """A marker that cannot be trusted: ``path`` on the remote and why (``reason``)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"run-key marker {path}: {reason}")
        self.path = path
        self.reason = reason


def marker_path(run_key: str, run_oid: str) -> str:
    """Where the marker of run ``run_oid`` under run key ``run_key`` is, relative to the remote root.

    Raises:
        ValueError: when either is not a full lowercase hex id (nothing else may become a remote path).
    """
    if not is_oid(run_key):
        raise ValueError(f"not a run key: {str(run_key)[:80]!r}")
    if not is_oid(run_oid):
        raise ValueError(f"not a run id: {str(run_oid)[:80]!r}")
    return f"{MARKERS_DIR}/{run_key}/{run_oid}"


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
    if run.get("run_key") != run_key or run.get("exit_status", 0) != 0:
        raise ValueError(f"run {str(run.oid)[:10]} is not a successful run with run key {str(run_key)[:10]}")
    path = marker_path(run_key, str(run.oid))
    if not remote.has(run.oid, Kind.RUN):
        raise ValueError(f"run {str(run.oid)[:10]} is not committed on remote {remote.name!r}: no marker before it")
    fault_point("runkeys.objects-committed")
    remote.publish_bytes(path, run.to_bytes())


def _check(run_key: str, name: str, size: int | None, read: Callable[[], bytes]) -> Run:
    path = f"{MARKERS_DIR}/{run_key}/{name}"
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
    if run.get("run_key") != run_key:
        raise BadMarker(path, "the record has another run key")
    if run.get("exit_status", 0) != 0:
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
    marker_path(run_key, "0" * 64)  # validates run_key
    found: list[Run] = []
    for entry in remote.list_files(f"{MARKERS_DIR}/{run_key}"):
        path = f"{MARKERS_DIR}/{run_key}/{entry.name}"
        try:
            found.append(_check(run_key, entry.name, entry.size, partial(_read, remote, path)))
        except FileNotFoundError:
            continue  # removed by gc meanwhile
        except BadMarker as bad:
            if on_bad is not None:
                on_bad(bad)
    return _newest_first(found)


def _read(remote: RemoteStore, path: str) -> bytes:
    return remote.transport.read(path, 0, MAX_MARKER + 1)


def lookup_many(
    remote: RemoteStore, keys: Iterable[str], jobs: int = DEFAULT_JOBS, *, on_bad: OnBad | None = None
) -> dict[str, list[Run]]:
    """``lookup`` for each distinct key, at most ``jobs`` at a time; every key is in the answer (maybe ``[]``).

    Raises:
        ValueError: when a key is not a run key.
        StoreIOError: when the remote fails (the first failure; the other lookups are left to finish).
    """
    wanted = list(dict.fromkeys(keys))
    for key in wanted:
        marker_path(key, "0" * 64)
    if not wanted:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(wanted)))) as pool:
        futures = {key: pool.submit(lookup, remote, key, on_bad=on_bad) for key in wanted}
        return {key: fut.result() for key, fut in futures.items()}


def list_markers(remote: RemoteStore, run_key: str) -> list[str]:
    """The names under ``runkeys/<run_key>/`` that look like run ids (one LIST; contents not read)."""
    marker_path(run_key, "0" * 64)
    return sorted(e.name for e in remote.list_files(f"{MARKERS_DIR}/{run_key}") if is_oid(e.name))


def list_keys(remote: RemoteStore, *, jobs: int = DEFAULT_JOBS) -> dict[str, list[str]]:
    """{run key: [run ids]} of every marker on the remote (1 LIST of ``runkeys/`` + 1 per run key; contents
    are not read: gc and fsck verify what they rely on). Folders whose name is not a run key are skipped."""
    keys = sorted(e.name for e in remote.transport.list(MARKERS_DIR) if e.is_dir and is_oid(e.name))
    if not keys:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(keys)))) as pool:
        return dict(zip(keys, pool.map(lambda k: list_markers(remote, k), keys), strict=True))


def read_marker(remote: RemoteStore, run_key: str, run_oid: str) -> Run:
    """Read and verify one marker.

    Raises:
        BadMarker: when it cannot be trusted; FileNotFoundError when it is gone; StoreIOError.
    """
    path = marker_path(run_key, run_oid)
    return _check(run_key, run_oid, None, lambda: _read(remote, path))


def delete(remote: RemoteStore, run_key: str, run_oid: str) -> None:
    """Remove one marker (gc, under the exclusive lock); a marker already gone is fine."""
    remote.delete_quietly(marker_path(run_key, run_oid))
