"""A fetch's file manifests proved while their chunks stream by, and (with a ``stage.FileStage``) written.

A download verifies each chunk as it arrives; a manifest is verified by hashing the concatenation of its
chunks. Chunks usually arrive in file order (packs are written that way), so each manifest being fetched
keeps a running hash that is fed the chunks in turn: a chunk that comes before its turn is kept (at most
``EARLY_BYTES``), a chunk the local store holds already is read from it when the stream reaches it. A manifest
whose stream did not complete is checked after the fetch by reading its chunks back from the store
(``check_manifest``).

With a stage, the same bytes, right after they are hashed, are appended to the wanted file's staged copy, so
checkout renames a proved file into place instead of reading, decompressing and hashing it all again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ArtError
from .hashing import ContentHasher
from .objects import AnyTree, EncodedTree, FileManifest, Kind, Tree
from .oid import Oid
from .pulled_tree import FileTree
from .stage import FileStage
from .store.base import StoreWriter
from .store.local import LocalStore
from .store.pack import RAW
from .types import ObjectKey

Verified = bytes | FileTree  # a tree or run a download verified: its encoding, or a large tree's file

EARLY_BYTES = 16 << 20  # chunks kept for a manifest's stream when a pack brings them before their turn


@dataclass(slots=True)
class _Stream:
    """A manifest hashed while its chunks stream by: the hash so far, its next chunk's position, bytes so far."""

    hasher: ContentHasher
    position: int = 0
    size: int = 0


class ManifestStreams:
    """The running hashes of the manifests a download fetches.

    Args:
        manifests: the manifests being fetched, by id.
        in_local: the chunks the local store held before this download (read from ``local`` when a stream
            reaches them); a stream waits for any other chunk to arrive (one that never does leaves it
            unfinished: the manifest is then checked from the store after the fetch).
        local: the local store.
        stage: where wanted files are written as they are proved (None: nothing is written).
    """

    def __init__(
        self, manifests: dict[Oid, FileManifest], in_local: set[Oid], local: LocalStore, stage: FileStage | None
    ) -> None:
        self._manifests = manifests
        self._in_local = in_local
        self._local = local
        self._stage = stage
        self._streams: dict[Oid, _Stream] = {}
        self._waiting: dict[Oid, list[Oid]] = {}  # chunk -> manifests whose next chunk it is
        self._early: dict[Oid, bytes] = {}  # chunks that came before their turn (bounded: EARLY_BYTES)
        self._early_bytes = 0
        self._later = {c for m in manifests.values() for c, _ in m.chunks}
        for oid, manifest in manifests.items():
            if manifest.chunks:
                self._streams[oid] = _Stream(ContentHasher())
                if stage is not None:
                    stage.begin(oid, manifest.size)
                self._advance(oid)

    @property
    def expects_chunks(self) -> bool:
        """Whether any manifest streams chunks at all (a fetch of one-chunk files has none: ``feed`` would do
        nothing, so a caller need not call it per chunk)."""
        return bool(self._later)

    def feed(self, chunk: Oid, data: bytes | memoryview) -> None:
        """Chunk ``chunk`` arrived, verified: advance the streams waiting for it (or keep it for later)."""
        waiting = self._waiting.pop(chunk, None)
        if waiting is None:
            if chunk in self._later and chunk not in self._early and self._early_bytes + len(data) <= EARLY_BYTES:
                self._early[chunk] = bytes(data)  # a copy: ``data`` may be a view of a larger buffer
                self._early_bytes += len(data)
            return
        for m in waiting:
            self._advance(m, chunk, data)

    def result(self, manifest: FileManifest) -> str | None:
        """Return "" when the streamed hash proved the manifest, a reason when it disproved it, None if unknown."""
        stream = self._streams.get(manifest.oid)
        if stream is None or stream.position < len(manifest.chunks):
            return None  # some chunks never came (a failed one, a delta left unresolved): hash from the store
        if stream.size != manifest.size or stream.hasher.oid() != manifest.oid:
            return f"content hashes to {stream.hasher.oid()[:10]}"
        return ""

    def close(self) -> None:
        """Drop the staged files of streams that did not complete."""
        if self._stage is not None:
            for oid in list(self._streams):
                if self._stage.staging(oid):
                    self._stage.drop(oid)

    def _advance(self, m: Oid, chunk: Oid | None = None, data: bytes | memoryview | None = None) -> None:
        """Feed manifest ``m``'s stream from its position on: ``data`` (chunk ``chunk``), kept early chunks and
        local ones, until a chunk it needs has not arrived (it then waits for that one) or the file is done."""
        stream, chunks = self._streams[m], self._manifests[m].chunks
        stage = self._stage if self._stage is not None and self._stage.staging(m) else None
        while stream.position < len(chunks):
            following = chunks[stream.position][0]
            piece = data if following == chunk else self._early.get(following)
            if piece is None and following in self._in_local:
                piece = self._from_local(following)
            if piece is None:
                self._waiting.setdefault(following, []).append(m)
                return
            stream.hasher.update(piece)
            if stage is not None:
                stage.write(m, piece)
            stream.position += 1
            stream.size += len(piece)
        if stage is not None:
            manifest = self._manifests[m]
            stage.finish(m, stream.size == manifest.size and stream.hasher.oid() == m, manifest.size)

    def _from_local(self, chunk: Oid) -> bytes | None:
        """A chunk the local store held before this download (the stream's hash is its check), or None."""
        try:
            return self._local.get(chunk, Kind.CHUNK)
        except ArtError:
            return None  # missing or damaged: the manifest is checked (and reported) after the fetch


