"""``art exp show`` and ``art exp diff``: experiments × params × metrics, the baseline (HEAD) first."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..workspace.repo import Repo
from .exp_metrics import values_at
from .exps import Experiment, experiments, get, git_of
from .metrics import ValueChange, diff_values

BASELINE = "baseline"


@dataclass(frozen=True, slots=True)
class ExpRow:
    """One row: an experiment, or the baseline (``commit`` = HEAD, ``state`` None)."""

    name: str
    commit: str
    state: str | None
    params: dict[str, Any]  # "FILE:KEY" -> value
    metrics: dict[str, Any]  # "FILE:KEY" -> value
    created: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "commit": self.commit,
            "state": self.state,
            "params": rows_of(self.params),
            "metrics": rows_of(self.metrics),
            "created_at": self.created,
        }


def rows_of(values: dict[str, Any]) -> list[dict[str, Any]]:
    """``FILE:KEY`` -> value as JSON rows ``{"path", "key", "value"}`` (user keys are never JSON keys)."""
    return [{"path": c.split(":", 1)[0], "key": c.split(":", 1)[1], "value": v} for c, v in values.items()]


@dataclass(frozen=True, slots=True)
class ExpTable:
    rows: list[ExpRow]
    param_columns: list[str]
    metric_columns: list[str]


def _flat(tables: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {f"{file}:{key}": v for file, values in tables.items() for key, v in values.items()}


def baseline_row(repo: Repo) -> ExpRow:
    """The baseline: HEAD's params and the metrics its ``art.lock`` records."""
    head = git_of(repo).head_commit() or ""
    params, metrics = values_at(repo, head)
    return ExpRow(BASELINE, head, None, _flat(params), _flat(metrics), commit_time(repo, head))


def commit_time(repo: Repo, commit: str) -> str:
    """A commit's time, ISO 8601 UTC."""
    from datetime import UTC, datetime

    when = git_of(repo).resolve(commit).commit_time
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def row_of(exp: Experiment) -> ExpRow:
    params = _flat(exp.params) if exp.params else dict(exp.overrides)  # a queued one: what it will set
    return ExpRow(exp.name, exp.commit, str(exp.state), params, _flat(exp.metrics), exp.created)


def exp_show(
    repo: Repo, *, sort_by: str | None = None, descending: bool = False, only_changed: bool = False
) -> ExpTable:
    """The table of the baseline and every experiment (queued ones too), sorted by ``sort_by`` (a param or
    metric column, ``FILE:KEY`` or just ``KEY`` when one column ends so; rows without it go last).

    Raises:
        UsageError: when ``sort_by`` names no column, or several.
    """
    rows = [row_of(e) for e in experiments(repo)]
    base = baseline_row(repo)
    params = _columns([base, *rows], "params")
    metrics = _columns([base, *rows], "metrics")
    if sort_by:
        column = _column(sort_by, params + metrics)
        kind = "params" if column in params else "metrics"
        present = [r for r in rows if _number_or_text(getattr(r, kind).get(column)) is not None]
        absent = [r for r in rows if r not in present]
        present.sort(key=lambda r: _number_or_text(getattr(r, kind)[column]), reverse=descending)  # type: ignore[arg-type,return-value]
        rows = present + absent
    if only_changed:
        everyone = [base, *rows]
        params = [c for c in params if len({repr(r.params.get(c)) for r in everyone}) > 1]
        metrics = [c for c in metrics if len({repr(r.metrics.get(c)) for r in everyone}) > 1]
    return ExpTable([base, *rows], params, metrics)


def _columns(rows: list[ExpRow], kind: str) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows:
        seen.update(dict.fromkeys(getattr(r, kind)))
    return list(seen)


def _column(name: str, columns: list[str]) -> str:
    if name in columns:
        return name
    found = [c for c in columns if c.split(":", 1)[1] == name]
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(f"--sort-by {name}: no param or metric of that name", hint=f"columns: {', '.join(columns)}")
    raise UsageError(f"--sort-by {name} is ambiguous: {', '.join(found)}", hint="name it as FILE:KEY")


def _number_or_text(value: Any) -> tuple[int, Any] | None:
    """Sort numbers before text; NaN and missing values are None (sorted last)."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else (0, value)
    if value is None or isinstance(value, dict | list):
        return None
    return (1, str(value))


@dataclass(frozen=True, slots=True)
class ExpDiff:
    params: list[ValueChange]
    metrics: list[ValueChange]


def exp_diff(repo: Repo, a: str, b: str, *, all_rows: bool = False) -> ExpDiff:
    """The params and metrics that differ between experiments ``a`` and ``b`` (``baseline``: HEAD).

    Raises:
        UnknownExperimentError: for an unknown name.
    """
    rows = [baseline_row(repo) if n == BASELINE else row_of(get(repo, n)) for n in (a, b)]
    return ExpDiff(
        diff_values(_tables(rows[0].params), _tables(rows[1].params), include_unchanged=all_rows),
        diff_values(_tables(rows[0].metrics), _tables(rows[1].metrics), include_unchanged=all_rows),
    )


def _tables(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for column, v in values.items():
        path, _, key = column.partition(":")
        out.setdefault(path, {})[key] = v
    return out
