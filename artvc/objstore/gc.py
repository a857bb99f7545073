"""Garbage collection of packs: plan which objects go, then rewrite packs in restic's order.

Order (the crash-safety argument, docs/gc.md): live objects of a condemned pack are first copied, as their
stored bytes, into new sealed packs, which are indexed; only afterwards are the old packs removed. A crash at
any point leaves every live object readable (at worst twice), never lost. Objects in packs younger than the
grace period are never removed, so a concurrent ``add``/``push`` whose pointer is not visible yet is safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import CorruptObjectError, FormatError
from .faults import fault_point
from .objects import Kind, check_object
from .oid import Oid
from .progress import as_progress
from .store.base import IndexedObject, ObjectStore, StoreWriter
from .store.delta import DELTA
from .store.pack import unpack_payload
from .types import ObjectKey

if TYPE_CHECKING:
    from .store.local import LocalStore
    from .store.local_check import LiveKeys
    from .store.remote import RemoteStore


@dataclass(frozen=True, slots=True)
class GcPlan:
    """What a collection will do.

    Attributes:
        doomed: dead objects that will be removed (oid, kind, raw length).
        spared: dead objects kept because their pack is younger than the grace period.
        rewrite: condemned pack name -> live objects to copy out of it first.
        drop: packs removed once the copies are sealed (every key of ``rewrite``, plus packs with no live object).
        live: number of live objects in the store.
    """

    doomed: list[IndexedObject] = field(default_factory=list)
    spared: list[IndexedObject] = field(default_factory=list)
    rewrite: dict[str, list[ObjectKey]] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)
    live: int = 0

    @property
    def doomed_bytes(self) -> int:
        return sum(o.raw_length for o in self.doomed)

    @property
    def copies(self) -> int:
        return sum(len(v) for v in self.rewrite.values())


def plan(objects: Iterable[IndexedObject], live: set[ObjectKey], pack_mtime: dict[str, float], cutoff: float) -> GcPlan:
    """Decide what to remove: dead objects in packs last modified before ``cutoff``.

    Args:
        objects: every object of the store, with the pack that holds it.
        live: the keys that must survive (a reachability closure).
        pack_mtime: pack name -> modification time (seconds since the epoch); a pack missing here counts as
            young (kept).
        cutoff: packs modified at or after this time are left alone.

    Returns:
        The plan; pure, nothing is touched.
    """
    by_pack: dict[str, list[IndexedObject]] = {}
    for obj in objects:
        by_pack.setdefault(obj.pack, []).append(obj)
    condemned, spared = set(), []
    for name, objs in by_pack.items():
        dead = [o for o in objs if (o.oid, o.kind) not in live]
        if not dead:
            continue
        if pack_mtime.get(name, cutoff) >= cutoff:
            spared.extend(dead)
        else:
            condemned.add(name)
    # an object may sit in several packs (a gc or push interrupted earlier): copy a live one only when no
    # surviving pack holds it, and only once; count a dead one as removed only when no surviving pack keeps it
    surviving = {(o.oid, o.kind) for name, objs in by_pack.items() if name not in condemned for o in objs}
    rewrite: dict[str, list[ObjectKey]] = {}
    copied: set[ObjectKey] = set()
    doomed: dict[ObjectKey, IndexedObject] = {}
    for name in sorted(condemned):
        for o in by_pack[name]:
            key = o.key
            if key in surviving:
                continue
            if key in live:
                if key not in copied:
                    copied.add(key)
                    rewrite.setdefault(name, []).append(key)
            else:
                doomed.setdefault(key, o)
    live_count = len({(o.oid, o.kind) for objs in by_pack.values() for o in objs if (o.oid, o.kind) in live})
    # drop packs holding trees/runs first, then manifests, then chunks: a dead object that refers to other
    # dead objects disappears before what it refers to, so a collection stopped half-way leaves no visible
    # manifest or tree whose parts are gone (fsck stays clean), as long as kinds are packed apart as push does
    order = sorted(condemned, key=lambda n: (-max(int(o.kind) for o in by_pack[n]), n))
    return GcPlan(list(doomed.values()), spared, rewrite, order, live_count)


def keep_bases(store: LocalStore, live: set[ObjectKey]) -> set[ObjectKey]:
    """``live`` plus the delta bases its chunks are built on, transitively (a base goes only with the last delta
    that needs it). Returns a new set."""
    out = set(live)
    todo = [oid for oid, kind in live if kind == Kind.CHUNK]
    while todo:
        bases = store.delta_bases(todo)
        todo = []
        for base in bases.values():
            key = ObjectKey(base, Kind.CHUNK)
            if key not in out:
                out.add(key)
                todo.append(base)
    return out


def plan_local(live: LiveKeys, pack_mtime: dict[str, float], cutoff: float) -> GcPlan:
    """``plan`` for the local store, as joins of its index with the table of live keys (``LiveKeys``): no
    Python set of every object or every live key, so memory stays flat at millions of objects. The local
    index holds each object in one pack, so no copy is needed for a duplicate elsewhere.
    """
    condemned: dict[str, int] = {}  # name -> its highest kind (drop order)
    spared: list[IndexedObject] = []
    for name, dead, top in live.packs():
        if not dead:
            continue
        if pack_mtime.get(name, cutoff) >= cutoff:
            spared.extend(IndexedObject(Oid(o), Kind(k), raw, name) for o, k, raw in live.in_pack(name, live=False))
        else:
            condemned[name] = top
    rewrite: dict[str, list[ObjectKey]] = {}
    doomed: list[IndexedObject] = []
    for name in sorted(condemned):
        keys = [ObjectKey(Oid(o), Kind(k)) for o, k, _ in live.in_pack(name, live=True)]
        if keys:
            rewrite[name] = keys
        doomed.extend(IndexedObject(Oid(o), Kind(k), raw, name) for o, k, raw in live.in_pack(name, live=False))
    order = sorted(condemned, key=lambda n: (-condemned[n], n))  # as in ``plan``: trees and runs first
    return GcPlan(doomed, spared, rewrite, order, live.stored())


def check_payload(oid: Oid, kind: Kind, data: bytes) -> None:
    """Verify an object's uncompressed bytes before gc copies them (never spread a damaged object).

    Raises:
        CorruptObjectError: when the bytes do not match ``oid`` (chunks, trees, runs) or do not decode (files).
    """
    try:
        check_object(oid, kind, data)
    except FormatError as exc:
        raise CorruptObjectError(oid, str(exc)) from exc


def rewrite_local(store: LocalStore, gc_plan: GcPlan, *, progress: Callable[[int], None] | None = None) -> None:
    """Carry out ``gc_plan`` on a LocalStore: copy live objects into new packs, then drop the old packs.

    Args:
        store: a ``LocalStore`` (needs ``get_stored``, ``writer(rewrite=True)`` and ``drop_packs``).
        gc_plan: from ``plan``.
        progress: called with the number of objects handled.

    Raises:
        CorruptObjectError: when a live object is damaged; nothing has been removed then.
    """
    progress = as_progress(progress, counts="files")
    progress.phase("rewriting packs", files=sum(len(keys) for keys in gc_plan.rewrite.values()))
    if gc_plan.rewrite:
        with store.writer(rewrite=True) as writer:
            for name in sorted(gc_plan.rewrite):
                for oid, kind in gc_plan.rewrite[name]:
                    codec, stored, raw_length = store.get_stored(oid, kind)
                    try:  # a delta (codec 2) is rebuilt from its bases, kept alive with it (``keep_bases``)
                        data = (
                            store.get(oid, kind)
                            if codec == DELTA
                            else unpack_payload(codec, stored, raw_length, int(kind))
                        )
                    except FormatError as exc:
                        raise CorruptObjectError(oid, str(exc)) from exc
                    check_payload(oid, kind, data)
                    writer.put_stored(oid, kind, codec, stored, raw_length)
                    progress.advance(bytes=raw_length, files=1)
    # the copies are sealed and their index rows point at the new packs: only now may the old packs go
    fault_point("gc.copied")
    store.drop_packs(gc_plan.drop)


# -- remotes -------------------------------------------------------------------------------------------------

LOCK_DIR = "locks"
STALE_AFTER = 30 * 60  # a gc lock not refreshed for this long is stale (its holder is presumed dead)


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds a lock on a remote: ``host``, ``pid``, ``time`` (seconds since the epoch, refreshed)."""

    key: str
    token: str
    host: str
    pid: int
    time: float
    exclusive: bool = True
    holder: str = "art gc"

    def stale(self, now: float, stale_after: float) -> bool:
        """Stale when not refreshed for ``stale_after`` seconds, or held by a dead process on this host."""
        if now - self.time > stale_after:
            return True
        import os

        if self.host == os.uname().nodename and self.pid != os.getpid():
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
        return False


