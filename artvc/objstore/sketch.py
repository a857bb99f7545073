"""Resemblance sketches of chunks: a few super-features such that two similar chunks likely share one.

A chunk is cut into small content-defined sub-chunks (FastCDC, about 512 bytes), so an edit changes only the
sub-chunks it touches and an insertion does not shift the others. Each sub-chunk is hashed (``zlib.crc32``, in
C; never Python's ``hash``, which is salted per process). The hashes are dealt into ``GROUPS * PER_GROUP``
buckets by value and feature *i* is the smallest hash of bucket *i* (one-permutation min-hash: two chunks agree
on a feature with a probability close to the share of sub-chunks they have in common; one pass, no
per-feature permutation), and the features are grouped into super-features (Finesse, FAST '19;
Odess): two chunks sharing most of their sub-chunks very likely agree on one whole group. Super-feature *k* is
stored as ``k << 56 | hash of group k`` (a non-negative sqlite integer), so groups never collide.

Deterministic across processes and machines: the sketch index in ``index.db`` stays valid.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from typing import Any

SUB_AVG, SUB_MIN, SUB_MAX = 512, 128, 2048
GROUPS, PER_GROUP = 4, 3
_MASK = (1 << 32) - 1


_BUCKETS = GROUPS * PER_GROUP
_GROUP = struct.Struct(f"<{PER_GROUP}I")
_LOCAL = threading.local()


def _cdc() -> Any:
    cdc = getattr(_LOCAL, "cdc", None)
    if cdc is None:
        from pyfastcdc import FastCDC

        cdc = _LOCAL.cdc = FastCDC(SUB_AVG, min_size=SUB_MIN, max_size=SUB_MAX)
    return cdc


def features(data: bytes | memoryview) -> tuple[int, ...]:
    """The super-features of ``data`` (``GROUPS`` of them; none for data shorter than one sub-chunk)."""
    if len(data) < SUB_MIN:
        return ()
    crc = zlib.crc32
    mins = [_MASK] * _BUCKETS
    for c in _cdc().cut_buf(data):
        h = crc(c.data)
        k = h % _BUCKETS
        if h < mins[k]:
            mins[k] = h
    out = []
    for k in range(GROUPS):
        group = _GROUP.pack(*mins[k * PER_GROUP : (k + 1) * PER_GROUP])
        out.append(k << 56 | int.from_bytes(hashlib.blake2b(group, digest_size=7).digest(), "little"))
    return tuple(out)
