"""Is a stage stale, and why: compare what it would consume now with its ``art.lock`` entry (docs/design.md, section 5).

A stage is stale when it has no lock entry, or its code hash, a dep id, a param value, or an out (missing or
modified) differs from the lock. Staleness propagates downstream. Ids come from the stat cache, so an
unchanged file is never re-read.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..workspace.repo import Repo
from ..workspace.status import current_oid
from .dag import Graph
from .fingerprint import code_facts, run_key
from .params import ParamsReader, normalize
from .spec import Pipeline, Stage


class Freshness(StrEnum):
    """Whether a stage would run (``state`` in ``art status``'s pipeline part and ``art repro --dry-run``)."""

    UP_TO_DATE = "up-to-date"
    STALE = "stale"


UP_TO_DATE, STALE = Freshness


@dataclass(frozen=True, slots=True)
class Facts:
    """What a stage would consume if it ran now."""

    code_hash: str
    code: dict[str, str]
    params: dict[str, Any]
    deps: dict[str, tuple[str | None, str | None]]  # path -> (kind, id); (None, None) when missing

    @property
    def dep_ids(self) -> dict[str, str]:
        return {p: i or "missing" for p, (_, i) in self.deps.items()}

    @property
    def run_key(self) -> str:
        return run_key(self.code_hash, self.params, self.dep_ids)


@dataclass(slots=True)
class StageState:
    """A stage's verdict: ``reasons`` is empty when it is up to date."""

    name: str
    reasons: list[str] = field(default_factory=list)
    own: bool = False  # stale by its own inputs (not only because an upstream stage is)

    @property
    def stale(self) -> bool:
        return bool(self.reasons)

    @property
    def state(self) -> Freshness:
        return STALE if self.reasons else UP_TO_DATE

    def as_dict(self) -> dict:
        return {"name": self.name, "state": self.state, "reasons": list(self.reasons)}


class Context:
    """The workspace as the pipeline sees it: current ids of paths (memoised) and params values."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.root: Path = repo.root
        self.params = ParamsReader(repo.root)
        self._ids: dict[str, tuple[str | None, str | None]] = {}

    def path_id(self, path: str) -> tuple[str | None, str | None]:
        """Return (kind, id) of what is at ``path`` now, or (None, None)."""
        known = self._ids.get(path)
        if known is None:
            try:
                st = os.stat(self.root / path)
            except (FileNotFoundError, NotADirectoryError):
                known = (None, None)
            else:
                kind = "dir" if stat.S_ISDIR(st.st_mode) else "file"
                oid = current_oid(self.repo, path, kind)
                known = (kind, str(oid)) if oid is not None else (None, None)
            self._ids[path] = known
        return known

    def file_id(self, path: str) -> str | None:
        return self.path_id(path)[1]

    def remember(self, path: str, kind: str | None, oid: str | None) -> None:
        self._ids[path] = (kind, oid)

    def forget(self, paths) -> None:
        for p in paths:
            self._ids.pop(p, None)
            prefix = p + "/"
            for k in [k for k in self._ids if k.startswith(prefix)]:
                del self._ids[k]

    def facts(self, stage: Stage) -> Facts:
        """Compute what ``stage`` would consume now.

        Raises:
            ParamsError: when a listed param cannot be read.
            SpecError: when a call stage's function cannot be found.
        """
        code_hash, code = code_facts(stage, self.root, self.file_id)
        refs = [self.params.resolve(ref, stage=stage.name) for ref in stage.params]  # a bare key: its file
        params = {str(ref): normalize(self.params.value(ref, stage=stage.name)) for ref in refs}
        deps = {d: self.path_id(d) for d in stage.deps}
        return Facts(code_hash, code, params, deps)


def own_reasons(stage: Stage, facts: Facts, entry: dict | None, ctx: Context) -> list[str]:
    """Why ``stage`` differs from its lock ``entry`` (empty when it does not)."""
    if entry is None:
        return ["never run (no art.lock entry)"]
    reasons = _code_reasons(stage, facts, entry)
    old_deps = {d.get("path"): d.get("id") for d in entry.get("deps", [])}
    for path, (_, oid) in facts.deps.items():
        if oid is None:
            reasons.append(f"dep missing: {path}")
        elif path not in old_deps:
            reasons.append(f"dep added: {path}")
        elif old_deps[path] != oid:
            reasons.append(f"dep changed: {path}")
    reasons += [f"dep removed: {p}" for p in old_deps if p not in facts.deps]
    old_params = entry.get("params", {})
    for key, value in facts.params.items():
        if key not in old_params:
            reasons.append(f"param added: {key}")
        elif old_params[key] != value:
            reasons.append(f"param changed: {key}")
    reasons += [f"param removed: {k}" for k in old_params if k not in facts.params]
    reasons += _out_reasons(stage, entry, ctx)
    return reasons


def _code_reasons(stage: Stage, facts: Facts, entry: dict) -> list[str]:
    if entry.get("code_hash") == facts.code_hash:
        return []
    reasons = []
    if entry.get("cmd") != stage.cmd or entry.get("call") != stage.call:
        reasons.append("command changed")
    old = entry.get("code", {})
    reasons += [f"code changed: {p}" for p, oid in facts.code.items() if old.get(p) != oid]
    reasons += [f"code no longer hashed: {p}" for p in old if p not in facts.code]
    return reasons or ["code changed"]


def _out_reasons(stage: Stage, entry: dict, ctx: Context) -> list[str]:
    old = {o.get("path"): o for o in entry.get("outs", [])}
    reasons = []
    for out in stage.outs:
        rec = old.get(out)
        if rec is None:
            reasons.append(f"out added: {out}")
            continue
        kind, oid = ctx.path_id(out)
        if oid is None:
            reasons.append(f"out missing: {out}")
        elif kind != rec.get("kind") or oid != rec.get("id"):
            reasons.append(f"out modified: {out}")
    reasons += [f"out removed: {p}" for p in old if p not in stage.outs]
    return reasons


def evaluate(ctx: Context, pipeline: Pipeline, graph: Graph, lock: dict[str, Any]) -> dict[str, StageState]:
    """Return every stage's state, in topological order, with staleness propagated downstream."""
    states: dict[str, StageState] = {}
    for name in graph.order:
        stage = pipeline.stages[name]
        own = own_reasons(stage, ctx.facts(stage), lock.get(name), ctx)
        ups = sorted(u for u in graph.upstream[name] if states[u].stale)
        states[name] = StageState(name, own + [f"upstream stage {u} is stale" for u in ups], own=bool(own))
    return states


def stage_states(repo: Repo) -> list[StageState]:
    """The state of every stage of ``art.toml`` (empty without one), for ``art status``.

    Raises:
        SpecError: when ``art.toml`` is invalid.
    """
    from ..workspace.lockfile import read_lock
    from .spec import load

    pipeline = load(repo.root)
    if pipeline is None:
        return []
    states = evaluate(Context(repo), pipeline, Graph(pipeline.stages), read_lock(repo.root))
    repo.state.flush()
    return list(states.values())
