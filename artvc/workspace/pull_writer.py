"""The writer process of a pull's checkout beside its fetch (``forked_writes.Writer``), forked as the pull
starts: what it does with each job (``forked_job``), how the pull forks it (``fork_writer``), and how the
checkout's thread locates a job's objects as they arrive before it hands the job over (``arrived``). The thread's
side is in ``checkout._write_files``; the design and its safety argument in docs/design.md §7."""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Iterator
from typing import cast

from ..objstore.arrivals import Arrivals
from ..objstore.fileio import pread_full
from ..objstore.materialize import materialize_small
from ..objstore.oid import Oid
from ..objstore.stage import FileStage
from ..objstore.store.base import ObjectStore
from . import forked_writes
from .repo import Repo

_O_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def write_there(
    store: ObjectStore, staged: FileStage | None, where: str, files: list[tuple[str, Oid, int, bool]], rows
) -> Iterator[list[tuple[int, os.stat_result]]]:
    """Write ``files`` (one-chunk raw or zstd objects located by ``rows``) into the private folder ``where``, in a
    forked writer (``forked_writes``): no index query, no progress; yield what landed as ``materialize_small``."""
    fd = os.open(where, _O_FOLDER)
    try:
        yield from materialize_small(store, files, direct=True, folder_fd=fd, rows=rows, staged=staged)
    finally:
        os.close(fd)


class _Packs:
    """What a forked writer reads packs through (``materialize_small`` given rows reads nothing else of a store):
    each pack opened by path from the name sent with the job, so the child asks no index (no sqlite connection
    crosses the fork). It also stands for the pull's ``FileStage``: the packs its fetch proved, learnt job by
    job (files of any other pack are hashed, as in the pull's own process)."""

    arrivals = None

    def __init__(self, path: Callable[[str], os.PathLike[str] | str]) -> None:
        self.path = path
        self.names: dict[int, str] = {}
        self.fds: dict[int, int] = {}
        self.proved_packs: set[str] = set()

    def pack_name(self, pack: int) -> str:
        return self.names[pack]

    def read_stored_into(self, pack: int, offset: int, into: memoryview) -> int:
        fd = self.fds.get(pack)
        if fd is None:
            fd = self.fds[pack] = os.open(self.path(self.names[pack]), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        return pread_full(fd, into, offset)


def forked_job(store: ObjectStore) -> Callable[[object], Iterator[list[tuple[int, os.stat_result]]]]:
    """What a ``forked_writes.Writer`` forked as a pull starts does with each job it gets: (folder, files, rows,
    {pack number: name}, names of the packs among them the fetch proved): the files written as ``write_there``
    from packs opened by path (``_Packs``)."""
    packs = _Packs(store.pack_path)  # type: ignore[attr-defined]

    def run(payload: object) -> Iterator[list[tuple[int, os.stat_result]]]:
        where, files, rows, names, proved = cast("tuple[str, list, array[int], dict[int, str], list[str]]", payload)
        packs.names.update(names)
        packs.proved_packs.update(proved)
        return write_there(cast(ObjectStore, packs), cast(FileStage, packs), where, files, rows)

    return run


def fork_writer(repo: Repo) -> forked_writes.Writer | None:
    """A writer process for a pull's checkout beside its fetch (``forked_writes.Writer``), forked now: None
    unless this process may fork (one thread), ``core.jobs`` is at least 2 and the store keeps packs it locates
    by number and names by path (the local store). The caller closes it."""
    store = repo.store
    if max(1, int(repo.config.core("jobs"))) < 2 or not all(hasattr(store, a) for a in ("locate_chunks", "pack_path")):
        return None
    return forked_writes.Writer.fork(forked_job(store))


def arrived(store: ObjectStore, oids: list[Oid], arrivals: Arrivals) -> array[int]:
    """The index rows of these objects (five ints each, as ``checkout._locate``), waiting for the fetch beside
    to store what is missing (``Arrivals.located``); one it never brings gets the row of no chunk (pack -1)."""
    locate = store.locate_chunks  # type: ignore[attr-defined]
    found = locate(oids)
    if None in found:
        found = arrivals.located(locate, oids, found)
    rows = array("q")
    for row in found:
        rows.extend((-1, 0, 0, 0, 0) if row is None else row)
    return rows
