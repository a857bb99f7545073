"""``art ui``: a real server subprocess on 127.0.0.1: routes, traversal variants, token, methods, Host check,
shutdown, read-only (tests/ui/test_export.py: ``art ui --export``)."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.ui.server_helpers import ART, CSP, FIXED, UI, build_repo, crawl, run, snapshot


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    return build_repo(tmp_path_factory.mktemp("uiserver"))


@pytest.fixture(scope="module")
def ui(repo):
    server = UI(*repo)
    yield server
    server.kill()
    server.stop()


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
    r = run(root, {**env, "ART_FAULT": "ui.url-printed:interrupt"}, *ART, "ui", "--port", "0", "--no-open")
    assert r.stdout.startswith("Serving http://127.0.0.1:") and r.stderr == "Stopped.\n"


def _stop_with_a_request_in_flight(repo, tmp_path) -> tuple[UI, threading.Thread, list, Path]:
    """A server with one request blocked inside it, sent SIGINT, its listening socket closed."""
    root, env = repo
    release, log = tmp_path / "release", tmp_path / "faults.log"
    env = {**env, "ART_FAULT": "ui.request@2:block", "ART_FAULT_RELEASE": str(release), "ART_FAULT_LOG": str(log)}
    server = UI(root, env)
    assert server.get("/index.html").status == 200
    answers: list = []

    def request() -> None:
        try:
            answers.append(server.get("/store.html").status)
        except (ConnectionError, http.client.HTTPException) as exc:
            answers.append(exc)

    thread = threading.Thread(target=request, daemon=True)
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
    return server, thread, answers, release


def test_ctrl_c_lets_a_request_in_flight_finish(repo, tmp_path):
    server, thread, answers, release = _stop_with_a_request_in_flight(repo, tmp_path)
    release.touch()  # ... then the request in flight is let go, and still answered
    thread.join(120)
    code = server.stop(None)  # after the SIGINT above
    assert answers == [200], server.stderr
    assert code == 0, server.stderr


def test_a_second_ctrl_c_stops_at_once_with_a_request_in_flight(repo, tmp_path):
    server, thread, answers, release = _stop_with_a_request_in_flight(repo, tmp_path)
    assert server.stop(signal.SIGINT) == 0, server.stderr  # the request is still blocked
    release.touch()
    thread.join(120)
    assert len(answers) == 1 and isinstance(answers[0], (ConnectionError, http.client.HTTPException)), answers


def test_a_signal_that_a_request_thread_receives_still_ends_the_wait_for_requests(tmp_path):
    """The kernel delivers a Ctrl-C sent to the process to any of its threads; when a request's thread gets
    it, Python only flags it for the main thread, which must see it while requests are still in flight (a CI
    run once waited on an unbounded lock until the test gave up)."""
    from artvc.ui.server import UIServer

    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted

    server = UIServer(tmp_path)
    entered, release = threading.Event(), threading.Event()

    def request() -> None:
        with server.busy():
            entered.set()
            release.wait(60)

    worker = threading.Thread(target=request, daemon=True)
    worker.start()
    fallback = threading.Timer(20, release.set)  # the old code's wait ends only when the request does
    # sent once the main thread waits (a signal that arrives while it runs Python is handled at once anyway)
    kill = threading.Timer(0.5, signal.pthread_kill, (worker.ident, signal.SIGUSR1))
    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        assert entered.wait(30)
        fallback.start()
        with pytest.raises(Interrupted):
            kill.start()
            server.wait_idle()
        assert not release.is_set(), "the signal was seen only after the request had ended"
    finally:
        kill.cancel()
        kill.join(30)
        signal.signal(signal.SIGUSR1, previous)
        release.set()
        fallback.cancel()
        worker.join(30)
        server.server_close()


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
        r = run(root, env, *ART, "ui", "--port", str(port), "--no-open", code=1)
    assert r.stderr.splitlines() == [
        f"art: error: port {port} on 127.0.0.1 is already in use",
        "hint: stop what uses it, or choose another port: --port N (--port 0 picks a free one)",
    ]
    assert r.stdout == ""


def test_force_without_export_is_a_usage_error(repo):
    r = run(*repo, *ART, "ui", "--force", "--no-open", code=2)
    assert r.stderr.startswith("art: error: --force goes with --export")
