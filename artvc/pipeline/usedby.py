"""Forward lineage (``art lineage --used-by PATH``): every recorded run that consumed a version of a path, the
outputs those runs made, the runs that consumed those outputs, and so on down to the final outputs.

The edges come from the run index in ``state.db`` (``workspace/runs.py``): the first step matches input paths
(the path itself, a file inside it, or a folder holding it, whatever its version), every later step follows
the producing run that each consumer recorded for its input, so only the versions actually made are followed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import ArtError, PathNotTrackedError
from ..objstore.lineage import Run
from ..workspace.lockfile import read_lock
from ..workspace.paths import to_repo_path
from ..workspace.pointers import SUFFIX, read_pointer
from ..workspace.repo import Repo
from ..workspace.runs import ensure_indexed, load_run
from .lineage import summarize


@dataclass(slots=True)
class OutputNode:
    """One output of a consuming run, with the runs that consumed it."""

    path: str
    oid: str
    kind: str
    size: int | None
    current: bool  # this version is the one art.lock (or the PATH.art pointer) names now
    used_by: list[RunNode] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "oid": self.oid,
            "kind": self.kind,
            "size": self.size,
            "current": self.current,
            "used_by": [r.as_dict() for r in self.used_by],
        }


@dataclass(slots=True)
class RunNode:
    """A run that consumed its parent (``read``: the paths and versions it read of it), and its outputs."""

    run: Run
    read: list[tuple[str, str | None]]
    outputs: list[OutputNode] = field(default_factory=list)
    seen: bool = False  # shown higher up already: its outputs are not repeated

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": summarize(self.run),
            "read": [{"path": p, "oid": o} for p, o in self.read],
            "seen": self.seen,
            "outputs": [o.as_dict() for o in self.outputs],
        }


@dataclass(slots=True)
class UsedBy:
    """The forward lineage of ``path``: the runs that consumed one of its versions."""

    path: str
    used_by: list[RunNode]

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "used_by": [r.as_dict() for r in self.used_by]}

    def runs(self) -> list[RunNode]:
        """Every run node, depth first (repeats marked ``seen``)."""
        out: list[RunNode] = []
        stack = list(reversed(self.used_by))
        while stack:
            node = stack.pop()
            out.append(node)
            stack += [r for o in reversed(node.outputs) for r in reversed(o.used_by)]
        return out


def used_by(repo: Repo, user_path: str, *, max_depth: int = 50) -> UsedBy:
    """Return the runs that consumed any version of ``user_path`` and, transitively, their outputs' consumers.

    Raises:
        PathNotTrackedError: when no recorded run read the path and it is not in the workspace either.
    """
    path = to_repo_path(repo.root, user_path)
    path = path[: -len(SUFFIX)] if path.endswith(SUFFIX) else path
    ensure_indexed(repo)
    rows = repo.state.runs_consuming_path(path)
    if not rows and not (os.path.lexists(repo.abspath(path)) or repo.abspath(path + SUFFIX).is_file()):
        raise PathNotTrackedError(
            f"{path} does not exist and no recorded run read it",
            path=path,
            hint="give a path that a stage lists in deps, code or params (or an added artifact)",
        )
    walk = _Walk(repo, max_depth)
    return UsedBy(path, walk.consumers(rows, 0))


class _Walk:
    def __init__(self, repo: Repo, max_depth: int) -> None:
        self.repo = repo
        self.max_depth = max_depth
        self.seen: set[str] = set()
        self.current = {(o.get("path"), o.get("id")) for s in read_lock(repo.root).values() for o in s.get("outs", [])}

    def consumers(self, rows: list[tuple[str, str, str | None]], depth: int) -> list[RunNode]:
        """Group (run, path, oid) rows by run, in the order given (oldest first), and expand each run."""
        reads: dict[str, list[tuple[str, str | None]]] = {}
        for run_oid, path, oid in rows:
            reads.setdefault(run_oid, []).append((path, oid))
        nodes = []
        for run_oid, read in reads.items():
            run = self._load(run_oid)
            if run is None:
                continue  # indexed, but no longer (or not yet) in the local store
            node = RunNode(run, read)
            if run_oid in self.seen or depth >= self.max_depth:
                node.seen = True
            else:
                self.seen.add(run_oid)
                node.outputs = self._outputs(run, depth)
            nodes.append(node)
        return nodes

    def _outputs(self, run: Run, depth: int) -> list[OutputNode]:
        outs = [
            OutputNode(o["path"], o["oid"], o["kind"], o.get("size"), self._is_current(o["path"], o["oid"]))
            for o in run.get("outputs", [])
        ]
        rows = self.repo.state.runs_consuming_run(str(run.oid))
        for out in outs:
            mine = [r for r in rows if _related(r[1], out.path)]
            out.used_by = self.consumers(mine, depth + 1)
        return outs

    def _is_current(self, path: str, oid: str) -> bool:
        if (path, oid) in self.current:
            return True
        pf = self.repo.abspath(path + SUFFIX)
        try:
            return pf.is_file() and str(read_pointer(pf, where=path + SUFFIX).oid) == oid
        except ArtError:
            return False

    def _load(self, oid: str) -> Run | None:
        try:
            return load_run(self.repo, oid)
        except ArtError:
            return None


def _related(a: str, b: str) -> bool:
    """True when paths ``a`` and ``b`` are the same, or one lies inside the other."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")
