"""Oid: the 64-hex-digit blake3 name of an object; parsing, validation and short forms."""

from __future__ import annotations

from typing import TypeGuard

from ..errors import ArtError

HEX_LEN = 64
_HEX = frozenset("0123456789abcdef")


class Oid(str):
    """A lowercase hex blake3 id. A ``str`` subclass, so it prints, sorts and serialises as text."""

    __slots__ = ()

    @classmethod
    def parse(cls, text: str) -> Oid:
        """Validate a full id.

        Raises:
            ArtError: when ``text`` is not 64 lowercase hex digits.
        """
        if not is_oid(text):
            raise ArtError(f"invalid object id {text!r}", hint="ids are 64 lowercase hex digits (blake3)")
        return cls(text)

    @classmethod
    def from_digest(cls, digest: bytes) -> Oid:
        """Build an id from a raw 32-byte blake3 digest."""
        return cls(digest.hex())

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self)

    def short(self, n: int = 10) -> str:
        return self[:n]


def is_oid(text: object) -> TypeGuard[str]:
    """Return True when ``text`` is a well-formed full id."""
    return isinstance(text, str) and len(text) == HEX_LEN and _HEX.issuperset(text)


def is_prefix(text: str) -> bool:
    """Return True when ``text`` can be the prefix of an id (4 to 64 hex digits)."""
    return 4 <= len(text) <= HEX_LEN and _HEX.issuperset(text)
