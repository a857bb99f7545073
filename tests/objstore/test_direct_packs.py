"""The packs of a large file's add are written around the page cache (``O_DIRECT``, ``packer._PackFile.go_direct``)
where the file system takes it, and hold the same bytes as the page-cache path's (``ART_DIRECT_WRITES=0``, or a
file system kept in memory: tmpfs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from artvc.objstore.fileio import ALIGN, DirectFile, in_memory
from artvc.objstore.ingest import Ingester
from artvc.objstore.store import packer
from artvc.objstore.store.local import LocalStore
from tests.builders import random_bytes
from tests.objstore.test_materialize_large import mixed

MIB = 1 << 20


def packs(store: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((store / "packs").glob("*/*.pack"))}


def ingest(where: Path, files: dict[str, bytes], direct: bool, monkeypatch, target: int) -> dict[str, bytes]:
    """Add ``files`` (small ones first, so a large file's chunks start mid-pack at an unaligned offset) into a new
    store under ``where``, with direct writes on or off, packs sealed at ``target`` bytes; its packs' bytes."""
    monkeypatch.setattr(packer, "DIRECT", [direct])
    src = where / f"src-{int(direct)}"
    src.mkdir()
    for name, data in files.items():
        (src / name).write_bytes(data)
    with LocalStore(where / f"store-{int(direct)}") as s, s.writer() as w:
        w._builder.target = target
        with Ingester(w, s.params, s.compressor) as ing:
            for name in files:
                ing.add_file(src / name)
    shutil.rmtree(src)
    return packs(where / f"store-{int(direct)}")


FILES = {
    "a.txt": b"small text\n" * 30,  # a small file's chunk: the pack's first bytes are not a multiple of ALIGN
    "b.bin": random_bytes(5_000, 3),
    "big.bin": mixed(25 * MIB + 1_234),  # raw and zstd chunks, across several staging buffers
    "z.bin": random_bytes(70_001, 4),  # a small file after the large one, into the direct pack
    "big2.bin": random_bytes(17 * MIB + 333, 5),
}


def test_direct_packs_hold_the_same_bytes_as_page_cache_packs(tmp_path, monkeypatch):
    """Same files, same packs byte for byte: with direct writes (on this test's disk file system) and without;
    several packs (sealed at 12 MiB), a large file starting mid-pack after small ones and a small file after it."""
    direct = ingest(tmp_path, FILES, True, monkeypatch, 12 * MIB)
    buffered = ingest(tmp_path, FILES, False, monkeypatch, 12 * MIB)
    assert len(direct) >= 3 and list(direct) == list(buffered)
    for name in direct:
        assert direct[name] == buffered[name], name
    assert any(len(b) % ALIGN for b in direct.values())  # a pack's last bytes went through the ordinary descriptor


def test_a_file_system_in_memory_gets_the_same_packs_through_the_page_cache(tmp_path, monkeypatch):
    """A store on tmpfs (``/dev/shm``) keeps the page-cache path (``fileio.in_memory``: tmpfs takes ``O_DIRECT``
    from Linux 6.6 on and copies all the same), with the same bytes as on the disk with direct writes."""
    files = {k: FILES[k] for k in ("a.txt", "big2.bin")}
    on_disk = ingest(tmp_path, files, True, monkeypatch, 64 * MIB)
    shm = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="art-test-"))
    try:
        fd = os.open(shm / "probe", os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            assert in_memory(fd) and DirectFile.open(fd) is None  # the control: no direct writes here
        finally:
            os.close(fd)
        assert ingest(shm, files, True, monkeypatch, 64 * MIB) == on_disk
    finally:
        shutil.rmtree(shm)


@pytest.mark.parametrize("direct", [True, False])
def test_a_staged_pack_file_writes_every_byte_in_place(tmp_path, monkeypatch, direct):
    """``_PackFile`` after ``go_direct`` (at an unaligned offset), with writes of every size (bytes and views,
    some larger than a staging buffer) and a ``flush`` in the middle (its last bytes unaligned): the file holds
    exactly what was written, as without direct writes."""
    import random

    monkeypatch.setattr(packer, "DIRECT", [direct])
    monkeypatch.setattr(packer, "STAGE", 64 * 1024)
    rng = random.Random(7)
    fd = os.open(tmp_path / "p", os.O_CREAT | os.O_RDWR, 0o600)
    f = packer._PackFile(fd, writeback=True)
    expected = bytearray()

    def write(n: int, view: bool) -> None:
        data = rng.randbytes(n)
        expected.extend(data)
        f.writelines([memoryview(bytearray(data))] if view else [data[: n // 2], data[n // 2 :]])

    write(13, False)
    f.go_direct()
    for i in range(40):
        write(rng.choice([1, 100, ALIGN - 1, ALIGN, 70_000, 200_001]), i % 3 == 0)
        if i == 20:
            f.flush()
            assert os.path.getsize(tmp_path / "p") == len(expected)
    f.close()
    assert (tmp_path / "p").read_bytes() == bytes(expected)


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
@pytest.mark.parametrize("direct", [True, False])
def test_a_large_add_writes_its_packs_around_the_page_cache(tmp_path, direct):
    """``art add`` of a large file: each pack's temp file is opened a second time with ``O_DIRECT`` and nothing
    asks for a writeback (no dirty pages to hand over); with ``ART_DIRECT_WRITES=0`` no ``O_DIRECT`` open and
    the writeback requests of the page-cache path. The store verifies either way."""
    from tests.e2e.faultfs import ART, make_repo

    repo = make_repo(tmp_path / "repo")
    (repo / "big.bin").write_bytes(random_bytes(40 * MIB + 17, 31))
    log = tmp_path / "strace.log"
    env = ["env", f"ART_DIRECT_WRITES={int(direct)}"]
    traced = ["strace", "-f", "-qq", "-y", "-e", "trace=openat,sync_file_range", "-o", str(log), *env]
    r = subprocess.run([*traced, *ART, "add", "big.bin"], cwd=repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = log.read_text().splitlines()
    opened = [line for line in lines if "openat(" in line and "O_DIRECT" in line and "/pack-" in line]
    handed = [line for line in lines if "sync_file_range(" in line]
    if direct:
        assert len(opened) == 1 and "O_WRONLY" in opened[0] and not handed, (opened, handed)
    else:
        assert not opened and handed, (opened, handed)
    r = subprocess.run([*ART, "fsck"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def chunks(store: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every chunk in the store's packs: id -> (codec, raw length, stored bytes)."""
    from artvc.objstore.objects import Kind
    from artvc.objstore.store.pack import read_trailer

    out = {}
    for path in (store / "packs").glob("*/*.pack"):
        with open(path, "rb") as f:
            data = f.read()
            f.seek(0)
            for e in read_trailer(f, len(data)):
                if e.kind == Kind.CHUNK:
                    out[e.oid] = (e.codec, e.raw_length, data[e.offset : e.offset + e.length])
    return out


def small_files(folder: Path, count: int, size: int, seed: int) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"f{i:05}.bin").write_bytes(random_bytes(size, seed + i))


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_many_small_files_go_direct_once_the_pack_is_past_direct_after(tmp_path):
    """An add of many small files writes its pack through the page cache up to ``DIRECT_AFTER`` bytes and around
    it after (one ``O_DIRECT`` open of the pack's temp file); an add smaller than that never opens one (its
    staging buffers are never made). The packs hold the same chunks, byte for byte, as with ``ART_DIRECT_WRITES=0``
    (a tree's encoding differs from run to run: its files' stat data)."""
    from tests.e2e.faultfs import ART, make_repo

    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        if in_memory(fd):
            pytest.skip("the test's folder is kept in memory: direct writes are off there by design")
    finally:
        os.close(fd)
    made = {}
    for name, count, direct in (("big", 3_000, 1), ("big0", 3_000, 0), ("small", 500, 1)):
        repo = make_repo(tmp_path / name)
        small_files(repo / "data", count, 4_100, 7)  # 3,000: 12 MiB, past DIRECT_AFTER; 500: 2 MiB
        log = tmp_path / f"{name}.log"
        env = ["env", f"ART_DIRECT_WRITES={direct}"]
        traced = ["strace", "-f", "-qq", "-y", "-e", "trace=openat", "-o", str(log), *env]
        r = subprocess.run([*traced, *ART, "add", "data"], cwd=repo, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        # the pack's second descriptor (strace may cut a line in two, ``<unfinished ...>``, while the add's reading
        # process runs: the flags and the path argument stay on the first part)
        opened = [line for line in log.read_text().splitlines() if "O_DIRECT" in line and "/proc/self/fd/" in line]
        made[name] = (opened, chunks(repo / ".art" / "store"))
        r = subprocess.run([*ART, "fsck"], cwd=repo, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    assert 500 * 4_100 < packer.DIRECT_AFTER < 3_000 * 4_100
    assert len(made["big"][0]) == 1 and "O_WRONLY" in made["big"][0][0], made["big"][0]
    assert made["big0"][0] == [] and made["small"][0] == []
    assert made["big"][1] == made["big0"][1] and made["big"][1]


def _loop_ext4(image: Path, mount: Path, sector: int) -> str:
    """A 32 MiB ext4 at ``mount`` on a loop device of ``image`` whose logical blocks are ``sector`` bytes: direct
    I/O to it wants buffer addresses aligned to that. The loop device's name (``_drop`` undoes it)."""
    with open(image, "wb") as f:
        f.truncate(32 * MIB)
    loop = subprocess.run(
        ["losetup", "--find", "--show", "--sector-size", str(sector), str(image)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        subprocess.run(["mkfs.ext4", "-q", "-b", "4096", loop], capture_output=True, check=True)
        mount.mkdir()
        subprocess.run(["mount", loop, str(mount)], capture_output=True, check=True)
    except BaseException:
        subprocess.run(["losetup", "-d", loop], capture_output=True)
        raise
    return loop


def _drop(loop: str, mount: Path) -> None:
    subprocess.run(["umount", str(mount)], capture_output=True)
    subprocess.run(["losetup", "-d", loop], capture_output=True)


@pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("losetup", "mkfs.ext4", "mount")),
    reason="needs root, losetup, mkfs.ext4 and mount",
)
def test_a_direct_write_refused_mid_file_sends_it_and_every_later_write_through_the_page_cache(tmp_path, monkeypatch):
    """On a file system whose device has 4 KiB logical blocks (a loop device made with ``--sector-size 4096``),
    the kernel refuses (``EINVAL``) a direct write at a file offset that is a multiple of 512 but not of 4 KiB,
    after taking aligned ones into the same file: ``DirectFile.write`` writes that part through the ordinary
    descriptor, and every later write too, and the file holds every byte. Every ``pwritev`` is watched (which
    descriptor, and what the kernel answered). The control: on a device of 512-byte blocks the same writes all
    go direct (so the refusal is the device's block size, not the writes)."""
    import errno
    import random

    from artvc.objstore.fileio import aligned_buffer

    rng = random.Random(11)
    # (file offset, length): aligned; 512 past a multiple of ALIGN (refused with 4 KiB blocks); aligned, with a tail
    writes = [(0, 2 * ALIGN), (2 * ALIGN + 512, 2 * ALIGN), (5 * ALIGN, 2 * ALIGN + 100)]
    data = [rng.randbytes(n) for _, n in writes]
    expected = bytearray(5 * ALIGN + 2 * ALIGN + 100)
    for (at, n), chunk in zip(writes, data, strict=True):
        expected[at : at + n] = chunk
    calls: list[tuple[int, int | None]] = []  # (fd, errno or None)
    real = os.pwritev

    def watched(fd, buffers, at, *flags):
        try:
            n = real(fd, buffers, at, *flags)
        except OSError as exc:
            calls.append((fd, exc.errno))
            raise
        calls.append((fd, None))
        return n

    def write_file(folder: Path) -> tuple[DirectFile, bytes]:
        fd = os.open(folder / "f", os.O_RDWR | os.O_CREAT, 0o600)
        direct = DirectFile.open(fd)
        assert direct is not None
        view = memoryview(aligned_buffer(4 * ALIGN))
        monkeypatch.setattr(os, "pwritev", watched)
        try:
            for (at, n), chunk in zip(writes, data, strict=True):
                view[:n] = chunk
                direct.write(view[:n], at)
        finally:
            monkeypatch.setattr(os, "pwritev", real)
            direct.close()
            os.close(fd)
        return direct, (folder / "f").read_bytes()

    loop = _loop_ext4(tmp_path / "img", tmp_path / "mnt", 4096)
    try:
        direct, written = write_file(tmp_path / "mnt")
    finally:
        _drop(loop, tmp_path / "mnt")
    assert written == expected
    assert direct.refused
    d, b = direct.direct, direct.buffered
    assert calls == [(d, None), (d, errno.EINVAL), (b, None), (b, None)], calls

    calls.clear()  # the control: 512-byte blocks take the same writes direct
    loop = _loop_ext4(tmp_path / "img512", tmp_path / "mnt512", 512)
    try:
        direct, written = write_file(tmp_path / "mnt512")
    finally:
        _drop(loop, tmp_path / "mnt512")
    assert written == expected and not direct.refused
    d, b = direct.direct, direct.buffered
    assert calls == [(d, None), (d, None), (d, None), (b, None)], calls
