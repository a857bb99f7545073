"""``art status`` with the file-system monitor (``core.fsmonitor = true``): ask the daemon
(``fsmonitor_daemon.py``) which folders changed since the token stored in ``state.db``, and re-sign only those
and the folders above them; every other folder's tree comes from its remembered signature without reading it.

Correctness first, as git's ``core.fsmonitor``:

- the session runs under the repository lock, and the new token is issued before any folder is read, so a change
  made while status runs is reported again next time;
- the token is stored (with the folder signatures, in one transaction) only when the status covered every
  artifact and left no folder unremembered (a racily new folder is re-signed next time), and any folder
  signature written outside the lock drops it (``StateDB.flush``);
- whenever the daemon is absent, restarted, overflowed, degraded, slow (``ANSWER_TIMEOUT``) or does not know the
  token, status does its full walk (and stores the token it was given, so the next one is fast).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..objstore.oid import Oid
from ..objstore.scan import DirSig, walk_tree
from ..objstore.tmpowner import pid_exists
from ..objstore.treecache import FolderScan, resolve_tree, scan_folder

if TYPE_CHECKING:
    from .repo import Repo

HOME = "cache/fsmonitor"  # under .art: ignored by git, and swept by nothing
PID_NAME = f"{HOME}/pid"
LOCK_NAME = f"{HOME}/lock"
SOCK_NAME = f"{HOME}/sock"
LOG_NAME = f"{HOME}/log"
ANSWER_TIMEOUT = 1.0  # seconds a status waits for the daemon's answer before walking everything
START_WAIT = 20.0  # seconds a status (or ``art fsmonitor start``) waits for a new daemon to watch every folder
LOCK_WAIT = 1.0  # seconds a status waits for the repository lock before walking without the monitor
_SUN_PATH = 108  # sockaddr_un.sun_path, with its terminating NUL
SUPPORTED = sys.platform.startswith("linux") and hasattr(socket, "SO_PEERCRED")  # inotify, peer credentials
_DIRTY = b"dirty"  # the signature of a folder that must be read again (never a remembered one: those are 32 bytes)


def address(art: Path) -> str:
    """The daemon's socket: ``.art/cache/fsmonitor/sock``, or, when that path is too long for a unix socket, a Linux
    abstract name derived from the path of ``.art``."""
    path = str(art / SOCK_NAME)
    if len(os.fsencode(path)) < _SUN_PATH:
        return path
    return "\0art-fsmonitor-" + hashlib.sha256(os.fsencode(str(art))).hexdigest()[:32]


def is_abstract(where: str) -> bool:
    return where.startswith("\0")


def ask(art: Path, request: dict, timeout: float = ANSWER_TIMEOUT) -> dict | None:
    """Send ``request`` to the daemon of the workspace whose ``.art`` is ``art``; its answer, or None when no daemon
    of this user answers in ``timeout`` seconds."""
    if not SUPPORTED:
        return None
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(address(art))
            creds = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            if struct.unpack("3i", creds)[1] not in (0, os.getuid()):
                return None  # someone else's process holds the name
            s.sendall(json.dumps(request).encode() + b"\n")
            chunks: list[bytes] = []
            while not chunks or not chunks[-1].endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                s.settimeout(left)
                part = s.recv(1 << 16)
                if not part:
                    return None
                chunks.append(part)
        reply = json.loads(b"".join(chunks))
    except (OSError, ValueError):
        return None
    return reply if isinstance(reply, dict) else None


def running(repo: Repo) -> dict | None:
    """The daemon's description (pid, root, watches, token...) when one answers for this workspace."""
    info = ask(repo.art_dir, {"op": "status"})
    return info if info is not None and info.get("root") == str(repo.root) else None


def start(repo: Repo, wait: float = START_WAIT) -> dict | None:
    """Start the daemon in the background unless one runs; its description once it watches every folder (None when
    it did not get there within ``wait`` seconds, or exited)."""
    info = running(repo)
    if info is not None or not SUPPORTED:
        return info
    try:
        proc = _spawn(repo)
    except OSError:
        return None
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        info = running(repo)
        if info is not None:
            return info
        if proc.poll() is not None:  # another daemon won the race, or this one failed
            return running(repo)
        time.sleep(0.02)
    return None


