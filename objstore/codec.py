"""msgpack lives here only: the canonical encoding shared by every structured object and index.

Canonical means equal values always encode to equal bytes: maps are written with sorted keys, strings as
UTF-8 ``str``, binary as ``bin``, no floats where an integer will do. No I/O here.
"""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import FormatError


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def encode(value: Any) -> bytes:
    """Encode ``value`` canonically (sorted map keys, bin for bytes)."""
    return msgpack.packb(_canonical(value), use_bin_type=True)


def decode(data: bytes | memoryview, *, what: str = "object") -> Any:
    """Decode one msgpack value.

    Raises:
        FormatError: when ``data`` is not a single valid msgpack value.
    """
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise FormatError(f"{what} is not valid msgpack: {exc}") from exc
