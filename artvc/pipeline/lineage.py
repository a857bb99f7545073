"""Lineage queries: walk from an artifact back to its sources through run records; list an artifact's versions
across git history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ArtError, PathNotTrackedError
from ..objstore.lineage import Run
from ..workspace.lockfile import LOCK_NAME, parse_lock_text, read_lock
from ..workspace.paths import to_repo_path
from ..workspace.pointers import SUFFIX, parse_pointer, read_pointer
from ..workspace.provenance import iso_utc
from ..workspace.repo import Repo
from ..workspace.runs import load_run, producing_run


@dataclass(slots=True)
class LineageNode:
    """An artifact version and the run that produced it (None for source data), with that run's inputs."""

    path: str
    oid: str | None
    run: Run | None = None
    inputs: list[LineageNode] = field(default_factory=list)
    seen: bool = False  # this run was already shown higher up in the tree
    missing_run: str | None = None  # the run a record names for it, not in the local store (art fetch --run)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "oid": self.oid, "run": None, "inputs": []}
        if self.missing_run is not None:
            out["missing_run_oid"] = self.missing_run
        if self.run is not None:
            out["run"] = summarize(self.run)
            out["inputs"] = [i.as_dict() for i in self.inputs]
        return out


def summarize(run: Run) -> dict[str, Any]:
    """The facts of a run worth printing (id, kind, stage, command, code hash, git, who, when, how long)."""
    keys = (
        "kind",
        "pipeline",
        "stage",
        "cmd",
        "call",
        "code_hash",
        "code",
        "params",
        "metadata",
        "run_key",
        "exit_status",
        "started",
        "duration",
        "git",
        "user",
        "host",
        "pid",
        "platform",
        "python",
        "art",
        "packages",
    )
    return {"oid": str(run.oid), **{k: run.get(k) for k in keys if run.get(k) not in (None, "")}}


def lineage(repo: Repo, user_path: str, *, max_depth: int = 50) -> LineageNode:
    """Return the lineage tree of the tracked artifact at ``user_path`` (a pipeline output or an added path).

    Raises:
        PathNotTrackedError: when the path is neither a stage output in art.lock nor an added artifact.
    """
    path = to_repo_path(repo.root, user_path)
    path = path[: -len(SUFFIX)] if path.endswith(SUFFIX) else path
    oid, run_oid = _current(repo, path)
    run = _load(repo, run_oid) if run_oid else (producing_run(repo, oid, path) if oid else None)
    node = _node(repo, path, oid, run, set(), max_depth)
    if run is None and run_oid:
        node.missing_run = run_oid
    return node


def artifact_lineage(repo: Repo, name: str, version: int | None = None, *, max_depth: int = 50) -> LineageNode:
    """The lineage tree of an artifact of a Python pipeline (``PIPELINE/STEP/OUTPUT``; the newest version
    unless ``version``): the step run that made it, the step runs that made its inputs, and so on.

    Raises:
        ArtifactNotFoundError: for an unknown name or version.
    """
    from .flow.artifacts import find_version

    v = find_version(repo, name, version)
    return made_by(repo, name, v.ref.oid, v.record, max_depth=max_depth)


def made_by(repo: Repo, path: str, oid: str | None, run: Run | None, *, max_depth: int = 50) -> LineageNode:
    """The lineage tree of version ``oid`` of ``path`` made by ``run`` (None: source data)."""
    return _node(repo, path, oid, run, set(), max_depth)


def _current(repo: Repo, path: str) -> tuple[str, str | None]:
    for stage in read_lock(repo.root).values():
        for out in stage.get("outs", []):
            if out.get("path") == path:
                return str(out.get("id")), stage.get("run")
    pf = repo.abspath(path + SUFFIX)
    if pf.is_file():
        return str(read_pointer(pf, where=path + SUFFIX).oid), None
    raise PathNotTrackedError(
        f"{path} is not tracked by art",
        path=path,
        hint="lineage works on pipeline outputs (art.lock) and added artifacts (PATH.art)",
    )


def _load(repo: Repo, oid: str) -> Run | None:
    try:
        return load_run(repo, oid)
    except ArtError:
        return None