def _spawn(repo: Repo) -> subprocess.Popen:
    (repo.art_dir / HOME).mkdir(parents=True, exist_ok=True)
    log = open(repo.art_dir / LOG_NAME, "ab")  # noqa: SIM115 - handed to the daemon
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "artvc", "fsmonitor", "run"],
            cwd=repo.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        log.close()


def stop(repo: Repo, wait: float = 10.0) -> int | None:
    """Stop the daemon; its pid (None when none was running)."""
    info = ask(repo.art_dir, {"op": "stop"})
    pid: int | None
    if info is not None and info.get("root") == str(repo.root):
        pid = int(info["pid"])
    else:  # not answering (hung, or still crawling): its pid file names it
        pid = _pid_file(repo)
        if pid is None:
            return None
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return None
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.02)
    return pid


def _pid_file(repo: Repo) -> int | None:
    """The pid in ``.art/cache/fsmonitor/pid`` when it is a live daemon of this user for this workspace."""
    try:
        pid = json.loads((repo.art_dir / PID_NAME).read_text())["pid"]
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        owner = os.stat(f"/proc/{pid}").st_uid
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ours = owner == os.getuid() and b"fsmonitor" in cmd and b"run" in cmd
    return pid if ours and isinstance(pid, int) and os.readlink(f"/proc/{pid}/cwd") == str(repo.root) else None


def _alive(pid: int) -> bool:
    if not pid_exists(pid):
        return False
    try:  # a zombie (our own child, not reaped yet) has exited
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except OSError:
        return False


@contextmanager
def session(repo: Repo, *, whole: bool) -> Iterator[Changes | None]:
    """What changed since the stored token, for one ``status`` (None: no monitor this time, walk everything as
    without it), also as ``repo.monitor`` for whatever the command checks meanwhile (its stages' outputs). Holds
    the repository lock; stores the new token on the way out when ``whole`` (every artifact was looked at) and
    nothing was left unremembered. Inside another session it is that one."""
    from ..errors import RepoLockedError

    if repo.monitoring or not SUPPORTED:
        yield repo.monitor
        return
    _prestart(repo)
    try:
        repo.lock.acquire(LOCK_WAIT, store=False)
    except RepoLockedError:
        yield None
        return
    repo.monitoring = True
    try:
        changes = repo.monitor = _changes(repo)
        yield changes
        if changes is not None and whole and changes.unsettled == 0:
            repo.state.set_monitor_token(changes.token, changes.stored)
        repo.state.flush()
    finally:
        repo.monitoring = False
        repo.monitor = None
        repo.lock.release()


def _prestart(repo: Repo) -> None:
    """Start the daemon if none answers, before the lock is taken: its first crawl may take a while."""
    if not repo.state.read_only and ask(repo.art_dir, {"op": "status"}) is None:
        start(repo)


def _changes(repo: Repo) -> Changes | None:
    state = repo.state
    if state.read_only:
        return None
    stored = state.monitor_token()
    request = {"op": "since", "token": stored or ""}
    reply = ask(repo.art_dir, request)
    if reply is None or reply.get("root") != str(repo.root) or not isinstance(reply.get("token"), str):
        return None
    return Changes(repo, reply, stored)


