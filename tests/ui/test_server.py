"""``art ui``: a real server subprocess on 127.0.0.1 (routes, traversal, token, methods, Host check, shutdown,
read-only) and ``art ui --export`` (a complete, self-contained site; what it refuses to replace)."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import blake3
import pytest

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


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ART_")}
    env.update(GIT_ENV, HOME=str(home), **extra)
    return env


def _run(root: Path, env: dict[str, str], *args: str, code: int = 0) -> subprocess.CompletedProcess:
    r = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
    return r


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A git + art repository with a tracked folder, an art.toml stage run by repro, and a Python pipeline run."""
    base = tmp_path_factory.mktemp("uiserver")
    home, root = base / "home", base / "ws"
    home.mkdir()
    root.mkdir()
    env = _env(home)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[user]\n\tname = T\n\temail = t@example.com\n")
    (root / "data").mkdir()
    (root / "data" / "a.csv").write_text("x,y\n" + "".join(f"{i},{i * i}\n" for i in range(200)))
    (root / "flowmod.py").write_text(FLOW)
    _run(root, env, "git", "init", "-q")
    _run(root, env, *ART, "init", "-q")
    _run(root, env, *ART, "add", "-q", "data")
    _run(root, env, *ART, "stage", "add", "copy", "-d", "data", "-o", "out.csv", "--", "cp data/a.csv out.csv")
    _run(root, env, *ART, "repro", "-q")
    _run(root, env, *ART, "run", "-q", "flowmod:p")
    _run(root, env, "git", "add", "-A")
    _run(root, env, "git", "commit", "-qm", "v1")
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
        finally:
            self.stderr = self.proc.stderr.read().decode()
            self.proc.stdout.close()
            self.proc.stderr.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def ui(repo):
    server = UI(*repo)
    yield server
    server.kill()
    server.stop()


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


def test_every_page_linked_from_the_site_is_served_with_its_json_and_the_security_headers(ui):
    pages = crawl(ui)
    assert set(FIXED) <= set(pages) and {"/assets/art-ui.css", "/assets/art-ui.js"} <= set(pages)
    assert any(p.startswith("/runs/") for p in pages), "the runs page links to its runs"
    assert any(p.startswith("/artifacts/") and p != "/artifacts/index.html" for p in pages)
    for path, resp in pages.items():
        assert resp.status == 200, (path, resp.status, resp.body[:300])
        assert resp.getheader("Content-Security-Policy") == CSP
        assert resp.getheader("X-Content-Type-Options") == "nosniff"
        assert resp.getheader("Referrer-Policy") == "no-referrer"
        if path.endswith(".html"):
            assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
            api = ui.get("/api" + path.removesuffix(".html") + ".json")
            assert api.status == 200 and api.getheader("Content-Type") == "application/json"
            assert api.getheader("Cache-Control") == "no-store"
            assert isinstance(json.loads(api.body), dict)
    assert pages["/assets/art-ui.js"].getheader("Content-Type").startswith("text/javascript")


def test_root_redirects_to_the_runs_page(ui):
    resp = ui.get("/")
    assert resp.status == 302 and resp.getheader("Location") == "/index.html"


@pytest.mark.parametrize(
    "target",
    [
        b"/../../etc/passwd",
        b"/%2e%2e/%2e%2e/etc/passwd",
        b"/%2E%2E/%2E%2E/etc/passwd",
        b"/..%2f..%2fetc%2fpasswd",
        b"/%252e%252e/%252e%252e/etc/passwd",
        b"/..%252f..%252fetc%252fpasswd",
        b"/..\\..\\etc\\passwd",
        b"/%5c..%5c..%5cetc%5cpasswd",
        b"//etc/passwd",
        b"/assets/../../../../etc/passwd",
        b"/assets/..%2f..%2f..%2fetc%2fpasswd",
        b"/assets/art-ui.css/../../../etc/passwd",
        b"/runs/../../../../etc/passwd.html",
        b"/api/../../../../etc/passwd.json",
        b"/artifacts/..%2f..%2f..%2fetc%2fpasswd-0123456789.html",
        b"/index.html%00.js",
        b"/index.html\x00",
        b"/./index.html",
        b"/index.html/",
        b"/INDEX.HTML",
        b"/%69ndex.html",
        b"/assets/",
        b"/assets/art-ui.py",
        b"/etc/passwd",
        b"http://127.0.0.1/etc/passwd",
        b"http://127.0.0.1/index.html",
        b"file:///etc/passwd",
        b"/.art/config",
        b"/.git/config",
        b"/flowmod.py",
    ],
)
def test_anything_outside_the_route_table_is_404(ui, target):
    status, body = ui.raw(b"GET " + target + b" HTTP/1.1")
    assert status == 404, (target, status)
    assert b"root:" not in body and b"[core]" not in body and b"pipeline" not in body


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GARBAGE", 400),
        (b"GET /index.html HTTP/9.9", 505),
        (b"GET /index.html?" + b"&".join(b"f%d=1" % i for i in range(30)) + b" HTTP/1.1", 400),
    ],
)
def test_a_malformed_request_gets_a_status_line_and_the_security_headers(ui, request_line, status):
    with socket.create_connection(("127.0.0.1", ui.port), timeout=30) as s:
        s.sendall(request_line + f"\r\nHost: 127.0.0.1:{ui.port}\r\nConnection: close\r\n\r\n".encode())
        resp = http.client.HTTPResponse(s, method="GET")
        resp.begin()
        assert resp.status == status
        assert resp.getheader("Content-Security-Policy") == CSP
    assert ui.get("/index.html").status == 200  # and the server goes on


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "FOO"])
def test_methods_other_than_get_and_head_are_405(ui, method):
    resp = ui.get("/index.html", method=method)
    assert resp.status == 405 and resp.getheader("Allow") == "GET, HEAD"
    assert resp.getheader("Content-Security-Policy") == CSP


