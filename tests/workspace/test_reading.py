import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

import artvc
from artvc.errors import ObjectNotFoundError
from tests.builders import random_bytes, write_random_file
from tests.conftest import Workspace
from tests.remote.conftest import clone, use_bucket

ART = [sys.executable, "-m", "artvc"]
MiB = 1 << 20


def registry(ws: Workspace, bucket, size: int) -> bytes:
    write_random_file(ws.root / "big.bin", size, seed=7)
    ws.gen({"data": {"images": {f"{i:03}.png": random_bytes(3000 + i, i) for i in range(8)}}})
    ws.art("add", "big.bin", "data/images")
    use_bucket(ws, bucket)
    ws.art("push")
    return (ws.root / "big.bin").read_bytes()


def consumer(ws: Workspace, tmp_path: Path):
    from artvc.workspace import Repo

    c = clone(ws, tmp_path / "consumer")
    return c, Repo(c.root)


def read_middle(repo, size: int) -> tuple[bytes, int, int]:
    with artvc.open(repo.root / "big.bin", workspace=repo) as f:
        f.seek(size // 2)
        data = f.read(MiB)
        remote = f.raw.remote
        assert remote is not None
        print(f"read 1 MiB at {size // 2} of {size}: downloaded {remote.read_size} bytes, {remote.requests} requests")
        return data, remote.read_size, remote.requests


@pytest.mark.parametrize("bucket", ["file", "s3"], indirect=True)
def test_reading_one_mib_from_the_middle_of_a_remote_only_artifact_downloads_under_two(ws, bucket, tmp_path):
    size = 8 * MiB
    content = registry(ws, bucket, size)
    _, repo = consumer(ws, tmp_path)
    with repo:
        data, downloaded, requests = read_middle(repo, size)
        assert data == content[size // 2 : size // 2 + MiB]
        assert downloaded < 2 * MiB, downloaded
        assert artvc.read(repo.root / "data/images/005.png", workspace=repo) == random_bytes(3005, 5)
        assert not (repo.root / "big.bin").exists()
        assert repo.store.stats()["objects"] == 0  # streamed: nothing stored


@pytest.mark.slow
@pytest.mark.parametrize("bucket", ["file", "s3"], indirect=True)
def test_reading_one_mib_from_the_middle_of_a_200_mib_remote_artifact_downloads_under_two(ws, bucket, tmp_path):
    size = 200 * MiB
    content = registry(ws, bucket, size)
    _, repo = consumer(ws, tmp_path)
    with repo:
        data, downloaded, _ = read_middle(repo, size)
    assert data == content[size // 2 : size // 2 + MiB]
    assert downloaded < 2 * MiB, downloaded


@pytest.mark.parametrize("bucket", ["file"], indirect=True)
def test_a_whole_sequential_read_is_verified_and_seeks_work(ws, bucket, tmp_path):
    content = registry(ws, bucket, 3 * MiB)
    c, repo = consumer(ws, tmp_path)
    with repo, artvc.open(repo.root / "big.bin", workspace=repo) as f:
        assert f.seekable() and f.readable() and not f.writable()
        assert f.read() == content
        assert f.seek(-10, io.SEEK_END) == len(content) - 10 and f.read() == content[-10:]
        f.seek(12345)
        assert f.read(7) == content[12345:12352] and f.tell() == 12352
        assert f.read(0) == b"" and f.seek(len(content) + 5) and f.read() == b""
    r = subprocess.run([*ART, "cat", "big.bin"], cwd=c.root, capture_output=True)
    assert r.returncode == 0 and r.stdout == content


def test_local_reads_need_no_remote_and_art_cat_streams_files_inside_directories(ws):
    ws.gen({"data": {"images": {"005.png": random_bytes(100_000, 5)}}, "a.csv": "x,y\n1,2\n"})
    ws.art("add", "data/images", "a.csv")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "v1")
    (ws.root / "a.csv").write_text("x,y\n3,4\n")
    ws.art("add", "a.csv")
    with ws.repo() as repo:
        with artvc.open(repo.root / "data/images/005.png", workspace=repo) as f:
            assert f.read() == random_bytes(100_000, 5) and f.raw.remote is None
        assert artvc.read(repo.root / "a.csv", rev="HEAD", workspace=repo) == b"x,y\n1,2\n"
        assert artvc.read(repo.root / "a.csv", workspace=repo) == b"x,y\n3,4\n"
    r = subprocess.run([*ART, "cat", "data/images/005.png"], cwd=ws.root, capture_output=True)
    assert r.returncode == 0 and r.stdout == random_bytes(100_000, 5)
    sub = ws.root / "data"
    r = subprocess.run([*ART, "cat", "images/005.png"], cwd=sub, capture_output=True)  # relative to the cwd
    assert r.stdout == random_bytes(100_000, 5)


def test_versions_and_stages_resolve_for_open_and_cat(ws):
    ws.gen({"m.pt": "one"})
    ws.art("add", "m.pt")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "v1")
    ws.art("tag", "m.pt", "v1.0.0")
    (ws.root / "m.pt").write_text("two")
    ws.art("add", "m.pt")
    ws.git("commit", "-qam", "v2")
    ws.art("tag", "m.pt", "v2.0.0")
    ws.art("tag", "m.pt", "--stage", "prod", "--rev", "v1.0.0")
    assert ws.art("cat", "m.pt", "--version", "v1.0.0").stdout == "one"
    assert ws.art("cat", "m.pt", "--stage", "prod").stdout == "one"
    assert ws.art("cat", "m.pt", "--rev", "HEAD").stdout == "two"
    with ws.repo() as repo:
        assert artvc.read(repo.root / "m.pt", version="2.0.0", workspace=repo) == b"two"
        assert artvc.read(repo.root / "m.pt", stage="prod", workspace=repo) == b"one"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["cat", "nothing.bin"], 1, "nothing.bin is not tracked by art"),
        (["cat", "m.pt", "--rev", "HEAD~1"], 1, "m.pt is not tracked by art at HEAD~1"),
        (["cat", "d/missing.png"], 1, "d/missing.png is not in the tracked directory d"),
        (["cat", "d"], 1, "d is a directory"),
        (["cat", "m.pt", "--version", "v9.0.0"], 1, "m.pt has no version v9.0.0"),
        (["cat", "m.pt", "--stage", "prod"], 1, "m.pt has no stage prod"),
        (["cat", "m.pt", "--rev", "HEAD", "--version", "v1.0.0"], 2, "give at most one of rev, version and stage"),
        (["cat", "m.pt", "--rev", "nope"], 1, "unknown revision 'nope'"),
    ],
)
def test_bad_input_is_one_clear_line(ws, args, code, message):
    ws.git("commit", "-q", "--allow-empty", "-m", "empty")
    ws.gen({"m.pt": "one", "d": {"a.png": "a"}})
    ws.art("add", "m.pt", "d")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "v1")
    ws.art("tag", "m.pt", "v1.0.0")
    r = ws.art(*args, code=code)
    lines = r.stderr.splitlines()
    assert lines[0] == "art: error: " + message or lines[0].startswith("art: error: " + message), r.stderr
    assert lines[0].startswith("art: error: " + message) and len(lines) <= 2 and r.stdout == ""


