"""The pre-commit hook: refuse a commit whose artifacts changed without ``art add``, whose staged pointers
name objects the store lacks, or (strict mode) whose pipeline is stale.

Missing artifacts (deleted, or never checked out) do not block: the pointer still names the committed
version, and a fresh clone without ``art pull`` must be able to commit code. They are reported as a note.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ArtError
from ..workspace.lockfile import LOCK_NAME, lock_outputs, parse_lock_text
from ..workspace.pointers import SUFFIX, parse_pointer
from ..workspace.roots import pointer_key
from ..workspace.tracked import incomplete_keys
from ._base import HookResult, count, find_repo, git_bytes, git_lines


def pre_commit(cwd: Path, *, prefix: str = "", strict: bool | None = None) -> HookResult:
    """Check the workspace before git records a commit.

    Args:
        cwd: where git runs the hook (the top of the work tree).
        prefix: the art workspace relative to ``cwd``.
        strict: also block on stale pipeline stages (default: ``core.strict_pipeline``).

    Returns:
        Exit code 1 with messages naming what to run, or 0 (also outside an art repository).
    """
    result = HookResult()
    repo = find_repo(cwd, prefix)
    if repo is None:
        return result
    with repo:
        try:
            _check_workspace(repo, result)
            _check_staged(repo, cwd, result)
            if strict if strict is not None else bool(repo.config.core("strict_pipeline")):
                _check_pipeline(repo, result)
        except ArtError as exc:  # art's own trouble never blocks git
            result.say(f"art: pre-commit check skipped: {exc}")
            result.code = 0
    return result


def _check_workspace(repo, result: HookResult) -> None:
    from ..workspace.status import CONFLICT, MISSING, MODIFIED, status

    states = status(repo).artifacts
    modified = [a for a in states if a.state == MODIFIED]
    missing = [a for a in states if a.state == MISSING]
    if modified:
        result.code = 1
        result.say(f"art: {count(len(modified), 'tracked artifact')} changed but not added:")
        for a in modified[:20]:
            result.say(f"  modified: {a.path}" + (f" ({a.source})" if a.source.startswith(LOCK_NAME) else ""))
        added = [a.path for a in modified if not a.source.startswith(LOCK_NAME)]
        if added:
            result.say(f"run: art add {' '.join(added[:20])} && git add {' '.join(p + SUFFIX for p in added[:20])}")
        if len(added) < len(modified):
            result.say("run: art repro (pipeline outputs were edited), or 'art checkout PATH' to undo the edit")
        result.say("(or commit with --no-verify to skip this check)")
    if missing:
        result.say(
            f"art: note: {count(len(missing), 'tracked artifact', 'is')} not in the workspace "
            f"(e.g. {missing[0].path}); 'art checkout' restores them"
        )
    conflicts = [a for a in states if a.state == CONFLICT]
    if conflicts:
        result.say(
            f"art: note: something else is at {count(len(conflicts), 'tracked artifact path')} "
            f"(e.g. {conflicts[0].path}: {conflicts[0].reason}); see 'art status'"
        )


def _staged(cwd: Path, repo) -> list[tuple[str, str]]:
    """Return (path relative to the art root, path for git) of staged pointer files and art.lock."""
    lines = git_lines(cwd, "diff", "--cached", "--name-only", "--diff-filter=ACMR", "--no-renames") or []
    rel_root = Path(repo.root).relative_to(cwd.resolve()).as_posix() if repo.root != cwd.resolve() else ""
    prefix = "" if rel_root == "." else rel_root
    out = []
    for line in lines:
        rel = line[len(prefix) + 1 :] if prefix and line.startswith(prefix + "/") else (None if prefix else line)
        if rel and (rel.endswith(SUFFIX) or rel == LOCK_NAME):
            out.append((rel, line))
    return out


def _check_staged(repo, cwd: Path, result: HookResult) -> None:
    from ..objstore.oid import Oid, is_oid
    from ..objstore.types import Kind, ObjectKey

    items: list[tuple[str, tuple[Oid, Kind]]] = []
    for rel, git_name in _staged(cwd, repo):
        data = git_bytes(cwd, "show", f":{git_name}")
        if data is None:
            continue
        if rel == LOCK_NAME:
            stages = parse_lock_text(data)
            items += [(p, pointer_key(ptr)) for p, ptr, _ in lock_outputs(stages)]
            items += [
                (f"{LOCK_NAME}:{name} run", ObjectKey(Oid(s["run"]), Kind.RUN))
                for name, s in stages.items()
                if is_oid(s.get("run"))
            ]
        else:
            items.append((rel[: -len(SUFFIX)], pointer_key(parse_pointer(data, where=rel))))
    absent = incomplete_keys(repo.store, {key for _, key in items}) if items else set()
    lacking = [path for path, key in items if key in absent]
    if lacking:
        result.code = 1
        result.say(f"art: {count(len(lacking), 'staged artifact')} with objects that are not in the local store:")
        for p in lacking[:20]:
            result.say(f"  not in store: {p}")
        result.say("run: art pull (fetch them) or art add PATH (store the data you have), then git add the pointer")


def _check_pipeline(repo, result: HookResult) -> None:
    try:
        from ..pipeline.staleness import stage_states
    except ImportError:  # a pipeline-less build: nothing to check
        return
    stale = [s for s in stage_states(repo) if s.stale]
    if stale:
        result.code = 1
        result.say(f"art: {count(len(stale), 'pipeline stage', 'is')} stale (core.strict_pipeline):")
        for s in stale[:20]:
            result.say(f"  stale: {s.name}: {'; '.join(s.reasons[:3])}")
        result.say("run: art repro && git add art.lock")