def _node(repo: Repo, path: str, oid: str | None, run: Run | None, seen: set[str], depth: int) -> LineageNode:
    node = LineageNode(path, oid, run)
    if run is None:
        return node
    if str(run.oid) in seen or depth <= 0:
        node.seen = True
        return node
    seen.add(str(run.oid))
    for inp in run.get("inputs", []):
        parent = _load(repo, inp["run"]) if inp.get("run") else None
        child = _node(repo, inp.get("path", "?"), inp.get("oid"), parent, seen, depth - 1)
        if parent is None and inp.get("run"):
            child.missing_run = str(inp["run"])
        node.inputs.append(child)
    return node


@dataclass(frozen=True, slots=True)
class Version:
    """One version of an artifact in git history: the commit that introduced it, and its id."""

    commit: str
    time: int
    summary: str
    oid: str
    size: int | None
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "time": iso_utc(self.time),
            "summary": self.summary,
            "oid": self.oid,
            "size": self.size,
            "source": self.source,
        }


def log(repo: Repo, user_path: str, *, limit: int = 1000) -> list[Version]:
    """List the versions of an artifact across the commits reachable from HEAD, newest first.

    Consecutive commits with the same id are one version, shown at the (oldest) commit that introduced it.

    Raises:
        GitError: when the workspace is not in a git repository.
        PathNotTrackedError: when no commit tracks the path.
    """
    from ..errors import GitError

    path = to_repo_path(repo.root, user_path)
    path = path[: -len(SUFFIX)] if path.endswith(SUFFIX) else path
    git = repo.git
    if git is None:
        raise GitError("this art repository is not in a git work tree", hint="art log reads git history")
    pointers = git.log_path(path + SUFFIX, repo.git_prefix, limit)
    locks = git.log_path(LOCK_NAME, repo.git_prefix, limit)
    versions: list[Version] = []
    for (commit, when, summary, pdata), (_, _, _, ldata) in zip(pointers, locks, strict=False):
        found = _at(path, pdata, ldata, commit)
        if found is None:
            continue
        oid, size, source = found
        if versions and versions[-1].oid == oid:
            versions[-1] = Version(commit, when, summary, oid, size, source)
            continue
        versions.append(Version(commit, when, summary, oid, size, source))
    if not versions:
        raise PathNotTrackedError(
            f"no commit tracks {path}", path=path, hint="commit its pointer (PATH.art) or art.lock first"
        )
    return versions


def artifact_log(repo: Repo, name: str) -> list[Version]:
    """The versions of an artifact of a Python pipeline, newest first, as ``log`` shows them: the git commit
    and time of the run that first made each, ``run RUN of PIPELINE`` as the summary, ``run:RUN`` as the source.

    Raises:
        ArtifactNotFoundError: when no step run made ``name``.
    """
    from datetime import datetime

    from .flow.artifacts import versions

    out = []
    for v in reversed(versions(repo, name)):
        rec = v.record
        git = (rec.get("git") if rec else None) or {}
        try:
            when = int(datetime.fromisoformat(str(rec.get("started"))).timestamp()) if rec else 0
        except ValueError:
            when = 0
        pipeline = rec.get("pipeline", "?") if rec else "?"
        run = str(v.ref.run)
        summary = f"version {v.number}: run {run[:10]} of pipeline {pipeline}"
        out.append(Version(str(git.get("commit") or ""), when, summary, v.ref.oid, v.ref.size, f"run:{run}"))
    return out


def _at(path: str, pdata: bytes | None, ldata: bytes | None, commit: str) -> tuple[str, int, str] | None:
    if pdata is not None:
        try:
            p = parse_pointer(pdata, where=f"{commit[:10]}:{path}{SUFFIX}")
            return str(p.oid), p.size, f"{path}{SUFFIX}"
        except ArtError:
            return None
    if ldata is not None:
        try:
            stages = parse_lock_text(ldata)
        except ArtError:
            return None
        for name, stage in stages.items():
            for out in stage.get("outs", []):
                if out.get("path") == path and out.get("id"):
                    return str(out["id"]), out.get("size"), f"{LOCK_NAME}:{name}"
    return None
