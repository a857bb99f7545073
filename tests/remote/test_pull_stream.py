"""A pull writes a file artifact as its verified chunks arrive (objstore/stage.py), so each byte is read once;
an interrupted or refused pull leaves nothing half-written in the workspace."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.harness.iocount import WRAP, read_counters
from tests.builders import csv_bytes, random_bytes
from tests.conftest import Workspace
from tests.remote.conftest import clone

MIB = 1 << 20
SIZE = 20 * MIB


def pushed(ws: Workspace, tmp_path: Path, data: bytes) -> Workspace:
    """Push a workspace holding ``big.bin`` (``data``) to a directory remote; return a fresh clone of it."""
    ws.gen({"big.bin": data})
    ws.art("add", "big.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    return clone(ws, tmp_path / "clone")


def art_child(
    cwd: Path, tmp_path: Path, *args: str, umask: int = -1, **env: str
) -> tuple[subprocess.CompletedProcess, dict, list]:
    """Run art in a child; return it, its I/O counters and the fault points it reached."""
    io_file, log = tmp_path / "io.txt", tmp_path / "faults.log"
    for f in (io_file, log):
        f.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", WRAP, str(io_file), *args],
        cwd=cwd,
        env={**os.environ, "ART_FAULT_LOG": str(log), **env},
        capture_output=True,
        text=True,
        umask=umask,
    )
    points = log.read_text().splitlines() if log.exists() else []
    return proc, read_counters(io_file), points


def leftovers(w: Workspace) -> list[str]:
    """Temp files in the workspace (beside files) and in the stage folder."""
    stage = w.root / ".art" / "tmp" / "stage"
    return [p.name for p in w.root.iterdir() if "art-tmp" in p.name] + (
        sorted(os.listdir(stage)) if stage.is_dir() else []
    )


@pytest.mark.long
@pytest.mark.parametrize("kind", ["random", "csv"])
def test_a_pull_writes_the_file_as_it_fetches_it_and_reads_it_once(ws, tmp_path, kind):
    data = random_bytes(SIZE, 1) if kind == "random" else csv_bytes(SIZE, 1)
    other = pushed(ws, tmp_path, data)
    proc, io, points = art_child(other.root, tmp_path, "pull")
    assert proc.returncode == 0, proc.stderr
    assert (other.root / "big.bin").read_bytes() == data
    assert "stage.file-ready" in points
    assert "materialize.file-writing" not in points  # checkout renamed the proved file: it read no pack
    stored = sum(p.stat().st_size for p in (other.root / ".art" / "store" / "packs").rglob("*.pack"))
    assert io["rchar"] < stored + 8 * MIB  # the packs once (the fetch verifies them), plus Python's own files
    assert leftovers(other) == []
    assert other.art("status").stdout.count("modified") == 0
    assert other.art("fsck").exit_code == 0


@pytest.mark.long
def test_a_pull_killed_while_writing_the_file_leaves_no_partial_file(ws, tmp_path):
    data = random_bytes(SIZE, 2)
    other = pushed(ws, tmp_path, data)
    proc, _, points = art_child(other.root, tmp_path, "pull", ART_FAULT="stage.file-writing@2:kill")
    assert proc.returncode == -9, proc.stderr
    assert points.count("stage.file-writing") == 2
    assert not (other.root / "big.bin").exists()
    assert [n for n in leftovers(other) if n.startswith("file-")]  # the killed pull's staged file, half written
    other.art("checkout", code=None)  # the next command that takes the lock removes it
    assert leftovers(other) == []
    proc, _, _ = art_child(other.root, tmp_path, "pull")
    assert proc.returncode == 0, proc.stderr
    assert (other.root / "big.bin").read_bytes() == data
    assert leftovers(other) == []


def test_an_interrupted_pull_removes_its_staged_file(ws, tmp_path):
    other = pushed(ws, tmp_path, random_bytes(SIZE, 3))
    proc, _, _ = art_child(other.root, tmp_path, "pull", ART_FAULT="stage.file-writing@2:interrupt")
    assert proc.returncode == 130, proc.stderr
    assert not (other.root / "big.bin").exists()
    assert leftovers(other) == []


@pytest.mark.slow  # 8-11 s of the default tier's 3 minutes: the slow tier runs it
def test_a_full_disk_while_staging_falls_back_to_an_ordinary_checkout(ws, tmp_path):
    data = csv_bytes(SIZE, 4)
    other = pushed(ws, tmp_path, data)
    proc, _, points = art_child(other.root, tmp_path, "pull", ART_FAULT="stage.file-writing:enospc")
    assert proc.returncode == 0, proc.stderr
    assert "stage.file-ready" not in points and "materialize.file-writing" in points  # written from the store
    assert (other.root / "big.bin").read_bytes() == data
    assert leftovers(other) == []


def test_a_damaged_chunk_on_the_remote_is_refused_mid_stream_and_nothing_is_written(ws, tmp_path):
    data = random_bytes(SIZE, 5)
    other = pushed(ws, tmp_path, data)
    pack = max((tmp_path / "remote").rglob("*.pack"), key=lambda p: p.stat().st_size)
    damaged = bytearray(pack.read_bytes())
    damaged[len(damaged) * 3 // 4] ^= 0xFF  # a chunk three quarters into the file: most of it was staged
    pack.unlink()  # the remote's pack may be a hard link to the first workspace's: write a new file
    pack.write_bytes(bytes(damaged))
    proc, _, points = art_child(other.root, tmp_path, "pull")
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("art: error: ") and "Traceback" not in proc.stderr
    assert points.count("stage.file-writing") >= 2  # the file was being written when the bad chunk came
    assert "stage.file-ready" not in points
    assert not (other.root / "big.bin").exists()
    assert leftovers(other) == []


@pytest.mark.long
def test_large_files_in_a_pulled_folder_are_written_as_they_are_fetched(ws, tmp_path):
    big, run = random_bytes(SIZE, 6), csv_bytes(SIZE, 7)
    ws.gen({"data": {"big.bin": big, "sub": {"run.sh": run}, "small.txt": "small\n"}})
    (ws.root / "data" / "sub" / "run.sh").chmod(0o755)
    ws.art("add", "data")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    proc, _, points = art_child(other.root, tmp_path, "pull", umask=0o033)  # r for others, but no x
    assert proc.returncode == 0, proc.stderr
    assert points.count("stage.file-ready") == 2
    assert (other.root / "data" / "big.bin").read_bytes() == big
    assert (other.root / "data" / "sub" / "run.sh").read_bytes() == run
    assert stat.S_IMODE(os.stat(other.root / "data" / "sub" / "run.sh").st_mode) == 0o744  # 0o755 less the umask
    assert stat.S_IMODE(os.stat(other.root / "data" / "big.bin").st_mode) == 0o644
    assert (other.root / "data" / "small.txt").read_text() == "small\n"
    assert leftovers(other) == []
    assert "modified" not in other.art("status").stdout


def test_a_pulled_store_does_not_change_when_the_directory_remote_does(ws, tmp_path):
    data = random_bytes(SIZE, 8)
    other = pushed(ws, tmp_path, data)
    proc, io, points = art_child(other.root, tmp_path, "pull")
    assert proc.returncode == 0, proc.stderr
    local = list((other.root / ".art" / "store" / "packs").rglob("*.pack"))
    stored = sum(p.stat().st_size for p in local)
    # the remote's packs change in place (a disk fault, a careless tool): the clone's store is its own copy
    for pack in (tmp_path / "remote").rglob("*.pack"):
        with open(pack, "r+b") as f:
            f.seek(pack.stat().st_size // 2)
            f.write(b"\xff" * 64)
    assert other.art("fsck", code=None).exit_code == 0
    (other.root / "big.bin").unlink()
    other.art("checkout", "big.bin")
    assert (other.root / "big.bin").read_bytes() == data
    assert "fetch.pack-copied" in points  # copied from the bytes it verified, as it read them
    assert io["rchar"] < stored + 8 * MIB  # the remote's packs read once: no copy first, then a read of it
    assert io["write_bytes"] >= stored + SIZE  # the store's own copy, and the file


@pytest.mark.slow  # 8-11 s of the default tier's 3 minutes: the slow tier runs it
@pytest.mark.parametrize("options", [[], ["-o", "hardlinks=true"]])  # the option of earlier versions: ignored
def test_a_pushing_store_does_not_change_when_the_directory_remote_does(ws, tmp_path, options):
    data = random_bytes(72 * MIB, 10)  # over a pack's 64 MiB: a pack of chunks only, published whole
    ws.gen({"big.bin": data})
    ws.art("add", "big.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default", *options)
    ws.art("push")
    local = sorted((ws.root / ".art" / "store" / "packs").rglob("*.pack"))
    before = {p: p.read_bytes() for p in local}
    remote = list((tmp_path / "remote").rglob("*.pack"))
    biggest = max(before.values(), key=len)
    assert biggest in {p.read_bytes() for p in remote}  # the file's pack was published whole
    # the remote's packs change in place (a disk fault, a careless tool): the pushing store is its own copy
    for pack in remote:
        with open(pack, "r+b") as f:
            f.seek(pack.stat().st_size // 2)
            f.write(b"\xff" * 64)
    assert {p: p.read_bytes() for p in local} == before
    assert ws.art("fsck", code=None).exit_code == 0
    (ws.root / "big.bin").unlink()
    ws.art("checkout", "big.bin")
    assert (ws.root / "big.bin").read_bytes() == data


def _file_key(w: Workspace, path: str):
    from artvc.objstore.objects import Kind
    from artvc.objstore.types import ObjectKey

    with w.repo() as repo:
        return next(ObjectKey(p.oid, Kind.FILE) for rel, p, _ in repo.artifacts() if rel == path)


def test_a_fetch_records_the_files_it_proved_in_the_completeness_memo(ws, tmp_path):
    other = pushed(ws, tmp_path, random_bytes(SIZE, 11))
    other.art("fetch")
    key = _file_key(other, "big.bin")
    with other.repo() as repo:  # the checkout after a pull does not walk the file's chunks again
        assert repo.store.known_complete([key]) == {key}
    other.art("checkout", "big.bin")
    assert (other.root / "big.bin").read_bytes() == (ws.root / "big.bin").read_bytes()


def test_a_fetch_that_could_not_prove_a_file_does_not_record_it(ws, tmp_path):
    other = pushed(ws, tmp_path, random_bytes(SIZE, 12))
    for pack in (tmp_path / "remote").rglob("*.pack"):  # a chunk of the file is damaged on the remote
        with open(pack, "r+b") as f:
            f.seek(pack.stat().st_size // 2)
            f.write(b"\xff" * 64)
    assert other.art("fetch", code=None).exit_code != 0
    key = _file_key(other, "big.bin")
    with other.repo() as repo:
        assert repo.store.known_complete([key]) == set()
    assert other.art("checkout", "big.bin", code=None).exit_code != 0
    assert not (other.root / "big.bin").exists()


def test_a_pull_killed_after_copying_a_pack_leaves_the_store_consistent(ws, tmp_path):
    data = random_bytes(SIZE, 9)
    other = pushed(ws, tmp_path, data)
    proc, _, points = art_child(other.root, tmp_path, "pull", ART_FAULT="fetch.pack-copied:kill")
    assert proc.returncode == -9, proc.stderr
    assert not (other.root / "big.bin").exists()
    proc, _, _ = art_child(other.root, tmp_path, "pull")
    assert proc.returncode == 0, proc.stderr
    assert (other.root / "big.bin").read_bytes() == data
    assert not [p for p in (other.root / ".art" / "store" / "tmp").iterdir() if p.name.startswith("import-")]
    assert other.art("fsck").exit_code == 0


def test_a_full_disk_while_copying_a_pack_exits_13_and_leaves_nothing(ws, tmp_path):
    data = random_bytes(SIZE, 10)
    other = pushed(ws, tmp_path, data)
    proc, _, _ = art_child(other.root, tmp_path, "pull", ART_FAULT="fetch.pack-copied:enospc")
    assert proc.returncode == 13, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("art: error: ") and "Traceback" not in proc.stderr
    assert not (other.root / "big.bin").exists()
    assert leftovers(other) == []
    assert not [p for p in (other.root / ".art" / "store" / "tmp").iterdir() if p.name.startswith("import-")]
    proc, _, _ = art_child(other.root, tmp_path, "pull")
    assert proc.returncode == 0, proc.stderr
    assert (other.root / "big.bin").read_bytes() == data


def traced_pull(root: Path, log: Path, calls: tuple[str, ...]) -> dict[str, int]:
    """Run ``art pull`` in ``root`` under ``strace -ff -y``, tracing ``calls``; assert it succeeds and return, for
    each call, the bytes its calls on a pack file (their first argument, as ``-y`` names it) returned in all,
    from the per-thread logs ``log.<tid>`` (each call on one line)."""
    r = subprocess.run(
        ["strace", "-ff", "-qq", "-y", "-e", "trace=" + ",".join(calls), "-o", str(log)]
        + [sys.executable, "-m", "artvc", "pull"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    totals = dict.fromkeys(calls, 0)
    for part in log.parent.glob(f"{log.name}.*"):
        for call in part.read_text().splitlines():
            name = call.split("(", 1)[0]
            if name in totals and call.split(",", 1)[0].endswith(".pack>") and " = " in call:
                totals[name] += max(0, int(call.rsplit(" = ", 1)[1].split()[0]))
    return totals


def pulled_by_the_kernel(other: Workspace, remote: Path, log: Path, data: bytes, call: str) -> None:
    """Pull into ``other`` (a clone whose default remote is the directory ``remote``) under strace and check that
    ``big.bin`` arrives as ``data``, that the kernel moved the packs' bytes by ``call`` (at least 90% of them) and
    that art read under 1/16 of them itself (headers, gaps, trailers: not the objects); then fsck passes."""
    packs = sum(p.stat().st_size for p in remote.rglob("*.pack"))
    moved = traced_pull(other.root, log, ("pread64", "preadv", "read", "copy_file_range", "splice"))
    assert (other.root / "big.bin").read_bytes() == data
    read = moved["pread64"] + moved["preadv"] + moved["read"]
    assert moved[call] >= packs * 0.9, (call, moved, packs)
    assert read < packs // 16, (read, packs)
    assert other.art("fsck").exit_code == 0


@pytest.mark.long
@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
@pytest.mark.parametrize("kind", ["random", "csv"])
def test_a_whole_pack_is_copied_by_the_kernel_and_verified_from_the_copy(ws, tmp_path, kind):
    """From a directory remote, a pack fetched whole goes into the store by ``copy_file_range`` (no trip through
    art's memory) and its objects are verified from that copy, mapped: the pack's bytes are not also read with
    pread (before: every byte was pread, then written back with pwrite)."""
    data = random_bytes(SIZE, 13) if kind == "random" else csv_bytes(SIZE, 13)
    other = pushed(ws, tmp_path, data)
    pulled_by_the_kernel(other, tmp_path / "remote", tmp_path / "strace.log", data, "copy_file_range")


def test_a_remote_pack_shorter_than_its_index_says_is_refused_with_nothing_written(ws, tmp_path):
    """The kernel copy of a truncated remote pack stops at its end; the objects past it fail verification
    (exit 3), no file is written and the store keeps nothing of it."""
    other = pushed(ws, tmp_path, random_bytes(SIZE, 14))
    pack = max((tmp_path / "remote").rglob("*.pack"), key=lambda p: p.stat().st_size)
    with open(pack, "r+b") as f:
        f.truncate(pack.stat().st_size // 2)
    proc, _, _ = art_child(other.root, tmp_path, "pull")
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("art: error: ") and "Traceback" not in proc.stderr
    assert not (other.root / "big.bin").exists()
    assert leftovers(other) == []
    assert not [p for p in (other.root / ".art" / "store" / "tmp").iterdir() if p.name.startswith("import-")]
