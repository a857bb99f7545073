"""PackBuilder: one pack being written to a temporary file; shared by the local store's and the remote's writers.

The caller adds already-encoded objects, asks ``full()`` after each, and ``seal()`` returns the sealed temp
file with its name and entries: the local writer renames it into ``packs/`` and indexes it, the remote
writer uploads it (pack, then index). ``abort()`` removes an unsealed temp file however the write ended.
Restic's packer manager plays the same part for its backends.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from ..fileio import remove_if_present
from ..oid import Oid
from ..tmpowner import token
from .pack import PackEntry, PackWriter

# Packs of "tens of MiB": few files on disk, and one PUT each on a bucket (s3fs sends a single PUT below
# 2 x its 50 MiB chunk size), so a pushed GiB costs about 2 x 16 requests.
PACK_TARGET = 64 << 20
# the local store also seals after this many objects: a writer's per-object bookkeeping stays bounded
PACK_MAX_OBJECTS = 16384


@dataclass(frozen=True, slots=True)
class SealedPack:
    """A sealed pack in a temporary file: its ``path``, ``name`` (blake3 of its entry table), entries, size."""

    path: str
    name: Oid
    entries: list[PackEntry]
    size: int


class PackBuilder:
    """Builds one pack at a time in a temporary file ``pack-<owner>-*.tmp`` under ``folder``.

    Args:
        folder: where the temporary file is created (it must exist).
        max_objects: seal after this many objects too (None: only the size target and the format's limit).
        target: seal once the pack has this many bytes.
    """

    def __init__(self, folder: str | os.PathLike[str], *, max_objects: int | None = None, target: int = PACK_TARGET):
        self.folder = str(folder)
        self.max_objects = max_objects
        self.target = target
        self._file: BinaryIO | None = None
        self._pack: PackWriter | None = None
        self.temp: str | None = None  # the temporary file of the open pack

    @property
    def open(self) -> bool:
        """True while a pack has objects that are not sealed yet."""
        return self._pack is not None

    def add(self, oid: Oid, kind: int, codec: int, stored: bytes, raw_length: int) -> PackEntry:
        """Append one object (starting a new temporary file when none is open).

        Raises:
            OSError: when the file cannot be created or written.
        """
        if self._pack is None:
            fd, self.temp = tempfile.mkstemp(prefix=f"pack-{token()}-", suffix=".tmp", dir=self.folder)
            self._file = os.fdopen(fd, "wb", buffering=1 << 20)
            self._pack = PackWriter(self._file)
        return self._pack.add(oid, kind, codec, stored, raw_length)

    def full(self) -> bool:
        """True once the open pack should be sealed (size target, object count, or the format's limit)."""
        pack = self._pack
        if pack is None:
            return False
        return pack.full(self.target) or (self.max_objects is not None and len(pack.entries) >= self.max_objects)

    def seal(self, *, fsync: bool = False) -> SealedPack:
        """Write the trailer, flush (and fsync) and close the file; the caller owns the returned file.

        Raises:
            OSError: when the file cannot be written (the temporary file stays for ``abort``).
        """
        pack, f, temp = self._pack, self._file, self.temp
        assert pack is not None and f is not None and temp is not None, "seal() without an open pack"
        name = pack.seal()
        f.flush()
        if fsync:
            os.fsync(f.fileno())
        f.close()
        self._pack = self._file = None
        self.temp = None
        return SealedPack(temp, name, pack.entries, pack.size)

    def abort(self) -> None:
        """Drop the open pack: its temporary file is removed even when closing it fails (a full disk)."""
        f, temp = self._file, self.temp
        self._pack = self._file = None
        self.temp = None
        try:
            if f is not None and not f.closed:
                try:
                    f.close()  # flushes the buffer: fails again on a full disk
                except OSError:
                    pass
        finally:
            if temp is not None:
                remove_if_present(temp)
