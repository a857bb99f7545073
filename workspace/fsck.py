"""``art fsck``: re-hash every stored object and check that every pointer resolves completely."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..objstore.errors import ArtError
from ..objstore.objects import Kind
from ..objstore.tree import walk
from ..objstore.verify import Problem, verify_store
from .repo import Repo


@dataclass(frozen=True, slots=True)
class FsckResult:
    problems: list[Problem]
    objects: int
    artifacts: int
    reindexed: list[str]


def fsck(repo: Repo, *, progress: Callable[[int], None] | None = None) -> FsckResult:
    """Check the local store and the workspace's pointers; return every problem found (never raises for them)."""
    with repo.lock:
        store = repo.store
        reindexed = store.reindex()
        problems = list(verify_store(store, progress=progress))
        problems += _pack_problems(repo)
        arts = repo.artifacts()
        for path, pointer, _ in arts:
            problems += _pointer_problems(repo, path, pointer)
        objects = store.stats()["objects"]
    return FsckResult(problems, objects, len(arts), reindexed)


def _pack_problems(repo: Repo) -> list[Problem]:
    store = repo.store
    on_disk = store.pack_files()
    return [Problem(name, "pack", "indexed pack file is missing") for name in store.pack_names() - on_disk.keys()]


def _pointer_problems(repo: Repo, path: str, pointer) -> list[Problem]:
    store = repo.store
    try:
        if pointer.kind == "file":
            store.file_chunks(pointer.oid, pointer.size)
            return []
        if not store.has(pointer.oid, Kind.TREE):
            return [Problem(pointer.oid, "tree", f"{path}: tree is not in the store")]
        missing = [f"{path}/{e.path}" for e in walk(store, pointer.oid)
                   if e.entry.kind == "file" and not store.has_file(e.entry.oid)]
        return [Problem(pointer.oid, "file", f"{m}: file is not in the store") for m in missing]
    except ArtError as exc:
        return [Problem(pointer.oid, pointer.kind, f"{path}: {exc}")]


@dataclass(frozen=True, slots=True)
class RemoteFsckResult:
    remote: str
    url: str
    problems: list[Problem]
    packs: int
    indexes: int
    objects: int
    bytes_read: int
    garbage: list[str]


def fsck_remote(repo: Repo, name: str | None, *, read_data: bool = False, jobs: int | None = None,
                progress: Callable[[int], None] | None = None) -> RemoteFsckResult:
    """Check a remote's indexes against its packs; with ``read_data`` download and verify every object."""
    from ..objstore.store.remote_check import check_remote
    from .remote import open_remote, transfer_jobs

    store = open_remote(repo, name)
    try:
        found = check_remote(store, read_data=read_data, jobs=transfer_jobs(repo, jobs), progress=progress)
    finally:
        store.close()
    return RemoteFsckResult(store.name, store.url, found.problems, found.packs, found.indexes, found.objects,
                            found.bytes_read, list(found.garbage))
