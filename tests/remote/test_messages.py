"""Messages that say what is wrong: credentials (missing, rejected, not allowed) on a real S3 server, an
unreachable endpoint (a closed port, a port that never completes a connection), and what helps in a fresh
clone (pull, not checkout)."""

from __future__ import annotations

import os
import pty
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers
from tests.builders import random_bytes
from tests.conftest import Workspace
from tests.remote.conftest import add_remote, assert_error, clone

AWS_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


# -- a fresh clone: 'art pull' helps, 'art checkout' does not --------------------------------------------


def test_check_in_a_fresh_clone_hints_pull_and_after_fetch_checkout(ws: Workspace, tmp_path: Path) -> None:
    ws.gen({"data": {"a.bin": random_bytes(50_000)}})
    ws.art("add", "data")
    add_remote(ws, str(tmp_path / "remote"))
    ws.art("push")
    fresh = clone(ws, tmp_path / "clone")

    r = fresh.art("status", "--check", code=4)
    hint = r.stderr.splitlines()[-1]
    assert hint.startswith("hint: ") and "art pull" in hint and "art checkout" not in hint, r.stderr

    fresh.art("fetch")  # the objects are local now, the files still missing: checkout is what helps
    r = fresh.art("status", "--check", code=4)
    hint = r.stderr.splitlines()[-1]
    assert "art checkout" in hint and "art pull" not in hint, r.stderr
    fresh.art("checkout")
    fresh.art("status", "--check")


# -- credentials on a real S3 server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def authed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """moto checking credentials, with a bucket and an IAM user that has keys but no permissions."""
    import boto3

    try:
        server = servers.start_moto(tmp_path_factory.mktemp("moto-auth"), free_calls=3)
    except servers.ServerUnavailable as exc:
        if os.environ.get("ART_REQUIRE_BUCKET_SERVERS") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        ep = server.endpoint
        boto3.client("s3", endpoint_url=ep, region_name="us-east-1").create_bucket(Bucket="art-auth")
        iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1")
        iam.create_user(UserName="nobody")
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        yield {"endpoint": ep, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        server.stop()


def _s3_ws(ws: Workspace, endpoint: str, **creds: str) -> Workspace:
    ws.gen({"model.bin": random_bytes(20_000)})
    ws.art("add", "model.bin")
    add_remote(ws, "s3://art-auth/root", {"endpoint_url": endpoint, **creds})
    return ws


def test_s3_without_credentials_says_credentials_and_how_to_set_them(ws, authed_s3, monkeypatch) -> None:
    for name in AWS_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    _s3_ws(ws, authed_s3["endpoint"])
    r = ws.art("push", code=12)
    assert_error(r, 12, "remote 'origin': credentials are missing or were rejected")
    assert "network" not in r.stderr, r.stderr
    assert "hint: give S3 credentials: art remote modify origin -o key=" in r.stderr
    assert "AWS_ACCESS_KEY_ID" in r.stderr


def test_s3_with_wrong_credentials_says_they_were_rejected(ws, authed_s3) -> None:
    _s3_ws(ws, authed_s3["endpoint"], key="AKIAWRONGWRONGWRONG0", secret="not-the-secret")
    r = ws.art("push", code=12)
    assert_error(r, 12, "credentials are missing or were rejected")
    assert "does not exist in our records" in r.stderr and "network" not in r.stderr, r.stderr
    assert "art remote modify origin -o key=" in r.stderr


def test_s3_credentials_without_permission_say_access_denied(ws, authed_s3) -> None:
    _s3_ws(ws, authed_s3["endpoint"], key=authed_s3["key"], secret=authed_s3["secret"])
    r = ws.art("fetch", code=12)
    assert_error(r, 12, "remote 'origin': access denied while")
    assert "hint: the credentials were accepted but may not do this here" in r.stderr, r.stderr
    assert "network" not in r.stderr


# -- unreachable endpoints ----------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind((servers.LOOPBACK, 0))
        return s.getsockname()[1]  # closed again when this returns: connections are refused


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listen queue is full, so a new connection is never completed (a firewall that drops)."""
    listener = socket.socket()
    listener.bind((servers.LOOPBACK, 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((servers.LOOPBACK, port))
        except BlockingIOError:
            pass
        fillers.append(s)
    try:
        yield port
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_closed_port_names_the_endpoint_and_the_timeout_option(ws: Workspace) -> None:
    port = _closed_port()
    ws.gen({"model.bin": random_bytes(10_000)})
    ws.art("add", "model.bin")
    add_remote(ws, "s3://bucket/root", {"endpoint_url": f"http://{servers.LOOPBACK}:{port}"})
    r = ws.art("push", code=12)
    assert_error(r, 12, f"cannot reach remote 'origin' at http://{servers.LOOPBACK}:{port} while")
    assert "art remote modify origin -o timeout=SECONDS" in r.stderr, r.stderr


def _run_on_a_terminal(ws: Workspace, *args: str) -> tuple[int, str]:
    """Run art with stderr on a pseudo-terminal (stdout piped); return (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "artvc", *args], cwd=ws.root, stdout=subprocess.PIPE, stderr=slave, stdin=slave
    )
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(master)
    proc.wait(timeout=60)
    return proc.returncode, out.decode(errors="replace")


