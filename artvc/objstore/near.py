"""Delta candidates by position (git's heuristic): a revised file's chunk is most like the chunk of the previous
version of the same path at about the same offset.

The workspace knows the previous version of a path it adds again (the stat cache's last id for it); its chunk
list maps an offset of the new file to the old chunks around it, with no sketch and no index query. Offsets
drift when rows are inserted or removed: the old offset is estimated in proportion to the two sizes, and an
identical chunk (one the old version has too) anchors the mapping exactly from there on. The mapping is made
per batch of consecutive chunks, so what is stored does not depend on how threads were scheduled.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from .oid import Oid

WIDTH = 2  # old chunks offered per new chunk (the ones overlapping it most)


class Near:
    """The chunks of a previous version (``chunks``: [(id, length), ...]) located by offset."""

    __slots__ = ("_ids", "_starts", "_size", "_where")

    def __init__(self, chunks: Sequence[tuple[Oid, int]]) -> None:
        self._ids = [oid for oid, _ in chunks]
        self._starts: list[int] = []
        offset = 0
        for _, length in chunks:
            self._starts.append(offset)
            offset += length
        self._size = offset
        self._where = {oid: start for oid, start in zip(self._ids, self._starts, strict=True)}

    def __bool__(self) -> bool:
        return bool(self._ids)

    def walk(self, offset: int, new_size: int) -> NearWalk:
        """A walk over consecutive chunks of the new file (``new_size`` bytes) from ``offset``."""
        return NearWalk(self, offset, new_size)


class NearWalk:
    """The candidates of consecutive new chunks, in order (``next``)."""

    __slots__ = ("_near", "_offset", "_drift")

    def __init__(self, near: Near, offset: int, new_size: int) -> None:
        self._near = near
        self._offset = offset
        self._drift = (offset * near._size // new_size - offset) if new_size else 0

    def next(self, oid: Oid, length: int) -> list[Oid]:
        """The old chunks overlapping the next new chunk (``oid``, ``length`` bytes) most, at most ``WIDTH``;
        none when the old version has this very chunk (it is an anchor: the mapping follows it)."""
        near, start = self._near, self._offset
        self._offset += length
        anchor = near._where.get(oid)
        if anchor is not None:
            self._drift = anchor - start
            return []
        lo, hi = start + self._drift, start + self._drift + length
        starts = near._starts
        i = max(0, bisect_right(starts, lo) - 1)
        found: list[tuple[int, Oid]] = []
        while i < len(starts) and starts[i] < hi:
            end = starts[i + 1] if i + 1 < len(starts) else near._size
            overlap = min(end, hi) - max(starts[i], lo)
            if overlap > 0:
                found.append((overlap, near._ids[i]))
            i += 1
        if not found and starts:  # past the old end (the file grew): its last chunk
            found.append((0, near._ids[-1] if lo >= near._size else near._ids[0]))
        found.sort(key=lambda item: -item[0])
        return [o for _, o in found[:WIDTH]]
