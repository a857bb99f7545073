"""Writing the run records of Python pipelines (and the pipeline-run record of ``art repro``): the same lineage
objects ``repro`` writes (``objstore/lineage.py``; fields in docs/formats.md), with the facts shared by every
record of one invocation (git state, machine, installed packages) computed once."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ...objstore.faults import fault_point
from ...objstore.hashing import hash_bytes
from ...objstore.lineage import Run
from ...objstore.objects import Kind
from ...objstore.oid import Oid
from ...workspace.repo import Repo
from ...workspace.runs import record_run

COMMIT_WAIT = 600.0  # seconds a finished step waits for the repository lock to store its outputs
MAX_ERROR = 64 << 10  # characters of a traceback kept in a run record


class Provenance:
    """Git commit and dirtiness as they were when the run started; machine facts and the package list once."""

    def __init__(self, repo: Repo) -> None:
        from ...workspace.provenance import git_facts

        self.git: dict[str, Any] = git_facts(repo.git)
        self._env: dict[str, Any] | None = None
        self._cache = repo.art_dir / "cache"
        self._packages: bytes = b""

    @staticmethod
    def iso(epoch: float) -> str:
        return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def fields(self) -> dict[str, Any]:
        if self._env is None:
            from ...workspace.provenance import environment, installed_packages

            self._packages = installed_packages(self._cache).encode()
            self._env = {
                "git": self.git,
                **environment(),
                "pid": os.getpid(),
                "packages": str(hash_bytes(self._packages)),
            }
        return dict(self._env)

    def packages(self) -> tuple[str, bytes]:
        self.fields()
        return str(hash_bytes(self._packages)), self._packages


def write_run(
    repo: Repo,
    prov: Provenance,
    fields: dict[str, Any],
    outputs: Callable[[Any], list] | None = None,
    *,
    env: dict[str, Any] | None = None,
) -> str:
    """Store a run record built from ``fields`` plus the provenance facts, index it; return its id. The caller
    holds the repository lock.

    ``outputs(writer)``, when given, stores the run's outputs first through the same writer (one pack for the
    outputs and their record) and returns the record's ``outputs``. The index learns the run only once that
    pack is sealed. ``env`` overrides machine facts (a step that ran on a distributed worker: its user, host,
    pid, ...).
    """
    packages_oid, packages = prov.packages()
    with repo.store.writer() as writer:
        if outputs is not None:
            fields = {**fields, "outputs": outputs(writer)}
        run = Run({**fields, **prov.fields(), **(env or {})})
        writer.put(Oid(packages_oid), Kind.CHUNK, packages)
        writer.put(run.oid, Kind.RUN, run.to_bytes())
    fault_point("flow.run-stored")
    record_run(repo, run)
    return str(run.oid)


# set by ``art exp run`` for the ``art repro`` it starts in an experiment's worktree: the experiment's name
EXPERIMENT_ENV = "ART_EXPERIMENT"
REPRO_STATUS = {"ran": "executed", "cached": "cached", "up-to-date": "cached", "failed": "failed"}


def record_repro(
    repo: Repo,
    stages: list[tuple[str, str | None, str]],
    *,
    started: float,
    duration: float,
    after: dict[str, list[str]] | None = None,
    experiment: str | None = None,
    failed: dict[str, dict[str, Any]] | None = None,
) -> str:
    """Write the pipeline-run record of one ``art repro``: pipeline ``art.toml``, and per stage (in the graph's
    order) its run, what happened (``status``: executed, cached: restored, or already up to date; failed,
    skipped; ``outcome``: repro's own word, ran, cached, up-to-date, failed, not-run) and the stages it comes
    after (``after``: the graph's edges). ``experiment``: the ``art exp run`` it ran for; ``failed``: per failed
    stage (which writes no run record of its own) its ``exit_status`` and output tails, kept in its entry."""
    any_failed = any(s == "failed" for _, _, s in stages)
    after = after or {}
    fields: dict[str, Any] = {
        "kind": "pipeline",
        "pipeline": "art.toml",
        "call": "art repro",
        "params": {},
        "steps": [
            {
                "stage": name,
                "run": run,
                "status": REPRO_STATUS.get(status, "skipped"),
                "outcome": status,
                "after": sorted(after.get(name, ())),
                **(failed or {}).get(name, {}),
            }
            for name, run, status in stages
        ],
        "exit_status": 5 if any_failed else 0,
        "started": Provenance.iso(started),
        "duration": round(duration, 3),
        **({"experiment": experiment} if experiment else {}),
    }
    with repo.lock:
        return write_run(repo, Provenance(repo), fields)
