"""Proves the loopback bucket servers, the `bucket` fixture, FaultProxy and RequestCounter work."""

from __future__ import annotations

import http.client
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import fsspec
import pytest

from tests import servers
from tests.bucket_fixtures import Bucket, bucket_name

PAYLOADS = {"plain": b"hello world", "cr": b"abc\r", "crlf": b"line\r\n\r", "binary": os.urandom(70_000)}


def _put(bucket: Bucket, rel: str, data: bytes) -> str:
    path = bucket.join(rel)
    bucket.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)  # sftp/file need parents; harmless elsewhere
    bucket.fs.pipe_file(path, data)
    return path


def test_roundtrip_bytes(bucket: Bucket) -> None:
    for name, data in PAYLOADS.items():
        assert bucket.fs.cat_file(_put(bucket, f"objs/{name}", data)) == data, name


SSHFS_RANGES = "sshfs 2026.8 ignores start/end in cat_file/cat_ranges and returns the whole file"


def test_ranged_cat_file(bucket: Bucket, request: pytest.FixtureRequest) -> None:
    """Keywords only: s3fs's third positional parameter of cat_file is version_id, not start."""
    if bucket.protocol == "sftp":
        request.applymarker(pytest.mark.xfail(strict=True, reason=SSHFS_RANGES))
    data = bytes(range(256)) * 40 + b"\r"
    path = _put(bucket, "ranged", data)
    assert bucket.fs.cat_file(path, start=100, end=612) == data[100:612]
    assert bucket.fs.cat_file(path, start=len(data) - 5, end=len(data)) == data[-5:]
    assert bucket.fs.cat_file(path, start=len(data) - 1) == b"\r"


def test_ranged_read_via_open(bucket: Bucket) -> None:
    """The portable ranged read, sftp included: open, seek, read."""
    data = os.urandom(50_000) + b"\r"
    path = _put(bucket, "ranged", data)
    with bucket.fs.open(path, "rb") as f:
        f.seek(40_000)
        assert f.read(123) == data[40_000:40_123]
        f.seek(len(data) - 2)
        assert f.read() == data[-2:]


def test_listing(bucket: Bucket) -> None:
    for rel in ("a/1", "a/2", "b/3"):
        _put(bucket, rel, rel.encode())
    found = sorted(
        p.removeprefix(bucket.path.lstrip("/")).lstrip("/")
        for p in (q.lstrip("/") for q in bucket.fs.find(bucket.path))
    )
    assert found == ["a/1", "a/2", "b/3"]
    assert sorted(p.rsplit("/", 1)[1] for p in bucket.fs.ls(bucket.join("a"), detail=False)) == ["1", "2"]
    assert bucket.fs.info(bucket.join("b/3"))["size"] == 3


def test_url_and_storage_options_open_the_same_place(bucket: Bucket) -> None:
    fs, path = fsspec.core.url_to_fs(bucket.url, **bucket.storage_options)
    assert path.lstrip("/") == bucket.path.lstrip("/")
    fs.makedirs(f"{path}/via-url", exist_ok=True)
    fs.pipe_file(f"{path}/via-url/x", b"x\r")
    assert bucket.fs.cat_file(bucket.join("via-url/x")) == b"x\r"
    servers.close_filesystem(fs)


def test_bucket_names_are_valid() -> None:
    for node in ("test_x[s3]", "test_" + "long*?[]" * 20, "T", "[weird]/id::x"):
        name = bucket_name(node)
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name), name


# --------------------------------------------------------------------------- fault proxy / counter


@pytest.fixture
def s3_bucket(s3_server: servers.S3Server) -> Iterator[str]:
    fs, name = s3_server.filesystem(), bucket_name("proxy")
    fs.mkdir(name)
    yield name
    fs.rm(name, recursive=True)


def test_get_cut_on_first_connection_is_retried(s3_server: servers.S3Server, s3_bucket: str) -> None:
    data = os.urandom(300_000)
    s3_server.filesystem().pipe_file(f"{s3_bucket}/big", data)
    with servers.FaultProxy(s3_server.port, cut_down_after=100_000, faults_left=1) as proxy:
        fs = s3_server.filesystem(port=proxy.port)
        assert fs.cat_file(f"{s3_bucket}/big") == data
        assert proxy.faults == 1 and proxy.connections >= 2


def test_put_cut_on_first_connection_is_retried(s3_server: servers.S3Server, s3_bucket: str) -> None:
    data = os.urandom(1 << 20)
    with servers.FaultProxy(s3_server.port, cut_up_after=200_000, faults_left=1) as proxy:
        s3_server.filesystem(port=proxy.port).pipe_file(f"{s3_bucket}/up", data)
        assert proxy.faults == 1 and proxy.connections >= 2
    assert s3_server.filesystem().cat_file(f"{s3_bucket}/up") == data


