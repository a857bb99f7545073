"""Repair a remote from a local store: re-upload what the remote lost or has damaged, then retire bad packs.

``check_remote`` finds the damage (with ``read_data``, every object's hash; without, the structure). For
each bad pack (its file is missing, its index is damaged, its entries point outside it, its trailer disagrees
with its index, or it holds damaged objects):

1. a damaged index whose pack still has a valid trailer (one that hashes to the pack's name) is written
   again from that trailer;
2. every object the pack lists that no good pack lists is put in a new pack: from the local store when its
   copy there is intact (checked before it is sent), otherwise from the bad pack itself when that copy is
   intact (salvaged), otherwise it is reported as lost;
3. under the remote's exclusive lock (the one gc takes), the bad pack's index is deleted (readers trust only
   indexes, so no reader ever sees an index naming a missing pack), then the pack file. A pack is retired only
   when every intact object it holds is listed by another pack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ArtError, FormatError
from .faults import fault_point
from .objects import Kind, check_object
from .oid import Oid
from .store.local import LocalStore
from .store.pack import ENTRY, TRAILER, PackEntry, decode_entries, pack_name
from .store.remote import RemoteStore, pack_path
from .store.remote_check import RemoteCheck
from .store.remote_delta import DeltaReader, base_listed
from .store.remote_read import Located
from .types import EntryKind, ObjectKey

if TYPE_CHECKING:
    from .store.remote_writer import RemoteWriter

_ORDER = {Kind.CHUNK: 0, Kind.FILE: 1, Kind.TREE: 2, Kind.RUN: 3}


@dataclass(slots=True)
class RepairResult:
    """What ``repair_remote`` did.

    Attributes:
        uploaded: objects sent again from the local store.
        salvaged: intact objects copied out of bad packs (the local store lacked them).
        reindexed: damaged indexes written again from their pack's trailer.
        retired: bad packs removed (index, then file).
        replaced: bad packs published again whole and intact from the local store (same name, same bytes).
        checkpoint_rebuilt: the checkpoint (remote index v2) disagreed with the indexes and was written again.
        lost: objects that were damaged or lost on the remote and that no intact copy could replace.
    """

    uploaded: int = 0
    salvaged: int = 0
    reindexed: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    lost: list[ObjectKey] = field(default_factory=list)
    checkpoint_rebuilt: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "uploaded": self.uploaded,
            "salvaged": self.salvaged,
            "reindexed": self.reindexed,
            "retired": self.retired,
            "replaced": self.replaced,
            "lost": [{"oid": str(o), "kind": k.label} for o, k in self.lost],
            "checkpoint_rebuilt": self.checkpoint_rebuilt,
        }


def repair_remote(
    local: LocalStore,
    remote: RemoteStore,
    found: RemoteCheck,
    *,
    jobs: int = 4,
    staging_dir: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> RepairResult:
    """Repair the damage ``found`` on ``remote`` (see the module docstring); the caller holds no remote lock.

    Raises:
        StoreIOError: when the remote fails (a re-run resumes: what was published stays).
        RepoLockedError: when another process holds the remote lock.
    """
    from .gc import RemoteLock

    result = RepairResult()
    if found.checkpoint_damaged:
        from .remote_compact import compact, prune

        with RemoteLock(remote, exclusive=True, holder="art fsck --repair"):
            compact(remote, rebuild=True, staging=staging_dir)
            prune(remote)
        result.checkpoint_rebuilt = True
    if not found.bad_packs:
        return result
    with RemoteLock(remote, exclusive=True, holder="art fsck --repair"):
        good = {n: e for n, e in remote.packs.items() if n not in found.bad_packs}
        for name, why in sorted(found.bad_packs.items()):
            if why == "damaged index" and name in found.pack_sizes:
                entries = _trailer(remote, name, found.pack_sizes[name])
                if entries is not None:
                    remote.publish_index(name, entries)
                    good[name] = entries
                    result.reindexed.append(name)
        remote.set_view(good)
        bad = {n: why for n, why in found.bad_packs.items() if n not in result.reindexed}
        need: dict[ObjectKey, Located] = {}
        for name in bad:
            for e in found.listed.get(name, []):
                key = ObjectKey(e.oid, Kind(e.kind))
                if not remote.has(*key) and (key not in need or (e.oid, e.kind, need[key].pack) in found.damaged):
                    need[key] = Located(name, e)
        from_local = [k for k in need if _intact_locally(local, *k)]
        if from_local:
            from .transfer import upload

            sent = upload(
                local, remote, from_local, jobs=jobs, staging_dir=staging_dir, progress=progress, refresh=False
            )
            result.uploaded = sent.objects
        salvage = [
            loc
            for k, loc in need.items()
            if not remote.has(*k)
            and (k[0], int(k[1]), loc.pack) not in found.damaged
            and bad[loc.pack] != "missing pack"
        ]
        result.salvaged = _salvage(remote, salvage, jobs, staging_dir)
        result.lost = sorted(k for k in need if not remote.has(*k))
        lost = set(result.lost)
        fault_point("repair.uploaded")  # new copies published, bad packs still listed
        retiring = [
            name
            for name in sorted(bad)
            if name not in remote.packs
            and all(
                remote.has(e.oid, Kind(e.kind)) or (e.oid, Kind(e.kind)) in lost for e in found.listed.get(name, [])
            )
        ]
        if retiring and remote.checkpoints.generations:  # a checkpoint must stop naming them first
            from .remote_compact import compact

            view = dict(remote.packs)
            compact(remote, drop=frozenset(retiring), staging=staging_dir)
            remote.set_view(view)
        for name in sorted(bad):
            if name in remote.packs:  # the upload published an intact local pack of the same name over it
                result.replaced.append(name)
                continue
            if all(
                remote.has(e.oid, Kind(e.kind)) or (e.oid, Kind(e.kind)) in lost for e in found.listed.get(name, [])
            ):
                _retire(remote, name, found)
                result.retired.append(name)
    return result


def _trailer(remote: RemoteStore, name: str, size: int) -> list[PackEntry] | None:
    """The entries of a remote pack's own trailer, when it is intact and hashes to the pack's name."""
    if size < 8 + TRAILER.size:
        return None
    try:
        length, end = TRAILER.unpack(remote.read_range(name, size - TRAILER.size, size))
        if end != b"ARTPEND\x01" or length % ENTRY.size or 8 + length > size - TRAILER.size:
            return None
        table = remote.read_range(name, size - TRAILER.size - length, size - TRAILER.size)
        if pack_name(table) != name:
            return None
        entries = list(decode_entries(table))
    except (ArtError, FormatError):
        return None
    payload_end = size - TRAILER.size - length
    return entries if all(e.offset >= 8 and e.offset + e.length <= payload_end for e in entries) else None


def _intact_locally(local: LocalStore, oid: Oid, kind: Kind) -> bool:
    """True when the local store holds (oid, kind) and its copy decompresses and matches its id."""
    try:
        check_object(oid, kind, local.get(oid, kind))  # a delta is rebuilt from its bases
    except (ArtError, FormatError):
        return False
    return True


def _salvage(remote: RemoteStore, locs: list[Located], jobs: int, staging_dir: str | None) -> int:
    """Copy intact objects out of bad remote packs into new ones; return how many.

    Chunks and runs go first; a manifest or tree only once everything it names is listed on the remote, so
    the remote never lists an object whose closure it lacks.
    """
    if not locs:
        return 0
    got: dict[ObjectKey, tuple[PackEntry, bytes, bytes]] = {}  # entry, stored bytes, verified payload
    reader = DeltaReader(remote)  # a delta is verified against its base
    for _, entry, stored in remote.read_objects(locs, jobs=jobs):
        try:
            got[ObjectKey(entry.oid, Kind(entry.kind))] = (entry, stored, reader.verify(entry, stored))
        except ArtError:
            continue
    writer = remote.writer(staging_dir=remote.staging_dir(staging_dir) if staging_dir else None, jobs=jobs)
    writer.serial = True
    done = 0
    try:
        todo = sorted(got, key=lambda k: _ORDER[k[1]])
        while todo:
            ready = [
                k
                for k in todo
                if _children_listed(remote, writer, k, got[k][2]) and base_listed(writer.has, *got[k][:2])
            ]
            if not ready:
                break
            for oid, kind in ready:
                entry, stored, _ = got[ObjectKey(oid, kind)]
                writer.put_stored(oid, kind, entry.codec, stored, entry.raw_length)
                done += 1
            writer.flush()  # published (serially) before anything that names these objects
            todo = [k for k in todo if k not in set(ready)]
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return done


def _children_listed(remote: RemoteStore, writer: RemoteWriter, key: ObjectKey, data: bytes) -> bool:
    from .objects import FileManifest, Tree

    oid, kind = key
    has = writer.has
    if kind == Kind.FILE:
        return all(has(c, Kind.CHUNK) for c, _ in FileManifest.from_bytes(oid, data).chunks)
    if kind == Kind.TREE:
        return all(
            has(e.oid, Kind.TREE) if e.kind == EntryKind.DIR else (has(e.oid, Kind.FILE) or has(e.oid, Kind.CHUNK))
            for e in Tree.from_bytes(oid, data).entries
            if e.kind != EntryKind.SYMLINK
        )
    return True


def _retire(remote: RemoteStore, name: str, found: RemoteCheck) -> None:
    """Delete a bad pack's index (the commit point readers trust), then its file."""
    fault_point("repair.retiring")
    for key in (remote.idx_path(name), pack_path(name) if name in found.pack_sizes else None):
        if key is None or (key.endswith(".pack") and found.bad_packs[name] == "damaged index"):
            continue  # a pack without a valid index or trailer is garbage: gc decides about it
        remote.delete_quietly(key)
