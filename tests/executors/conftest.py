"""Fixtures for the executor tests: a real Dask cluster (separate worker processes sharing nothing but the remote),
the remotes they share (moto S3, a directory), and art repositories driven through the `art` CLI.

- ``dask_cluster`` (module scope): `dask scheduler` + workers ``w0``, ``w1`` and ``gpu`` (``--resources GPU=1``),
  each a `dask worker --no-nanny` subprocess with its own local directory, HOME and credentials (from its
  environment only); stopped by PID at the end of the module and checked gone. `cluster.worker_pids()` reads
  the pids from ``client.scheduler_info()``; `cluster.recorded()` tells what reached the scheduler.
- ``remote`` (parametrised ``s3`` / ``dir``), ``s3_remote``, ``dir_remote``: a fresh, empty remote per test.
- ``make_repo``: a git + art repository with the remote as ``origin`` and the given files committed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.bucket_fixtures import _cleanup, _object_bucket, bucket_name
from tests.executors.cluster import DaskCluster

ART = [sys.executable, "-m", "artvc"]
WORKER_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "worker-key-id", "AWS_SECRET_ACCESS_KEY": "worker-secret-key"}
CLIENT_SECRET = "client-secret-never-in-a-task"  # in the client's .art/config.local only (s3 remotes)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """Scheduler + w0 + w1 + gpu (GPU=1), once per module; everything stopped by PID and checked gone."""
    pytest.importorskip("distributed")  # the test extra installs it; see pyproject.toml
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"), credentials=WORKER_CREDENTIALS)
    try:
        cluster.add_worker("w0")
        cluster.add_worker("w1")
        cluster.add_worker("gpu", resources={"GPU": 1})
        yield cluster
    finally:
        cluster.stop()


@dataclass
class Remote:
    """A remote every party reaches: `add_args` for `art remote add`, `fs` + `root` to look inside."""

    kind: str
    url: str
    add_args: list[str]
    fs: Any
    root: str
    server: servers.BucketServer | None = None
    _bucket: Any = None

    def ls(self, *parts: str) -> list[str]:
        path = "/".join([self.root, *parts])
        try:
            return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=False))
        except FileNotFoundError:
            return []

    def markers(self) -> dict[str, list[str]]:
        """run_key -> run oids of its markers (``runkeys/<run_key>/<run_oid>``, ISSUE15 layout)."""
        self.fs.invalidate_cache()
        return {key: self.ls("runkeys", key) for key in self.ls("runkeys")}


def _s3_remote(server: servers.BucketServer, name: str) -> Remote:
    bucket = _object_bucket(server, bucket_name(name))
    args = ["-o", f"endpoint_url={server.endpoint}", "-o", "key=client-key-id", "-o", f"secret={CLIENT_SECRET}"]
    return Remote("s3", bucket.url, args, bucket.fs, bucket.path, server, bucket)


def _dir_remote(tmp_path: Path) -> Remote:
    import fsspec

    root = tmp_path / "remote"
    root.mkdir()
    return Remote("dir", str(root), [], fsspec.filesystem("file"), str(root))


@pytest.fixture(params=["s3", "dir"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Remote]:
    if request.param == "dir":
        yield _dir_remote(tmp_path)
        return
    made = _s3_remote(request.getfixturevalue("s3_server"), request.node.name)
    try:
        yield made
    finally:
        _cleanup(made._bucket)


@pytest.fixture
def s3_remote(request: pytest.FixtureRequest, s3_server: servers.BucketServer) -> Iterator[Remote]:
    made = _s3_remote(s3_server, request.node.name)
    try:
        yield made
    finally:
        _cleanup(made._bucket)


@pytest.fixture
def dir_remote(tmp_path: Path) -> Remote:
    return _dir_remote(tmp_path)


@dataclass
class ArtRepo:
    """A git + art work tree; `art(...)` runs the installed CLI in a subprocess (its own pid, like a user's)."""

    root: Path
    remote: Remote | None = None
    env: dict[str, str] = field(default_factory=dict)

    def art(self, *args: str, code: int | None = 0, timeout: float = 300) -> subprocess.CompletedProcess:
        r = subprocess.run(
            [*ART, *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            timeout=timeout,
        )
        if code is not None:
            assert r.returncode == code, f"art {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [*ART, *args],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **self.env},
        )

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True).stdout

    def repro_dask(self, cluster: DaskCluster, *args: str, code: int | None = 0) -> subprocess.CompletedProcess:
        """`art repro --executor dask --scheduler ADDR -r origin --json ARGS`."""
        return self.art("repro", "--executor", "dask", "--scheduler", cluster.address, "-r", "origin", *args, code=code)

    def lock(self) -> dict[str, Any]:
        path = self.root / "art.lock"
        return tomllib.loads(path.read_text()) if path.exists() else {}

    def run_record(self, run_oid: str) -> dict[str, Any]:
        return json.loads(self.art("lineage", "--run", run_oid, "--json").stdout)

    def clone(self, dest: Path) -> ArtRepo:
        """A git clone (own work tree, own empty .art store) with the same remote."""
        subprocess.run(["git", "clone", "-q", str(self.root), str(dest)], check=True, capture_output=True)
        other = ArtRepo(dest, self.remote, dict(self.env))
        if self.remote is not None and self.remote.kind == "s3":  # secrets live in config.local: per clone
            other.art("remote", "modify", "origin", *self.remote.add_args)
        return other


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., ArtRepo]:
    """make_repo(files, remote=None, name="a", add=[paths to art add]) -> a committed git + art repository."""

    def make(
        files: dict[str, str | bytes], remote: Remote | None = None, name: str = "a", add: tuple[str, ...] = ()
    ) -> ArtRepo:
        root = tmp_path / name
        root.mkdir()
        repo = ArtRepo(root, remote)
        repo.git("init", "-q")
        repo.art("init")
        if remote is not None:
            repo.art("remote", "add", "origin", remote.url, *remote.add_args, "--default")
        write_files(root, files)
        for path in add:
            repo.art("add", path)
        if remote is not None and add:
            repo.art("push")
        repo.git("add", "-A")
        repo.git("commit", "-qm", "pipeline")
        return repo

    return make