def test_head_answers_the_headers_of_get_without_a_body(ui):
    get, head = ui.get("/store.html"), ui.get("/store.html", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.getheader("Content-Length") == get.getheader("Content-Length") == str(len(get.body))


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST:{port}", 200),
        ("[::1]:{port}", 200),
        ("localhost", 200),
        ("evil.example:{port}", 403),
        ("127.0.0.1.evil.example:{port}", 403),
        ("localhost:1", 403),
        ("[::1]x", 403),
        ("", 403),
    ],
)
def test_on_loopback_only_a_loopback_host_header_is_answered(ui, host, status):
    got, _ = ui.raw(b"GET /index.html HTTP/1.1", host=host.format(port=ui.port).encode())
    assert got == status, host


def test_a_request_without_a_host_header_is_refused_on_loopback(ui):
    assert ui.raw(b"GET /index.html HTTP/1.0", no_host=True)[0] == 403


def test_a_non_loopback_host_requires_the_token_then_a_cookie(repo):
    server = UI(*repo, "--host", "0.0.0.0")
    try:
        assert server.token and len(server.token) >= 32
        assert server.url == f"http://0.0.0.0:{server.port}/?token={server.token}"
        for path in ("/index.html", "/api/index.json", "/assets/art-ui.css", "/", "/../../etc/passwd"):
            assert server.get(path).status == 401, path
        assert server.get("/index.html?token=wrong").status == 401
        assert server.get("/index.html", headers={"Cookie": f"art_ui_{server.port}=wrong"}).status == 401
        first = server.get(f"/?token={server.token}")
        assert first.status == 302 and first.getheader("Location") == "/index.html"
        cookie = first.getheader("Set-Cookie")
        assert cookie == f"art_ui_{server.port}={server.token}; HttpOnly; SameSite=Strict; Path=/"
        jar = {"Cookie": cookie.split(";")[0]}
        assert server.get("/index.html", headers=jar).status == 200
        assert server.get(f"/store.html?token={server.token}").status == 200
        assert server.get("/../../etc/passwd", headers=jar).status == 404  # authenticated: still nothing else
        assert server.get("/index.html", headers={**jar, "Host": "anything.example"}).status == 200
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_stop_the_server_cleanly(repo, sig):
    server = UI(*repo, "-v")
    assert server.get("/index.html").status == 200
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)  # a keep-alive connection left open
    conn.request("GET", "/store.html")
    conn.getresponse().read()
    pid = server.proc.pid
    assert server.stop(sig) == 0
    conn.close()
    assert "Traceback" not in server.stderr and "art: error" not in server.stderr
    assert server.stderr.splitlines()[:2] == ["art ui: GET /index.html 200", "art ui: GET /store.html 200"]  # -v
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass


def test_ctrl_c_right_after_the_url_is_printed_is_a_clean_stop(repo):
    root, env = repo
    r = _run(root, {**env, "ART_FAULT": "ui.url-printed:interrupt"}, *ART, "ui", "--port", "0", "--no-open")
    assert r.stdout.startswith("Serving http://127.0.0.1:") and r.stderr == "Stopped.\n"


