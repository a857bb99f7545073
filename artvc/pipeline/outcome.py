"""What ``art repro`` is asked to do and what it did: its options, each planned stage's outcome, the result,
and the last outcome per stage (``.art/cache/last-repro.json``, which ``art dag`` marks)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from ..errors import FileSystemError
from ..objstore.fileio import atomic_write
from ..workspace.repo import Repo
from .dag import Graph
from .plan import PlanItem


class StageStatus(StrEnum):
    """What one planned stage did (``status`` in ``art repro --json`` and cache/last-repro.json)."""

    RAN = "ran"
    CACHED = "cached"
    UP_TO_DATE = "up-to-date"
    FAILED = "failed"
    SKIPPED = "not-run"


RAN, CACHED, UP_TO_DATE, FAILED, SKIPPED = StageStatus
LAST_REPRO = "cache/last-repro.json"
# (event, stage, detail): waiting | start | ran | cached | up-to-date | failed | not-run
Event = Callable[[str, str, str], None]


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    """Where stages run: ``--executor``, ``--scheduler``, ``--scheduler-file``, ``--local-cluster``,
    ``--outputs``, ``-r`` (None: from ``[executor]`` in .art/config; executors/choose.py)."""

    kind: str | None = None
    scheduler: str | None = None
    scheduler_file: str | None = None
    local_cluster: int | None = None
    outputs: str | None = None
    remote: str | None = None

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.scheduler, self.scheduler_file, self.local_cluster, self.outputs))


@dataclass(frozen=True, slots=True)
class ReproOptions:
    """What to reproduce and how (``art repro`` flags)."""

    targets: tuple[str, ...] = ()
    jobs: int = 1
    force: bool = False
    downstream: bool = False
    keep_going: bool = False
    run_cache: bool = True
    dry_run: bool = False
    pull: bool = False  # on a local run-cache miss, look on a remote (its run-key markers)
    remote: str | None = None  # that remote (None: the default remote)
    executor: ExecutorOptions = ExecutorOptions()


@dataclass(frozen=True, slots=True)
class StageOutcome:
    """What happened to one planned stage."""

    name: str
    status: StageStatus
    reasons: tuple[str, ...] = ()
    duration: float = 0.0
    run: str | None = None
    returncode: int | None = None
    stderr_tail: tuple[str, ...] = ()
    stdout_tail: tuple[str, ...] = ()
    message: str = ""
    missing: tuple[str, ...] = ()  # outs a command that exited 0 did not write

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "state": self.status,
            "reasons": list(self.reasons),
            "duration": round(self.duration, 3),
            "run_oid": self.run,
            "exit_status": self.returncode,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ReproResult:
    plan: list[PlanItem]
    outcomes: list[StageOutcome] = field(default_factory=list)
    dry_run: bool = False
    remote_cache: dict | None = None  # --pull: {remote, lookups, hits, requests}

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[StageOutcome]:
        return [o for o in self.outcomes if o.status == FAILED]


def save_last(repo: Repo, graph: Graph, states: dict, outcomes: list[StageOutcome]) -> None:
    marks: dict[str, str] = {n: states[n].state for n in graph.order}
    marks.update({o.name: o.status for o in outcomes})
    if not outcomes and last_outcome(repo) == marks:
        return
    path = repo.art_dir / LAST_REPRO
    try:
        path.parent.mkdir(exist_ok=True)
    except OSError:
        return
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    try:  # a cache: a full or read-only disk only loses the last outcome
        atomic_write(path, json.dumps({"finished": stamp, "stages": marks}, indent=1) + "\n", durable=False)
    except FileSystemError:
        return


def last_outcome(repo: Repo) -> dict[str, str]:
    """The per-stage outcome of the last ``art repro`` in this workspace (empty when none was recorded)."""
    try:
        return dict(json.loads((repo.art_dir / LAST_REPRO).read_text()).get("stages", {}))
    except (OSError, ValueError, AttributeError):
        return {}
