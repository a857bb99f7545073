"""Helpers for remote tests: wire a workspace to a bucket, commit and clone it, compare trees."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.conftest import Workspace, git

# one attempt per request at the botocore level ("max_attempts" counts retries: 1 was a retry after a backoff
# sleep); s3fs and art still retry on top, which is what the failure tests exercise
FAST_S3 = {"config_kwargs": {"connect_timeout": 1, "read_timeout": 3, "retries": {"total_max_attempts": 1}}}


def add_remote(
    ws: Workspace, url: str, options: dict | None = None, name: str = "origin", default: bool = True
) -> None:
    from artvc.workspace.remote import remote_add

    with ws.repo() as repo:
        remote_add(repo, name, url, options=dict(options or {}), default=default)


def use_bucket(ws: Workspace, bucket, **extra) -> None:
    add_remote(ws, bucket.url, {**bucket.storage_options, **extra})


def commit(ws: Workspace, message: str = "data") -> None:
    ws.git("add", "-A")
    ws.git("commit", "-q", "--allow-empty", "-m", message)


def clone(ws: Workspace, dest: Path) -> Workspace:
    commit(ws)
    git(dest.parent, "clone", "-q", str(ws.root), str(dest))
    return Workspace(dest)


def art_json(ws: Workspace, *args: str, code: int = 0) -> dict:
    result = ws.art(*args, "--json", code=code)
    return json.loads(result.stdout)


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_error(result, code: int, text: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("art: error: "), result.stderr
    assert text in lines[0], result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert any(line.startswith("hint: ") for line in lines[1:]), result.stderr


@pytest.fixture
def data_ws(ws: Workspace) -> Workspace:
    """A workspace with a directory of small files, a multi-chunk file, an empty file and an executable."""
    from tests.builders import csv_bytes, random_bytes

    ws.gen(
        {
            "data": {
                "a.csv": csv_bytes(40_000, 1),
                "empty.txt": b"",
                "sub": {"b.bin": random_bytes(300_000, 2)},
                "run.sh": "#!/bin/sh\necho hi\n",
            },
            "model.bin": random_bytes(700_000, 3),
        }
    )
    (ws.root / "data" / "run.sh").chmod(0o755)
    ws.art("add", "data", "model.bin")
    return ws


def flat_clone(ws: Workspace, tmp_path: Path, *, seed: int, folders: int = 2, files: int = 150) -> Workspace:
    """``folders`` folders of ``files`` small random files, each added on its own (one local pack of chunks
    each), pushed to a directory remote; return a fresh clone."""
    rng = random.Random(seed)
    for f in range(folders):
        ws.gen({f"d{f}": {f"f{i:04d}.bin": rng.randbytes(rng.randint(1, 2000)) for i in range(files)}})
        ws.art("add", f"d{f}")
    add_remote(ws, str(tmp_path / "bucket"))
    assert art_json(ws, "push")["missing"] == []
    return clone(ws, tmp_path / "clone")


def count_calls(monkeypatch, owner, name: str) -> list[int]:
    """Count the calls of ``owner.name`` (the real function runs); the list holds one item per call."""
    calls: list[int] = []
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls
