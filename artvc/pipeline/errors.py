"""Pipeline errors: bad ``art.toml``, cycles, missing inputs, failed stages (all ArtError subclasses)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ArtError, StaleError, UsageError

if TYPE_CHECKING:
    from .outcome import ReproResult

__all__ = [
    "CycleError",
    "MalformedArtifactError",
    "MaterializerError",
    "FlowError",
    "MetricsError",
    "MissingDependencyError",
    "ParamsError",
    "PipelineError",
    "PipelineParamError",
    "SpecError",
    "StaleError",
    "StageFailedError",
    "StepFailedError",
    "UnknownStageError",
]


class PipelineError(ArtError):
    """Root of the pipeline errors."""


class SpecError(PipelineError):
    """``art.toml`` (or a stage definition) is invalid.

    Args:
        message: what is wrong, naming the stage and key.
        file: the file concerned.
        line: the line number when known.
    """

    def __init__(
        self, message: str, *, file: str = "art.toml", line: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint or f"fix {file} (see docs/pipelines.md for the format)")
        self.file = file
        self.line = line


class CycleError(SpecError):
    """The stages depend on each other in a circle; ``cycle`` is the path, first stage repeated at the end."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__(
            f"stages form a cycle: {' -> '.join(cycle)}",
            hint="a stage cannot depend, directly or not, on its own outputs",
        )
        self.cycle = cycle


class MissingDependencyError(SpecError):
    def __init__(self, stage: str, path: str) -> None:
        super().__init__(
            f"stage {stage}: dependency {path} does not exist and no stage produces it",
            hint=f"create {path}, fix the path, or add a stage with it in its outs",
        )
        self.stage = stage
        self.path = path


class ParamsError(SpecError):
    """A params file is missing, unreadable, or lacks a listed key."""


class MaterializerError(PipelineError):
    """No materializer can store a step's value (or load an artifact back).

    Args:
        message: what failed, naming the value's type ("module.QualName").
        type_name: that type, when there is one; the default hint says how to register a materializer for it.
        hint: overrides the default hint.
    """

    def __init__(self, message: str, *, type_name: str | None = None, hint: str | None = None) -> None:
        if hint is None and type_name:
            short = type_name.rpartition(".")[2] or type_name
            hint = f"register one with @artvc.register_materializer({short}) (see docs/python-pipelines.md)"
        super().__init__(message, hint=hint)
        self.type_name = type_name


class MalformedArtifactError(MaterializerError):
    """A stored artifact's files are not what its materializer writes (truncated, damaged or forged): exit 3,
    like any other integrity error."""

    exit_code = 3

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(
            message, hint=hint or "run 'art fsck'; re-run the step that made it with cache disabled to rewrite it"
        )


class MetricsError(PipelineError):
    """A metrics file cannot be read or does not parse; ``path`` names it (``REV:PATH`` at a revision) and
    ``line`` is where parsing stopped, when known."""

    def __init__(self, message: str, *, path: str, line: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or "fix the stage that writes it, then run 'art repro'")
        self.path = path
        self.line = line


class UnknownStageError(PipelineError):
    def __init__(self, name: str, known: list[str]) -> None:
        shown = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "")
        super().__init__(
            f"no stage named {name!r} in art.toml",
            hint=f"stages: {shown}" if known else "art.toml defines no stages yet",
        )
        self.name = name


class StageFailedError(PipelineError):
    """A stage's command exited non-zero (or could not start), or succeeded without writing all its outs; its
    outputs and lock entry were left as they were."""

    exit_code = 5

    def __init__(
        self,
        stage: str,
        returncode: int,
        *,
        stderr_tail: list[str] | None = None,
        failed: list[str] | None = None,
        missing: list[str] | None = None,
    ) -> None:
        others = [s for s in (failed or []) if s != stage]
        more = f" (and {len(others)} more: {', '.join(others)})" if others else ""
        kept = "its previous outputs and art.lock entry were kept"
        if returncode == 0 and missing:
            message = f"stage {stage}'s command succeeded (exit status 0) but did not write {', '.join(missing)}{more}"
            hint = f"make the command write every path in its outs (or drop it from outs in art.toml); {kept}"
        else:
            message = f"stage {stage} failed with exit status {returncode}{more}"
            hint = f"{kept}; fix it and run 'art repro' again"
        super().__init__(message, hint=hint)
        self.missing = missing or []
        self.stage = stage
        self.returncode = returncode
        self.stderr_tail = stderr_tail or []
        self.failed = failed or [stage]
        self.result: ReproResult | None = None  # set by repro(): every stage's outcome


class FlowError(PipelineError):
    """A Python pipeline or step is misused: a parameter that is not JSON, a step output used as a value, a
    handle from another pipeline run, a nested pipeline, an output count that does not match the annotation."""


class PipelineParamError(UsageError, PipelineError):
    """A pipeline was given a parameter it does not take (or lacks one it needs): exit 2 like a usage error."""


class StepFailedError(PipelineError):
    """A step of a Python pipeline raised: its run is recorded failed (with the traceback), the steps after it
    were skipped, the outputs of earlier steps are kept. ``run`` is the pipeline run (``flow.PipelineRun``)."""

    exit_code = 5

    def __init__(self, step: str, error: str, run: object = None, *, failed: list[str] | None = None) -> None:
        others = [s for s in (failed or []) if s != step]
        more = f" (and {len(others)} more: {', '.join(others)})" if others else ""
        super().__init__(
            f"step {step} failed: {error}{more}",
            hint="the outputs of the steps before it are kept; fix it and run the pipeline again (cached steps "
            "are not run again)",
        )
        self.step = step
        self.error = error
        self.run = run