class RemoteLock:
    """A lock on a remote: ``locks/<token>.json`` holding host, pid, a refreshed time and whether it is exclusive.

    Restic's scheme: write our lock file, then list ``locks/``; a conflicting live lock means someone else
    holds (or is taking) the remote, so ours is removed and the caller fails. Stale locks are removed on the
    way. gc takes the lock exclusively; a push takes it shared, because it skips objects the remote already
    lists, and a concurrent gc could otherwise delete exactly those.

    While held, a background thread refreshes the lock every ``stale_after / 6`` seconds (restic refreshes
    every 5 minutes), so a long push or gc is never taken for dead. A lock found gone at a refresh (another
    process broke it as stale: this one was suspended, or could not reach the remote for ``stale_after``) is
    not written again; ``check()`` then raises, and callers check before any step that relies on the lock.

    Args:
        store: the remote (a ``RemoteStore``).
        stale_after: seconds after which an un-refreshed lock may be broken.
        exclusive: False for a shared lock (push), which only conflicts with exclusive ones.
        holder: who takes it, for the other side's error message.
    """

    def __init__(
        self, store: RemoteStore, *, stale_after: float = STALE_AFTER, exclusive: bool = True, holder: str = "art gc"
    ) -> None:
        import uuid

        self.store = store
        self.exclusive = exclusive
        self.holder = holder
        self.stale_after = stale_after
        self.token = uuid.uuid4().hex
        self.key = f"{LOCK_DIR}/{self.token}.json"
        self.broken: list[LockInfo] = []
        self.lost = False  # our lock file was found removed by someone else
        self._stop: threading.Event | None = None
        self._refresher: threading.Thread | None = None

    def _write(self) -> None:
        import json
        import os
        import time

        body = json.dumps(
            {
                "token": self.token,
                "host": os.uname().nodename,  # socket.gethostname(), without importing socket
                "pid": os.getpid(),
                "time": time.time(),
                "holder": self.holder,
                "exclusive": self.exclusive,
            }
        ).encode()
        self.store.transport.publish_bytes(self.key, body)

    def others(self) -> list[LockInfo]:
        """Every lock on the remote but ours (unreadable ones count as held, with time 0 = stale)."""
        import json

        store = self.store
        out = []
        for entry in store.list_files(LOCK_DIR):
            key = f"{LOCK_DIR}/{entry.name}"
            if key == self.key or not entry.name.endswith(".json"):
                continue
            try:
                info = json.loads(store.transport.read(key))
                out.append(
                    LockInfo(
                        key,
                        str(info.get("token", "")),
                        str(info.get("host", "?")),
                        int(info.get("pid", 0)),
                        float(info.get("time", 0)),
                        bool(info.get("exclusive", True)),
                        str(info.get("holder", "art gc")),
                    )
                )
            except FileNotFoundError:
                continue  # released meanwhile
            except (ValueError, TypeError, AttributeError, RecursionError):
                out.append(LockInfo(key, "", "?", 0, 0.0))
        return out

    def acquire(self, *, now: float | None = None) -> None:
        """Take the lock.

        Raises:
            RepoLockedError: when a conflicting live lock is held (the message names the holder).
        """
        import time

        from ..errors import RepoLockedError

        self._write()
        now = time.time() if now is None else now
        for other in self.others():
            if other.stale(now, self.stale_after):
                try:
                    self.store.delete(other.key)
                except FileNotFoundError:
                    pass
                self.broken.append(other)
                continue
            if not (self.exclusive or other.exclusive):
                continue  # two pushes share the remote
            self._delete_own()
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(other.time))
            raise RepoLockedError(
                f"remote {self.store.name!r} is locked by {other.holder} (pid {other.pid} on {other.host}, "
                f"since {since})",
                hint=f"wait for it to finish; a lock not refreshed for {int(self.stale_after // 60)} minutes "
                "(or whose process is gone) is broken automatically",
            )
        self._start_refresher()

    def _start_refresher(self) -> None:
        self._stop = stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.stale_after / 6):
                try:
                    self.refresh()
                except Exception:  # a failed refresh is retried; check() reports a lost lock
                    continue

        self._refresher = refresher = threading.Thread(target=loop, name="art-remote-lock", daemon=True)
        refresher.start()

    def check(self) -> None:
        """Raise when the lock was broken by another process (its file is gone): what it protected is not.

        Raises:
            RepoLockedError: the lock is lost; the operation must stop and be run again.
            StoreIOError: the remote cannot be asked.
        """
        from ..errors import RepoLockedError

        store = self.store
        if not self.lost and not store.transport.exists(self.key):
            self.lost = True
        if self.lost:
            raise RepoLockedError(
                f"the lock of {self.holder} on remote {store.name!r} was removed by another process (it was "
                "taken for stale); stopping",
                hint="run the command again",
            )

    def refresh(self) -> None:
        """Rewrite the lock's time, unless it was broken (then ``check`` raises).

        Raises:
            RepoLockedError: when the lock is lost.
        """
        self.check()
        self._write()

    def _delete_own(self) -> None:
        try:
            self.store.delete(self.key)
        except FileNotFoundError:
            pass

    def release(self) -> None:
        if self._stop is not None:
            self._stop.set()
            if self._refresher is not None:
                self._refresher.join(timeout=60)
            self._stop = None
        self._delete_own()

    def __enter__(self) -> RemoteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def remote_times(store: RemoteStore, sub: str) -> dict[str, float]:
    """Return {file name: modification time} for the files in ``sub`` (one listing); unknown times are absent."""
    return {e.name: e.mtime for e in store.list_files(sub) if e.mtime is not None}


