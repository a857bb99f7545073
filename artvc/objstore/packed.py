"""Listings packed for folders of millions of entries (``scan.walk_tree`` and ``treecache``): names as one
buffer of UTF-8 bytes, their name order from sorted runs merged, stat facts permuted in place."""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterator


class NameList:
    """Names packed into one buffer: each name's UTF-8 bytes and a NUL, and where each ends (4 bytes a name).
    A folder of a million files holds about 18 bytes per name here, not a ``str`` and a list slot (about 70)."""

    __slots__ = ("blob", "ends")

    def __init__(self) -> None:
        self.blob = bytearray()
        self.ends = array("I")

    def __len__(self) -> int:
        return len(self.ends)

    def add(self, names: list[str], text: str, joined: bytes) -> None:
        """Append ``names``, given also as ``text`` (joined by NULs) and its encoding ``joined``."""
        blob, ends = self.blob, self.ends
        pos = len(blob)
        if pos + len(joined) + 1 > 0xFFFFFFFF and ends.typecode == "I":
            self.ends = ends = array("q", ends)
        blob += joined
        blob.append(0)
        # one byte per character when the lengths agree: each name's length in bytes is its length in characters
        lengths = map(len, names) if len(joined) == len(text) else (len(_utf8(n)) for n in names)
        for n in lengths:
            pos += n + 1
            ends.append(pos)

    def add_raw(self, raw: bytes | bytearray) -> None:
        """Append one name's encoding followed by its NUL (``raw``, as ``raw_at`` gives it)."""
        if len(self.blob) + len(raw) > 0xFFFFFFFF and self.ends.typecode == "I":
            self.ends = array("q", self.ends)
        self.blob += raw
        self.ends.append(len(self.blob))

    def raw_at(self, i: int) -> bytearray:
        """The ``i``-th name's encoding and its NUL."""
        return self.blob[self.ends[i - 1] if i else 0 : self.ends[i]]

    def key(self, i: int) -> bytearray:
        """The ``i``-th name's encoding: UTF-8 byte order is code point order (the tree format's)."""
        return self.blob[self.ends[i - 1] if i else 0 : self.ends[i] - 1]

    def __getitem__(self, i: int) -> str:
        return self.key(i).decode("utf-8", "surrogateescape")

    def decoded(self) -> list[str]:
        """Every name, in order, decoded in one call (``self[i]`` for each ``i``, without a slice, a call and a
        decode per name): for a batch (``scan.FILE_BATCH``) or a listing of up to ``DECODED_AT_MOST`` names, not
        a folder of a million."""
        if not self.ends:
            return []
        return self.blob[: self.ends[-1] - 1].decode("utf-8", "surrogateescape").split("\0")


def split_names(joined: bytes) -> list[str]:
    """Names each followed by a NUL (a batch of ``scan.walk_tree``'s, at most a few thousand), decoded with one
    call."""
    return joined.decode("utf-8", "surrogateescape").split("\0")[:-1]


def _utf8(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


_SORT_RUN = 4096  # a folder of more than ``_SORT_WHOLE`` entries is put in name order in runs of this many, merged
_SORT_WHOLE = 65536  # a folder of up to this many entries is sorted at once
DECODED_AT_MOST = _SORT_WHOLE  # a listing of up to this many names may be decoded whole (a few MB)


def name_order(names: NameList) -> Iterator[int]:
    """The positions of ``names`` in name order (UTF-8 byte order, which is code point order). A folder of up
    to ``_SORT_WHOLE`` entries is sorted at once; a larger one in runs of ``_SORT_RUN``, each kept as 4 bytes
    an entry, then merged: a sort of all of a million-entry folder's positions at once held an int object and
    two list slots per entry (about 44 bytes) beside its names. Each sort compares the names' encodings split
    from the buffer at once (``_sorted``), not one per call of a Python key."""
    n = len(names)
    if n <= _SORT_WHOLE:
        return iter(_sorted(names, 0, n))
    code = "I" if n <= 0xFFFFFFFF else "q"
    runs = [array(code, _sorted(names, i, min(i + _SORT_RUN, n))) for i in range(0, n, _SORT_RUN)]
    return heapq.merge(*runs, key=names.key)


def _sorted(names: NameList, start: int, stop: int) -> list[int]:
    """Positions ``start`` to ``stop`` of ``names`` in name order: their encodings split from the buffer in one
    call (a name holds no NUL) and sorted as bytes, with C-level keys (a Python key per entry, slicing the
    buffer, took a third of the instructions of an add's walk)."""
    if start >= stop:
        return []
    ends = names.ends
    first = ends[start - 1] if start else 0
    keys = bytes(names.blob[first : ends[stop - 1] - 1]).split(b"\0")
    if len(keys) != stop - start:
        raise AssertionError("a packed name holds a NUL")
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return [start + i for i in order] if start else order


def meta_in_batches(meta: array[int], order: array[int], size: int) -> list[array[int]]:
    """The stat facts of the listing's entries at positions ``order`` (5 to an entry, as ``stream_dir`` keeps
    them), in that order, cut into ``size`` entries each. ``meta`` is permuted in place and then cut from
    its end, so a folder of a million files never holds its 40 bytes of stat data per entry twice (a copy in
    name order beside the listing's); ``order`` gets the other positions appended (a whole permutation)."""
    n = len(meta) // 5
    count = len(order)
    if count < n:
        listed = bytearray(n)
        for i in order:
            listed[i] = 1
        order.extend(i for i in range(n) if not listed[i])
    done = bytearray(n)
    for start in range(n):  # follow each cycle of the permutation: meta[j] becomes meta[order[j]]
        if done[start]:
            continue
        saved = meta[5 * start : 5 * start + 5]
        j = start
        while True:
            done[j] = 1
            src = order[j]
            if src == start:
                meta[5 * j : 5 * j + 5] = saved
                break
            meta[5 * j : 5 * j + 5] = meta[5 * src : 5 * src + 5]
            j = src
    del meta[5 * count :]
    out = []
    for at in reversed(range(0, count, size)):  # from the end: each cut shrinks the array
        out.append(meta[5 * at :])
        del meta[5 * at :]
    out.reverse()
    return out
