"""The work of ``art status`` (``status.py`` is its click command): no click here, so ``_fast`` runs it without
loading click (start-up is most of a no-change status of a small workspace)."""

from __future__ import annotations

import os

from ._context import absolute, flags
from ._render import count, emit_json, say


def run(repo, paths: tuple[str, ...], check: bool, remote: str | None) -> None:
    """Print the status of ``paths`` (all when empty); ``check``: raise ``StaleError`` unless all is current;
    ``remote``: compare with that remote instead ("" for the default one)."""
    if remote is not None:
        from .remote import show_remote_status

        return show_remote_status(repo, remote, absolute(paths) or None, check)
    from contextlib import AbstractContextManager, nullcontext

    from ..workspace.status import status

    guard: AbstractContextManager[object]
    if repo.config.core("fsmonitor"):  # one session for the artifacts and the stages' outputs
        from ..workspace.fsmonitor import session

        guard = session(repo, whole=not paths)
    else:
        guard = nullcontext(None)
    with guard:
        result = status(repo, absolute(paths) or None)
        stages = [] if paths else _stages(repo)  # pipeline stages (art.toml): up-to-date | stale, with reasons
    stale = [s.name for s in stages if s.stale]
    imports = _imports(repo, result.artifacts)
    if flags().get("json"):
        emit_json(
            {
                "artifacts": [a.as_dict() for a in result.artifacts],
                "stages": [s.as_dict() for s in stages],
                "imports": [i.as_dict() for i in imports],
            }
        )
    else:
        if not result.artifacts and not stages:
            say("no tracked artifacts (use 'art add PATH')")
        for a in result.artifacts:
            say(f"{a.state:>13}  {a.path}" + (f": {a.reason}" if a.reason else ""))
        for s in stages:
            say(f"{s.state:>13}  stage {s.name}" + (f": {'; '.join(s.reasons)}" if s.reasons else ""))
        for i in imports:
            say(f"{i.state:>13}  import {i.path}: {_describe_import(i)}")
        if (result.artifacts or stages) and result.clean and not stale:
            say("everything is up to date")
    if check and stale and result.clean:
        from ..errors import StaleError

        raise StaleError(
            f"{count(len(stale), 'stage')} stale: {', '.join(stale[:5])}",
            items=stale,
            hint="run 'art repro' to bring them up to date",
        )
    if check and not result.clean:
        from ..errors import StaleError

        changed = [a.path for a in result.artifacts if a.state != "unchanged"]
        raise StaleError(
            f"{count(len(changed), 'artifact')} out of date: {', '.join(changed[:5])}",
            items=changed,
            hint=_check_hint(repo, result.artifacts),
        )


def _stages(repo) -> list:
    """The pipeline's stages; the pipeline modules load only when there is an ``art.toml`` (``spec.PIPELINE_NAME``):
    ``art status`` in a workspace of data alone starts faster."""
    if not os.path.lexists(repo.root / "art.toml"):
        return []
    from ..pipeline.staleness import stage_states

    return stage_states(repo)


def _imports(repo, artifacts) -> list:
    """Each import compared with its source (only when there are imports: it reads their git remotes)."""
    from ..workspace.tracked import TrackedArtifact

    mine = [TrackedArtifact(a.path, a.pointer, a.source) for a in artifacts if a.pointer.source is not None]
    if not mine:
        return []
    from ..workspace.imports import import_states  # git is loaded only when there are imports (start-up time)

    return import_states(repo, mine)


def _describe_import(i) -> str:
    at = i.source.describe()
    if i.state == "behind" and i.latest_oid is None:
        return f"{at}; it has changed since (art update {i.path})"
    if i.state == "behind":
        newer = f"{str(i.latest_oid)[:10]} at commit {str(i.latest_commit)[:10]}"
        return f"{at}; the source now has {newer} ('art update {i.path} --rev REV')"
    if i.state == "unknown":
        return f"{at}; cannot read the source: {i.reason}"
    return at


def _check_hint(repo, artifacts) -> str:
    """What brings these artifacts back: 'art checkout' only restores what the local store holds; data that
    is not in it (a fresh clone) needs 'art pull'."""
    from ..workspace.tracked import incomplete

    states = {a.state for a in artifacts}
    missing = [a.pointer for a in artifacts if a.state == "missing"]
    lacking = incomplete(repo.store, missing, shallow=True) if missing else set()
    local = any(p.oid not in lacking for p in missing)
    remote = bool(lacking) or "not-in-store" in states
    parts = ["modified data: run 'art add'"] if "modified" in states else []
    if local:
        parts.append("missing data the local store has: run 'art checkout'")
    if remote:
        parts.append("data not in the local store (as in a fresh clone): run 'art pull'")
    if "conflict" in states:
        parts.append("conflicts: move what is in the way")
    return "; ".join(parts) or "see 'art status'"
