"""The abstract object store: a small core (has / get / writer / iterate) and everything derived from it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import NamedTuple

from ...errors import ObjectNotFoundError
from ..objects import FileManifest, Kind, Tree
from ..oid import Oid
from ..types import ObjectKey
from .pack import Compressor


class IndexedObject(NamedTuple):
    """One object as a store's index knows it."""

    oid: Oid
    kind: Kind
    raw_length: int
    pack: str

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.oid, self.kind)


class StoreWriter(ABC):
    """A batch of writes that becomes visible atomically when the writer is committed (a sealed pack).

    Subclasses set ``store`` (whose ``compressor`` decides zstd or raw per object). A ``stored`` payload may be a
    view into a buffer that the caller reuses once the call returns: a writer copies (or writes) it before returning.
    """

    store: ObjectStore

    def put(self, oid: Oid, kind: Kind, data: bytes) -> bool:
        """Store ``data`` under (oid, kind) unless present; return True when it was new."""
        if self.has(oid, kind):
            return False
        codec, stored = self.store.compressor.pack(data, oid if kind == Kind.CHUNK else None)
        return self.put_stored(oid, kind, codec, stored, len(data))

    @abstractmethod
    def put_stored(self, oid: Oid, kind: Kind, codec: int, stored: bytes | memoryview, raw_length: int) -> bool:
        """Store an already-compressed payload (as produced by ``Compressor.pack``)."""

    def put_pieces(
        self, oid: Oid, kind: Kind, codec: int, pieces: Iterable[bytes], length: int, raw_length: int
    ) -> bool:
        """``put_stored`` of a payload of ``length`` bytes given in pieces (a large tree read back from the file it
        was encoded to, ``objects.SpilledTree``): writers that can copy them into the pack one at a time do,
        others join them."""
        if self.has(oid, kind):
            return False
        return self.put_stored(oid, kind, codec, b"".join(pieces), raw_length)

    @abstractmethod
    def has(self, oid: Oid, kind: Kind) -> bool:
        """True when the object is in the store or pending in this writer."""

    def present(self, keys: Iterable[tuple[Oid, Kind]]) -> set[tuple[Oid, int]]:
        """The keys that ``has`` would answer True for (stores override this with one query per batch)."""
        return {(oid, int(kind)) for oid, kind in keys if self.has(oid, kind)}

    def put_new(self, oid: Oid, kind: Kind, codec: int, stored: bytes | memoryview, raw_length: int) -> bool:
        """``put_stored`` for an object the caller found absent with ``present`` moments ago (stores may
        skip asking again; a duplicate written by a racing writer is harmless)."""
        return self.put_stored(oid, kind, codec, stored, raw_length)

    def put_new_many(self, objects: Sequence[tuple[Oid, int, int, bytes | memoryview, int]]) -> list[int]:
        """``put_new`` for several (oid, kind, codec, stored, raw length), written together where the store can;
        return the indices of those that were new here (the others were written or claimed already)."""
        return [
            i
            for i, (oid, kind, codec, stored, raw_length) in enumerate(objects)
            if self.put_new(oid, Kind(kind), codec, stored, raw_length)
        ]

    def claim(self, keys: Iterable[tuple[Oid, int]]) -> list[tuple[Oid, int]]:
        """The keys (each once) that ``present`` does not know, for the caller to write with ``put_claimed``.
        The local store's writer reserves them atomically (ingest workers claim at once, so each new object
        is compressed once); here two callers may both get a key, and the second write is skipped."""
        keys = list(dict.fromkeys(keys))
        found = self.present((oid, Kind(kind)) for oid, kind in keys)
        return [k for k in keys if k not in found]

    def put_claimed(self, oid: Oid, kind: int, codec: int, stored: bytes | memoryview, raw_length: int) -> None:
        """Write an object ``claim`` returned."""
        self.put_new(oid, Kind(kind), codec, stored, raw_length)

    def put_claimed_many(self, objects: Sequence[tuple[Oid, int, int, bytes | memoryview, int]]) -> None:
        """``put_claimed`` for several (oid, kind, codec, stored, raw length)."""
        for obj in objects:
            self.put_claimed(*obj)

    @abstractmethod
    def commit(self) -> None:
        """Seal what is pending; afterwards every put object is readable."""

    @abstractmethod
    def abort(self) -> None:
        """Drop what is pending; nothing of it becomes visible."""

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class ObjectStore(ABC):
    """Objects addressed by (oid, kind). Subclasses supply five methods; the rest is derived here."""

    compressor: Compressor

    @abstractmethod
    def has(self, oid: Oid, kind: Kind) -> bool:
        """True when the object is stored."""

    @abstractmethod
    def get(self, oid: Oid, kind: Kind) -> bytes:
        """Return the object's uncompressed bytes.

        Raises:
            ObjectNotFoundError: when it is not stored.
        """

    @abstractmethod
    def writer(self) -> StoreWriter:
        """Open a batch of writes."""

    @abstractmethod
    def iter_objects(self) -> Iterator[IndexedObject]:
        """Yield every object the index knows."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and connections."""

    def missing(self, keys: Iterable[ObjectKey]) -> list[ObjectKey]:
        """Return the keys that are not stored, in order."""
        return [k for k in keys if not self.has(*k)]

    def has_file(self, oid: Oid) -> bool:
        return self.has(oid, Kind.FILE) or self.has(oid, Kind.CHUNK)

    def file_chunks(self, oid: Oid, size: int) -> tuple[tuple[Oid, int], ...]:
        """Return a file's chunk list: its manifest's, or the file itself when it is a single chunk.

        Raises:
            ObjectNotFoundError: when neither a manifest nor a chunk with that id is stored.
        """
        if self.has(oid, Kind.FILE):
            return FileManifest.from_bytes(oid, self.get(oid, Kind.FILE)).chunks
        if self.has(oid, Kind.CHUNK):
            return ((oid, size),)
        raise ObjectNotFoundError(oid, "file")

    def file_size(self, oid: Oid, expect: int | None = None) -> int:
        """Return a stored file's size: its manifest's, or the single chunk's length. With ``expect``, a
        manifest that states that size is not decoded (a 4 GiB file lists ~50,000 chunks); any other is decoded
        and checked whole, so a damaged one raises.

        Raises:
            ObjectNotFoundError: when neither a manifest nor a chunk with that id is stored.
            FormatError: when the manifest is malformed.
        """
        if self.has(oid, Kind.FILE):
            data = self.get(oid, Kind.FILE)
            if expect is not None and FileManifest.stated_size(data) == expect:
                return expect
            return FileManifest.from_bytes(oid, data).size
        if self.has(oid, Kind.CHUNK):
            return len(self.get(oid, Kind.CHUNK))
        raise ObjectNotFoundError(oid, "file")

    def get_tree(self, oid: Oid) -> Tree:
        return Tree.from_bytes(oid, self.get(oid, Kind.TREE))

    def iter_file(self, oid: Oid, size: int) -> Iterator[bytes]:
        """Yield a file's content chunk by chunk (unverified; callers hash what they write)."""
        for chunk_oid, _ in self.file_chunks(oid, size):
            yield self.get(chunk_oid, Kind.CHUNK)

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
