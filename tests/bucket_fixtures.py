"""Pytest plugin: session-scoped real bucket servers on 127.0.0.1 and a fresh `bucket` per test."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import servers

# Fake AWS creds and GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false: must happen before s3fs/gcsfs are imported.
servers.configure_test_env()

BACKENDS = ["file", "s3", "gs", "az", "sftp"]
REQUIRE_ENV = "ART_REQUIRE_BUCKET_SERVERS"  # "1" in CI: a missing server is an error, not a skip


@dataclass
class Bucket:
    """A fresh, empty place to store objects: `.url` for art, `.fs` + `.path` for direct fsspec calls."""

    protocol: str
    url: str
    path: str
    storage_options: dict[str, Any]
    fs: Any
    server: servers.BucketServer | None = None

    def join(self, *parts: str) -> str:
        """A protocol-less path under the bucket root, for `self.fs` calls."""
        return "/".join([self.path.rstrip("/"), *parts])


def _start_or_skip(start: Callable[[Path], servers.BucketServer], tmp: Path) -> servers.BucketServer:
    try:
        return start(tmp)
    except servers.ServerUnavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{exc} (and {REQUIRE_ENV}=1)")
        pytest.skip(str(exc))


def _server_fixture(start: Callable[[Path], servers.BucketServer], name: str) -> Callable[..., Any]:
    @pytest.fixture(scope="session", name=name)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.BucketServer]:
        server = _start_or_skip(start, tmp_path_factory.mktemp(name))
        try:
            yield server
        finally:
            server.stop()

    return fixture


s3_server = _server_fixture(servers.start_moto, "s3_server")
gcs_server = _server_fixture(servers.start_fake_gcs, "gcs_server")
sftp_server = _server_fixture(servers.start_sshd, "sftp_server")
_azurite_server = _server_fixture(servers.start_azurite, "_azurite_server")


@pytest.fixture(scope="session")
def azurite_server(_azurite_server: servers.AzuriteServer) -> Iterator[servers.AzuriteServer]:
    """azurite, with its connection string in the environment as a user's shell would have it: a clone's
    remote has no secrets (they live in the origin's config.local), so adlfs finds them there."""
    key = "AZURE_STORAGE_CONNECTION_STRING"
    before = os.environ.get(key)
    os.environ[key] = _azurite_server.storage_options["connection_string"]
    try:
        yield _azurite_server
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def bucket_name(node_name: str) -> str:
    """A valid S3/GCS bucket name (3-63 chars of [a-z0-9-]) derived from a test name, made unique."""
    slug = re.sub(r"[^a-z0-9]+", "-", node_name.lower()).strip("-")[:36].strip("-")
    return "-".join(filter(None, ["art-test", slug, secrets.token_hex(4)]))


def _object_bucket(server: servers.BucketServer, name: str) -> Bucket:
    fs = server.filesystem()
    fs.mkdir(name)
    root = f"{name}/root"
    proto = server.protocol
    return Bucket(proto, f"{proto}://{root}", root, server.storage_options, fs, server)


def _sftp_bucket(server: servers.SFTPServer, tmp_path: Path) -> Bucket:
    root = tmp_path / "remote"
    root.mkdir()
    fs = server.filesystem()
    url = f"sftp://{servers.LOOPBACK}:{server.port}{root}"
    return Bucket("sftp", url, str(root), server.storage_options, fs, server)


def _file_bucket(tmp_path: Path) -> Bucket:
    import fsspec

    root = tmp_path / "bucket"
    root.mkdir()
    options = {"auto_mkdir": True}
    return Bucket("file", root.as_uri(), str(root), options, fsspec.filesystem("file", **options))


def _cleanup(bucket: Bucket) -> None:
    if bucket.protocol in ("s3", "gs", "az"):
        bucket_root = bucket.path.split("/", 1)[0]
        try:
            bucket.fs.rm(bucket_root, recursive=True)
        except Exception:  # best effort: the server is in-memory and dies with the session
            pass
    servers.close_filesystem(bucket.fs)


@pytest.fixture(params=BACKENDS)
def bucket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bucket]:
    """A fresh empty bucket/dir per test, on each backend: file://, s3:// (moto), gs:// (fake-gcs),
    az:// (azurite), sftp://."""
    kind = request.param
    if kind == "file":
        made = _file_bucket(tmp_path)
    elif kind == "sftp":
        made = _sftp_bucket(request.getfixturevalue("sftp_server"), tmp_path)
    else:
        server = request.getfixturevalue({"s3": "s3_server", "gs": "gcs_server", "az": "azurite_server"}[kind])
        made = _object_bucket(server, bucket_name(request.node.name))
    try:
        yield made
    finally:
        _cleanup(made)
