"""The run record of a pipeline stage, built the same way wherever the stage ran: by ``art repro`` on this
machine (``executor.py``) or by a worker of a distributed executor (``executors/worker.py``).

The fields are documented in docs/formats.md (``objstore/lineage.py`` decodes them); machine facts (user,
host, pid, platform, python, art, packages) are those of the process that ran the stage.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..objstore.hashing import hash_bytes
from ..objstore.lineage import Run
from ..objstore.objects import Kind


def started_iso(epoch: float) -> str:
    """A start time as run records write it (UTC, milliseconds, ``Z``)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def provenance(cache_dir: Path | None, git: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The machine and git facts every run of this process records, and the package list's bytes (to be
    stored as a chunk under ``fields["packages"]``)."""
    from ..workspace.provenance import environment, installed_packages

    packages = installed_packages(cache_dir).encode()
    facts = {
        "git": {"commit": git.get("commit"), "dirty": git.get("dirty"), "branch": git.get("branch")},
        **environment(),
        "pid": os.getpid(),
        "packages": str(hash_bytes(packages)),
    }
    return facts, packages


def store_packages(writer, packages: bytes) -> None:
    """Store the package list a run record names (a chunk, deduplicated by the writer)."""
    writer.put(hash_bytes(packages), Kind.CHUNK, packages)


def stage_run(
    *,
    stage: str,
    cmd: str | None,
    call: str | None,
    code_hash: str,
    code: dict[str, str],
    params: dict[str, Any],
    inputs: list[dict[str, Any]],
    outs: list[dict[str, Any]],
    run_key: str,
    returncode: int,
    started: float,
    duration: float,
    facts: dict[str, Any],
    tails: dict[str, list[str]] | None = None,
) -> Run:
    """The run record of one stage execution.

    ``inputs``: [{path, oid, kind, run}] (``run`` = the run that produced the dep, or None); ``outs``: the
    art.lock form [{path, id, kind, size, files}]; ``facts``: from ``provenance``; ``tails``: the bounded
    ``stdout_tail`` / ``stderr_tail`` (runner.bounded_tail).
    """
    return Run(
        {
            "kind": "stage",
            "stage": stage,
            "cmd": cmd or "",
            "call": call or "",
            "code_hash": code_hash,
            "code": code,
            "params": params,
            "inputs": inputs,
            "outputs": [
                {"path": o["path"], "oid": o["id"], "kind": o["kind"], "size": o["size"], "files": o["files"]}
                for o in outs
            ],
            "run_key": run_key,
            "exit_status": returncode,
            **(tails or {}),
            "started": started_iso(started),
            "duration": round(duration, 3),
            **facts,
        }
    )


def lock_outs(run: Run) -> list[dict[str, Any]]:
    """A run's outputs in art.lock's form."""
    return [
        {"path": o["path"], "id": o["oid"], "kind": o["kind"], "size": o["size"], "files": o.get("files", 1)}
        for o in run["outputs"]
    ]
