"""Delta payloads (pack codec 2): a chunk stored as a zstd frame compressed against a similar stored chunk.

Stored payload (docs/formats.md#deltas)::

    base digest (32 bytes) | zstd frame

The frame is the chunk compressed with the base chunk's raw content as a raw-content dictionary (what
``zstd --patch-from`` does), with its content size and checksum. Only chunks are stored this way; the chunk's
id is still the blake3 of its own content, so a delta is only a storage encoding. Reading one needs its base
(which may itself be a delta: a chain, bounded by ``MAX_CHAIN`` whatever a store or remote claims).
"""

from __future__ import annotations

from typing import Any

from ...errors import FormatError
from ..codec import MAX_CHUNK_SIZE
from ..oid import Oid

DELTA = 2  # the pack codec (pack.py re-exports it)
PREFIX = 32  # the base's digest in front of the frame
MAX_CHAIN = 8  # a delta's base's base... : readers refuse longer chains (core.delta_depth is at most this)
DEFAULT_DEPTH = 3  # core.delta_depth: chains of at most this many deltas (docs/formats.md#deltas)
MAX_WINDOW = 8 << 20  # as pack.MAX_WINDOW: a frame asking for more is refused


def encode_delta(data: bytes, base_oid: Oid, base_raw: bytes, level: int) -> bytes:
    """Return the codec-2 payload of ``data`` against the base chunk ``base_raw`` (whose id is ``base_oid``)."""
    import zstandard

    if len(base_raw) > MAX_CHUNK_SIZE:
        raise ValueError(f"a delta base has at most {MAX_CHUNK_SIZE} bytes")
    dictionary = zstandard.ZstdCompressionDict(base_raw, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    ctx = zstandard.ZstdCompressor(
        level=level, dict_data=dictionary, write_checksum=True, write_content_size=True, write_dict_id=False
    )
    return bytes.fromhex(base_oid) + ctx.compress(data)


def delta_base(stored: bytes | memoryview) -> Oid:
    """The id of the chunk a codec-2 payload is built on.

    Raises:
        FormatError: when the payload is too short to name one.
    """
    if len(stored) <= PREFIX:
        raise FormatError(f"delta payload has {len(stored)} bytes, too short for a base id and a frame")
    return Oid(bytes(stored[:PREFIX]).hex())


def decode_delta(stored: bytes | memoryview, raw_length: int, base_raw: bytes) -> bytes:
    """Rebuild a chunk from its codec-2 payload and its base's raw content, never producing (or allocating)
    more than ``raw_length`` bytes: the frame must declare exactly ``raw_length`` bytes of content.

    The result is not verified against the chunk's id here (callers hash what they read, as for any chunk).

    Raises:
        FormatError: on a payload too short, a size over the chunk limit, a frame that does not declare
            ``raw_length`` bytes, or one that does not decompress (a wrong base fails its checksum).
    """
    import zstandard

    if not 0 <= raw_length <= MAX_CHUNK_SIZE:
        raise FormatError(f"delta claims {raw_length} bytes, over the chunk limit of {MAX_CHUNK_SIZE}")
    if len(base_raw) > MAX_CHUNK_SIZE:
        raise FormatError(f"delta base has {len(base_raw)} bytes, over the chunk limit of {MAX_CHUNK_SIZE}")
    delta_base(stored)
    frame = bytes(stored[PREFIX:])
    try:
        declared = zstandard.frame_content_size(frame)
        if declared != raw_length:  # -1 (not declared) included: art always writes it
            raise FormatError(f"delta frame declares {declared} bytes, index says {raw_length}")
        out = _decompressor(zstandard, base_raw).decompress(frame, max_output_size=raw_length)
    except zstandard.ZstdError as exc:
        raise FormatError(f"delta does not decompress against its base: {exc}") from exc
    if len(out) != raw_length:
        raise FormatError(f"delta has {len(out)} bytes, index says {raw_length}")
    return bytes(out)


def _decompressor(zstandard: Any, base_raw: bytes) -> Any:
    dictionary = zstandard.ZstdCompressionDict(base_raw, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdDecompressor(dict_data=dictionary, max_window_size=MAX_WINDOW)
