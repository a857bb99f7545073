"""Resemblance sketches of chunks: a few super-features such that two similar chunks likely share one.

A chunk is cut into small pieces, so an edit changes only the pieces it touches and an insertion does not shift
the others: into records when it has a good number of them (16 to 1024 lines, or NUL-terminated strings as in
compiled message catalogs: ``bytes.split``, in C), else into content-defined sub-chunks (FastCDC: about 512
bytes, 256 in chunks under 16 KiB). Records find the resemblance of small files whose every few bytes change
(the offset tables of a ``.mo`` file) but whose strings stay. Each piece is hashed (``zlib.crc32``, in C; never
Python's ``hash``, which is salted per process). The hashes are dealt into ``GROUPS * PER_GROUP`` buckets by
value and feature *i* is the smallest hash of bucket *i* (one-permutation min-hash: two chunks agree on a feature
with a probability close to the share of pieces they have in common; one pass, no per-feature permutation).
Features are grouped into super-features (Finesse, FAST '19; Odess): two chunks sharing most of their pieces
very likely agree on one whole group. A group with an empty bucket is left out (every small chunk would share
it). Super-feature *k* is stored as ``k << 56 | hash of group k`` (a non-negative sqlite integer), so groups
never collide.

Deterministic across processes and machines: the sketch index in ``index.db`` stays valid.
"""

from __future__ import annotations

import struct
import zlib
from _thread import _local  # threading's own local: no threading at start
from typing import Any

SUB = {False: (512, 128, 2048), True: (256, 64, 1024)}  # small chunk? -> FastCDC (avg, min, max)
SMALL = 16 << 10
RECORDS = (16, 1024)  # a chunk with this many lines (or NULs) is sketched by its records
GROUPS, PER_GROUP = 6, 2
_BUCKETS = GROUPS * PER_GROUP
_EMPTY = 1 << 32  # above any crc32
_GROUP = struct.Struct(f"<{PER_GROUP}I")
_LOCAL = _local()


def _cdc(small: bool) -> Any:
    cdc = getattr(_LOCAL, f"cdc{small}", None)
    if cdc is None:
        from pyfastcdc import FastCDC

        avg, lo, hi = SUB[small]
        cdc = FastCDC(avg, min_size=lo, max_size=hi)
        setattr(_LOCAL, f"cdc{small}", cdc)
    return cdc


def _pieces(data: bytes) -> Any:
    """The pieces hashed: records (lines or NUL-terminated strings of at least 4 bytes) or FastCDC sub-chunks."""
    sep = b"\0" if data.count(b"\0") > data.count(b"\n") else b"\n"
    if RECORDS[0] <= data.count(sep) <= RECORDS[1]:
        return [p for p in set(data.split(sep)) if len(p) >= 4]
    return [c.data for c in _cdc(len(data) < SMALL).cut_buf(data)]


def features(data: bytes) -> tuple[int, ...]:
    """The super-features of ``data`` (at most ``GROUPS``; none for data shorter than a few sub-chunks)."""
    if len(data) < 4 * SUB[True][1]:
        return ()
    crc = zlib.crc32
    mins = [_EMPTY] * _BUCKETS
    for piece in _pieces(data):
        h = crc(piece)
        k = h % _BUCKETS
        if h < mins[k]:
            mins[k] = h
    import hashlib  # here, not at import: ``art status`` loads this module without sketching anything

    out = []
    for k in range(GROUPS):
        group = mins[k * PER_GROUP : (k + 1) * PER_GROUP]
        if _EMPTY in group:
            continue
        out.append(k << 56 | int.from_bytes(hashlib.blake2b(_GROUP.pack(*group), digest_size=7).digest(), "little"))
    return tuple(out)
