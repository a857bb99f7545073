"""Experiments as git refs: ``refs/exps/NAME`` (run, done or failed) and ``refs/exps-queue/NAME`` (queued).

Each ref points to a commit whose parent is the baseline (the HEAD the experiment started from) and whose tree
is the workspace's git-tracked files with the experiment's params and, once run, the resulting ``art.lock``
and ``.gitignore`` files. The commit message is one summary line, a blank line, and a JSON object (the
metadata: state, params, metrics, stage outcomes; docs/experiments.md, "Format"). Decoding never trusts it:
the size is bounded and every field is checked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ..errors import ArtError, GitError, UsageError
from ..workspace.repo import Repo

EXPS = "refs/exps/"
QUEUE = "refs/exps-queue/"
MAX_MESSAGE = 1 << 20  # bytes of metadata art reads from a commit message
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class ExpState(StrEnum):
    """Where an experiment is: waiting in the queue, recorded after a successful run, or after a failure."""

    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


class UnknownExperimentError(ArtError):
    """No experiment (or queued experiment) of that name."""


@dataclass(frozen=True, slots=True)
class Experiment:
    """One experiment, decoded from its ref and commit message.

    ``overrides``: the ``-S`` values, ``FILE:KEY`` -> value; ``params`` and ``metrics``: file -> flattened
    dotted key -> value; ``stages``: stage -> its state in the experiment's repro (``ran``, ``cached``,
    ``up-to-date``, ``failed``, ``not-run``); ``runs``: stage -> run id.
    """

    name: str
    commit: str
    baseline: str
    state: ExpState
    overrides: dict[str, Any] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    created: str = ""
    message: str = ""
    log: list[str] = field(default_factory=list)  # a failed one: the last lines of the failed stage's stderr
    position: int = 0  # its place in the grid it was queued with (experiments of one grid share ``created``)

    @property
    def ref(self) -> str:
        return (QUEUE if self.state == ExpState.QUEUED else EXPS) + self.name

    def executed(self) -> list[str]:
        """The stages this experiment's repro ran (not restored from the run cache)."""
        return [s for s, state in self.stages.items() if state == "ran"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "commit": self.commit,
            "baseline": self.baseline,
            "state": str(self.state),
            "overrides": [_row(label, v) for label, v in self.overrides.items()],
            "params": [{"path": f, "key": k, "value": v} for f, kv in self.params.items() for k, v in kv.items()],
            "metrics": [{"path": f, "key": k, "value": v} for f, kv in self.metrics.items() for k, v in kv.items()],
            "stages": [{"name": s, "state": state, "run_oid": self.runs.get(s)} for s, state in self.stages.items()],
            "created_at": self.created,
            "message": self.message,
            "log": self.log,
        }

    def metadata(self) -> dict[str, Any]:
        return {
            "art_experiment": 1,
            "name": self.name,
            "baseline": self.baseline,
            "state": str(self.state),
            "overrides": self.overrides,
            "params": self.params,
            "metrics": self.metrics,
            "stages": self.stages,
            "runs": self.runs,
            "created_at": self.created,
            "message": self.message,
            "log": self.log,
            "position": self.position,
        }


def _row(label: str, value: Any) -> dict[str, Any]:
    path, _, key = label.partition(":")
    return {"path": path, "key": key, "value": value}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_name(name: str) -> str:
    """Return ``name`` when it can name an experiment (a git ref component art accepts).

    Raises:
        UsageError: otherwise.
    """
    if not _NAME.fullmatch(name) or name.endswith((".lock", ".")) or ".." in name:
        raise UsageError(
            f"invalid experiment name {name!r}",
            hint="use letters, digits, '_', '-' and '.', starting with a letter or digit (up to 100 characters)",
        )
    return name


def encode(exp: Experiment) -> str:
    """The commit message recording ``exp``: a summary line, a blank line, the JSON metadata."""
    shown = ", ".join(f"{k}={v}" for k, v in exp.overrides.items())
    return f"art exp {exp.name}: {exp.state}{f' ({shown})' if shown else ''}\n\n" + json.dumps(
        exp.metadata(), sort_keys=True, indent=1, default=str
    )


