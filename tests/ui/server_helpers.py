"""Helpers of the art ui tests: a test repository, a real ``art ui`` subprocess, raw requests, a crawler."""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import blake3

from tests.conftest import GIT_ENV

ART = [sys.executable, "-m", "artvc"]
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'"
FIXED = ["/index.html", "/artifacts/index.html", "/experiments.html", "/store.html"]
FLOW = """
from artvc import pipeline, step


@step
def double(x: int) -> int:
    return 2 * x


@pipeline
def p(x: int = 2):
    double(x)
"""


def make_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ART_")}
    env.update(GIT_ENV, HOME=str(home), **extra)
    return env


def run(root: Path, env: dict[str, str], *args: str, code: int = 0) -> subprocess.CompletedProcess:
    r = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
    return r


def build_repo(base: Path) -> tuple[Path, dict[str, str]]:
    """A git + art repository with a tracked folder, an art.toml stage run by repro, and a Python pipeline run."""
    home, root = base / "home", base / "ws"
    home.mkdir()
    root.mkdir()
    env = make_env(home)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[user]\n\tname = T\n\temail = t@example.com\n")
    (root / "data").mkdir()
    (root / "data" / "a.csv").write_text("x,y\n" + "".join(f"{i},{i * i}\n" for i in range(200)))
    (root / "flowmod.py").write_text(FLOW)
    run(root, env, "git", "init", "-q")
    run(root, env, *ART, "init", "-q")
    run(root, env, *ART, "add", "-q", "data")
    run(root, env, *ART, "stage", "add", "copy", "-d", "data", "-o", "out.csv", "--", "cp data/a.csv out.csv")
    run(root, env, *ART, "repro", "-q")
    run(root, env, *ART, "run", "-q", "flowmod:p")
    run(root, env, "git", "add", "-A")
    run(root, env, "git", "commit", "-qm", "v1")
    return root, env


class UI:
    """``art ui --port 0 --no-open --json`` in ``root``; the URL is the first line it prints."""

    def __init__(self, root: Path, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [*ART, "ui", "--port", "0", "--no-open", "--json", *args],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.proc.kill()
            raise AssertionError(f"art ui printed no URL: {self.proc.communicate()}")
        self.url = json.loads(line)["url"]
        parts = urlsplit(self.url)
        self.port = parts.port
        self.token = parts.query.removeprefix("token=") or None

    def get(self, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        resp.body = resp.read()  # type: ignore[attr-defined]
        conn.close()
        return resp

    def raw(self, request_line: bytes, host: bytes | None = None, *, no_host: bool = False) -> tuple[int, bytes]:
        """Send a request line exactly as given (no client normalises it), with this Host (or none)."""
        head = request_line + b"\r\n"
        if not no_host:
            head += b"Host: " + (f"127.0.0.1:{self.port}".encode() if host is None else host) + b"\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(head + b"Connection: close\r\n\r\n")
            resp = http.client.HTTPResponse(s, method="GET")
            resp.begin()
            return resp.status, resp.read()

    def stop(self, sig: int | None = signal.SIGINT) -> int:
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # still running: reading its stderr below would wait forever
            self.proc.wait()
            raise
        finally:
            self.stderr = self.proc.stderr.read().decode()
            self.proc.stdout.close()
            self.proc.stderr.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.found.extend(v for k, v in attrs if k in ("href", "src") and v)


def links_of(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.found


def crawl(ui: UI) -> dict[str, http.client.HTTPResponse]:
    """Every page reachable from the fixed pages by following links, fetched over HTTP."""
    seen: dict[str, http.client.HTTPResponse] = {}
    queue = list(FIXED)
    base = f"http://127.0.0.1:{ui.port}"
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        resp = seen[path] = ui.get(path)
        if resp.getheader("Content-Type", "").startswith("text/html"):
            for link in links_of(resp.body.decode()):
                target = urlsplit(urljoin(base + path, link))
                if f"{target.scheme}://{target.netloc}" == base:
                    queue.append(target.path)
    return seen


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under ``root`` (work tree, .art, .git): size, mtime and content hash."""
    found: dict[str, tuple] = {}
    for base, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(base, name), root)] = ("dir",)
        for name in files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            digest = blake3.blake3(Path(path).read_bytes()).hexdigest() if os.path.isfile(path) else None
            found[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns, digest)
    return found
