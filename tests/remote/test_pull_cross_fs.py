"""A pull from a directory remote on another file system (a loop-mounted ext4): ``copy_file_range`` refuses
between two mounts (EXDEV), so the pack is copied by splice, still verified from the copy, and a damaged pack
still leaves nothing in place. Root only (mount), as CI runs; skipped otherwise."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import random_bytes
from tests.conftest import Workspace
from tests.remote.conftest import clone
from tests.remote.test_pull_stream import art_child, leftovers, pulled_by_the_kernel

MIB = 1 << 20
SIZE = 20 * MIB

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a loop file system needs root"),
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("mkfs.ext4", "mount", "umount", "strace")),
        reason="needs mkfs.ext4, mount, umount and strace",
    ),
]


@contextlib.contextmanager
def ext4(where: Path, size: int = 96 * MIB) -> Iterator[Path]:
    """A fresh ext4 in a sparse image, loop-mounted at ``where`` for the duration; always unmounted."""
    image = where.with_suffix(".img")
    with open(image, "wb") as f:
        f.truncate(size)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    where.mkdir()
    done = subprocess.run(["mount", "-o", "loop", str(image), str(where)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"no loop mount here: {done.stderr.strip()[:200]}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)
        image.unlink(missing_ok=True)


def test_a_pack_on_another_file_system_is_spliced_verified_and_refused_when_damaged(ws: Workspace, tmp_path):
    """The remote on its own ext4, the clone on another: the pack's bytes go into the store by splice (the kernel;
    before, every byte was pread into art and pwritten back), not by pread; the file pulled is the file. The same
    remote with one flipped byte in its pack: exit 3, no file in place, no temp file left."""
    data = random_bytes(SIZE, 31)
    with ext4(tmp_path / "mnt") as mnt:
        assert os.stat(mnt).st_dev != os.stat(tmp_path).st_dev
        ws.gen({"big.bin": data})
        ws.art("add", "big.bin")
        ws.art("remote", "add", "origin", str(mnt / "remote"), "--default")
        ws.art("push")
        other = clone(ws, tmp_path / "clone")
        pulled_by_the_kernel(other, mnt / "remote", tmp_path / "strace.log", data, "splice")

        pack = max((mnt / "remote").rglob("*.pack"), key=lambda p: p.stat().st_size)
        with open(pack, "r+b") as f:
            f.seek(pack.stat().st_size // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 1]))
        second = clone(ws, tmp_path / "clone2")
        proc, _, _ = art_child(second.root, tmp_path, "pull")
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr.startswith("art: error: ") and "Traceback" not in proc.stderr
        assert not (second.root / "big.bin").exists()
        assert leftovers(second) == []
        assert not [p for p in (second.root / ".art" / "store" / "tmp").iterdir() if p.name.startswith("import-")]