@dataclass(frozen=True, slots=True)
class RemotePlan:
    """A remote collection: the object plan plus index-less packs to remove (``garbage``)."""

    objects: GcPlan
    garbage: list[str]


def plan_remote(store: RemoteStore, live: set[ObjectKey], cutoff: float) -> RemotePlan:
    """Plan a collection of ``store`` (a RemoteStore): dead objects in packs whose index is older than
    ``cutoff``; and index-less packs older than ``cutoff`` (left by interrupted pushes or gcs)."""
    from .store.remote_delta import remote_bases

    store.refresh()
    objects = [
        IndexedObject(e.oid, Kind(e.kind), e.raw_length, name) for name, entries in store.packs.items() for e in entries
    ]
    bases, _ = remote_bases(store, [oid for oid, kind in live if kind == Kind.CHUNK])  # a live delta keeps its base
    live = live | {ObjectKey(b, Kind.CHUNK) for b in bases}
    index_times = store.index_times()
    gc_plan = plan(objects, live, index_times, cutoff)
    pack_files = store.list_packs()
    garbage = []
    indexed = set(store.list_indexes())
    for sub in sorted({n[:2] for n in pack_files.keys() - indexed}):
        times = remote_times(store, f"packs/{sub}")
        garbage += [
            n[:-5]
            for n, t in times.items()
            if n.endswith(".pack") and n[:-5] in pack_files and n[:-5] not in indexed and t < cutoff
        ]
    return RemotePlan(gc_plan, sorted(garbage))


