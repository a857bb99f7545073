"""Artifact versions: a view over the outputs of step runs. Per artifact name (``PIPELINE/STEP/OUTPUT``), the
distinct ids are numbered 1..N by the first run that produced each (by start time, ties by run id). The index
is in ``state.db`` and rebuilt from the run objects in the store (``workspace/runs.py``), so pulled runs count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import ArtError, UsageError
from ...objstore.lineage import Run
from ...workspace.repo import Repo
from ...workspace.runs import load_run
from .result import ArtifactRef
from .store_io import load_from


class ArtifactNotFoundError(UsageError):
    """No step run made an artifact of that name, or not that version."""

    exit_code = 1


@dataclass(slots=True)
class Version:
    """One version of an artifact: its number, the stored output, the run that first made it (and the others
    that made it again), and that run's record."""

    number: int
    ref: ArtifactRef
    runs: list[str]
    record: Run | None

    def as_dict(self) -> dict[str, Any]:
        rec = self.record
        out = {"version": self.number, **self.ref.as_dict()}
        out.pop("name")
        out.update(
            {
                "started": rec.get("started") if rec else None,
                "runs": len(self.runs),
                "metadata": rec.get("metadata") or {} if rec else {},
                "inputs": [
                    {"name": i.get("path"), "oid": i.get("oid"), "run_oid": i.get("run")}
                    for i in (rec.get("inputs", []) if rec else [])
                ],
                "git": rec.get("git") if rec else None,
            }
        )
        return out


def names(repo: Repo) -> list[tuple[str, int, str]]:
    """Every artifact name with its number of versions and the start time of its newest run."""
    return repo.state.artifact_names()


def versions(repo: Repo, name: str) -> list[Version]:
    """The versions of ``name``, oldest first.

    Raises:
        ArtifactNotFoundError: when no step run made it.
    """
    found = repo.state.artifact_versions(name)
    if not found:
        known = [n for n, _, _ in names(repo)]
        close = [n for n in known if n.rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1] or name in n][:5]
        raise ArtifactNotFoundError(
            f"no artifact named {name!r}",
            hint=f"did you mean: {', '.join(close)}" if close else "list them with 'art artifacts'",
        )
    out = []
    for number, (oid, runs) in enumerate(found, 1):
        record, ref = None, None
        for run_oid in runs:
            try:
                record = load_run(repo, run_oid)
            except ArtError:
                continue
            o = next((o for o in record.get("outputs", []) if o.get("path") == name and o.get("oid") == oid), None)
            if o is not None:
                ref = ArtifactRef.from_record(o, run_oid, repo.root)
                break
        if ref is None:
            ref = ArtifactRef(name, oid, "dir", 0, "", 1, "", "", runs[0], repo.root)
        out.append(Version(number, ref, runs, record))
    return out


def find_version(repo: Repo, name: str, number: int | None = None) -> Version:
    """Version ``number`` of ``name`` (the newest when None).

    Raises:
        ArtifactNotFoundError: for an unknown name or version.
    """
    all_versions = versions(repo, name)
    if number is None:
        return all_versions[-1]
    if not 1 <= number <= len(all_versions):
        raise ArtifactNotFoundError(
            f"artifact {name} has no version {number}", hint=f"its versions are 1 to {len(all_versions)}"
        )
    return all_versions[number - 1]


def load(name: str, version: int | None = None, *, root: Any = None) -> Any:
    """Load version ``version`` (default: the newest) of artifact ``name`` (``PIPELINE/STEP/OUTPUT``) from the
    repository found from the current directory (or ``root``).

    Raises:
        NotARepoError: outside an art repository.
        ArtifactNotFoundError: for an unknown name or version.
        ObjectNotFoundError: when the version's data is not in the local store (``art pull`` it).
    """
    with Repo.find(root) as repo:
        return load_from(repo, find_version(repo, name, version).ref)
