"""What running a pipeline returns: a ``PipelineRun`` with one ``StepResult`` per step invocation, whose outputs
are ``ArtifactRef``s (an artifact version in the store, loadable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXECUTED, CACHED, FAILED, SKIPPED = "executed", "cached", "failed", "skipped"
STATUSES = (EXECUTED, CACHED, FAILED, SKIPPED)


@dataclass(slots=True)
class ArtifactRef:
    """One stored output: artifact ``name`` (``PIPELINE/STEP/OUTPUT``), its id, and what the materializer said."""

    name: str
    oid: str
    kind: str
    size: int
    materializer: str
    materializer_version: int
    type: str
    preview: str
    run: str | None
    root: Path | None = None  # the workspace whose store holds it (None: the one found from the current directory)

    @classmethod
    def from_record(cls, out: dict[str, Any], run: str | None, root: Path | None = None) -> ArtifactRef:
        return cls(
            name=str(out["path"]),
            oid=str(out["oid"]),
            kind=str(out.get("kind", "dir")),
            size=int(out.get("size", 0)),
            materializer=str(out.get("materializer", "")),
            materializer_version=int(out.get("materializer_version", 1)),
            type=str(out.get("type", "")),
            preview=str(out.get("preview", "")),
            run=run,
            root=root,
        )

    def load(self, root: Any = None) -> Any:
        """Read this version back from the store of the repository at ``root`` (default: the one whose pipeline
        run or query made this reference, else the one found from the current directory)."""
        from .store_io import load_ref

        return load_ref(self, root or self.root)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "oid": self.oid,
            "kind": self.kind,
            "size": self.size,
            "type": self.type,
            "materializer": self.materializer,
            "preview": self.preview,
            "run_oid": self.run,
        }


@dataclass(slots=True)
class StepResult:
    """One step invocation of a pipeline run: ``status`` is executed, cached, failed or skipped; ``run`` the id
    of its step-run record (for a cached step: the run whose outputs were reused)."""

    name: str
    status: str
    run: str | None = None
    outputs: dict[str, ArtifactRef] = field(default_factory=dict)
    duration: float = 0.0
    error: str | None = None
    summary: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    @property
    def output(self) -> ArtifactRef:
        """The only output (a step with several: use ``outputs[NAME]``)."""
        if len(self.outputs) != 1:
            raise KeyError(f"step {self.name} has {len(self.outputs)} outputs: use .outputs[NAME]")
        return next(iter(self.outputs.values()))

    def load(self, output: str | None = None) -> Any:
        """Load an output's value (the only one when ``output`` is None)."""
        return (self.output if output is None else self.outputs[output]).load()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.status,
            "run_oid": self.run,
            "duration": round(self.duration, 3),
            "outputs": [o.as_dict() for o in self.outputs.values()],
            "metadata": self.metadata,
            "message": self.message,
        }


@dataclass(slots=True)
class PipelineRun:
    """A finished (or failed) pipeline run; ``oid`` is its pipeline-run record."""

    name: str
    call: str
    params: dict[str, Any]
    steps: dict[str, StepResult]
    started: str
    duration: float
    git: dict[str, Any]
    error: str | None = None
    oid: str | None = None

    def __getitem__(self, step: str) -> StepResult:
        return self.steps[step]

    def by_status(self, status: str) -> list[str]:
        return [s.name for s in self.steps.values() if s.status == status]

    @property
    def executed(self) -> list[str]:
        return self.by_status(EXECUTED)

    @property
    def cached(self) -> list[str]:
        return self.by_status(CACHED)

    @property
    def failed(self) -> list[str]:
        return self.by_status(FAILED)

    @property
    def skipped(self) -> list[str]:
        return self.by_status(SKIPPED)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.name,
            "oid": self.oid,
            "call": self.call,
            "params": self.params,
            "started": self.started,
            "duration": round(self.duration, 3),
            "steps": [s.as_dict() for s in self.steps.values()],
        }
