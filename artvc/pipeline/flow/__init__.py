"""Python pipelines: ``@step`` and ``@pipeline`` functions whose inputs and outputs are versioned artifacts in
the repository's store, cached by run key (docs/python-pipelines.md, "Reference")."""

from .api import Pipeline, Step, pipeline, step
from .artifacts import load
from .result import ArtifactRef, PipelineRun, StepResult
from .stepcall import log_metadata

__all__ = ["ArtifactRef", "Pipeline", "PipelineRun", "Step", "StepResult", "load", "log_metadata", "pipeline", "step"]