def check_manifest(store: LocalStore, manifest: FileManifest) -> str | None:
    """Return why a fetched manifest is wrong (None when its chunks' concatenation hashes to its id)."""
    hasher = ContentHasher()
    size = 0
    for chunk_oid, length in manifest.chunks:
        try:
            data = store.get(chunk_oid, Kind.CHUNK)
        except ArtError as exc:
            return f"chunk {chunk_oid[:10]} is unavailable ({exc})"
        if len(data) != length:
            return f"chunk {chunk_oid[:10]} has {len(data)} bytes, the manifest says {length}"
        hasher.update(data)
        size += length
    if hasher.oid() != manifest.oid:
        return f"content hashes to {hasher.oid()[:10]}"
    return None


def complete_meta(meta: dict[ObjectKey, Verified], broken: set[str]) -> list[tuple[ObjectKey, Verified]]:
    """The trees and runs of ``meta`` (a download's, verified; a large tree in its file, ``pulled_tree``) whose
    closure is now local: a tree over a ``broken`` object (failed or missing), or over such a tree, is held back."""
    if not broken:
        return list(meta.items())
    # propagate "incomplete" upwards: a tree is stored only when every child is available locally
    trees: dict[str, AnyTree] = {
        oid: data if isinstance(data, EncodedTree) else Tree.from_bytes(oid, data)
        for (oid, kind), data in meta.items()
        if kind == Kind.TREE
    }
    ok: dict[str, bool] = {}

    def complete(oid: str) -> bool:
        if oid in ok:
            return ok[oid]
        ok[oid] = False
        good = (
            oid not in broken
            and all(
                complete(e.oid) if e.kind == "dir" else (e.kind == "symlink" or e.oid not in broken)
                for e in trees[oid].iter_entries()
            )
            if oid in trees
            else oid not in broken
        )
        ok[oid] = good
        return good

    return [(k, d) for k, d in meta.items() if k[1] != Kind.TREE or complete(k[0])]


def put_verified(writer: StoreWriter, oid: Oid, kind: Kind, data: Verified) -> bool:
    """Store a verified tree or run (``writer.put``); a large tree from its file, a MiB at a time, uncompressed
    (as ``art add`` stores one); a small one read back from a ``TreeSpill``'s file, as its bytes would have
    been. True when it was new."""
    if isinstance(data, FileTree) and not data.shared:
        return writer.put_pieces(oid, kind, RAW, data.pieces(), data.length, data.length)
    return writer.put(oid, kind, data.to_bytes() if isinstance(data, FileTree) else data)
