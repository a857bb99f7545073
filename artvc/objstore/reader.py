"""Streaming reads of one stored file: a seekable, read-only file object that fetches chunk by chunk.

Objects come from the local store first; what it lacks comes from a remote store (when given) with ranged
reads of exactly the objects needed (``RemoteStore.read_objects``), so reading 1 MiB from the middle of a
200 MiB file downloads about 1 MiB plus the remote's indexes and the file's manifest. Nothing read is
stored locally. Every chunk is checked against its id before its bytes are returned, from either store; a
manifest read from a remote is checked for structure and size (its id names the whole content, so it is
verified only when the whole file is read in order: a mismatch at the end raises ``CorruptObjectError``).
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import CorruptObjectError, ObjectNotFoundError
from .hashing import ContentHasher, hash_bytes
from .objects import FileManifest, Kind, Tree
from .oid import Oid
from .store.remote_delta import DeltaReader

if TYPE_CHECKING:
    from .store.local import LocalStore
    from .store.remote import RemoteStore

#: how much one ``readinto`` fetches at most (a request larger than this is served in several rounds)
MAX_BATCH = 16 << 20


class Sources:
    """The local store, then (optionally) a remote store: where objects are read from, verified."""

    def __init__(
        self,
        local: LocalStore | None,
        remote: RemoteStore | None = None,
        *,
        open_remote: Callable[[], RemoteStore | None] | None = None,
    ) -> None:
        self.local = local
        self._remote = remote
        self._open_remote = open_remote  # called once, when the local store first lacks an object

    @property
    def remote(self) -> RemoteStore | None:
        if self._remote is None and self._open_remote is not None:
            opener, self._open_remote = self._open_remote, None
            self._remote = opener()
        return self._remote

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()

    def _local_has(self, oid: Oid, kind: Kind) -> bool:
        return self.local is not None and self.local.has(oid, kind)

    def has(self, oid: Oid, kind: Kind) -> bool:
        return self._local_has(oid, kind) or (self.remote is not None and self.remote.has(oid, kind))

    def get(self, oid: Oid, kind: Kind) -> bytes:
        """One object (chunks verified by hash, trees by decoding; manifests by the caller).

        Raises:
            ObjectNotFoundError: neither store has it.
            CorruptObjectError: its bytes do not match its id.
        """
        if self._local_has(oid, kind):
            assert self.local is not None
            data = self.local.get(oid, kind)
            if kind == Kind.CHUNK and hash_bytes(data) != oid:
                raise CorruptObjectError(oid, "local copy does not match its id")
            return data
        if self.remote is not None and self.remote.has(oid, kind):
            return self.remote.get(oid, kind)  # verified by the remote store (remote_delta.DeltaReader)
        where = " or on the remote" if self.remote is not None else ""
        raise ObjectNotFoundError(
            oid, kind.label, hint=f"it is not in the local store{where}: 'art pull' it, or push it from a clone"
        )

    def chunks(self, wanted: Sequence[Oid]) -> dict[Oid, bytes]:
        """Several chunks at once: local ones read locally, the rest with merged ranged reads from the remote."""
        out: dict[Oid, bytes] = {}
        remote_locs = []
        for oid in dict.fromkeys(wanted):
            if self._local_has(oid, Kind.CHUNK) or self.remote is None:
                out[oid] = self.get(oid, Kind.CHUNK)
                continue
            loc = self.remote.locate(oid, Kind.CHUNK)
            if loc is None:
                out[oid] = self.get(oid, Kind.CHUNK)  # raises ObjectNotFoundError
                continue
            remote_locs.append(loc)
        if remote_locs:
            assert self.remote is not None
            deltas = DeltaReader(self.remote)  # a delta is rebuilt from its bases, read from the remote too
            for _, entry, stored in self.remote.read_objects(remote_locs, jobs=4):
                out[entry.oid] = deltas.verify(entry, stored)
        return out

    def file_chunks(self, oid: Oid, size: int) -> tuple[tuple[Oid, int], ...]:
        """A file's chunk list: its manifest's (checked against ``size``), or the file itself as one chunk."""
        if self.has(oid, Kind.FILE):
            manifest = FileManifest.from_bytes(oid, self.get(oid, Kind.FILE))
            if manifest.size != size or sum(n for _, n in manifest.chunks) != size:
                raise CorruptObjectError(oid, f"its manifest says {manifest.size} bytes where {size} were expected")
            return manifest.chunks
        if self.has(oid, Kind.CHUNK):
            return ((oid, size),)
        raise ObjectNotFoundError(
            oid, "file", hint="it is neither in the local store nor on the remote: 'art pull' it, or push it"
        )

    def tree(self, oid: Oid) -> Tree:
        return Tree.from_bytes(oid, self.get(oid, Kind.TREE))


class ChunkedReader(io.RawIOBase):
    """A read-only, seekable raw file over a stored file's chunks (wrap it in ``io.BufferedReader``).

    Args:
        sources: where the objects are.
        oid: the file's id.
        size: its size (from the pointer or the tree entry).
    """

    def __init__(self, sources: Sources, oid: Oid, size: int, *, on_close: Callable[[], object] | None = None) -> None:
        super().__init__()
        self._sources = sources
        self._on_close = on_close
        self.oid = oid
        self.size = size
        self._chunks = sources.file_chunks(oid, size) if size else ()
        self._starts: list[int] = []
        pos = 0
        for _, n in self._chunks:
            self._starts.append(pos)
            pos += n
        self._pos = 0
        self._cache: tuple[int, bytes] | None = None  # (index, bytes) of the last chunk read
        self._hasher: ContentHasher | None = ContentHasher()  # while reading in order from 0
        self._hashed = 0

    @property
    def remote(self) -> RemoteStore | None:
        """The remote store this reader opened to read what the local store lacks (None while it has not
        needed one): its ``read_size`` and ``requests`` count what the transport downloaded."""
        return self._sources._remote

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed and self._on_close is not None:
            self._on_close()
        super().close()

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        pos = base + offset
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]  # a writable buffer of any kind
        view = memoryview(buffer).cast("B")
        if self._pos >= self.size or not len(view):
            return 0
        first = bisect.bisect_right(self._starts, self._pos) - 1
        end = min(self.size, self._pos + len(view))
        last, span = first, 0
        while last + 1 < len(self._chunks) and self._starts[last + 1] < end and span < MAX_BATCH:
            span += self._chunks[last][1]
            last += 1
        data = self._load(first, last)
        n = 0
        for i in range(first, last + 1):
            chunk = data[i]
            lo = self._pos - self._starts[i]
            take = min(len(chunk) - lo, len(view) - n)
            view[n : n + take] = chunk[lo : lo + take]
            self._account(self._pos, chunk[lo : lo + take])
            n += take
            self._pos += take
            if n == len(view):
                break
        return n

    def _load(self, first: int, last: int) -> dict[int, bytes]:
        cached = self._cache
        need = [i for i in range(first, last + 1) if not (cached and cached[0] == i)]
        got = self._sources.chunks([self._chunks[i][0] for i in need]) if need else {}
        data = {i: got[self._chunks[i][0]] if i in need else cached[1] for i in range(first, last + 1)}  # type: ignore[index]
        for i, chunk in data.items():
            if len(chunk) != self._chunks[i][1]:
                raise CorruptObjectError(self.oid, f"chunk {i} has {len(chunk)} bytes, its manifest says otherwise")
        self._cache = (last, data[last])
        return data

    def _account(self, at: int, piece: bytes) -> None:
        """Hash the content while it is read in order from the start; check the whole file's id at its end."""
        if self._hasher is None:
            return
        if at != self._hashed:  # a seek: the whole-file check is off for this reader
            self._hasher = None
            return
        self._hasher.update(piece)
        self._hashed += len(piece)
        if self._hashed == self.size and self._hasher.oid() != self.oid:
            raise CorruptObjectError(self.oid, "the content read does not hash to the file's id")


def open_file(
    sources: Sources,
    oid: Oid,
    size: int,
    *,
    buffer_size: int = 256 << 10,
    on_close: Callable[[], object] | None = None,
) -> io.BufferedReader:
    """A buffered, seekable binary file object streaming the stored file ``oid`` (see ``ChunkedReader``).

    Raises:
        ObjectNotFoundError: the file's manifest (or single chunk) is in neither store.
    """
    return io.BufferedReader(ChunkedReader(sources, oid, size, on_close=on_close), buffer_size=buffer_size)
