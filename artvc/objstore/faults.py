"""Named fault-injection points, so that crash and fault tests hit exact places instead of racing a timer.

Code that leaves interesting state on disk calls ``fault_point("add.pack-sealed")`` at that place. In normal
use ``ART_FAULT`` is unset and a point costs one global lookup. Tests set, in the environment of the ``art``
process they start:

``ART_FAULT=NAME[@N][:ACTION][,...]``
    act at the N-th time (default: the first) the process reaches point NAME. ACTION is ``kill`` (SIGKILL
    this process: the default), ``enospc``, ``eio`` or ``eacces`` (raise that ``OSError`` there, as the
    kernel would), ``interrupt`` (raise ``KeyboardInterrupt``, as Ctrl-C would), or ``block`` (wait there, in
    that thread, until the file named by ``ART_FAULT_RELEASE`` exists: a test can then act while this process
    is exactly there, e.g. stop a server with a request in flight).
``ART_FAULT_LOG=FILE``
    append the name of every point reached, one per line, so a test can list the points a command passes
    and then kill it at each of them in turn.

Point names are ``<command or layer>.<what has just happened>``; ``tests/e2e`` lists the ones they rely on.
"""

from __future__ import annotations

import errno
import os

_plan: dict[str, tuple[int, str]] | None = None
_hits: dict[str, int] = {}
_log: str | None = None
_loaded = False

_ERRNO = {"enospc": errno.ENOSPC, "eio": errno.EIO, "eacces": errno.EACCES}
ACTIONS = frozenset({"kill", "interrupt", "block", *_ERRNO})


def _load() -> None:
    global _plan, _log, _loaded
    _loaded = True
    _log = os.environ.get("ART_FAULT_LOG") or None
    spec = os.environ.get("ART_FAULT", "")
    if not spec:
        return
    plan: dict[str, tuple[int, str]] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, action = item.partition(":")
        name, _, nth = name.partition("@")
        action = action or "kill"
        if action not in ACTIONS:
            raise ValueError(f"ART_FAULT: unknown action {action!r} (one of {', '.join(sorted(ACTIONS))})")
        plan[name] = (int(nth) if nth else 1, action)
    _plan = plan


def fault_point(name: str) -> None:
    """Mark a place where a test may crash or fail this process (see the module docstring)."""
    if not _loaded:
        _load()
    if _log is not None:
        with open(_log, "a", encoding="utf-8") as f:
            f.write(name + "\n")
    if _plan is None or name not in _plan:
        return
    count = _hits[name] = _hits.get(name, 0) + 1
    nth, action = _plan[name]
    if count != nth:
        return
    if action == "kill":  # signal imported here: its enums cost every command's start ~3 M instructions
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    if action == "interrupt":
        raise KeyboardInterrupt
    if action == "block":
        _block_until_released()
        return
    code = _ERRNO[action]
    raise OSError(code, os.strerror(code), f"<fault {name}>")


def _block_until_released() -> None:
    import time

    release = os.environ.get("ART_FAULT_RELEASE") or ""
    if not release:
        raise ValueError("ART_FAULT: the block action needs ART_FAULT_RELEASE=FILE")
    while not os.path.exists(release):
        time.sleep(0.01)


def reset() -> None:
    """Forget the parsed environment and the hit counts (for in-process tests that change ``ART_FAULT``)."""
    global _plan, _log, _loaded
    _plan, _log, _loaded = None, None, False
    _hits.clear()
