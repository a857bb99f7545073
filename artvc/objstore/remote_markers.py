"""Every marker of a remote at once (objstore/remote_runkeys.py), for remote gc and ``art fsck --remote``.

Remote gc (docs/gc.md) keeps the runs ``runkeys/`` markers name, with their outputs, as roots: a marker
promises that its run can be restored, so gc either keeps what it names or deletes the marker first. With a retention
age (``art gc --remote --keep-within``) a marker older than that is no root, and gc deletes the markers of
runs it deletes — before it deletes the objects, so a reader never finds a marker whose run is gone — and
markers whose run is not on the remote at all. fsck reports markers that fail verification or name a run
the remote does not hold.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ArtError
from .lineage import Run
from .oid import Oid, is_oid
from .remote_runkeys import DEFAULT_JOBS, FOLDERS, MARKERS_DIR, BadMarker, delete, read_marker
from .types import Kind, ObjectKey
from .verify import Problem

if TYPE_CHECKING:
    from .store.base import ObjectStore
    from .store.remote import RemoteStore


@dataclass(frozen=True, slots=True)
class Marker:
    """One marker file: ``folder/key/run`` and its modification time on the remote (None: unknown)."""

    folder: str
    key: str
    run: Oid
    mtime: float | None = None

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.key}/{self.run}"


def all_markers(remote: RemoteStore, *, jobs: int = DEFAULT_JOBS) -> list[Marker]:
    """Every marker in every marker folder (one LIST per folder plus one per key; contents not read)."""
    folders = [(f, e.name) for f in FOLDERS for e in remote.transport.list(f) if e.is_dir and is_oid(e.name)]
    if not folders:
        return []

    def scan(item: tuple[str, str]) -> list[Marker]:
        folder, key = item
        return [
            Marker(folder, key, Oid(e.name), e.mtime) for e in remote.list_files(f"{folder}/{key}") if is_oid(e.name)
        ]

    with ThreadPoolExecutor(max_workers=min(jobs, len(folders))) as pool:
        return [m for found in pool.map(scan, folders) for m in found]


def marker_roots(store: ObjectStore, markers: list[Marker], cutoff: float | None) -> set[ObjectKey]:
    """The roots the run cache protects: each run a ``runkeys/`` marker younger than ``cutoff`` names (all of
    them when ``cutoff`` is None, or the time is unknown) and that run's outputs. A run ``store`` cannot read
    protects only itself (fsck reports it). ``produced/`` and ``pipelines/`` markers only help a clone find
    runs: they protect nothing (gc's retention decides) and go with their run."""
    roots: set[ObjectKey] = set()
    for m in markers:
        if m.folder != MARKERS_DIR or (cutoff is not None and m.mtime is not None and m.mtime < cutoff):
            continue
        roots.add(ObjectKey(m.run, Kind.RUN))
        try:
            run = Run.from_bytes(m.run, store.get(m.run, Kind.RUN))
        except ArtError:
            continue
        for o in run.get("outputs", []):
            roots.add(ObjectKey(Oid(o["oid"]), Kind.TREE if o.get("kind") == "dir" else Kind.FILE))
    return roots


def doomed_markers(remote: RemoteStore, markers: list[Marker], live: set[ObjectKey]) -> list[Marker]:
    """The markers gc deletes: those whose run it deletes (not ``live``) or that the remote does not hold."""
    return [m for m in markers if (m.run, Kind.RUN) not in live or not remote.has(m.run, Kind.RUN)]


def delete_markers(remote: RemoteStore, markers: list[Marker], *, jobs: int = DEFAULT_JOBS) -> None:
    if markers:
        with ThreadPoolExecutor(max_workers=min(jobs, len(markers))) as pool:
            list(pool.map(lambda m: delete(remote, m.key, str(m.run), folder=m.folder), markers))


def check_markers(remote: RemoteStore, *, jobs: int = DEFAULT_JOBS) -> tuple[int, list[tuple[Marker, Problem]]]:
    """Read and verify every marker; return (markers checked, [(marker, problem)]): a marker that fails
    verification (content vs name, bounded decode, the folder it is in), or names a run no remote index
    lists. A problem's ``oid`` is the run id the marker's name gives, its ``detail`` starts with the path."""
    markers = all_markers(remote, jobs=jobs)

    def check(m: Marker) -> tuple[Marker, Problem] | None:
        try:
            read_marker(remote, m.key, str(m.run), folder=m.folder)
        except FileNotFoundError:
            return None
        except BadMarker as bad:
            return m, Problem(str(m.run), "marker", f"{m.path}: {bad.reason}")
        if not remote.has(m.run, Kind.RUN):
            return m, Problem(str(m.run), "marker", f"{m.path}: names a run the remote does not hold")
        return None

    if not markers:
        return 0, []
    with ThreadPoolExecutor(max_workers=min(jobs, len(markers))) as pool:
        found = [p for p in pool.map(check, markers) if p is not None]
    return len(markers), found
