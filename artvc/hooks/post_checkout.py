"""The post-checkout hook: after a branch checkout, make the artifacts match the new branch's pointers.

Never fails git: missing objects produce a hint to ``art pull``, modified data a hint to ``art add``; a path
holding something the store cannot give back (a conflict) or leading outside the workspace is left as it
is, with a warning.
Skipped after a file checkout (flag 0), when HEAD did not move, and while a rebase is in progress (a rebase
checks out many commits; the workspace is settled by the user's ``art checkout`` afterwards).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ArtError, ObjectNotFoundError
from ._base import HookResult, count, find_repo
from .install import git_path


def rebase_in_progress(cwd: Path) -> bool:
    """True while ``git rebase`` is running (its state directory exists)."""
    try:
        return any(git_path(cwd, d).is_dir() for d in ("rebase-merge", "rebase-apply"))
    except ArtError:
        return False


def post_checkout(cwd: Path, previous: str, new: str, flag: str, *, prefix: str = "") -> HookResult:
    """Run ``art checkout`` after a branch checkout.

    Args:
        cwd: where git runs the hook (the top of the work tree).
        previous: the commit HEAD was at.
        new: the commit HEAD is at now.
        flag: "1" for a branch checkout, "0" for a file checkout.
        prefix: the art workspace relative to ``cwd``.

    Returns:
        Always exit code 0; messages say what was restored or what to run.
    """
    result = HookResult()
    if flag != "1" or (previous == new and previous != "0" * 40) or rebase_in_progress(cwd):
        return result
    repo = find_repo(cwd, prefix)
    if repo is None:
        return result
    with repo:
        try:
            _checkout(repo, result)
        except ObjectNotFoundError as exc:
            result.say(f"art: the new checkout needs data that is not in the local store ({exc})")
            result.say("hint: run 'art pull' to fetch it from the default remote")
        except ArtError as exc:
            result.say(f"art: checkout after the branch switch failed: {exc}")
            if exc.hint:
                result.say(f"hint: {exc.hint}")
    return result


def _checkout(repo, result: HookResult) -> None:
    """Restore every artifact whose workspace content is safe to replace (it is stored: typically the
    previous branch's version); leave un-added edits, conflicting paths and paths leading outside the
    workspace alone, with a warning, as git does with local changes."""
    from ..errors import ConflictError, UnsafePathError
    from ..workspace.checkout import checkout
    from ..workspace.status import CONFLICT, MISSING, MODIFIED, status
    from ..workspace.tracked import TrackedArtifact, incomplete

    arts = repo.artifacts()  # the workspace is walked once; status and checkout share the selection
    states = [a for a in status(repo, artifacts=arts).artifacts if a.state in (MISSING, MODIFIED, CONFLICT)]
    lacking = incomplete(repo.store, [a.pointer for a in states if not a.unsafe])
    absent = [a.path for a in states if not a.unsafe and a.pointer.oid in lacking]
    todo = [TrackedArtifact(a.path, a.pointer, a.source) for a in states if a.path not in absent]
    left: list = []
    if todo:
        done = checkout(repo, artifacts=todo, leave=True)
        if done.restored:
            result.say(f"art: restored {count(len(done.restored), 'artifact')}: {', '.join(done.restored[:10])}")
        left = done.left
        absent += [p for p, exc in left if isinstance(exc, ObjectNotFoundError)]  # the plan's own presence check
    if absent:
        result.say(
            f"art: not in the local store, {count(len(absent), 'artifact')} of this checkout: {', '.join(absent[:10])}"
        )
        result.say("hint: run 'art pull' to fetch them from the default remote")
    unsafe = [exc for _, exc in left if isinstance(exc, UnsafePathError)]
    conflicts = [exc for _, exc in left if isinstance(exc, ConflictError)]
    kept = [p for p, exc in left if not isinstance(exc, (UnsafePathError, ConflictError, ObjectNotFoundError))]
    for unsafe_exc in unsafe[:10]:
        result.say(f"art: warning: not written: {unsafe_exc}")
    if unsafe:
        result.say("hint: remove such symlinks, then run 'art checkout'")
    for exc in conflicts[:10]:
        result.say(f"art: warning: left as it is: {exc}")
    if conflicts:
        result.say(
            "hint: move what is in the way elsewhere and run 'art checkout', or 'art checkout --force' to replace it"
        )
    if kept:
        result.say(f"art: kept the un-added changes of {count(len(kept), 'artifact')}: {', '.join(kept[:10])}")
        result.say("hint: 'art add' them to keep the changes, or 'art checkout --force' to discard them")