class Changes:
    """The daemon's answer for one status: every folder changed (``everything``), or the sorted list of folders
    (repo-relative) that changed, each with whether its whole subtree is new."""

    def __init__(self, repo: Repo, reply: dict, stored: str | None) -> None:
        self.repo = repo
        self.stored = stored  # the token the session read (the new one replaces only it)
        self.token: str = reply["token"]
        self.everything = bool(reply.get("all", True))
        dirs = reply.get("dirs") or []
        ok = isinstance(dirs, list) and all(isinstance(d, list) and len(d) == 2 and isinstance(d[0], str) for d in dirs)
        self.everything = self.everything or not ok
        self.dirs: list[str] = [d[0] for d in dirs] if ok else []
        self.subtrees: set[str] = {d[0] for d in dirs if d[1]} if ok else set()
        self.dirs.sort()
        self.unsettled = 0  # folders looked at whose signature was not remembered (racily new, or an error)

    def under(self, path: str) -> tuple[set[str], set[str]]:
        """The folders to read again under artifact folder ``path`` (relative to it, "" for itself), with every
        folder above them, and those whose whole subtree is new."""
        dirty: set[str] = set()
        subtrees: set[str] = set()
        up = path
        while up:
            up = up.rpartition("/")[0]
            if up in self.subtrees:  # a folder above it is new: all of it is
                return {""}, {""}
        dirs = self.dirs
        i = bisect.bisect_left(dirs, path)
        prefix = path + "/"
        while i < len(dirs) and (dirs[i] == path or dirs[i].startswith(prefix) or dirs[i] < prefix):
            d = dirs[i]
            i += 1
            if d != path and not d.startswith(prefix):
                continue  # "data-x" sorts between "data" and "data/"
            rel = d[len(prefix) :] if d != path else ""
            if d in self.subtrees:
                subtrees.add(rel)
            while rel not in dirty:
                dirty.add(rel)
                if not rel:
                    break
                rel = rel.rpartition("/")[0]
        return dirty, subtrees

    def tree_oid(self, path: str) -> Oid:
        """The tree id of the folder at repo-relative ``path`` (which is a folder now).

        Raises:
            FileSystemError: when a folder or an entry cannot be read.
            UnsafePathError: for a symlink that leaves the workspace, or a name that is not valid UTF-8.
        """
        repo, state = self.repo, self.repo.state
        full = str(repo.abspath(path))
        self.unsettled += 1
        remembered: list[bool] = []
        keep = state.folders_under(path)

        def remember(rel: str, sig: bytes, oid: Oid, size: int) -> None:
            if not rel:
                remembered.append(True)
            keep(rel, sig, oid, size)

        def known(rel: str, sig: bytes) -> tuple[Oid, int] | None:
            return None if sig is _DIRTY else state.tree_entry(f"{path}/{rel}", sig.hex())

        dirty, subtrees = self.under(path) if not self.everything else ({""}, {""})
        if "" not in subtrees:  # else all of it is new: the full walk below
            if not dirty:
                sig = state.tree_sig(path)
                hit = state.tree_entry(path, sig) if sig is not None else None
                if hit is not None:  # nothing changed in it since its signature was remembered
                    self.unsettled -= 1
                    return hit[0]
            else:
                scanned = FolderScan(_DIRTY, _Sigs(state, path, dirty, subtrees), True)
                oid = resolve_tree(full, repo.root, scanned, state.digests_of, known, remember)
                self.unsettled -= bool(remembered)
                return oid
        try:  # everything may have changed (or nothing is remembered): the full walk, as without the monitor
            scanned = scan_folder(full, listings=True)
        except OSError:  # unreadable somewhere: the plain walk says where, as a FileSystemError
            tree, _ = walk_tree(full, repo.root, state.oids_of)
            return tree.oid
        hit = state.tree_entry(path, scanned.signature.hex())
        if hit is not None:
            self.unsettled -= 1
            return hit[0]
        oid = resolve_tree(full, repo.root, scanned, state.digests_of, known, remember)
        self.unsettled -= bool(remembered)
        return oid


class _Sigs(dict):
    """``FolderScan.sigs`` for ``resolve_tree`` without a walk: a folder to read again gets a signature nothing
    remembers (``_DIRTY``), any other its remembered one (None when there is none: that subtree is walked)."""

    def __init__(self, state, top: str, dirty: set[str], subtrees: set[str]) -> None:
        super().__init__()
        self.state, self.top, self.dirty, self.subtrees = state, top, dirty, subtrees

    def get(self, rel: str, default: DirSig | None = None) -> DirSig | None:  # type: ignore[override]
        if rel in self.dirty or _inside(rel, self.subtrees):
            return (_DIRTY, True)
        sig = self.state.tree_sig(f"{self.top}/{rel}")
        try:
            return (bytes.fromhex(sig), True) if sig else default
        except ValueError:
            return default


def _inside(rel: str, tops: set[str]) -> bool:
    if not tops:
        return False
    if "" in tops:
        return True
    while rel:
        if rel in tops:
            return True
        rel = rel.rpartition("/")[0]
    return False
