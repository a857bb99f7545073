"""The dashboard's HTTP server: the standard library's threading server in front of ``site.page``.

It serves the route table and nothing else, only GET and HEAD, never writes, and guards what a local web
server must (docs/ui.md, "Security and serving"): a Host check against DNS rebinding on loopback, a token
(URL, then an HttpOnly SameSite=Strict cookie) for any other address, and strict response headers. It does not
print: the command gives it a ``log`` function for errors (and for each request with -v).
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from ..errors import ArtError, FileSystemError, UsageError
from ..objstore.faults import fault_point
from ..objstore.oserrors import describe
from ..workspace.readonly import ReadOnlyRepo
from . import site

CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'"
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
MAX_QUERY_FIELDS = 20
WAIT_SLICE = 0.2  # seconds: how soon the main thread sees a signal that another thread received
IDLE_TIMEOUT = 60  # seconds a keep-alive connection may wait for its next request


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class UIServer(ThreadingHTTPServer):
    """One dashboard server for the workspace at ``root``; ``token`` is None on loopback.

    Each request opens its own ``ReadOnlyRepo`` (closed after the request), so threads share nothing and
    nothing under the repository is written.
    """

    daemon_threads = True  # an idle keep-alive connection does not hold the shutdown (requests in flight do)

    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        log: Callable[[str], None] | None = None,
        verbose: bool = False,
    ) -> None:
        self.root = root
        self.token = token
        self.log = log or (lambda message: None)
        self.verbose = verbose
        self._busy = 0
        self._idle = threading.Condition()
        self.loopback = is_loopback(host)
        if ":" in host.strip("[]"):
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), port), _Handler)
        self.port = self.server_address[1]
        self.cookie = f"art_ui_{self.port}"  # cookies ignore the port: one name per server
        shown = f"[{host.strip('[]')}]" if self.address_family == socket.AF_INET6 else host
        self.url = f"http://{shown}:{self.port}/" + (f"?token={token}" if token else "")

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Count a request in flight (``serve`` lets those finish before it returns)."""
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no request is in flight (at most ``timeout`` seconds, None: no limit); False if some
        still are.

        It waits in slices of ``WAIT_SLICE`` seconds: the kernel may deliver a Ctrl-C to a request's thread,
        and then Python only sets a flag that the main thread checks when its own wait returns, so one
        unbounded wait would hold the second Ctrl-C until the request ends."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = WAIT_SLICE if deadline is None else min(WAIT_SLICE, deadline - time.monotonic())
                if left <= 0:
                    return False
                self._idle.wait(left)
            return True

    def host_ok(self, header: str | None) -> bool:
        """On loopback, the Host header must name loopback (and this port): a page of another site that a
        DNS rebinding points at 127.0.0.1 sends its own name and is refused."""
        if not self.loopback:
            return True
        if not header:
            return False
        header = header.strip().lower()
        name, port = header, None
        if header.startswith("["):
            name, _, rest = header.partition("]")
            name += "]"
            port = rest[1:] if rest.startswith(":") else None
            if rest and port is None:
                return False
        elif ":" in header:
            name, _, port = header.rpartition(":")
        return name in LOOPBACK_NAMES and (port is None or port == str(self.port))

    def token_ok(self, given: str | None) -> bool:
        if not given or self.token is None:
            return False
        return hmac.compare_digest(given.encode(), self.token.encode())

    def handle_error(self, request, client_address) -> None:
        import sys

        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            self.log(f"art: error: a request from {client_address[0]} failed: {type(exc).__name__}: {exc}")


def new_token() -> str:
    """A fresh random token for a server on a non-loopback address."""
    return secrets.token_urlsafe(24)


def make_server(
    root: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log: Callable[[str], None] | None = None,
    verbose: bool = False,
) -> UIServer:
    """Bind a server for the workspace at ``root`` (port 0: a free port); a non-loopback host gets a token.

    Raises:
        ArtError: the port is in use.
        UsageError: ``host`` is not an address of this machine.
        FileSystemError: the OS refused the port (below 1024 without privileges).
    """
    token = None if is_loopback(host) else new_token()
    try:
        return UIServer(root, host=host, port=port, token=token, log=log, verbose=verbose)
    except socket.gaierror as exc:
        raise UsageError(
            f"cannot serve on host {host!r}: {exc.strerror or exc}", hint="give an address of this machine"
        ) from exc
    except OverflowError as exc:
        raise UsageError(f"port {port} is out of range", hint="give a port from 0 to 65535") from exc
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ArtError(
                f"port {port} on {host} is already in use",
                hint="stop what uses it, or choose another port: --port N (--port 0 picks a free one)",
            ) from exc
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UsageError(
                f"cannot serve on host {host!r}: not an address of this machine",
                hint="use 127.0.0.1 (the default), or an address this machine has",
            ) from exc
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise FileSystemError(
                f"the system refused port {port} on {host}: {exc.strerror}",
                errno=exc.errno,
                hint="ports below 1024 need privileges: use --port 0 or a port above 1023",
            ) from exc
        raise


