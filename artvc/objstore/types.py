"""The object store's vocabulary: object kinds, tree entry kinds, object keys and local locations.

A leaf module (it imports only ``oid``), so every layer can name these types without import cycles. The
tuple types are ``NamedTuple``s: they are built once per object on paths that run a million times (closure,
``locate``), compare and hash like the plain tuples they replace, and sort field by field.

On-disk values are unchanged: ``Kind`` is the integer stored in pack indexes and ``index.db``, ``EntryKind``
the string stored in trees (a ``StrEnum`` member encodes exactly as its value, in msgpack, TOML and JSON).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import NamedTuple

from .oid import Oid


class Kind(IntEnum):
    """Object kind tags as stored in pack indexes."""

    CHUNK = 0
    FILE = 1
    TREE = 2
    RUN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class EntryKind(StrEnum):
    """What one name in a tree is (the ``kind`` string of a tree entry, docs/formats.md)."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"

    @property
    def object_kind(self) -> Kind:
        """The kind of object the entry's id names (a symlink's id names its target's bytes: no object)."""
        return Kind.TREE if self is EntryKind.DIR else Kind.FILE


ENTRY_KINDS: dict[str, EntryKind] = {k.value: k for k in EntryKind}


class ObjectKey(NamedTuple):
    """An object's address in every store: its id and its kind."""

    oid: Oid
    kind: Kind


class Location(NamedTuple):
    """Where the local store keeps an object (a row of ``index.db``), as ``LocalStore.locate`` returns it.

    ``offset`` and ``length`` address the stored (maybe compressed) bytes in pack ``pack`` (an ``index.db``
    pack id); ``raw_length`` is the object's size before compression.
    """

    pack: int
    codec: int
    offset: int
    length: int
    raw_length: int
