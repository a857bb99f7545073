"""What one ``transfer.upload`` or ``transfer.download`` did (its counts, and what failed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .oid import Oid
from .types import ObjectKey
from .verify import Problem


@dataclass(frozen=True, slots=True)
class TransferResult:
    """What one upload or download did.

    Attributes:
        objects: objects sent (upload) or stored (download).
        bytes: stored (compressed) bytes moved.
        packs: packs written (upload) or read from (download).
        present: objects the destination already had.
        missing: needed objects found neither locally nor on the remote.
        problems: objects that failed verification (never stored).
        fetched_runs: ids of run objects stored by a download.
        lost_packs: packs the remote lists whose file is missing (their objects were read from other packs
            when another listed them, else they are in ``missing``).
    """

    objects: int = 0
    bytes: int = 0
    packs: int = 0
    present: int = 0
    missing: list[ObjectKey] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    fetched_runs: list[Oid] = field(default_factory=list)
    lost_packs: list[str] = field(default_factory=list)