def serve(server: UIServer) -> None:
    """Serve until interrupted (Ctrl-C, or SIGTERM turned into one by the caller): then stop accepting, let
    the requests in flight finish and return. A second interrupt while they finish stops at once (it
    propagates from here), so a stuck request never holds the shutdown against the user."""
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        server.wait_idle()  # no time limit: a timer would cut a slow request on a loaded machine


class _Handler(BaseHTTPRequestHandler):
    server: UIServer
    server_version = "art-ui"
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.command not in ("GET", "HEAD"):
            self.close_connection = True  # a body we will not read may follow
            self._send(405, site.HTML, site.error_page(405, f"{self.command} is not allowed"), allow=True)
            return False
        return True

    def do_GET(self) -> None:
        with self.server.busy():
            self._serve()

    def do_HEAD(self) -> None:
        with self.server.busy():
            self._serve()

    def _serve(self) -> None:
        path, _, qs = self.path.partition("?")
        try:
            if not self.server.host_ok(self.headers.get("Host")):
                self.close_connection = True
                self._send(403, site.HTML, site.error_page(403, "this server answers only to 127.0.0.1 or localhost"))
                return
            try:
                query = {k: v[-1] for k, v in parse_qs(qs, max_num_fields=MAX_QUERY_FIELDS).items()}
            except ValueError:  # more fields than any page takes
                self.close_connection = True
                self._send(400, site.HTML, site.error_page(400, "too many query parameters"))
                return
            cookie = None
            if self.server.token is not None:
                from_url = self.server.token_ok(query.pop("token", None))
                if not from_url and not self.server.token_ok(self._cookie()):
                    self._send(401, site.HTML, site.error_page(401, "open the URL with the token art ui printed"))
                    return
                if from_url:
                    cookie = f"{self.server.cookie}={self.server.token}; HttpOnly; SameSite=Strict; Path=/"
            fault_point("ui.request")
            with ReadOnlyRepo(self.server.root) as repo:
                status, ctype, body = site.page(repo, path, query)
        except Exception as exc:  # one request's failure is a 500, the server goes on
            if isinstance(exc, OSError):
                exc = describe(exc, "read")  # a disk fault, not a bug
            message = exc.message if isinstance(exc, ArtError) else f"internal error: {type(exc).__name__}: {exc}"
            self.server.log(f"art: error: {self.command} {path[:200]}: {message}")
            self.close_connection = True
            self._send(500, site.HTML, site.error_page(500, message))
            return
        location = (body.decode() if status == 302 else None) or None
        self._send(status, ctype, b"" if location else body, location=location, cookie=cookie)

    def _cookie(self) -> str | None:
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.server.cookie:
                return value
        return None

    def _send(
        self,
        status: int,
        ctype: str,
        body: bytes,
        *,
        location: str | None = None,
        cookie: str | None = None,
        allow: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        cacheable = status == 200 and getattr(self, "path", "").startswith("/assets/")
        self.send_header("Cache-Control", "no-cache" if cacheable else "no-store")
        if location:
            self.send_header("Location", location)
        if cookie:
            self.send_header("Set-Cookie", cookie)
        if allow:
            self.send_header("Allow", "GET, HEAD")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # malformed requests (bad request line, headers too long, ...): the same headers as every answer
        self.close_connection = True
        if not getattr(self, "command", None):
            self.command = "GET"
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # a status line and headers even for an unparsable request
        self._send(code, site.HTML, site.error_page(code, message or "bad request"))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.verbose:
            self.server.log(f"art ui: {self.command} {self.path[:200]} {code}")

    def log_message(self, format: str, *args: object) -> None:
        pass  # requests are logged by log_request (with -v) and failures by _serve
