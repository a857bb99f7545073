"""Promised objects on demand: the rules of ``objstore/promised.py`` that need a remote or the workspace.

- ``fetch_for_checkout``: a checkout that must write a promised file (its workspace copy is gone or changed)
  fetches the file's chunks from the remote that promised them, verified as a fetch verifies, into the store;
- ``fetch_promised``: ``art fetch --promised`` makes the store complete again;
- ``refuse_unsent``: a push never sends a closure with promised files its destination does not list;
- ``remote_problems``: ``art fsck --remote NAME`` checks that the remote still lists what it promised;
- ``promised_by`` / ``open_promised``: ``art cat`` and ``art diff`` read a promised file's content from the
  remote that promised it (chunks verified one by one, the whole file by its id when read to the end), storing
  nothing, as git's partial clone fetches a missing blob on demand.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from ..errors import ArtError, RemoteNotConfiguredError, StoreIOError, TransferError
from ..objstore.objects import FileManifest, Kind
from ..objstore.oid import Oid
from ..objstore.promised import any_promised, promised, settle
from ..objstore.tree import walk
from ..objstore.types import ObjectKey
from ..objstore.verify import Problem
from .repo import Repo
from .tracked import TrackedArtifact


class PromisedNotSentError(ArtError):
    """A push would publish files whose content the local store does not hold (promised by another remote)."""


def fetch_for_checkout(repo: Repo, paths: Sequence[str], artifacts: list[TrackedArtifact] | None) -> bool:
    """Fetch the promised files of the artifacts at ``paths`` (those a checkout found lacking) from their
    remotes; True when something was fetched (the caller plans again).

    Raises:
        StoreIOError: a promising remote cannot be reached (exit 12; the message names it).
        IntegrityError, TransferError: as ``fetch`` (a chunk failed verification; the remote lost it).
    """
    store = repo.store
    if not any_promised(store):
        return False
    wanted = set(paths)
    arts = [a for a in (artifacts if artifacts is not None else repo.artifacts()) if a.path in wanted]
    files: set[Oid] = set()
    for a in arts:
        if a.pointer.kind == "file":
            files.add(a.pointer.oid)
        elif store.has(a.pointer.oid, Kind.TREE):
            files.update(e.entry.oid for e in walk(store, a.pointer.oid) if e.entry.kind == "file")
    rows = promised(store, files)
    found = store.has_many([(o, Kind.FILE) for o in rows])
    rows = {o: r for o, r in rows.items() if (o, int(Kind.FILE)) in found}  # a stale row: its manifest is gone
    if not rows:
        return False
    _fetch(repo, rows)
    return True


def promised_by(repo: Repo, oid: Oid) -> str | None:
    """The remote promising file ``oid`` (its manifest stored without a chunk), or None (one indexed probe when
    nothing is promised)."""
    store = repo.store
    if not any_promised(store):
        return None
    name = promised(store, [oid]).get(oid)
    if name is None or not store.has(oid, Kind.FILE):
        return None
    return name


def open_promised(repo: Repo, oid: Oid, size: int) -> io.BufferedReader | None:
    """A seekable reader of promised file ``oid`` (``size`` bytes), streamed from the local store and the remote
    that promised it (``objstore/reader.py``: each chunk checked against its id, the file against its id when
    read whole in order); None when ``oid`` is not promised. Nothing is stored.

    Raises:
        RemoteNotConfiguredError: the promising remote is not configured any more (the hint says how to fix it).
        StoreIOError: it cannot be read (raised as the reader reads).
    """
    name = promised_by(repo, oid)
    if name is None:
        return None
    from ..objstore.reader import Sources, open_file

    sources = Sources(repo.store, _open_promising(repo, name, 1))
    try:
        require_listed(repo, sources.remote, oid)
        return open_file(sources, oid, size, on_close=sources.close)
    except BaseException:
        sources.close()
        raise


def require_listed(repo: Repo, remote, oid: Oid) -> None:
    """Check that ``remote``, which promised file ``oid``, still lists every chunk of it (one batched probe of its
    index) before a reader streams it.

    Raises:
        TransferError: it does not (exit 12): it cannot be reached, or it lost them.
    """
    chunks = FileManifest.from_bytes(oid, repo.store.get(oid, Kind.FILE)).chunks
    local = repo.store.has_many([(c, Kind.CHUNK) for c, _ in chunks])
    wanted = [(c, Kind.CHUNK) for c, _ in chunks if (c, int(Kind.CHUNK)) not in local]
    listed = remote.has_many(wanted)
    gone = [c for c, k in wanted if (c, int(k)) not in listed]
    if gone:
        raise TransferError(
            f"file {oid[:10]} is promised by remote {remote.name!r}, which does not list {len(gone)} of its "
            f"chunks: it cannot be reached at {remote.url}, or it lost them",
            failed=[str(c) for c in gone],
            remote=remote.name,
            hint=f"check the remote's URL (art remote list); 'art fsck --remote {remote.name}' lists what it lost",
        )


def _open_promising(repo: Repo, name: str, files: int):
    from .remote import open_remote

    try:
        return open_remote(repo, name)
    except RemoteNotConfiguredError as exc:
        raise RemoteNotConfiguredError(
            f"{files} file(s) needed are promised by remote {name!r}, which is not configured any more",
            hint=f"add it again: art remote add {name} URL",
        ) from exc


def fetch_promised(repo: Repo, remote: str | None = None, *, jobs: int | None = None, progress=None) -> tuple[int, int]:
    """Fetch the chunks of every promised file (of ``remote`` only, when named) into the store, verified, and
    drop the promises kept; return (files completed, objects fetched).

    Raises:
        as ``fetch_for_checkout``.
    """
    with repo.lock:
        left = set(settle(repo.store))
        rows = {o: r for o, r in promised(repo.store, left).items() if remote is None or r == remote}
        if not rows:
            return 0, 0
        got = _fetch(repo, rows, jobs=jobs, progress=progress)
        return len(rows), got


def _fetch(repo: Repo, rows: dict[Oid, str], *, jobs: int | None = None, progress=None) -> int:
    from ..objstore.transfer import download
    from .fetch import FetchResult, raise_for
    from .remote import transfer_jobs

    store = repo.store
    by_remote: dict[str, list[Oid]] = {}
    for oid, name in rows.items():
        by_remote.setdefault(name, []).append(oid)
    objects = 0
    for name, oids in sorted(by_remote.items()):
        keys: set[ObjectKey] = set()
        for oid in oids:
            keys.update(
                ObjectKey(c, Kind.CHUNK) for c, _ in FileManifest.from_bytes(oid, store.get(oid, Kind.FILE)).chunks
            )
        remote = _open_promising(repo, name, len(oids))
        try:
            got = download(remote, store, keys, jobs=transfer_jobs(repo, jobs), progress=progress)
        except StoreIOError as exc:
            raise StoreIOError(
                f"{len(oids)} file(s) needed are promised by remote {name!r}, which cannot be read: {exc}",
                hint=f"check the connection or the remote's URL (art remote list); 'art fetch --promised -r {name}' "
                "makes the local store complete while it is reachable",
            ) from exc
        finally:
            remote.close()
        objects += got.objects
        if got.missing and not (got.problems or got.lost_packs):
            raise TransferError(
                f"{len(oids)} file(s) needed are promised by remote {name!r}, which does not list "
                f"{len(got.missing)} of their chunks: it cannot be reached at {remote.url}, or it lost them",
                failed=[str(o) for o, _ in got.missing],
                remote=name,
                hint="check the remote's URL (art remote list); if its data is gone, pull the files from a remote "
                "or clone that has them",
            )
        raise_for(
            FetchResult(
                name, remote.url, len(oids), missing=got.missing, problems=got.problems, lost_packs=got.lost_packs
            )
        )
    settle(store)
    return objects


def refuse_unsent(repo: Repo, remote, roots: Iterable[ObjectKey]) -> None:
    """Refuse a push whose closure holds promised files that ``remote`` does not list (their chunks are not here
    to send); the promising remote itself lists them, so a push there goes on and skips them.

    Raises:
        PromisedNotSentError: naming the first such file and the remote that promised it.
    """
    from ..objstore.reachability import closure

    store = repo.store
    if not any_promised(store):
        return
    rows = promised(store, settle(store))
    if not rows:
        return
    listed = remote.has_many([(o, Kind.FILE) for o in rows])
    rows = {o: r for o, r in rows.items() if (o, int(Kind.FILE)) not in listed}
    if not rows:
        return
    reach = {o for o, k in closure(store, roots, missing=[]) if k == Kind.FILE and o in rows}
    if not reach:
        return
    first = sorted(reach)[0]
    source = rows[first]
    more = f" (and {len(reach) - 1} more)" if len(reach) > 1 else ""
    raise PromisedNotSentError(
        f"file {first[:10]}{more} is promised by remote {source!r} and not in the local store, so it cannot be "
        f"pushed to remote {remote.name!r}; nothing was sent",
        hint=f"fetch it first: art fetch --promised -r {source}",
    )


def remote_problems(repo: Repo, remote) -> list[Problem]:
    """The files promised by ``remote`` whose chunks it no longer lists (``art fsck --remote``)."""
    store = repo.store
    if not any_promised(store):
        return []
    rows = [o for o, r in promised(store, settle(store)).items() if r == remote.name]
    out: list[Problem] = []
    for oid in rows:
        chunks = FileManifest.from_bytes(oid, store.get(oid, Kind.FILE)).chunks
        listed = remote.has_many([(c, Kind.CHUNK) for c, _ in chunks])
        gone = [c for c, _ in chunks if (c, int(Kind.CHUNK)) not in listed]
        if gone:
            out.append(
                Problem(
                    oid,
                    "file",
                    f"promised by this remote, which no longer lists {len(gone)} of its chunks "
                    f"(first {gone[0][:10]}); the local store does not hold them either",
                )
            )
    return out


def local_promised(repo: Repo) -> set[Oid]:
    """The promised files whose manifest is stored and chunks are not (what fsck does not count as damage)."""
    return set(settle(repo.store)) if any_promised(repo.store) else set()