def test_data_in_neither_store_is_a_clear_error(ws):
    ws.gen({"m.pt": "one"})
    ws.art("add", "m.pt")
    import shutil

    shutil.rmtree(ws.root / ".art/store/packs")
    os.unlink(ws.root / ".art/store/index.db")
    r = ws.art("cat", "m.pt", code=1)
    assert r.stderr.startswith("art: error: ") and "is not in the store" in r.stderr
    with ws.repo() as repo, pytest.raises(ObjectNotFoundError):
        artvc.read(repo.root / "m.pt", workspace=repo)


@pytest.mark.parametrize("bucket", ["file"], indirect=True)
def test_a_damaged_remote_chunk_is_refused(ws, bucket, tmp_path):
    registry(ws, bucket, 2 * MiB)
    c, repo = consumer(ws, tmp_path)
    packs = sorted(Path(bucket.path, "packs").rglob("*.pack"), key=lambda p: p.stat().st_size)
    big = packs[-1]
    data = bytearray(big.read_bytes())
    big.unlink()  # not through a hard link shared with the registry's store
    data[len(data) // 2] ^= 0xFF
    big.write_bytes(bytes(data))
    r = subprocess.run([*ART, "cat", "big.bin"], cwd=c.root, capture_output=True)
    assert r.returncode == 3, r.stderr
    assert r.stderr.decode().startswith("art: error: object ")
    repo.close()


def test_artvc_exports_open_and_read_lazily():
    r = subprocess.run(
        [sys.executable, "-c", "import sys, artvc; assert 'artvc.workspace' not in sys.modules; print(artvc.open)"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "open_artifact" in r.stdout, r.stderr
    assert "open" not in artvc.__all__  # from artvc import * keeps the built-in open
