"""Integrity checks over a store: re-hash every object; yields Problem records and never prints."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import ArtError, CorruptObjectError, FormatError
from .hashing import ContentHasher, hash_bytes
from .lineage import Run
from .objects import FileManifest, Kind, iter_tree_entries
from .oid import Oid
from .progress import Progress, as_progress
from .store.base import ObjectStore


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: which object (or pack, or path), what kind of thing, what is wrong.

    ``damaged`` is True when the stored copy of the object ``oid`` of kind ``kind`` is itself bad (as opposed
    to a file that only needs a damaged or missing chunk): such copies are quarantined by ``art fsck``.
    """

    oid: str
    kind: str
    detail: str
    damaged: bool = False

    def as_dict(self) -> dict[str, str]:
        """``oid`` for an object, ``name`` for a pack or an index (their names are not object ids)."""
        key = "name" if self.kind in ("pack", "index") else "oid"
        return {key: str(self.oid), "kind": self.kind, "detail": self.detail}


def verify_store(store: ObjectStore, *, progress: Callable[[int], None] | None = None) -> Iterator[Problem]:
    """Re-hash every object in ``store``; yield a Problem for each one that is damaged or missing.

    File manifests are checked by hashing their chunks' concatenation, and the chunks they name are
    verified in the same pass, so each chunk is read once. ``progress`` (a ``progress.Progress`` or a byte
    callback) expects every indexed object and the chunks' bytes, as the index lists them.

    Streamed: the index is read in passes (``iter_objects``), never held whole, and the chunks verified
    through manifests are remembered in a private temporary database, so memory stays flat at millions of
    objects.
    """
    progress = as_progress(progress)
    files = chunk_bytes = 0
    for obj in store.iter_objects():
        files += 1
        chunk_bytes += obj.raw_length if obj.kind == Kind.CHUNK else 0
    progress.total(bytes=chunk_bytes, files=files)
    with _Verified() as verified:
        for obj in store.iter_objects():
            if obj.kind == Kind.FILE:
                yield from _verify_manifest(store, obj.oid, verified, progress)
        for obj in store.iter_objects():
            if obj.kind == Kind.CHUNK and obj.oid not in verified:
                yield from _verify_chunk(store, obj.oid, progress)
            elif obj.kind in (Kind.TREE, Kind.RUN):
                progress.advance(files=1)
                yield from _verify_structured(store, obj.oid, obj.kind)


class _Verified:
    """The chunks already verified, kept in a private temporary sqlite database (on disk, flat in memory);
    empty, and never created, in a store without file manifests."""

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None

    def add(self, oid: str) -> None:
        if self._db is None:
            self._db = sqlite3.connect("", isolation_level=None)  # "": a private temporary file
            self._db.execute("CREATE TABLE v (oid BLOB PRIMARY KEY) WITHOUT ROWID")
        self._db.execute("INSERT OR IGNORE INTO v VALUES (?)", (bytes.fromhex(oid),))

    def __contains__(self, oid: str) -> bool:
        if self._db is None:
            return False
        return self._db.execute("SELECT 1 FROM v WHERE oid=?", (bytes.fromhex(oid),)).fetchone() is not None

    def __enter__(self) -> _Verified:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._db is not None:
            self._db.close()


def _verify_chunk(store: ObjectStore, oid: Oid, progress: Progress) -> Iterator[Problem]:
    progress.advance(files=1)
    try:
        data = store.get(oid, Kind.CHUNK)
    except ArtError as exc:
        yield Problem(oid, "chunk", str(exc), _is_damage(exc))
        return
    progress.advance(bytes=len(data))
    if hash_bytes(data) != oid:
        yield Problem(oid, "chunk", f"content hashes to {hash_bytes(data)[:10]}", True)


def _verify_manifest(store: ObjectStore, oid: Oid, verified: _Verified, progress: Progress) -> Iterator[Problem]:
    progress.advance(files=1)
    try:
        manifest = FileManifest.from_bytes(oid, store.get(oid, Kind.FILE))
    except ArtError as exc:
        yield Problem(oid, "file", str(exc), _is_damage(exc))
        return
    hasher = ContentHasher()
    for chunk_oid, length in manifest.chunks:
        try:
            data = store.get(chunk_oid, Kind.CHUNK)
        except ArtError as exc:
            yield Problem(oid, "file", f"chunk {chunk_oid[:10]}: {exc}")
            return
        if chunk_oid not in verified:
            progress.advance(bytes=len(data), files=1)
            if hash_bytes(data) != chunk_oid or len(data) != length:
                yield Problem(chunk_oid, "chunk", f"content hashes to {hash_bytes(data)[:10]}", True)
                yield Problem(oid, "file", f"chunk {chunk_oid[:10]} is corrupt")
                return
            verified.add(chunk_oid)
        hasher.update(data)
    if hasher.oid() != oid:  # every chunk is intact: the manifest lists the wrong ones
        yield Problem(oid, "file", f"content hashes to {hasher.oid()[:10]}", True)


def _verify_structured(store: ObjectStore, oid: Oid, kind: Kind) -> Iterator[Problem]:
    try:
        data = store.get(oid, kind)
        if kind == Kind.TREE:
            for _ in iter_tree_entries(oid, data):  # every entry checked, one batch at a time: flat at 1M files
                pass
        else:
            Run.from_bytes(oid, data)
    except (ArtError, FormatError) as exc:
        yield Problem(oid, kind.label, str(exc), _is_damage(exc))


def _is_damage(exc: Exception) -> bool:
    """True when a read failed because the stored copy itself is bad (not because something is missing)."""
    return isinstance(exc, (CorruptObjectError, FormatError))