@pytest.mark.slow  # waits out a real connect timeout / a cut transfer: seconds of wall time
def test_a_silent_endpoint_is_announced_on_a_terminal_and_times_out_named(ws: Workspace, silent_port: int) -> None:
    ws.gen({"model.bin": random_bytes(10_000)})
    ws.art("add", "model.bin")
    where = f"http://{servers.LOOPBACK}:{silent_port}"
    add_remote(ws, "s3://bucket/root", {"endpoint_url": where, "timeout": 1.5, "retries": 0})
    code, terminal = _run_on_a_terminal(ws, "push")
    assert code == 12, terminal
    assert f"art: note: connecting to {where} (remote origin)..." in terminal, terminal
    assert f"art: error: cannot reach remote 'origin' at {where}" in terminal, terminal
    assert "waits up to 1.5 s for a connection" in terminal, terminal

    piped = ws.art("push", code=12)  # stderr is not a terminal: no note, the same error
    assert "art: note: connecting" not in piped.stderr, piped.stderr
    assert f"cannot reach remote 'origin' at {where}" in piped.stderr


def test_classify_reads_each_backends_exception_types() -> None:
    """The exception types of the other backends (their real classes, as the SDKs raise them)."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
    from google.auth.exceptions import DefaultCredentialsError

    from artvc.objstore.remote_errors import CREDENTIALS, DENIED, OTHER, UNREACHABLE, classify

    assert classify(DefaultCredentialsError("Your default credentials were not found")) == CREDENTIALS
    assert classify(ClientAuthenticationError("Server failed to authenticate the request")) == CREDENTIALS
    assert classify(ServiceRequestError("Connection refused")) == UNREACHABLE
    assert classify(PermissionError(13, "Forbidden")) == DENIED
    assert classify(ConnectionRefusedError(111, "Connection refused")) == UNREACHABLE
    assert classify(ValueError("bad range")) == OTHER
    try:
        import asyncssh
    except ImportError:  # the ssh extra is not installed: the sftp tests say so elsewhere
        return
    assert classify(asyncssh.PermissionDenied("Permission denied")) == CREDENTIALS


@pytest.mark.parametrize(("option", "value"), [("timeout", "soon"), ("timeout", 0), ("retries", -1), ("retries", 1.5)])
def test_a_bad_timeout_or_retries_option_is_a_config_error(ws: Workspace, option: str, value) -> None:
    ws.gen({"model.bin": random_bytes(1000)})
    ws.art("add", "model.bin")
    add_remote(ws, "s3://bucket/root", {"endpoint_url": f"http://{servers.LOOPBACK}:{_closed_port()}", option: value})
    r = ws.art("push", code=1)
    assert_error(r, 1, f"remote 'origin': option {option}=")
    assert f"art remote modify origin -o {option}=" in r.stderr


def test_a_connection_cut_mid_way_is_not_called_unreachable() -> None:
    """botocore wraps a reset upload in EndpointConnectionError: the cause chain tells the two apart."""
    from botocore.exceptions import EndpointConnectionError

    from artvc.objstore.remote_errors import OTHER, UNREACHABLE, classify, retryable

    refused = EndpointConnectionError(endpoint_url="http://127.0.0.1:9/b/k")
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    assert classify(refused) == UNREACHABLE and not retryable(refused)
    cut = EndpointConnectionError(endpoint_url="http://127.0.0.1:9/b/k")
    cut.__context__ = ConnectionResetError(104, "Connection reset by peer")
    assert classify(cut) == OTHER and retryable(cut)