def test_counter_counts_puts(s3_server: servers.S3Server, s3_bucket: str) -> None:
    with servers.RequestCounter(s3_server.port) as counter:
        fs = s3_server.filesystem(port=counter.port)
        fs.pipe({f"{s3_bucket}/k{i}": b"v\r" * i for i in range(5)})
        assert fs.cat_file(f"{s3_bucket}/k3") == b"v\r" * 3
        assert counter.count("PUT", f"/{s3_bucket}/") == 5
        assert ("GET", f"/{s3_bucket}/k3") in counter.requests


def _raw_get(port: int) -> socket.socket:
    sock = socket.create_connection((servers.LOOPBACK, port), timeout=5)
    sock.sendall(b"GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return sock


def test_cut_sends_rst_after_exact_byte_count(s3_server: servers.S3Server) -> None:
    with servers.FaultProxy(s3_server.port, cut_down_after=10) as proxy, _raw_get(proxy.port) as sock:
        got = b""
        with pytest.raises(ConnectionResetError):
            while chunk := sock.recv(4096):
                got += chunk
        assert got == b"HTTP/1.1 2"[: len(got)] and len(got) <= 10


def test_blackhole_never_answers(s3_server: servers.S3Server) -> None:
    with servers.FaultProxy(s3_server.port, blackhole=True) as proxy, _raw_get(proxy.port) as sock:
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)
        assert proxy.connections == 1 and proxy.faults == 1


def test_delay_and_clean_connections_after_faults_left(s3_server: servers.S3Server) -> None:
    with servers.FaultProxy(s3_server.port, delay=0.3, faults_left=1) as proxy:
        timings = []
        for _ in range(2):
            conn = http.client.HTTPConnection(servers.LOOPBACK, proxy.port, timeout=5)
            t0 = time.monotonic()
            conn.request("GET", "/moto-api/")
            assert conn.getresponse().status < 500
            timings.append(time.monotonic() - t0)
            conn.close()
        assert timings[0] >= 0.3  # the second connection is past faults_left: undelayed (not timed: load)
        assert proxy.connections == 2 and proxy.faults == 1


def test_close_stops_threads_and_listener(s3_server: servers.S3Server) -> None:
    proxy = servers.FaultProxy(s3_server.port, blackhole=True)
    sock = _raw_get(proxy.port)
    proxy.close()
    assert not any(t.is_alive() for t in proxy._threads)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((servers.LOOPBACK, proxy.port), timeout=1).close()
    sock.close()


def test_sniffer_handles_bodies_chunks_and_split_feeds() -> None:
    body = b"PUT /fake HTTP/1.1\r\n\r\n" * 3
    stream = (
        b"PUT /b/k?x=1 HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
        + b"POST /b/m HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"5\r\nGET /\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"
        + b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    expected = [("PUT", "/b/k?x=1"), ("POST", "/b/m"), ("HEAD", "/b")]
    assert servers.HttpRequestSniffer().feed(stream) == expected
    sniffer = servers.HttpRequestSniffer()
    assert [r for i in range(len(stream)) for r in sniffer.feed(stream[i : i + 1])] == expected


# --------------------------------------------------------------------------- process lifecycle


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(
    "start",
    [servers.start_moto, servers.start_fake_gcs, servers.start_azurite, servers.start_sshd],
    ids=["moto", "fake-gcs", "azurite", "sshd"],
)
def test_stop_leaves_nothing_running(start: Callable[[Path], servers.BucketServer], tmp_path: Path) -> None:
    try:
        server = start(tmp_path)
    except servers.ServerUnavailable as exc:
        pytest.skip(str(exc))
    fs = server.filesystem()
    fs.ls("/" if server.protocol == "sftp" else "", detail=False)
    servers.close_filesystem(fs)
    pid = server.pid
    deadline = time.monotonic() + 3  # sshd's per-connection child (own session) must leave on disconnect
    while time.monotonic() < deadline and servers.child_pids(pid, zombies=True):
        time.sleep(0.05)
    assert not servers.child_pids(pid)
    assert server.process.running and not _group_gone(pid)
    server.stop()
    server.stop()  # idempotent
    assert not server.process.running and _group_gone(pid)


def test_failed_start_reports_log_tail(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "print('boom-marker', flush=True); raise SystemExit(3)"]
    proc = servers.ServerProcess("dud", argv, tmp_path)
    with pytest.raises(RuntimeError, match=r"(?s)rc=3.*boom-marker"):
        proc.wait_http(servers.free_port(), timeout=5)
