"""RemoteWriter: build packs (``packer.PackBuilder``) in a staging directory and upload each (pack, then its
index) on worker threads."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from ...errors import FormatError
from ..fileio import remove_if_present
from ..objects import Kind
from ..oid import Oid
from ..progress import as_progress
from .base import StoreWriter
from .pack import ENTRY, EntryTable, PackEntry
from .packer import PackBuilder

if TYPE_CHECKING:
    from .remote import RemoteStore

# a pack built for a remote seals after this many objects too: its entry table (50 bytes an object) is what a
# push holds while it uploads it and a pull while it fetches it whole; a million tiny files made one pack with a
# 50 MB table (a 1M-file push of folders peaked at 171 MB, its pull at 435 MB). Packs of objects of 1 KiB or
# more reach the size target first (PACK_TARGET).
REMOTE_PACK_OBJECTS = 65_536


class RemoteWriter(StoreWriter):
    """Builds packs in a staging directory and uploads each one (pack, then index) on a worker thread.

    ``put_stored`` reuses already-compressed bytes, so pushing never recompresses. ``flush`` seals the
    current pack early and ``wait`` lets every queued upload finish (push publishes metadata objects only
    after their chunks, in packs of their own, so a pull finds them in a few ranged reads). At most ``jobs``
    uploads run at once, and at most ``jobs + 1`` packs exist on local disk. With ``rewrite`` every object
    put is written, even one the remote already lists (remote gc copies live objects out of old packs).
    """

    store: RemoteStore

    def __init__(
        self,
        store: RemoteStore,
        *,
        staging_dir: str | os.PathLike[str] | None = None,
        jobs: int = 2,
        progress: Callable[[int], None] | None = None,
        rewrite: bool = False,
    ) -> None:
        self.store = store
        self.rewrite = rewrite
        self._own_staging = staging_dir is None
        if staging_dir is None:
            import tempfile  # here: a push from a workspace stages under .art/tmp

            staging_dir = tempfile.mkdtemp(prefix="art-push-")
        self.staging = str(staging_dir)
        self.jobs = max(1, jobs)
        self.progress = as_progress(progress)
        self._pool = ThreadPoolExecutor(max_workers=self.jobs)
        self._uploads: list[Future[None]] = []
        self._pending: set[tuple[Oid, int]] = set()
        self._builder = PackBuilder(self.staging, max_objects=REMOTE_PACK_OBJECTS)
        self._staged: set[str] = set()  # sealed temp packs of ours not uploaded yet, removed however push ends
        self.packs: list[str] = []
        self.serial = False  # True: each sealed pack is published before the next one is started
        # False (a push's plan, which sends each object once): no set of the objects put, and a published
        # pack of chunks only is not added to the store's view (its index is cached on disk): flat memory
        self.track = True
        self.objects = 0
        self.bytes = 0

    def has(self, oid: Oid, kind: Kind) -> bool:
        """True when pending here, or (unless ``rewrite``: gc copies out of packs it will drop) on the remote
        as ``RemoteStore.has_many`` answers for a push (a chunk: from memory or by its sample)."""
        if (oid, int(kind)) in self._pending:
            return True
        return not self.rewrite and bool(self.store.has_many([(oid, kind)]))

    def put_stored(self, oid: Oid, kind: Kind, codec: int, stored: bytes | memoryview, raw_length: int) -> bool:
        if self.has(oid, kind):
            return False
        return self.put_new(oid, kind, codec, stored, raw_length)

    def put_new(self, oid: Oid, kind: Kind, codec: int, stored: bytes | memoryview, raw_length: int) -> bool:
        """``put_stored`` for an object the caller knows the remote lacks (an upload planned it with one
        batched lookup): only this writer's own pending objects are checked."""
        if self.track:
            if (oid, int(kind)) in self._pending:
                return False
            self._pending.add((oid, int(kind)))
        self._builder.add(oid, int(kind), codec, stored, raw_length)
        self.objects += 1
        self.bytes += len(stored)
        if self._builder.full():
            self.flush()
        return True

    def add_pack_file(self, path: str, name: str, entries: Sequence[PackEntry]) -> None:
        """Queue an existing sealed pack file (a whole pack of the local store) for publishing as it is."""
        if self.track:
            self._pending.update((e.oid, e.kind) for e in entries)
        self.objects += len(entries)
        if isinstance(entries, EntryTable):  # a local pack's trailer as it is: its lengths read from the records
            self.bytes += sum(r[4] for r in ENTRY.iter_unpack(entries.data))
        else:
            self.bytes += sum(e.length for e in entries)
        self._check_uploads(block=len([u for u in self._uploads if not u.done()]) >= self.jobs)
        self._uploads.append(self._pool.submit(self._upload, path, name, entries, os.stat(path).st_size, False))

    def flush(self) -> None:
        """Seal the open pack (if any) and queue its upload."""
        if not self._builder.open:
            return
        try:
            sealed = self._builder.seal()
        except BaseException:
            self._builder.abort()
            raise
        self._staged.add(sealed.path)
        self._check_uploads(block=len([u for u in self._uploads if not u.done()]) >= self.jobs)
        # the entries stay their encoded records: a pack of a million tiny objects is a 50 MB table, where a
        # ``PackEntry`` each was ~500 MB (a push of 1M files in folders of 100 peaked at 593 MB)
        try:
            entries: Sequence[PackEntry] = EntryTable.from_records(sealed.table)
        except FormatError:  # objects put as they came, out of the format's bounds (tests build hostile remotes)
            entries = sealed.entries
        self._uploads.append(self._pool.submit(self._upload, sealed.path, str(sealed.name), entries, sealed.size))
        if self.serial:
            self.wait()

    def _upload(self, tmp: str, name: str, entries: Sequence[PackEntry], size: int, owned: bool = True) -> None:
        try:
            self.store.upload_pack(tmp, name, entries, owned=owned)
        finally:
            if owned:
                remove_if_present(tmp)
                self._staged.discard(tmp)
        self.store.add_pack(name, entries, view=self.track or not _chunks_only(entries))
        self.packs.append(name)
        self.progress.advance(bytes=size, files=len(entries))

    def _check_uploads(self, *, block: bool) -> None:
        if block:
            running = [u for u in self._uploads if not u.done()]
            if running:
                wait(running, return_when=FIRST_COMPLETED)
        for u in [u for u in self._uploads if u.done()]:
            self._uploads.remove(u)
            u.result()  # re-raise an upload failure here, in the caller's thread

    def wait(self) -> None:
        """Block until every queued upload is published (re-raising the first failure)."""
        for u in self._uploads:
            u.result()
        self._uploads.clear()

    def commit(self) -> None:
        try:
            self.flush()
            self.wait()
        finally:
            self._shutdown()

    def abort(self) -> None:
        for u in self._uploads:
            u.cancel()
        try:
            self._builder.abort()  # a full disk fails the final flush; the file is removed all the same
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()
        for tmp in self._staged:  # packs sealed but never uploaded (a cancelled or failed push)
            remove_if_present(tmp)
        self._staged.clear()
        if self._own_staging:
            shutil.rmtree(self.staging, ignore_errors=True)


def _chunks_only(entries: Sequence[PackEntry]) -> bool:
    """Whether every entry is a chunk (an ``EntryTable``'s kinds read from its records, none decoded)."""
    if isinstance(entries, EntryTable):
        return entries.data[32 :: ENTRY.size].count(int(Kind.CHUNK)) == len(entries)  # the kind: byte 32
    return all(e.kind == Kind.CHUNK for e in entries)