def decode(name: str, commit: str, message: str) -> Experiment:
    """Decode the metadata in an experiment commit's message.

    Raises:
        ArtError: when it is not an art experiment or a field has the wrong type.
    """
    where = f"experiment {name} (commit {commit[:10]})"
    if len(message.encode()) > MAX_MESSAGE:
        raise ArtError(f"{where}: its metadata is larger than {MAX_MESSAGE} bytes")
    _, _, body = message.partition("\n\n")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ArtError(f"{where}: the commit message holds no experiment metadata ({exc})") from exc
    if not isinstance(data, dict) or data.get("art_experiment") != 1:
        raise ArtError(f"{where}: the commit message holds no experiment metadata")
    try:
        return Experiment(
            name=name,
            commit=commit,
            baseline=_typed(data, "baseline", str),
            state=ExpState(_typed(data, "state", str)),
            overrides=_typed(data, "overrides", dict),
            params=_tables(_typed(data, "params", dict)),
            metrics=_tables(_typed(data, "metrics", dict)),
            stages={str(k): str(v) for k, v in _typed(data, "stages", dict).items()},
            runs={str(k): str(v) for k, v in _typed(data, "runs", dict).items()},
            created=_typed(data, "created_at", str),
            message=_typed(data, "message", str),
            position=_typed(data, "position", int),
            log=[str(line) for line in _typed(data, "log", list)],
        )
    except (TypeError, ValueError) as exc:
        raise ArtError(f"{where}: malformed metadata: {exc}") from exc


def _typed(data: dict, key: str, kind: type) -> Any:
    value = data.get(key, kind())
    if not isinstance(value, kind):
        raise TypeError(f"{key} is not a {kind.__name__}")
    return value


def _tables(value: dict) -> dict[str, dict[str, Any]]:
    if not all(isinstance(v, dict) for v in value.values()):
        raise TypeError("a params or metrics entry is not a table")
    return {str(k): dict(v) for k, v in value.items()}


def git_of(repo: Repo):
    """The git work tree around the workspace.

    Raises:
        GitError: when there is none, or HEAD has no commit yet.
    """
    git = repo.git
    if git is None:
        raise GitError("experiments need a git repository", hint="run 'git init' and commit your pipeline")
    if git.head_commit() is None:
        raise GitError("experiments start from a commit: HEAD has none yet", hint="commit your pipeline first")
    return git


def experiments(repo: Repo, *, queued: bool = True) -> list[Experiment]:
    """Every recorded experiment (and queued one), oldest first; unreadable refs are skipped."""
    found = _decoded(repo, (EXPS, QUEUE) if queued else (EXPS,))
    recorded = {e.name for e in found if e.state != ExpState.QUEUED}
    found = [e for e in found if e.state != ExpState.QUEUED or e.name not in recorded]
    return sorted(found, key=_order)


def _order(exp: Experiment) -> tuple[str, int, str]:
    return (exp.created, exp.position, exp.name)


def queue(repo: Repo) -> list[Experiment]:
    """Every queued experiment, oldest first (also one a killed run recorded but did not dequeue)."""
    return sorted(_decoded(repo, (QUEUE,)), key=_order)


def _decoded(repo: Repo, prefixes: tuple[str, ...]) -> list[Experiment]:
    git = git_of(repo)
    found: list[Experiment] = []
    for prefix in prefixes:
        for ref, commit in git.refs_under(prefix).items():
            try:
                found.append(decode(ref[len(prefix) :], commit, git.message(commit)))
            except ArtError:
                continue
    return found


def get(repo: Repo, name: str) -> Experiment:
    """Return the experiment ``name`` (recorded or queued).

    Raises:
        UnknownExperimentError: when there is none.
    """
    for exp in experiments(repo):
        if exp.name == name:
            return exp
    known = [e.name for e in experiments(repo)]
    raise UnknownExperimentError(
        f"no experiment named {name!r}",
        hint=f"experiments: {', '.join(known[:10])}{' ...' if len(known) > 10 else ''}"
        if known
        else "run one: art exp run -S stage.key=value",
    )


def taken(repo: Repo) -> set[str]:
    """The names of every experiment, recorded or queued."""
    git = git_of(repo)
    return {ref.split("/", 2)[2] for ref in git.refs_under("refs/exps")}
