"""Per-stage locks: which ``art repro`` may replace a stage's outputs, and which may read them.

``art repro`` does not hold the repository lock while a stage's command runs (other commands would wait for
it); instead each running stage holds ``.art/tmp/locks/stage-NAME`` exclusively, and a shared lock on the file of
every stage whose outputs it reads. A second ``art repro`` that reaches the same stage, or a stage reading
outputs that are being replaced, waits (without blocking its other stages) and then checks the stage again: it
is usually up to date by then. All locks of a stage are tried at once without waiting and released together
when one is busy, so two repros can never wait on each other. Like the repository lock they are ``flock``s:
the kernel drops them when their holder dies.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable
from pathlib import Path

LOCK_DIR = "tmp/locks"  # under .art/tmp, which git ignores; the files are empty and never deleted


class StageLocks:
    """The stage locks of one workspace (``.art/tmp/locks/``)."""

    def __init__(self, art_dir: Path) -> None:
        self.dir = art_dir / LOCK_DIR

    def _path(self, stage: str) -> Path:
        return self.dir / f"stage-{stage}"

    def try_take(self, stage: str, reads: Iterable[str]) -> Held | None:
        """Lock ``stage`` exclusively and the stages in ``reads`` shared; None (holding nothing) when one is busy."""
        self.dir.mkdir(parents=True, exist_ok=True)
        held = Held()
        wanted = [(stage, fcntl.LOCK_EX)] + [(s, fcntl.LOCK_SH) for s in sorted(set(reads) - {stage})]
        for name, mode in wanted:
            fd = os.open(self._path(name), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                held.release()
                return None
            held.fds.append(fd)
        return held


class Held:
    """Stage locks taken together; ``release`` drops them all (idempotent)."""

    def __init__(self) -> None:
        self.fds: list[int] = []

    def release(self) -> None:
        while self.fds:
            fd = self.fds.pop()
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
