"""Temp files and folders that name their owner, so leftovers of a killed process can be found and removed.

A temp name carries ``<pid>x<start>x<space>``: the process id, its start time (clock ticks since boot, from
``/proc``), so a later process that reuses the pid is not mistaken for the owner, and a short hash of the
boot and pid namespace, since a pid means nothing on another machine or in another container sharing the
folder (such temps are left to their own side, or removed after ``FOREIGN_AGE``). Whoever next takes the repo
(or store) lock calls ``sweep``: what belongs to a process that is no longer running is removed, what belongs
to a live one is left alone. Names without a token (from an older art) are removed once older than an hour.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

_TOKEN = re.compile(r"(\d+)x(\d+)x([0-9a-f]{8})")
LEGACY_AGE = 3600.0
FOREIGN_AGE = 7 * 86400.0


def _start_time(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot; None when it is not running."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError:
        return 0
    try:
        return int(data[data.rindex(b")") + 2 :].split()[19])
    except (ValueError, IndexError):
        return 0


def _space() -> str:
    """Eight hex digits naming this boot and pid namespace (where a pid means this process)."""
    from .hashing import sha256_hex

    parts = [os.uname().nodename]
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            parts.append(f.read().strip())
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    except OSError:
        pass
    return sha256_hex("\0".join(parts).encode())[:8]


def _token() -> str:
    pid = os.getpid()
    return f"{pid}x{_start_time(pid) or 0}x{_space()}"


def token() -> str:
    """This process's owner token (``<pid>x<start>x<space>``); recomputed after a fork."""
    global _cached
    if _cached is None or _cached[0] != os.getpid():
        _cached = (os.getpid(), _token())
    return _cached[1]


_cached: tuple[int, str] | None = None


def alive(tok: str) -> bool:
    """True while the process that made token ``tok`` is still running."""
    m = _TOKEN.fullmatch(tok)
    if m is None:
        return False
    if m.group(3) != token().rsplit("x", 1)[1]:
        return True  # another machine or container: its pids are not ours to check
    pid, start = int(m.group(1)), int(m.group(2))
    if os.path.isdir("/proc/self"):
        now = _start_time(pid)
        return now is not None and (start == 0 or now == 0 or now == start)
    return pid_exists(pid)


def pid_exists(pid: int) -> bool:
    """True when a process ``pid`` exists (a zombie too), whoever owns it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner(name: str) -> str | None:
    """The owner token in a temp name made with ``token()``, or None for a name without one."""
    m = _TOKEN.search(name)
    return m.group(0) if m else None


def abandoned(path: Path, *, now: float | None = None, legacy: bool = True) -> bool:
    """True when ``path`` is a temp whose owner is gone (or, with ``legacy``, a token-less one older than
    ``LEGACY_AGE``)."""
    tok = owner(path.name)
    if tok is not None and tok.rsplit("x", 1)[1] != token().rsplit("x", 1)[1]:
        age = FOREIGN_AGE  # made elsewhere: removed only when surely abandoned
    elif tok is not None:
        return not alive(tok)
    elif not legacy:
        return False
    else:
        age = LEGACY_AGE
    try:
        return path.lstat().st_mtime < (now or time.time()) - age
    except FileNotFoundError:
        return False


def sweep(
    folder: Path, patterns: Iterable[str], *, recover: Callable[[Path], object] | None = None, legacy: bool = True
) -> list[str]:
    """Remove the entries of ``folder`` matching ``patterns`` whose owner is gone; return their names.

    ``recover`` (when given) is called on each abandoned entry first, e.g. to put stashed outputs back;
    whatever it leaves is then removed. A live owner's temps are never touched; ``legacy=False`` also spares
    names without an owner token.
    """
    removed: list[str] = []
    try:
        candidates = sorted({p for pattern in patterns for p in folder.glob(pattern)})
    except OSError:
        return removed
    now = time.time()
    for path in candidates:
        if not abandoned(path, now=now, legacy=legacy):
            continue
        try:
            if recover is not None:
                recover(path)
            if path.is_dir() and not path.is_symlink():
                import shutil  # on first use: most commands remove no folder here

                shutil.rmtree(path)
            elif os.path.lexists(path):
                path.unlink()
        except OSError:
            continue  # read-only or in use: the next command tries again
        removed.append(path.name)
    return removed


# -- a journal of temps made outside the folders that are swept ---------------------------------------------
# Temp files beside a checked-out file and staging folders live anywhere in the workspace, where no sweep
# looks. A process that makes them first notes each path in ``<folder>/owned-<token>.list``; ``sweep_journals``
# removes the noted paths of owners that are gone (when ``accept`` agrees), then the journal itself.

_journal: list[Any] = [None, None]  # [folder, open file]


def set_journal(folder: Path | None) -> None:
    """Note this process's temps in ``folder`` from now on (None: stop noting)."""
    if _journal[1] is not None:
        _journal[1].close()
    _journal[:] = [folder, None]


def note(path: str | os.PathLike[str]) -> None:
    """Record that this process is about to create temp ``path`` (no-op without a journal)."""
    folder, f = _journal
    if folder is None:
        return
    if f is None:
        try:
            journal = Path(folder) / f"owned-{token()}.list"
            f = open(journal, "a", encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
        except OSError:
            _journal[0] = None  # read-only .art: temps are still removed by their own writer on failure
            return
        _journal[1] = f
        import atexit

        atexit.register(_drop_journal, f)
    f.write(os.fspath(path) + "\n")
    f.flush()  # before the temp exists: a kill right after creating it still finds it noted


def _drop_journal(f: TextIO) -> None:
    """At a normal exit every temp was removed by its writer: the journal is not needed."""
    try:
        f.close()
        os.unlink(f.name)
    except OSError:
        pass


def sweep_journals(folder: Path, accept: Callable[[Path], bool]) -> list[str]:
    """Remove the temps noted by owners that are gone (each only when ``accept(path)``); return them."""
    removed = []
    for journal in sorted(folder.glob("owned-*.list")):
        tok = owner(journal.name)
        if tok is not None and alive(tok):
            continue
        try:
            paths = journal.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        except OSError:
            continue
        for line in dict.fromkeys(paths):
            path = Path(line)
            if not line or not os.path.lexists(path) or not accept(path):
                continue
            try:
                if path.is_dir() and not path.is_symlink():
                    import shutil

                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(line)
            except OSError:
                continue
        try:
            journal.unlink()
        except OSError:
            pass
    return removed
