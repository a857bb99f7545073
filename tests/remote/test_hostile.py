"""A hostile directory remote (written by the test, not by art): malformed manifests and an object whose index
claims 4 GiB. ``art pull`` must give one ``art: error:`` line, a documented exit code, no traceback, write
nothing into the workspace, and stay within a small memory bound."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest

from tests.conftest import Workspace

ART = str(Path(sys.executable).with_name("art"))
# the art subprocess's peak resident size, measured by a parent that runs nothing else
_MEASURE = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stdout.write(p.stderr)\n"
    "print('maxrss-kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(p.returncode)\n"
)


def _publish(bucket: Path, oid, kind, codec: int, stored: bytes, raw_length: int) -> None:
    """Write one object into a pack + index on the remote exactly as given (the remote is the attacker)."""
    from artvc.objstore.store.remote import RemoteStore

    store = RemoteStore.open(str(bucket))
    writer = store.writer()
    writer.put_stored(oid, kind, codec, stored, raw_length)
    writer.commit()


def _pull(ws: Workspace) -> tuple[int, list[str], int]:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, ART, "pull"],
        cwd=ws.root,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    lines = proc.stdout.strip().splitlines()
    rss = int(lines[-1].split()[1])
    return proc.returncode, lines[:-1], rss


def _hostile_ws(ws: Workspace, tmp_path: Path, case: str):
    import zstandard

    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.objects import Kind
    from artvc.workspace.pointers import Pointer, write_pointer

    bucket = tmp_path / "bucket"
    oid = hash_bytes(f"hostile {case}".encode())
    if case in ("int", "str"):
        digest = 7 if case == "int" else "x" * 32
        payload = msgpack.packb(["file", 1, 5, [[digest, 5]]], use_bin_type=True)
        _publish(bucket, oid, Kind.FILE, 0, payload, len(payload))
        size = 5
    else:  # 32 KiB of zstd whose index entry claims 4 GiB
        frame = zstandard.ZstdCompressor(write_content_size=False).compress(os.urandom(32 << 10))
        _publish(bucket, oid, Kind.CHUNK, 1, frame, 0xFFFFFFFF)
        size = 0xFFFFFFFF
    ws.art("remote", "add", "origin", str(bucket), "-d")
    write_pointer(ws.root / "bad.bin.art", Pointer(oid, "file", size, 1))
    return oid


@pytest.mark.e2e
@pytest.mark.parametrize(
    "case,code,text",
    [
        ("int", 3, "a chunk is not [32-byte digest, length]"),
        ("str", 3, "a chunk is not [32-byte digest, length]"),
        ("claims-4gib", 12, "are on neither the remote"),
    ],
)
def test_pull_from_a_hostile_remote_fails_cleanly_and_writes_nothing(ws, tmp_path, case, code, text):
    oid = _hostile_ws(ws, tmp_path, case)
    before = sorted(p.name for p in ws.root.iterdir())
    exit_code, stderr, rss_kib = _pull(ws)
    assert exit_code == code, stderr
    assert stderr[0].startswith("art: error: ") and text in stderr[0], stderr
    assert all(line.startswith("hint: ") for line in stderr[1:]), stderr
    assert not any("Traceback" in line for line in stderr)
    assert sorted(p.name for p in ws.root.iterdir()) == before and not (ws.root / "bad.bin").exists()
    with ws.repo() as repo:
        from artvc.objstore.objects import Kind

        assert not repo.store.has(oid, Kind.FILE) and not repo.store.has(oid, Kind.CHUNK)
    assert rss_kib < 300 << 10, f"art pull peaked at {rss_kib} KiB"


def test_fsck_remote_reports_an_index_that_claims_impossible_sizes(ws, tmp_path):
    _hostile_ws(ws, tmp_path, "claims-4gib")
    result = ws.art("fsck", "--remote", "origin", "--json", code=3)
    assert "index is damaged" in result.stdout
