"""``art fsck``: re-hash every stored object and check that every pointer resolves completely."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ArtError
from ..objstore.objects import Kind
from ..objstore.oid import Oid
from ..objstore.store.local import LocalStore
from ..objstore.store.local_check import check_packs, quarantine, quarantined, rewrite_packs
from ..objstore.tree import entries, walk
from ..objstore.types import ObjectKey
from ..objstore.verify import Problem, verify_store
from .repo import Repo

_BATCH = 1000  # files of an artifact looked up at once
_SHOWN = 10_000  # problems reported per artifact at most (a lost store would otherwise list every file)


@dataclass(frozen=True, slots=True)
class FsckResult:
    problems: list[Problem]
    objects: int
    artifacts: int
    reindexed: list[str]
    promised: int = 0  # files whose chunks a remote promised (a lazy pull's): not damage, not counted missing


def fsck(repo: Repo, *, progress: Callable[[int], None] | None = None, repair: bool = False) -> FsckResult:
    """Check the local store and the workspace's pointers; return every problem found (never raises for them).

    Besides reporting, fsck keeps the index (a cache of the packs) honest: packs on disk that it does not
    know are indexed, packs whose file is gone are dropped from it, and damaged objects are quarantined
    (``objstore.store.local_check.quarantine``) so that ``art add`` of the intact data, or ``art pull``, stores
    them again.
    With ``repair``, the intact objects of structurally damaged packs are rewritten into a new pack and the
    damaged packs removed (their problems are then not reported).
    """
    with repo.lock:
        store = repo.store
        reindexed = store.reindex()
        problems = _pack_problems(repo)
        if repair:
            problems = _repair_packs(repo, problems)
        found = _with_dependents(store, list(verify_store(store, progress=progress)))
        promised = _promised(repo)
        if promised:  # a promised file's chunks are on its remote, not missing here (art fetch --promised)
            found = [p for p in found if p.damaged or p.kind != "file" or Oid(p.oid) not in promised]
        quarantine(store, {ObjectKey(Oid(p.oid), Kind[p.kind.upper()]): p.detail for p in found if p.damaged})
        problems += found
        problems += _quarantined(repo, {(p.oid, p.kind) for p in found if p.damaged})
        arts = repo.artifacts()
        for path, pointer, source in arts:
            problems += _pointer_problems(repo, path, pointer, source)
        objects = store.stats()["objects"]
    return FsckResult(problems, objects, len(arts), reindexed, len(promised))


def _promised(repo: Repo) -> set[Oid]:
    from .lazy_fetch import local_promised

    return local_promised(repo)


def _with_dependents(store: LocalStore, found: list[Problem]) -> list[Problem]:
    """Name, on each damaged chunk, the chunks stored as deltas on it (``LocalStore.dependents``), and report
    every one of them as damaged too (unreadable until the base is stored intact again), even one this
    process could still rebuild from a base it read earlier."""
    damaged = [p.oid for p in found if p.damaged and p.kind == "chunk"]
    deps = store.dependents([Oid(o) for o in damaged]) if damaged else {}
    if not deps:
        return found
    reported = {p.oid for p in found if p.kind == "chunk"}
    out = []
    for p in found:
        below = deps.get(Oid(p.oid), []) if p.kind == "chunk" and p.damaged else []
        if below:
            names = ", ".join(d[:10] for d in below)
            p = Problem(p.oid, p.kind, f"{p.detail}; {len(below)} chunk(s) are stored as deltas on it: {names}", True)
        out.append(p)
    for base, below in deps.items():
        for d in below:
            if d not in reported:
                reported.add(d)
                out.append(Problem(d, "chunk", f"it is stored as a delta on the damaged chunk {base[:10]}", True))
    return out


def _pack_problems(repo: Repo) -> list[Problem]:
    """Structural damage of packs; a pack whose file is gone is dropped from the index (it only caches packs)."""
    store = repo.store
    problems = []
    gone = []
    for name, detail in check_packs(store):
        if detail == "indexed pack file is missing":
            gone.append(name)
            detail += "; its objects were dropped from the index (re-add the data or 'art pull' them)"
        else:
            detail += "; its objects are still readable: 'art fsck --repair' rewrites them into a new pack"
        problems.append(Problem(name, "pack", detail))
    if gone:
        store.drop_packs(gone)
    indexed = store.pack_names()
    problems += [
        Problem(name, "pack", "pack file is not indexed: its trailer is damaged or does not match its name")
        for name in sorted(store.pack_files().keys() - indexed)
    ]
    return problems


def _repair_packs(repo: Repo, problems: list[Problem]) -> list[Problem]:
    indexed = repo.store.pack_names()
    bad = sorted({p.oid for p in problems if p.kind == "pack" and p.oid in indexed})
    if not bad:
        return problems
    _, damaged = rewrite_packs(repo.store, bad)
    return [p for p in problems if p.oid not in bad] + [
        Problem(
            oid,
            kind.label,
            f"damaged in a rewritten pack and dropped ({reason}); re-add the data or 'art pull' it",
            True,
        )
        for (oid, kind), reason in damaged.items()
    ]


def _quarantined(repo: Repo, reported: set[tuple[str, str]]) -> list[Problem]:
    """Damaged objects quarantined by an earlier fsck that no intact copy has replaced yet."""
    return [
        Problem(
            oid,
            kind.label,
            f"damaged copy in pack {pack[:10]} is quarantined ({reason}); "
            "re-add the data or 'art pull' it to replace it",
        )
        for oid, kind, pack, reason in quarantined(repo.store)
        if (oid, kind.label) not in reported
    ]


def _pointer_problems(repo: Repo, path: str, pointer, source: str) -> list[Problem]:
    """Check that a pointer resolves completely and that its size and file count match what it names."""
    store = repo.store
    culprit = source if source.startswith("art.lock:") else f"pointer {source}"
    try:
        if pointer.kind == "file":
            size, files = store.file_size(pointer.oid), 1
        else:
            if not store.has(pointer.oid, Kind.TREE):
                return [Problem(pointer.oid, "tree", f"{path}: tree is not in the store")]
            files = 0
            found: list[Problem] = []
            batch: list = []
            for e in walk(store, pointer.oid):  # streamed, checked a batch at a time: flat at millions of files
                if e.entry.kind == "file":
                    files += 1
                    batch.append(e)
                    if len(batch) >= _BATCH:
                        found += _entry_problems(store, path, batch)
                        batch = []
            found += _entry_problems(store, path, batch)
            missing = [p for p in found if p.kind == "file"]
            if found:  # what is missing first: a size is not known for it
                return missing[:_SHOWN] if missing else found[:_SHOWN]
            size = sum(e.size for e in entries(store, pointer.oid))  # streamed too: no Tree of a million entries
    except ArtError as exc:
        return [Problem(pointer.oid, pointer.kind, f"{path}: {exc}")]
    wrong = [
        f"{field} = {said} but the stored {pointer.kind} has {actual}"
        for field, said, actual in (("size", pointer.size, size), ("files", pointer.files, files))
        if said != actual
    ]
    if not wrong:
        return []
    return [
        Problem(
            pointer.oid,
            "pointer",
            f"{culprit} is wrong: {'; '.join(wrong)} (the store is fine; "
            f"re-add {path} or restore the pointer from git)",
        )
    ]


def _entry_problems(store: LocalStore, path: str, entries: list) -> list[Problem]:
    """The files of ``entries`` (``tree.walk`` entries of one artifact) that are not stored, or whose stored
    size is not the tree's: one index query per batch, which also gives a one-chunk file's size; manifests
    are read only for files of many chunks."""
    where = store.locate_oids(e.entry.oid for e in entries)
    found = []
    for e in entries:
        oid = e.entry.oid
        if ObjectKey(oid, Kind.FILE) in where:
            n = store.file_size(oid)
        elif (chunk := where.get(ObjectKey(oid, Kind.CHUNK))) is not None:
            n = chunk.raw_length  # a one-chunk file is its chunk
        else:
            found.append(Problem(e.entry.oid, "file", f"{path}/{e.path}: file is not in the store"))
            continue
        if n != e.entry.size:
            found.append(
                Problem(oid, "tree", f"{path}/{e.path}: the tree says {e.entry.size} bytes but the stored file has {n}")
            )
    return found


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
    repair: dict | None = None  # with ``repair``: what was done (RepairResult.as_dict plus the push)
    remaining: list[Problem] | None = None  # with ``repair``: what could not be repaired
    markers: int = 0  # run markers checked (objstore/remote_markers.py)


def fsck_remote(
    repo: Repo,
    name: str | None,
    *,
    read_data: bool = False,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    repair: bool = False,
) -> RemoteFsckResult:
    """Check a remote's indexes against its packs; with ``read_data`` download and verify every object.

    With ``repair``, re-upload from the local store what the remote lost or has damaged and retire the bad
    packs (``objstore/remote_repair.py``), then push everything the workspace references that the remote
    lacks (``push --full``).

    The run markers (``runkeys/``, ``produced/``, ``pipelines/``) are read and verified too: content against
    name, and the run they name indexed on the remote. ``repair`` deletes the bad ones (the push that follows
    publishes valid ones again for the runs it has).
    """
    from ..objstore.remote_markers import check_markers, delete_markers
    from ..objstore.store.remote_check import check_remote
    from .lazy_fetch import remote_problems
    from .remote import open_remote, transfer_jobs

    store = open_remote(repo, name)
    try:
        found = check_remote(store, read_data=read_data, jobs=transfer_jobs(repo, jobs), progress=progress)
        found.problems.extend(remote_problems(repo, store))  # what it promised a lazy pull and no longer lists
        markers, bad_markers = check_markers(store)
        done = remaining = None
        if repair:
            delete_markers(store, [m for m, _ in bad_markers])
            done, remaining = _repair(repo, store, found, jobs, progress)
            done["markers_deleted"] = len(bad_markers)
    finally:
        store.close()
    return RemoteFsckResult(
        store.name,
        store.url,
        found.problems + [p for _, p in bad_markers],
        found.packs,
        found.indexes,
        found.objects,
        found.bytes_read,
        list(found.garbage),
        done,
        remaining,
        markers,
    )


def _repair(repo: Repo, store, found, jobs: int | None, progress) -> tuple[dict, list[Problem]]:
    from ..objstore.remote_repair import repair_remote
    from .push import push
    from .remote import transfer_jobs

    fixed = repair_remote(
        repo.store,
        store,
        found,
        jobs=transfer_jobs(repo, jobs),
        staging_dir=str(repo.tmp_dir / "push"),
        progress=progress,
    )
    pushed = push(repo, remote=store.name, jobs=jobs, full=True, progress=progress)
    remaining = [
        Problem(o, k.label, "damaged or lost on the remote and not in this clone's store") for o, k in fixed.lost
    ]
    remaining += [
        Problem(o, k.label, "needed by this workspace, on neither side")
        for o, k in pushed.missing
        if (o, k) not in set(fixed.lost)
    ]
    return {**fixed.as_dict(), "pushed": pushed.objects}, remaining