def rewrite_remote(
    store: RemoteStore,
    remote_plan: RemotePlan,
    *,
    lock: RemoteLock | None = None,
    jobs: int = 4,
    staging_dir: str | None = None,
    progress: Callable[[int], None] | None = None,
    phase: Callable[[str], None] | None = None,
) -> None:
    """Carry out a remote plan in restic's order: new packs and their indexes, then old indexes, then old packs.

    Every live object copied is read back from the remote and verified first. A crash at any point leaves
    every live object listed by some index whose pack exists; at worst index-less packs stay behind (garbage
    the next gc removes).

    Args:
        store: the remote.
        remote_plan: from ``plan_remote``.
        lock: refreshed between phases.
        jobs: concurrent transfers.
        staging_dir: where new packs are built locally.
        progress: called with the number of objects copied.
        phase: called with "copied", "indexes-deleted", "packs-deleted" after each phase (tests).

    Raises:
        CorruptObjectError: when a live object is damaged on the remote (nothing is deleted then).
        StoreIOError: when the remote fails.
    """
    from .remote_compact import compact, prune
    from .store.remote import pack_path
    from .store.remote_delta import DeltaReader
    from .store.remote_read import Located

    gc_plan = remote_plan.objects
    published: set[str] = set()
    if gc_plan.rewrite:
        where = {}
        for name, entries in store.packs.items():
            for e in entries:
                where[(e.oid, e.kind, name)] = e
        locs = [
            Located(name, where[(oid, int(kind), name)]) for name, keys in gc_plan.rewrite.items() for oid, kind in keys
        ]
        # rewrite: copy even though an old pack still holds the object
        writer = store.writer(staging_dir=staging_dir, jobs=jobs, rewrite=True)
        counter = as_progress(progress, counts="files")
        counter.phase("copying live objects", bytes=sum(loc.entry.raw_length for loc in locs), files=len(locs))
        try:
            reader = DeltaReader(store)  # a delta is verified against its base
            for _, entry, stored in store.read_objects(locs, jobs=jobs):
                reader.verify(entry, stored)
                writer.put_stored(entry.oid, Kind(entry.kind), entry.codec, stored, entry.raw_length)
                counter.advance(bytes=entry.raw_length, files=1)
        except BaseException:
            writer.abort()
            raise
        writer.commit()
        published = set(writer.packs)
    fault_point("remote-gc.copied")
    if phase:
        phase("copied")
    if lock:
        lock.refresh()
    # a checkpoint (remote index v2) must stop naming the packs that go before their indexes go
    if gc_plan.drop and store.checkpoints.generations:
        compact(store, drop=frozenset(gc_plan.drop), staging=staging_dir)
        fault_point("remote-gc.checkpoint-written")
        if lock:
            lock.refresh()
    # the copies are published with their indexes; now the old indexes go (readers stop seeing old packs)...
    for name in gc_plan.drop:
        _remove(store, store.idx_path(name))
    fault_point("remote-gc.indexes-deleted")
    if phase:
        phase("indexes-deleted")
    # ...and only then the packs, which no index lists any more. Pack names are content hashes: a copy this
    # gc just published can carry the name of an index-less pack a killed gc left, so re-check the indexes
    indexed = set(store.list_indexes())
    for name in [*gc_plan.drop, *remote_plan.garbage]:
        if name not in published and name not in indexed:
            _remove(store, pack_path(name))
    fault_point("remote-gc.packs-deleted")
    if phase:
        phase("packs-deleted")
    prune(store)  # superseded checkpoints and the tables only they named
    store.refresh()


def _remove(store: RemoteStore, path: str) -> None:
    fault_point("remote-gc.removing")
    store.delete_quietly(path)


class Overlay(ObjectStore):
    """Read objects from ``first`` when it has them, else from ``second``; list ``second``'s objects.

    Remote gc walks trees and manifests locally where it can (cheap) and on the remote otherwise.
    """

    def __init__(self, first: ObjectStore, second: ObjectStore) -> None:
        self.first, self.second = first, second

    def has(self, oid: Oid, kind: Kind) -> bool:
        return self.first.has(oid, kind) or self.second.has(oid, kind)

    def get(self, oid: Oid, kind: Kind) -> bytes:
        return (self.first if self.first.has(oid, kind) else self.second).get(oid, kind)

    def writer(self) -> StoreWriter:
        raise NotImplementedError(self.writer)

    def iter_objects(self) -> Iterator[IndexedObject]:
        return self.second.iter_objects()
