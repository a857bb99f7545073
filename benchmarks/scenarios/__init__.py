"""The benchmark scenarios, grouped by the prepared repository they share, in the order they run."""

from __future__ import annotations

from . import experiments, files, pipeline

GROUPS = (*files.GROUPS, pipeline.GROUP, experiments.GROUP)
ALL_KEYS = [step.key for group in GROUPS for step in group.steps]