def test_ctrl_c_lets_a_request_in_flight_finish(repo, tmp_path):
    root, env = repo
    release, log = tmp_path / "release", tmp_path / "faults.log"
    env = {**env, "ART_FAULT": "ui.request@2:block", "ART_FAULT_RELEASE": str(release), "ART_FAULT_LOG": str(log)}
    server = UI(root, env)
    assert server.get("/index.html").status == 200
    answers: list = []
    thread = threading.Thread(target=lambda: answers.append(server.get("/store.html")))
    thread.start()
    while log.read_text().count("ui.request") < 2:  # the second request is blocked inside the server
        time.sleep(0.01)
    server.proc.send_signal(signal.SIGINT)
    while True:  # the listening socket closes first ...
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
        except ConnectionRefusedError:
            break
        except ConnectionResetError:
            pass  # accepted by the kernel just before the socket closed
        time.sleep(0.01)
    release.touch()  # ... then the request in flight is let go, and still answered
    thread.join(30)
    assert [a.status for a in answers] == [200]
    assert server.stop(None) == 0, server.stderr  # after the SIGINT above


def test_a_failing_request_is_a_500_with_one_logged_line_and_the_server_goes_on(repo):
    root, env = repo
    server = UI(root, {**env, "ART_FAULT": "ui.request@2:eio"})
    try:
        assert server.get("/index.html").status == 200
        failed = server.get("/store.html")
        assert failed.status == 500 and b"input/output error" in failed.body
        assert server.get("/store.html").status == 200
    finally:
        assert server.stop() == 0
    errors = [line for line in server.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("art: error: GET /store.html: "), server.stderr


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


def test_serving_every_page_writes_nothing_in_the_repository(repo):
    root, env = repo
    for cache in (root / ".art").glob("state.db*"):  # a command that may write would rebuild it
        cache.unlink()
    before = snapshot(root)
    server = UI(root, env)
    try:
        pages = crawl(server)
        for path in pages:
            if path.endswith(".html"):
                server.get("/api" + path.removesuffix(".html") + ".json")
        server.get("/runs/" + "0" * 64 + ".html")
        server.get("/index.html?pipeline=p&stage=double&branch=main")
        server.raw(b"GET /../../etc/passwd HTTP/1.1")
    finally:
        assert server.stop() == 0
    assert snapshot(root) == before


def test_an_unknown_run_or_artifact_is_404(ui):
    assert ui.get("/runs/" + "0" * 64 + ".html").status == 404
    assert ui.get("/api/runs/" + "0" * 64 + ".json").status == 404
    assert ui.get("/artifacts/nothing-0123456789.html").status == 404


def test_the_browser_opens_by_default_only_when_stdout_is_a_terminal(repo, tmp_path):
    root, env = repo
    opened = tmp_path / "opened"
    browser = tmp_path / "fake-browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    env = {**env, "BROWSER": str(browser)}
    piped = UI(root, env, "--open")  # asked for: opened even when piped
    while not opened.exists():
        time.sleep(0.01)
    assert piped.stop() == 0 and opened.read_text() == piped.url + "\n"
    opened.unlink()

    master, slave = os.openpty()
    proc = subprocess.Popen(
        [*ART, "ui", "--port", "0"], cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE
    )
    os.close(slave)
    try:
        out = b""
        while b"(Ctrl-C to stop)" not in out:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, out
            out += os.read(master, 4096)
        url = out.decode().split("Serving ", 1)[1].split(" ", 1)[0]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), out
        while not opened.exists():
            time.sleep(0.01)
        assert opened.read_text() == url + "\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        os.close(master)
    opened.unlink()
    plain = UI(root, env)  # piped, no --open: no browser
    assert plain.stop() == 0 and not opened.exists()


def test_a_port_in_use_is_one_error_line_with_a_hint(repo):
    root, env = repo
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = _run(root, env, *ART, "ui", "--port", str(port), "--no-open", code=1)
    assert r.stderr.splitlines() == [
        f"art: error: port {port} on 127.0.0.1 is already in use",
        "hint: stop what uses it, or choose another port: --port N (--port 0 picks a free one)",
    ]
    assert r.stdout == ""


def test_force_without_export_is_a_usage_error(repo):
    r = _run(*repo, *ART, "ui", "--force", "--no-open", code=2)
    assert r.stderr.startswith("art: error: --force goes with --export")


# -- export -------------------------------------------------------------------------------------------------


