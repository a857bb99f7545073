"""Which stages ``art repro`` will consider, in which order, and why: a pure function of the graph and states."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .dag import Graph
from .errors import UnknownStageError
from .staleness import StageState


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One stage to bring up to date; ``forced`` when it runs although nothing changed (``--force``)."""

    name: str
    reasons: tuple[str, ...]
    forced: bool = False
    own: bool = True  # stale by its own inputs; False when only an upstream stage is

    def as_dict(self) -> dict:
        return {"name": self.name, "reasons": list(self.reasons), "forced": self.forced}


def select(graph: Graph, targets: Sequence[str], *, downstream: bool = False) -> set[str]:
    """The stages a repro of ``targets`` covers: all without targets; else the targets with their upstream
    stages (or, with ``downstream``, with the stages that depend on them).

    Raises:
        UnknownStageError: for a target that is not a stage.
    """
    for t in targets:
        if t not in graph.stages:
            raise UnknownStageError(t, list(graph.stages))
    if not targets:
        return set(graph.stages)
    extra = graph.descendants(targets) if downstream else graph.ancestors(targets)
    return set(targets) | extra


def plan(
    graph: Graph,
    states: Mapping[str, StageState],
    *,
    targets: Sequence[str] = (),
    downstream: bool = False,
    force: bool = False,
) -> list[PlanItem]:
    """Return the stages to bring up to date, in topological order.

    A stage is in the plan when it is selected and stale (by itself or through an upstream stage), or when
    ``force`` is set and it is a target (every selected stage when there are no targets).

    Raises:
        UnknownStageError: for a target that is not a stage.
    """
    chosen = select(graph, targets, downstream=downstream)
    forced = (set(targets) if targets else chosen) if force else set()
    items = []
    for name in graph.order:
        if name not in chosen:
            continue
        state = states[name]
        if state.stale or name in forced:
            reasons = tuple(state.reasons) or ("forced (--force)",)
            items.append(PlanItem(name, reasons, forced=name in forced, own=state.own or name in forced))
    return items
