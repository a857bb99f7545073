"""A pack written around the page cache (objstore/store/direct_io.py): the same bytes as a buffered pack, all but
its unaligned ends written with O_DIRECT, on filesystems whose O_DIRECT reaches the disk (else buffered, as before).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.store.direct_io import ALIGN, STAGE, direct_capable
from artvc.objstore.store.packer import PackBuilder
from tests.builders import random_bytes, write_random_file

ART = [sys.executable, "-m", "artvc"]


@pytest.fixture
def repo(process_repo):
    return process_repo


def capable(folder: Path) -> bool:
    fd = os.open(folder, os.O_RDONLY)
    try:
        return direct_capable(fd)
    finally:
        os.close(fd)


def needs_direct(folder: Path) -> None:
    if not capable(folder):
        pytest.skip(f"{folder}'s filesystem does not write O_DIRECT to a disk (tmpfs, network)")


def write_pack(
    folder: Path, *, direct: bool, flush_between: bool = False, lag: bool = False
) -> tuple[bytes, int, bool]:
    """Small objects, a large file's batches (borrowed views of one buffer, 20 MiB), small objects again: the
    sealed pack's bytes, how many of them went with O_DIRECT, and whether the builder's next pack would try."""
    data = bytearray(random_bytes(20 << 20, seed=5))
    view = memoryview(data)
    builder = PackBuilder(folder, writeback=True, direct=direct)
    for i in range(5):
        builder.add(hash_bytes(b"small%d" % i), 1, 0, b"small %d " % i * 77, 539)
    at, step, n = 0, 100_003, 0
    while at < len(data):  # batches of ~2 MiB of ~100 KB chunks, as the large-file pipeline hands them over
        batch = []
        for _ in range(20):
            piece = view[at : at + step]
            if not piece:
                break
            batch.append((hash_bytes(piece), 1, 0, piece, len(piece)))
            at += len(piece)
        builder.add_many(batch, large=True)
        n += 1
        if flush_between and n == 3:
            assert builder._file is not None
            builder._file.flush()  # the unaligned end on the file, then more aligned writes over it
        if lag and n == 6:  # as when the disk fell behind (direct_io.LAG): the rest from the caller's buffers
            assert builder._file is not None and builder._file._dio is not None
            builder._file.flush()  # what came so far on the file directly (else the thread may see the flag first)
            builder._file._dio.lagging = True
    for i in range(5):
        builder.add(hash_bytes(b"tail%d" % i), 1, 0, b"tail %d " % i * 13, 91)
    sealed = builder.seal()
    out = Path(sealed.path).read_bytes()
    os.unlink(sealed.path)
    return out, builder.direct_bytes, builder.direct


@pytest.mark.parametrize("flush_between", [False, True])
def test_a_direct_pack_is_the_buffered_pack(tmp_path, flush_between):
    """The same pack, byte for byte, whichever way it was written; with O_DIRECT all but the bytes written before
    the first large batch and the last unaligned block go around the page cache (fails on the old code: no
    direct writes)."""
    needs_direct(tmp_path)
    plain, none, _ = write_pack(tmp_path, direct=False)
    direct, sent, again = write_pack(tmp_path, direct=True, flush_between=flush_between)
    assert again
    assert none == 0
    assert direct == plain
    before = 8 + 5 * len(b"small 0 " * 77)  # the magic and the small objects: written before the switch
    assert len(plain) - before - 2 * ALIGN <= sent <= len(plain)
    assert sent % ALIGN == 0


def test_a_pack_whose_disk_fell_behind_goes_on_buffered(tmp_path):
    """When the direct writes lag (``direct_io.LAG``), the pack goes on from the caller's buffers through the page
    cache, from where the direct writes ended: the same bytes, the first batches' written directly, and the
    builder's next packs stay buffered."""
    needs_direct(tmp_path)
    plain, _, _ = write_pack(tmp_path, direct=False)
    builder_bytes, sent, again = write_pack(tmp_path, direct=True, lag=True)
    assert builder_bytes == plain
    assert not again
    assert STAGE <= sent <= 13 << 20  # the 6 batches of ~2 MB before the switch, written directly


def test_a_filesystem_without_direct_writes_gets_the_buffered_pack(tmp_path):
    """Where O_DIRECT does not reach a disk (tmpfs), the pack is written as before: no direct bytes."""
    if not Path("/dev/shm").is_dir() or capable(Path("/dev/shm")):
        pytest.skip("no tmpfs at /dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="art-direct-", dir="/dev/shm"))
    try:
        pack, sent, _ = write_pack(folder, direct=True)
        plain, _, _ = write_pack(tmp_path, direct=False)
    finally:
        shutil.rmtree(folder)
    assert sent == 0
    assert pack == plain


def test_a_large_add_writes_its_pack_with_o_direct(repo, tmp_path):
    """``art add`` of a 40 MiB file opens its pack a second time with O_DIRECT and writes it through that
    descriptor in ``STAGE``-byte requests at aligned offsets (seen with strace); the store checks out (fails on
    the old code: no O_DIRECT open)."""
    needs_direct(repo)
    write_random_file(repo / "big.bin", 40 << 20, seed=15)
    log = tmp_path / "strace.log"
    traced = ["strace", "-f", "-qq", "-e", "trace=openat,pwrite64", "-o", str(log), *ART, "add", "big.bin"]
    r = subprocess.run(traced, cwd=repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = log.read_text().splitlines()
    fds = {m.group(1) for line in lines if (m := re.search(r"openat\(.*\.tmp\", [^)]*O_DIRECT[^)]*\) = (\d+)", line))}
    assert len(fds) == 1, [line for line in lines if "openat" in line and ".tmp" in line]
    (fd,) = fds
    writes = [
        (int(m.group(1)), int(m.group(2)))
        for line in lines
        if (m := re.search(rf"pwrite64\({fd}, .*, (\d+), (\d+)\) = \d+", line))
    ]
    assert writes and all(at % ALIGN == 0 and n % ALIGN == 0 for n, at in writes), writes
    # the first buffers always go directly; the rest too unless the disk fell behind (``LAG``, a loaded machine)
    assert sum(n == STAGE for n, _ in writes) >= 2, writes
    r = subprocess.run([*ART, "fsck"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("fault", ["store.pack-direct-write@1:enospc", "store.pack-direct-write@3:eio"])
def test_a_failed_direct_write_is_one_error_and_leaves_nothing(repo, fault):
    """A direct write that fails (a full disk, an I/O error: raised in the writing thread, as the kernel would)
    stops the add with one error line (exit 13), no pointer and no temp file; the next add stores the file
    whole (fails on the old code: no direct write, so the add succeeds)."""
    needs_direct(repo)
    write_random_file(repo / "big.bin", 40 << 20, seed=16)
    env = {**os.environ, "ART_FAULT": fault}
    r = subprocess.run([*ART, "add", "big.bin"], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 13, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines and lines[0].startswith("art: error:") and "Traceback" not in r.stderr and len(lines) <= 2
    assert not (repo / "big.bin.art").exists()
    assert sorted(p.name for p in (repo / ".art" / "store" / "tmp").iterdir()) == []
    r = subprocess.run([*ART, "add", "big.bin"], cwd=repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*ART, "fsck"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