def test_export_writes_a_site_whose_every_link_resolves_to_a_file_in_it(repo, ui, tmp_path):
    root, env = repo
    dest = tmp_path / "site"
    r = _run(root, env, *ART, "ui", "--export", str(dest), "--json")
    result = json.loads(r.stdout)
    assert result["dest"] == str(dest) and result["missing"] == []
    files = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    assert result["files"] == len(files) - 1  # all but the marker
    served = {p.lstrip("/") for p in crawl(ui)}
    pages = {p for p in files if p.endswith(".html")}
    assert served == pages | {"assets/art-ui.css", "assets/art-ui.js"}, "the export has the pages the server links"
    assert result["pages"] == len(pages)
    for page in pages:
        assert f"api/{page.removesuffix('.html')}.json" in files
        for link in links_of((dest / page).read_text()):
            parts = urlsplit(link)
            assert not parts.scheme and not parts.netloc, f"{page} links outside the site: {link}"
            if not parts.path:
                continue  # a fragment in the page itself
            assert not parts.path.startswith("/"), f"{page}: {link} is not relative"
            target = (dest / page).parent / parts.path
            assert target.resolve().is_relative_to(dest.resolve()), f"{page}: {link} leaves the site"
            assert target.is_file(), f"{page}: {link} is not in the export"
    assert json.loads((dest / "api/index.json").read_text()) == json.loads(ui.get("/api/index.json").body)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def export(root: Path, dest: Path, *, force: bool = False):
    from artvc.ui.site import export as export_site
    from artvc.workspace import Repo

    with Repo(root) as repo:
        return export_site(repo, dest, force=force)


def test_export_refuses_a_non_empty_folder_and_force_replaces_only_a_previous_export(repo, tmp_path):
    from artvc.errors import WouldOverwriteError

    root, env = repo
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    r = _run(root, env, *ART, "ui", "--export", str(other), code=1)
    assert r.stderr.splitlines() == [
        f"art: error: {other} exists and is not an empty folder",
        "hint: give a new or empty folder, or --force to replace a previous export of art ui",
    ]
    with pytest.raises(WouldOverwriteError, match="not a previous export of art ui"):
        export(root, other, force=True)
    assert _tree(other) == {"keep.txt": b"mine"}

    site = tmp_path / "site"
    site.mkdir()  # an empty folder is fine
    export(root, site)
    first = _tree(site)
    with pytest.raises(WouldOverwriteError, match="is not an empty folder"):
        export(root, site)
    assert _tree(site) == first
    (site / "index.html").write_text("stale")
    export(root, site, force=True)
    assert _tree(site) == first
    (site / "runs" / "notes.txt").write_text("added by hand")  # no longer only an export
    with pytest.raises(WouldOverwriteError, match="not a previous export"):
        export(root, site, force=True)
    assert (site / "runs" / "notes.txt").read_text() == "added by hand"
    (site / "runs" / "notes.txt").unlink()
    (site / "assets" / "link").symlink_to(other / "keep.txt")  # nor is one with a symlink in it
    with pytest.raises(WouldOverwriteError, match="not a previous export"):
        export(root, site, force=True)
    assert (other / "keep.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".art-tmp")], "no temp folder left"


def test_export_refuses_a_file_and_a_symlink(repo, tmp_path):
    from artvc.errors import UnsafePathError, WouldOverwriteError

    root, _ = repo
    (tmp_path / "file").write_text("x")
    with pytest.raises(WouldOverwriteError):
        export(root, tmp_path / "file", force=True)
    assert (tmp_path / "file").read_text() == "x"
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafePathError, match="is a symlink"):
        export(root, tmp_path / "link")
    assert not any((tmp_path / "real").iterdir())


def test_export_never_writes_into_art_or_git(repo):
    from artvc.errors import UnsafePathError

    root, env = repo
    before = snapshot(root)
    r = _run(root, env, *ART, "ui", "--export", ".art/site", "--force", code=10)
    assert r.stderr.startswith(f"art: error: art ui --export will not write to {root}/.art/site: ")
    for where in (".art", ".git/site", ".git/refs", ".", "..", "sub/.git/x", "data/../.ART/x"):
        with pytest.raises(UnsafePathError):
            export(root, root / where, force=True)
    assert snapshot(root) == before


def test_an_export_failing_before_the_rename_leaves_the_previous_export_and_no_temp_folder(repo, tmp_path):
    root, env = repo
    site = tmp_path / "site"
    export(root, site)
    first = _tree(site)
    r = subprocess.run(
        [*ART, "ui", "--export", str(site), "--force"],
        cwd=root,
        env={**env, "ART_FAULT": "ui.export-written:eio"},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 13 and r.stderr.startswith("art: error: cannot write ")
    assert _tree(site) == first
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".art-tmp")]
