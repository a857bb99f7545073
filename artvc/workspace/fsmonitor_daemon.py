"""The file-system monitor daemon (``art fsmonitor run``; ``art fsmonitor start`` and ``art status`` start it in
the background): it watches every folder of the workspace with inotify and tells ``art status`` which folders
changed since a token, so status re-signs those alone (``workspace/fsmonitor.py`` is the client side; the
design is in docs/design.md, "The file-system monitor").

One thread, one ``select`` loop over the inotify descriptor and a unix socket (``fsmonitor.address``). Every
folder except ``.git``/``.art`` gets a watch; a new folder (created or moved in) gets one at once, with its
subfolders, and is reported dirty with its whole subtree (files may be created in it before its watch exists).
A change marks the folder whose listing or entry changed with the current stamp; a request drains the queued
events first, then issues the token (the stamp) and moves the stamp on, so a change made after the token was
issued is reported to the next request. The set of changed folders is bounded (``MAX_CHANGED``): past it, on
an inotify queue overflow (then every folder is watched again) or once a watch could not be added
(``max_user_watches``), older tokens are answered "everything changed".

It writes only under ``.art`` (the pid file, atomically; the socket; its lock and log), never takes the repository
lock, and exits on ``stop``, SIGTERM, or when the workspace or its ``.art`` disappears.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import signal
import socket
import struct
import time
from pathlib import Path

from ..objstore.faults import fault_point
from ..objstore.fileio import remove_if_present
from ..objstore.scan import SKIP_NAMES
from . import inotify as ino
from .fsmonitor import HOME, LOCK_NAME, PID_NAME, address, is_abstract

MAX_CHANGED = 100_000  # folders remembered as changed; past it, older tokens get "everything changed"
CHECK_EVERY = 2.0  # seconds between checks that the workspace and .art are still there
_REQUEST_MAX = 1 << 16


class Monitor:
    """The watches and the changed folders of one workspace (paths relative to its root, "" for the root)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.inotify = ino.Inotify()
        self.wds: dict[int, str] = {}
        self.paths: dict[str, int] = {}
        self.instance = os.urandom(8).hex()
        self.stamp = 1  # events get the stamp of the next token; a token T reports the stamps above T
        self.floor = 0  # tokens below it are answered "everything changed"
        self.changed: dict[str, list[int]] = {}  # folder -> [last stamp, last stamp with its whole subtree]
        self.degraded: str | None = None  # why every answer is "everything changed" (a watch could not be added)
        self.stop: str | None = None  # why the daemon stops
        self.overflows = 0

    def full(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    def crawl(self, top: str) -> None:
        """Watch folder ``top`` and every folder below it (skipping .git and .art), iteratively."""
        stack = [top]
        while stack:
            rel = stack.pop()
            path = self.full(rel)
            try:
                wd = self.inotify.add(path)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    continue  # gone already: its parent's event reports it
                self.degraded = f"cannot watch {path}: {exc.strerror}"
                return
            old = self.wds.get(wd)
            if old is not None and old != rel:
                self.paths.pop(old, None)
            self.wds[wd] = rel
            self.paths[rel] = wd
            try:
                with os.scandir(path) as it:
                    for e in it:
                        if e.name not in SKIP_NAMES and e.is_dir(follow_symlinks=False):
                            stack.append(f"{rel}/{e.name}" if rel else e.name)
            except OSError:
                continue  # unreadable or gone: status reads it and says so

    def forget(self, top: str) -> None:
        """Stop watching ``top`` and everything below it (deleted, or moved away)."""
        prefix = top + "/"
        for rel in [r for r in self.paths if r == top or r.startswith(prefix)]:
            wd = self.paths.pop(rel)
            self.wds.pop(wd, None)
            self.inotify.remove(wd)

    def mark(self, rel: str, subtree: bool = False) -> None:
        entry = self.changed.get(rel)
        if entry is None:
            self.changed[rel] = [self.stamp, self.stamp if subtree else 0]
            if len(self.changed) > MAX_CHANGED:
                self.changed.clear()
                self.floor = self.stamp
        else:
            entry[0] = self.stamp
            if subtree:
                entry[1] = self.stamp

    def drain(self) -> None:
        """Read and record every queued event."""
        fault_point("fsmonitor.drain")  # tests hold the daemon here while the kernel's queue overflows
        while events := self.inotify.read():
            for wd, mask, name in events:
                self.handle(wd, mask, name)

    def handle(self, wd: int, mask: int, name: str) -> None:
        if mask & ino.IN_Q_OVERFLOW:
            self.overflows += 1
            self.changed.clear()
            self.floor = self.stamp
            self.crawl("")  # new folders whose events were lost get their watches
            return
        rel = self.wds.get(wd)
        if rel is None:
            return  # a watch dropped already (its folder was removed or moved away)
        if mask & ino.IN_IGNORED:
            self.wds.pop(wd, None)
            if self.paths.get(rel) == wd:
                del self.paths[rel]
            return
        if mask & (ino.IN_DELETE_SELF | ino.IN_MOVE_SELF | ino.IN_UNMOUNT):
            if not rel:
                self.stop = "the workspace was moved or deleted"
            return  # a subfolder: its parent's event reported it
        if name in SKIP_NAMES:
            if not rel and name == ".art" and mask & (ino.IN_DELETE | ino.IN_MOVED_FROM):
                self.stop = ".art was removed"
            return
        self.mark(rel)
        if mask & ino.IN_ISDIR and name:
            child = f"{rel}/{name}" if rel else name
            if mask & (ino.IN_CREATE | ino.IN_MOVED_TO):
                self.mark(child, True)
                self.crawl(child)
            elif mask & (ino.IN_DELETE | ino.IN_MOVED_FROM):
                self.forget(child)
                self.mark(child, True)

    def since(self, token: object) -> dict:
        """The answer to "what changed since ``token``" (a token from this daemon, or anything else)."""
        self.drain()
        fault_point("fsmonitor.answer")  # tests make the daemon die or hang exactly here
        stamp = _stamp_of(token, self.instance)
        issued = self.stamp
        self.stamp += 1
        out: dict = {"token": f"{self.instance}:{issued}", "root": self.root}
        if stamp is None or stamp < self.floor or self.degraded:
            out["all"] = True
            out["why"] = self.degraded or ("unknown token" if stamp is None else "too much changed since the token")
            return out
        out["all"] = False
        out["dirs"] = sorted([rel, entry[1] > stamp] for rel, entry in self.changed.items() if entry[0] > stamp)
        return out

    def describe(self) -> dict:
        return {
            "pid": os.getpid(),
            "root": self.root,
            "watches": len(self.paths),
            "token": f"{self.instance}:{self.stamp - 1}",
            "changed": len(self.changed),
            "overflows": self.overflows,
            "degraded": self.degraded,
        }


def _stamp_of(token: object, instance: str) -> int | None:
    if not isinstance(token, str):
        return None
    owner, _, stamp = token.partition(":")
    return int(stamp) if owner == instance and stamp.isdigit() and len(stamp) < 20 else None


def run(root: Path) -> int:
    """Run the daemon for the workspace at ``root`` until it is stopped; 0 at once when one runs already."""
    art = root / ".art"
    (art / HOME).mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(art / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock_fd)
        return 0
    signal.signal(signal.SIGTERM, _exit)  # wherever it is (even blocked): the cleanup below runs
    signal.signal(signal.SIGINT, _exit)
    mon = Monitor(str(root))
    where = address(art)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound = False
    try:
        mon.crawl("")
        if not is_abstract(where) and os.path.lexists(where):
            os.unlink(where)  # left by a daemon that was killed (we hold the lock: no other one runs)
        server.bind(where)
        bound = True
        server.listen(16)
        _write_pid(art, where)
        fault_point("fsmonitor.ready")
        _serve(mon, server, art)
    finally:
        server.close()
        if bound and not is_abstract(where):
            remove_if_present(where)
        if _pid_is_mine(art):
            remove_if_present(art / PID_NAME)
        mon.inotify.close()
        os.close(lock_fd)
    return 0


def _exit(*_: object) -> None:
    raise SystemExit(0)


def _serve(mon: Monitor, server: socket.socket, art: Path) -> None:
    checked = time.monotonic()
    while mon.stop is None:
        try:
            ready, _, _ = select.select([mon.inotify.fd, server], [], [], CHECK_EVERY)
        except InterruptedError:
            continue
        if mon.inotify.fd in ready:
            mon.drain()
        if server in ready:
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                if _answer(mon, conn) == "stop":
                    return
        if time.monotonic() - checked >= CHECK_EVERY:
            checked = time.monotonic()
            if not os.path.isdir(art) or not _pid_is_mine(art):
                return


def _answer(mon: Monitor, conn: socket.socket) -> str | None:
    """Read one request (a line of JSON) and answer it; returns its op."""
    conn.settimeout(2.0)
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, _ = struct.unpack("3i", creds)
        if uid not in (0, os.getuid()):
            return None  # another user's process: the socket may be an abstract name anyone can reach
        data = b""
        while not data.endswith(b"\n") and len(data) < _REQUEST_MAX:
            part = conn.recv(4096)
            if not part:
                break
            data += part
        request = json.loads(data)
        op = request.get("op") if isinstance(request, dict) else None
        if op == "since":
            reply = mon.since(request.get("token"))
        elif op in ("status", "stop"):
            reply = mon.describe()
        else:
            reply = {"error": f"unknown request {op!r}"}
        conn.sendall(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
        return op
    except (OSError, ValueError):
        return None


def _write_pid(art: Path, where: str) -> None:
    tmp = art / f"{PID_NAME}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps({"pid": os.getpid(), "address": where.replace("\0", "@")}) + "\n")
    os.replace(tmp, art / PID_NAME)


def _pid_is_mine(art: Path) -> bool:
    try:
        return json.loads((art / PID_NAME).read_text()).get("pid") == os.getpid()
    except (OSError, ValueError, AttributeError):
        return False
