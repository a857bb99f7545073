"""An add reads and hashes new folders' files in a second process (``objstore/forked_reads.py``): the same tree,
objects and stat cache as one process, the same errors, and every failure of either process ends the add with
nothing pointing at what it did not store, and no process left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from artvc.objstore import forking
from artvc.objstore.listread import FORKED_AT
from tests.builders import random_bytes
from tests.e2e.faultfs import ART, make_repo
from tests.objstore.test_direct_packs import chunks

pytestmark = pytest.mark.skipif(not forking.AVAILABLE, reason="a second process is forked on Linux only")


def _data(root: Path) -> None:
    """Folders of every kind of file the reader meets: small random and text files (stored raw and zstd), empty
    ones, duplicates, files cut into chunks (over 16 KiB), files past a slot's room (20 of 600 KiB among the
    first 64 of a folder: a job's first guess of 8 KiB a file is wrong), a large file (read by the add itself), a
    symlink, nested folders, a folder read in this process (under ``FORKED_AT``) and an executable."""
    big = root / "data"
    for d in range(2):
        folder = big / f"s{d}"
        folder.mkdir(parents=True)
        for i in range(300):
            k = d * 1000 + i
            if k % 41 == 0:
                content = b""
            elif k % 5 == 0:
                content = (f"line {k}\n" * (20 + k % 300)).encode()
            elif k % 11 == 0:
                content = b"the same in many files\n" * 10
            elif k % 29 == 0:
                content = random_bytes(40_000 + k, seed=k)  # several chunks
            elif d == 1 and i % 3 == 0 and 64 <= i < 124:  # (the add reads the first 64 itself)
                content = random_bytes(600_000 + i, seed=k)  # past the first job's slot
            else:
                content = random_bytes(100 + k % 5000, seed=7_000 + k)
            (folder / f"f{i:04d}").write_bytes(content)
    (big / "s0" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (big / "s0" / "run.sh").chmod(0o755)
    (big / "s1" / "link").symlink_to("f0001")
    (big / "large.bin").write_bytes(random_bytes(3 << 20, seed=99))
    small = big / "s0" / "few"
    small.mkdir()
    for i in range(FORKED_AT - 1):
        (small / f"x{i}").write_bytes(random_bytes(300, seed=900 + i))


def _run(repo: Path, *args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*ART, *args], cwd=repo, capture_output=True, text=True, env=env, timeout=120, **kw)


def _left(mark: str) -> list[int]:
    """Processes still running with ``mark`` in their environment (an add's reading process outlives nothing)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if mark.encode() in f.read():
                    out.append(int(pid))
        except OSError:
            continue
    return out


def _env(tmp_path: Path, **more: str) -> tuple[dict, str]:
    mark = f"ART_TEST_MARK={uuid.uuid4().hex}"
    env = {**os.environ, "ART_FAULT_LOG": str(tmp_path / "points.log"), **more}
    env[mark.split("=")[0]] = mark.split("=")[1]
    return env, mark


def test_a_forked_add_stores_what_one_process_stores(tmp_path):
    """The same pointer, objects, stat cache answers and status with the reading process and without (``-j 1``);
    the reading process did read jobs (its fault point is logged), and none is left running."""
    one, two = make_repo(tmp_path / "one"), make_repo(tmp_path / "two")
    _data(one)
    _data(two)
    env, mark = _env(tmp_path)
    r = _run(two, "add", "data", env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "points.log").read_text().count("add.forked-read") >= 3  # jobs of s0 and s1
    r1 = _run(one, "add", "-j", "1", "data", env={**os.environ, "ART_FAULT_LOG": str(tmp_path / "one.log")})
    assert r1.returncode == 0, r1.stderr
    assert "add.forked-read" not in (tmp_path / "one.log").read_text()
    assert (one / "data.art").read_text() == (two / "data.art").read_text()
    objects = {}
    for repo in (one, two):
        r = _run(repo, "fsck")
        assert r.returncode == 0, r.stderr
        objects[repo.name] = chunks(repo / ".art" / "store")  # (the run record differs: its times)
        s = _run(repo, "status", "--json")
        assert s.returncode == 0 and '"unchanged"' in s.stdout, s.stdout
    assert objects["one"] == objects["two"] and len(objects["one"]) > 400
    assert not _left(mark)


SIZED = """
import os, sys
from artvc.objstore import forked_reads
from artvc.objstore.chunking import ChunkerParams
from artvc.objstore.store.pack import ZSTD_LEVEL

folder = sys.argv[1]
reader = forked_reads.Reader.fork()
assert reader is not None, "this process runs one thread: it may fork"
fd = os.open(folder, os.O_RDONLY)
names = sorted(os.listdir(folder))
got = list(reader.read(fd, iter(names), len(names), 1 << 20, ChunkerParams(), ZSTD_LEVEL))
os.close(fd)
reader.close()
assert not reader.alive
assert [name for name, _ in got] == names
left = [name for name, st in got if st.data is None]
assert 0 < len(left) < 30 and len(names) - len(left) > 400, len(left)  # the first job overflowed, no other
for name, st in got:
    with open(os.path.join(folder, name), "rb") as f:
        data = f.read()
    assert st.st_size == len(data)
    if st.data is not None:
        assert st.data == data
        assert (st.pieces is None) == (len(data) <= ChunkerParams().min_size)
print("ok", len(left))
"""


def test_the_reader_sizes_its_jobs_to_its_slot(tmp_path):
    """Files that do not fit in what is left of a job's slot come back with their stat only (the add reads
    them); the next jobs hold as many files as the mean size seen so far says fit. Run in a process of one thread
    (a test runner's worker runs several: no fork there)."""
    folder = tmp_path / "wide"
    folder.mkdir()
    sizes = [700_000] * 30 + [3_000] * 400  # the first job (64 names) holds 30 files of 700 KB: 21 MB, 8 MiB fit
    for i, n in enumerate(sizes):
        (folder / f"f{i:03d}").write_bytes(random_bytes(n, seed=i))
    r = subprocess.run([sys.executable, "-c", SIZED, str(folder)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr


@pytest.mark.long
def test_a_killed_reader_takes_the_add_with_it_and_the_next_add_recovers(tmp_path):
    """The reading process killed (``ART_FAULT=add.forked-read:kill``): the add dies by the same signal, nothing
    points at the data, no process is left; the next add stores it all and the store checks."""
    repo = make_repo(tmp_path / "r")
    _data(repo)
    env, mark = _env(tmp_path, ART_FAULT="add.forked-read@2:kill")
    r = _run(repo, "add", "data", env=env)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    assert not (repo / "data.art").exists()
    assert not _left(mark)
    r = _run(repo, "add", "data")
    assert r.returncode == 0, r.stderr
    r = _run(repo, "fsck")
    assert r.returncode == 0, r.stderr


@pytest.mark.long
@pytest.mark.parametrize(
    ("fault", "code", "says"),
    [
        ("add.forked-read@3:interrupt", 130, "interrupted"),  # the child's KeyboardInterrupt, as the add's own
        ("add.forked-read@3:enospc", 70, "reading process failed"),  # not an art error: a bug's exit
        ("ingest.files-read@5:eio", 13, "input/output error"),  # the add's own fault: the reader is killed
    ],
)
def test_a_failure_on_either_side_ends_both_with_nothing_half_done(tmp_path, fault, code, says):
    repo = make_repo(tmp_path / "r")
    _data(repo)
    env, mark = _env(tmp_path, ART_FAULT=fault)
    r = _run(repo, "add", "data", env=env)
    assert r.returncode == code, (r.returncode, r.stderr)
    assert says in r.stderr.lower() or says in r.stderr, r.stderr
    assert r.stderr.count("\n") <= 2, r.stderr
    assert not (repo / "data.art").exists()
    assert not _left(mark)
    assert not list((repo / ".art" / "store" / "tmp").glob("pack-*"))
    r = _run(repo, "add", "data")
    assert r.returncode == 0, r.stderr


def test_ctrl_c_stops_the_add_and_its_reader(tmp_path):
    """SIGINT to the add's process group while it stores (held at a fault point): exit 130, no pointer, no
    process left (the reader ignores SIGINT; the add kills it)."""
    repo = make_repo(tmp_path / "r")
    _data(repo)
    release = tmp_path / "release"
    env, mark = _env(tmp_path, ART_FAULT="ingest.files-read@3:block", ART_FAULT_RELEASE=str(release))
    p = subprocess.Popen(
        [*ART, "add", "data"], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        log = tmp_path / "points.log"
        while time.monotonic() < deadline and (not log.exists() or log.read_text().count("ingest.files-read") < 3):
            time.sleep(0.05)
        assert len(_left(mark)) == 2  # the add and its reader
        os.killpg(p.pid, signal.SIGINT)
        release.touch()
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, err
    assert not (repo / "data.art").exists()
    assert not _left(mark)


def _tree(root: Path, folders: int, per: int) -> None:
    for i in range(per):  # files at the top too: its folder is the only one not read ahead
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "data" / f"f{i:03d}").write_bytes(random_bytes(100 + i, seed=10_000 + i))
    for d in range(folders):
        for i in range(per):
            p = root / "data" / f"t{d // 4}" / f"l{d:02d}" / f"f{i:03d}"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(random_bytes(50 + (d * per + i) % 3000, seed=d * per + i))


def _entries(repo: Path) -> dict:
    from artvc.objstore.tree import walk
    from artvc.workspace.pointers import read_pointer
    from artvc.workspace.repo import Repo

    with Repo(repo) as r:
        oid = read_pointer(repo / "data.art", where="data.art").oid
        return {f.path: (f.entry.kind.value, f.entry.oid) for f in walk(r.store, oid)}


def test_the_next_folder_is_read_ahead_and_a_walk_that_turns_elsewhere_is_followed(tmp_path):
    """Folders of 40 files in a tree: each next folder is listed and sent to the reader while the add stores the
    one before (one job a folder: the reader's fault point once per folder). Then, with the add held after the
    top folder's listing, a file of it becomes a folder: the walk opens that folder first, not the one read
    ahead, which is let go; the rest is read as it comes, and the tree is what one process makes."""
    from tests.held import run_held

    one, two = make_repo(tmp_path / "one"), make_repo(tmp_path / "two")
    for repo in (one, two):
        _tree(repo, 12, 40)
    env, mark = _env(tmp_path)
    r = _run(two, "add", "data", env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "points.log").read_text().count("add.forked-read") == 13
    r = _run(one, "add", "-j", "1", "data")
    assert r.returncode == 0, r.stderr
    assert _entries(one) == _entries(two) and len(_entries(one)) == 13 * 40
    assert not _left(mark)

    def change(root: Path) -> None:
        (root / "f005").unlink()
        (root / "f005").mkdir()
        (root / "f005" / "inner").write_text("inside")

    held = []
    for repo in (one, two):
        (repo / "data.art").unlink()
        for state in (repo / ".art" / "state.db",):
            state.unlink()
        args = ["add", "data"] if repo is two else ["add", "-j", "1", "data"]
        scratch = tmp_path / f"held-{repo.name}"
        scratch.mkdir()
        r = run_held(args, repo, scratch, "listread.folder-listed:block", lambda r=repo: change(r / "data"))
        held.append(r)
        assert r.returncode == 0, r.stderr
        points = (scratch / "faults.log").read_text()
        assert ("listread.walk-elsewhere" in points) == (repo is two), points[-300:]
    got = _entries(two)
    assert got == _entries(one) and got["f005/inner"][0] == "file" and len(got) == 13 * 40
    r = _run(two, "fsck")
    assert r.returncode == 0, r.stderr


LIMITED = """
import sys
from artvc.objstore import listread, scan
listread.READ_AT_MOST = 100  # parameters lowered: a folder of 4,000 files is over both limits
scan.SPILL_FILES = 1000
scan.FILE_BATCH = listread.FILE_BATCH = 300
from artvc.commands import main
sys.argv[0] = "art"
main()
"""


def test_a_folder_over_the_limits_is_read_by_the_reader_as_one_process_reads_it(tmp_path):
    """A folder of more than ``READ_AT_MOST`` entries (lowered, with ``SPILL_FILES`` and ``FILE_BATCH``: its tree
    encoded as its files are done) goes to the reading process too: the pointer, objects and status of ``-j 1``,
    and no process left (``test_listread`` compares the stat walk's)."""
    repos = {name: make_repo(tmp_path / name) for name in ("forked", "one")}
    for repo in repos.values():
        flat = repo / "data" / "flat"
        flat.mkdir(parents=True)
        for i in range(4000):
            (flat / f"f{(i * 7919) % 4000:05d}").write_bytes(random_bytes(20 + i % 300, seed=i))
        (repo / "data" / "first").write_bytes(b"known first")
    env, mark = _env(tmp_path)
    limited = [sys.executable, "-c", LIMITED]
    r = subprocess.run([*limited, "add", "data"], cwd=repos["forked"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "points.log").read_text().count("add.forked-read") >= 10  # jobs of the flat folder
    r = subprocess.run([*limited, "add", "-j", "1", "data"], cwd=repos["one"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    pointers = {name: (repo / "data.art").read_text() for name, repo in repos.items()}
    assert pointers["forked"] == pointers["one"]
    objects = {}
    for name, repo in repos.items():
        r = _run(repo, "fsck")
        assert r.returncode == 0, r.stderr
        objects[name] = chunks(repo / ".art" / "store")
        s = _run(repo, "status", "--json")
        assert s.returncode == 0 and '"unchanged"' in s.stdout, s.stdout
    assert objects["forked"] == objects["one"] and len(objects["one"]) >= 4000
    assert not _left(mark)
