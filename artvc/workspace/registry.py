"""Named versions and stages of artifacts, kept as git tags (``art tag``, ``art versions``; docs/registry.md).

The naming scheme (after GTO's), so that ``git push --tags`` publishes them and any clone reads them back:

* a version: ``art/<path>@v<semver>`` (annotated), e.g. ``art/models/model.pt@v1.2.0``;
* a stage assignment: ``art/<path>#<stage>#<n>`` (annotated), ``n`` = 1, 2, ... per path and stage. The
  latest assignment (highest ``n``) is the stage's current commit; earlier ones stay as its history.

``<path>`` is the artifact's workspace path (relative to the art root, with ``/``): the ``@`` and ``#``
separators never occur in a path a tag can hold, and a path's tags never clash with another path's in git's
ref namespace (``art/data@v1.0.0`` and ``art/data/images@v1.0.0`` are a file and a folder of different names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from ..errors import GitError, PathNotTrackedError, UsageError, WorkspaceError
from .ls import Listed, artifacts_at
from .paths import to_repo_path
from .pointers import SUFFIX

if TYPE_CHECKING:
    from .repo import Repo
    from .scm import Git, TagInfo

PREFIX = "art/"
# semver.org 2.0.0, with a leading "v"
_SEMVER = re.compile(
    r"v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_STAGE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\@#]|\.\.|//|/\.|\.lock(/|$)|^\.|\.$")


class HasGit(Protocol):
    """What ``resolve_version`` reads tags from: this workspace (``Repo``) or another repository opened for
    reading (``external.ExternalRepo``)."""

    @property
    def git(self) -> Git | None: ...


class VersionNotFoundError(WorkspaceError):
    """A version or stage that is not tagged for the artifact."""


@dataclass(frozen=True, slots=True)
class StageAssignment:
    stage: str
    number: int
    commit: str
    time: str
    author: str
    current: bool  # the latest assignment of its stage


@dataclass(frozen=True, slots=True)
class Version:
    version: str | None  # None: a commit that only a stage names
    commit: str
    oid: str | None  # the artifact's id at that commit (None when it is not tracked there)
    kind: str | None
    size: int | None
    time: str  # when the version was tagged (the commit's time for a stage-only row)
    author: str
    message: str
    stages: list[str] = field(default_factory=list)  # current stages at this commit
    run_oid: str | None = None  # the run that produced the artifact, when this workspace knows it


@dataclass(frozen=True, slots=True)
class VersionsResult:
    path: str
    versions: list[Version]
    stages: list[StageAssignment]  # the whole history


@dataclass(frozen=True, slots=True)
class TagResult:
    path: str
    tag: str  # the git tag created or deleted
    commit: str
    version: str | None
    stage: str | None


def normalize_version(text: str) -> str:
    """``1.2.0`` or ``v1.2.0`` -> ``v1.2.0``.

    Raises:
        UsageError: when it is not a semantic version.
    """
    v = text if text.startswith("v") else "v" + text
    if not _SEMVER.fullmatch(v):
        raise UsageError(
            f"{text!r} is not a semantic version", hint="use MAJOR.MINOR.PATCH, e.g. v1.2.0 or v2.0.0-rc.1"
        )
    return v


def _check_stage(stage: str) -> str:
    if not _STAGE.fullmatch(stage):
        raise UsageError(f"{stage!r} is not a stage name", hint="use lowercase letters, digits, '-' and '_'")
    return stage


def version_tag(path: str, version: str) -> str:
    return f"{PREFIX}{path}@{version}"


def _tag_path(path: str) -> str:
    if _BAD_REF.search(path):
        raise WorkspaceError(
            f"{path} cannot be named in a git tag (a space, '@', '#', '..' or another character git refuses)",
            path=path,
            hint="rename the artifact (art mv) to give it versions",
        )
    return path


def _git(repo: HasGit) -> Git:
    git = repo.git
    if git is None:
        raise GitError("this art repository is not in a git work tree", hint="versions and stages are git tags")
    return git


def _sortkey(version: str) -> tuple:
    m = _SEMVER.fullmatch(version)
    assert m is not None
    pre = m.group(4)
    pre_key = (1,) if pre is None else (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")))
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), pre_key)


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _artifact(repo: Repo, path: str, commit: str) -> Listed:
    found = artifacts_at(repo, commit).get(path)
    if found is None:
        raise PathNotTrackedError(
            f"{path} is not tracked by art at commit {commit[:10]}",
            path=path,
            hint="commit its pointer first (git add PATH.art && git commit), or choose another --rev",
        )
    return found


def _rel(repo: Repo, user_path: str) -> str:
    rel = to_repo_path(repo.root, user_path)
    return _tag_path(rel[: -len(SUFFIX)] if rel.endswith(SUFFIX) else rel)


def _tags_of(git: Git, path: str) -> tuple[dict[str, TagInfo], list[tuple[str, int, TagInfo]]]:
    """The version tags (version -> tag) and stage assignments ((stage, n, tag)) of ``path``."""
    versions: dict[str, TagInfo] = {}
    stages: list[tuple[str, int, TagInfo]] = []
    for t in git.tags(PREFIX + path):
        rest = t.name[len(PREFIX) + len(path) :]
        if rest.startswith("@") and _SEMVER.fullmatch(rest[1:]):
            versions[rest[1:]] = t
        elif rest.startswith("#"):
            stage, _, n = rest[1:].partition("#")
            if _STAGE.fullmatch(stage) and n.isdigit():
                stages.append((stage, int(n), t))
    return versions, stages


def _resolve_rev(repo: Repo, git: Git, path: str, rev: str | None) -> str:
    """A git revision, or a version of ``path`` (``v1.2.0``) -> commit id."""
    if rev and _SEMVER.fullmatch(rev):
        versions, _ = _tags_of(git, path)
        if rev in versions:
            return versions[rev].commit
    return str(git.resolve(rev or "HEAD").id)


def tag_version(
    repo: Repo, path: str, version: str, *, message: str | None = None, rev: str | None = None
) -> TagResult:
    """Name the artifact at ``path`` as it is at ``rev`` (default HEAD) ``version`` (an annotated git tag).

    Raises:
        UsageError: ``version`` is not a semantic version.
        WorkspaceError: the version exists already (versions are never moved), or the path cannot be a tag.
        PathNotTrackedError: ``path`` is not tracked at that commit.
        GitError: no git, or an unknown revision.
    """
    git = _git(repo)
    rel, v = _rel(repo, path), normalize_version(version)
    commit = _resolve_rev(repo, git, rel, rev)
    listed = _artifact(repo, rel, commit)
    versions, _ = _tags_of(git, rel)
    if v in versions:
        raise WorkspaceError(
            f"{rel} already has version {v} (commit {versions[v].commit[:10]})",
            path=rel,
            hint="versions never move: choose a new version number, or delete this one with --delete",
        )
    name = version_tag(rel, v)
    git.create_tag(name, commit, message or f"{rel} {v}\n\noid: {listed.pointer.oid}\n")
    return TagResult(rel, name, commit, v, None)


def assign_stage(repo: Repo, path: str, stage: str, *, rev: str | None = None, message: str | None = None) -> TagResult:
    """Put the artifact at ``path`` as it is at ``rev`` (a git revision or one of its versions; default HEAD)
    in ``stage``: a new assignment tag; the latest assignment of a stage wins, earlier ones stay as history.

    Raises:
        UsageError: a stage name that is not ``[a-z0-9][a-z0-9_-]*``.
        PathNotTrackedError: ``path`` is not tracked at that commit.
    """
    git = _git(repo)
    rel, stage = _rel(repo, path), _check_stage(stage)
    commit = _resolve_rev(repo, git, rel, rev)
    listed = _artifact(repo, rel, commit)
    _, stages = _tags_of(git, rel)
    n = max((k for s, k, _ in stages if s == stage), default=0) + 1
    name = f"{PREFIX}{rel}#{stage}#{n}"
    git.create_tag(name, commit, message or f"{rel} -> {stage}\n\noid: {listed.pointer.oid}\n")
    return TagResult(rel, name, commit, None, stage)


def delete_version(repo: Repo, path: str, version: str) -> TagResult:
    """Delete the version tag ``version`` of ``path`` (locally; ``git push --delete origin TAG`` for remotes).

    Raises:
        VersionNotFoundError: no such version.
    """
    git = _git(repo)
    rel, v = _rel(repo, path), normalize_version(version)
    versions, _ = _tags_of(git, rel)
    if v not in versions:
        raise _missing(rel, f"version {v}", versions)
    git.delete_tag(versions[v].name)
    return TagResult(rel, versions[v].name, versions[v].commit, v, None)


def _missing(path: str, what: str, versions: dict) -> VersionNotFoundError:
    known = ", ".join(sorted(versions, key=_sortkey)) or "none"
    return VersionNotFoundError(f"{path} has no {what}", path=path, hint=f"its versions: {known} (art versions {path})")


def stage_history(git: Git, path: str) -> list[StageAssignment]:
    """Every stage assignment of ``path``, oldest first per stage."""
    _, stages = _tags_of(git, path)
    latest: dict[str, int] = {}
    for s, n, _ in stages:
        latest[s] = max(latest.get(s, 0), n)
    return [
        StageAssignment(s, n, t.commit, _iso(t.time), f"{t.who} <{t.email}>", n == latest[s])
        for s, n, t in sorted(stages, key=lambda x: (x[0], x[1]))
    ]


def versions(repo: Repo, path: str) -> VersionsResult:
    """The versions of ``path`` (newest semver first; then commits named only by a current stage) and its
    stage history.

    Raises:
        VersionNotFoundError: the path has neither versions nor stages.
    """
    git = _git(repo)
    rel = _rel(repo, path)
    tagged, _ = _tags_of(git, rel)
    history = stage_history(git, rel)
    if not tagged and not history:
        raise VersionNotFoundError(
            f"{rel} has no versions", path=rel, hint=f"name one with 'art tag {rel} v1.0.0' (then git push --tags)"
        )
    current: dict[str, list[str]] = {}
    for a in history:
        if a.current:
            current.setdefault(a.commit, []).append(a.stage)
    rows = []
    for v in sorted(tagged, key=_sortkey, reverse=True):
        t = tagged[v]
        rows.append(_row(repo, rel, v, t.commit, t.time, f"{t.who} <{t.email}>", t.message, current))
    named = {t.commit for t in tagged.values()}
    for a in history:
        if a.current and a.commit not in named:
            named.add(a.commit)
            rows.append(_row(repo, rel, None, a.commit, git.commit_time(a.commit), a.author, "", current))
    return VersionsResult(rel, rows, history)


def _row(repo: Repo, path: str, version, commit: str, ts, author: str, message: str, current) -> Version:
    listed = artifacts_at(repo, commit).get(path)
    oid = str(listed.pointer.oid) if listed else None
    runs = repo.state.runs_producing(oid, path) if oid else []
    return Version(
        version,
        commit,
        oid,
        listed.pointer.kind if listed else None,
        listed.pointer.size if listed else None,
        _iso(ts) if isinstance(ts, int) else ts,
        author,
        message.strip(),
        sorted(current.get(commit, [])),
        runs[0] if runs else None,
    )


def resolve_version(
    repo: HasGit, path: str, version: str | None = None, stage: str | None = None, *, where: str = ""
) -> str:
    """The commit that ``version`` (or the current assignment of ``stage``) of ``path`` names.

    ``repo`` is anything with a ``git`` (a ``scm.Git``): this workspace, or another repository opened for
    reading (``external.ExternalRepo``, whose mirror holds the source's tags). ``path`` is the artifact's
    workspace path (or a path inside it: a file of a tracked directory resolves through the directory's
    versions). ``where`` (e.g. `` in URL``) is appended to the path in error messages.

    Raises:
        UsageError: both or neither of ``version`` and ``stage``, or a malformed one.
        VersionNotFoundError: the version or stage does not exist for that artifact.
    """
    if (version is None) == (stage is None):
        raise UsageError("give exactly one of a version and a stage")
    git = _git(repo)
    rel = path.removesuffix(SUFFIX).strip("/")
    candidates = [rel] + ["/".join(rel.split("/")[:i]) for i in range(rel.count("/"), 0, -1)]
    for p in candidates:
        if _BAD_REF.search(p):
            continue
        tagged, stages = _tags_of(git, p)
        if not tagged and not stages:
            continue
        if version is not None:
            v = normalize_version(version)
            if v not in tagged:
                known = ", ".join(sorted(tagged, key=_sortkey)) or "none"
                raise VersionNotFoundError(
                    f"{p}{where} has no version {v}",
                    path=p,
                    hint=f"its versions: {known}" + ("" if where else f" (art versions {p})"),
                )
            return tagged[v].commit
        assert stage is not None
        mine = [(n, t) for s, n, t in stages if s == _check_stage(stage)]
        if not mine:
            known = ", ".join(sorted({s for s, _, _ in stages})) or "none"
            raise VersionNotFoundError(f"{p}{where} has no stage {stage}", path=p, hint=f"its stages: {known}")
        return max(mine, key=lambda x: x[0])[1].commit
    what = f"version {version}" if version is not None else f"stage {stage}"
    raise VersionNotFoundError(
        f"{rel}{where} has no {what}",
        path=rel,
        hint="it has no versions or stages at all" + ("" if where else f": see 'art versions {rel}'"),
    )
