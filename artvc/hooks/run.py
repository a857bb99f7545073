"""Dispatch ``art hook NAME ARGS...``: run the chained user hook, then ours; adapt to the pre-commit framework.

Under the pre-commit framework (``PRE_COMMIT=1``) git's arguments and stdin are consumed by the framework,
which passes them on as ``PRE_COMMIT_*`` environment variables instead; they are read from there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ._base import ZERO_SHA, HookResult
from .install import HOOKS, run_chained


def run_hook(
    name: str,
    args: list[str],
    *,
    cwd: Path,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    prefix: str = "",
    strict: bool | None = None,
) -> HookResult:
    """Run hook ``name`` as git (or the pre-commit framework) invoked it.

    Args:
        name: pre-commit, post-checkout or pre-push.
        args: the hook's arguments from git.
        cwd: the directory git ran the hook in.
        stdin: the hook's standard input (pre-push), already read.
        env: the environment (``PRE_COMMIT_*`` variables); default ``os.environ``.
        prefix: the art workspace relative to ``cwd``.
        strict: pre-commit only: block on stale pipeline stages.

    Returns:
        The exit code for git and the messages to show. A failing chained hook's code wins; art's own
        breakage never yields a non-zero code.
    """
    env = os.environ if env is None else env
    if name not in HOOKS:
        return HookResult(0, [f"art: unknown hook {name!r} ignored (known: {', '.join(HOOKS)})"])
    framework = env.get("PRE_COMMIT") == "1"
    theirs = 0 if framework else run_chained(cwd, name, args, stdin)
    if theirs and name != "post-checkout":
        return HookResult(theirs)
    try:
        result = _ours(name, args, cwd=cwd, stdin=stdin, env=env, framework=framework, prefix=prefix, strict=strict)
    except Exception as exc:  # a hook must never break git because art broke
        result = HookResult(0, [f"art: {name} hook skipped after an internal error: {type(exc).__name__}: {exc}"])
    if theirs:
        result.code = theirs
    return result


def _ours(
    name: str,
    args: list[str],
    *,
    cwd: Path,
    stdin: bytes | None,
    env: Mapping[str, str],
    framework: bool,
    prefix: str,
    strict: bool | None,
) -> HookResult:
    if name == "pre-commit":
        from .pre_commit import pre_commit

        return pre_commit(cwd, prefix=prefix, strict=strict)
    if name == "post-checkout":
        from .post_checkout import post_checkout

        if framework and len(args) < 3:
            args = [
                env.get("PRE_COMMIT_FROM_REF", ""),
                env.get("PRE_COMMIT_TO_REF", ""),
                env.get("PRE_COMMIT_CHECKOUT_TYPE", ""),
            ]
        if len(args) < 3:
            return HookResult(0, ["art: post-checkout needs <previous> <new> <flag>; nothing done"])
        return post_checkout(cwd, args[0], args[1], args[2], prefix=prefix)
    from .pre_push import parse_updates, pre_push

    if framework and not (stdin or b"").strip():
        remote = env.get("PRE_COMMIT_REMOTE_NAME", "")
        to_ref = env.get("PRE_COMMIT_TO_REF") or env.get("PRE_COMMIT_LOCAL_BRANCH", "")
        from_ref = env.get("PRE_COMMIT_FROM_REF") or ZERO_SHA
        updates = (
            [(env.get("PRE_COMMIT_LOCAL_BRANCH", ""), to_ref, env.get("PRE_COMMIT_REMOTE_BRANCH", ""), from_ref)]
            if to_ref
            else []
        )
    else:
        remote = args[0] if args else ""
        updates = parse_updates((stdin or b"").decode(errors="replace"))
    return pre_push(cwd, remote, updates, prefix=prefix)
