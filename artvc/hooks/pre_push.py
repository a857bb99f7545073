"""The pre-push hook: push the artifacts of the commits being pushed to the default art remote first.

git passes ``<local ref> <local sha> <remote ref> <remote sha>`` lines on stdin. For each update the new
commits (``git rev-list local ^remote``, or those on no remote-tracking branch of that remote for a new
branch) are collected, newest first, capped at ``MAX_COMMITS`` per update; the art objects their pointers and
art.lock files reference are pushed. A deletion pushes nothing. A failed art push fails the git push; no
default remote configured is only a warning.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ArtError, RemoteNotConfiguredError
from ._base import ZERO_SHA, HookResult, count, find_repo, git_lines

MAX_COMMITS = 500


def parse_updates(text: str) -> list[tuple[str, str, str, str]]:
    """Parse git's pre-push stdin into (local ref, local sha, remote ref, remote sha) tuples."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            out.append((parts[0], parts[1], parts[2], parts[3]))
    return out


def commits_to_push(cwd: Path, remote_name: str, updates: list[tuple[str, str, str, str]]) -> tuple[list[str], int]:
    """Return (commits whose artifacts to push, how many new commits were left out by the cap)."""
    revs: list[str] = []
    left_out = 0
    for _, local_sha, _, remote_sha in updates:
        if local_sha == ZERO_SHA:
            continue  # a deletion
        if remote_sha != ZERO_SHA and git_lines(cwd, "cat-file", "-e", f"{remote_sha}^{{commit}}") is not None:
            new = git_lines(cwd, "rev-list", local_sha, f"^{remote_sha}")
        else:
            new = git_lines(cwd, "rev-list", local_sha, "--not", f"--remotes={remote_name}") if remote_name else None
        new = new if new is not None else []
        left_out += max(0, len(new) - MAX_COMMITS)
        for commit in [local_sha, *new[:MAX_COMMITS]]:
            if commit not in revs:
                revs.append(commit)
    return revs, left_out


def pre_push(cwd: Path, remote_name: str, updates: list[tuple[str, str, str, str]], *, prefix: str = "") -> HookResult:
    """Push the art objects referenced by the commits being pushed.

    Args:
        cwd: where git runs the hook (the top of the work tree).
        remote_name: the git remote being pushed to (used to find which commits are new).
        updates: the parsed stdin lines.
        prefix: the art workspace relative to ``cwd``.

    Returns:
        Exit code 1 when the art push failed (git then refuses to push), else 0.
    """
    result = HookResult()
    repo = find_repo(cwd, prefix)
    if repo is None:
        return result
    revs, left_out = commits_to_push(cwd, remote_name, updates)
    if not revs:
        return result
    try:
        from ..workspace.push import push
    except ImportError:
        result.say("art: this art cannot push yet; artifacts were not pushed")
        return result
    with repo:
        try:
            pushed = push(repo, revs=revs)
        except RemoteNotConfiguredError as exc:
            result.say(f"art: warning: artifacts were not pushed: {exc}")
            result.say("hint: add one with 'art remote add NAME URL --default'")
            return result
        except ArtError as exc:
            result.code = 1
            result.say(f"art: pushing artifacts failed, so the git push is stopped: {exc}")
            if exc.hint:
                result.say(f"hint: {exc.hint}")
            result.say("(push anyway with 'git push --no-verify')")
            return result
    summary = _summary(pushed)
    result.say(f"art: pushed the artifacts of {count(len(revs), 'commit')}{summary}")
    if left_out:
        result.say(
            f"art: {count(left_out, 'older new commit', 'was')} not scanned; 'art push --all-commits' covers them"
        )
    return result


def _summary(pushed) -> str:
    for attr in ("objects", "sent", "transferred"):
        value = getattr(pushed, attr, None)
        if isinstance(value, int):
            return f" ({value} objects sent)"
    return ""
