"""``art pull --lazy``: large files written once, into the workspace, their manifests promised by the remote
(docs/design.md, "A pull at one write: promised objects"), and the rules the other commands keep for them."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.builders import csv_bytes, random_bytes
from tests.conftest import Workspace
from tests.remote.conftest import assert_error, clone, commit

MIB = 1 << 20


def promised_rows(w: Workspace) -> list[tuple[str, str]]:
    """The store's promises; none when its index (created beside a fresh clone's first pull, on its own thread)
    was not made yet, or not its table, when the pull was killed."""
    with sqlite3.connect(w.root / ".art" / "store" / "index.db") as db:
        if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'promised'").fetchone() is None:
            return []
        return sorted((oid.hex(), remote) for oid, remote in db.execute("SELECT oid, remote FROM promised"))


def pack_bytes(w: Workspace) -> int:
    return sum(p.stat().st_size for p in (w.root / ".art" / "store" / "packs").rglob("*.pack"))


def leftovers(w: Workspace) -> list[str]:
    stage = w.root / ".art" / "tmp" / "stage"
    return sorted(os.listdir(stage)) if stage.is_dir() else []


@pytest.fixture
def lazy(ws: Workspace, tmp_path: Path):
    """A workspace with a large file artifact, a folder holding a large compressible file and a small one,
    pushed to a directory remote, and a clone of it pulled with --lazy."""
    big, table = random_bytes(6 * MIB, 1), csv_bytes(5 * MIB, 2)
    ws.gen({"big.bin": big, "data": {"table.csv": table, "small.txt": "small\n"}})
    ws.art("add", "big.bin", "data")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    result = other.art("pull", "--lazy")
    assert "restored: big.bin" in result.stdout
    return other, {"big.bin": big, "data/table.csv": table}


def test_a_lazy_pull_writes_large_files_once_and_stores_only_their_manifests(lazy):
    other, files = lazy
    for name, data in files.items():
        assert (other.root / name).read_bytes() == data
    assert (other.root / "data" / "small.txt").read_text() == "small\n"
    assert pack_bytes(other) < 64 * 1024  # manifests, trees and the small file: no chunk of the large files
    rows = promised_rows(other)
    assert [r for _, r in rows] == ["origin", "origin"]
    assert leftovers(other) == []
    assert "modified" not in other.art("status").stdout
    report = json.loads(other.art("fsck", "--json").stdout)  # missing promised chunks are not damage
    assert report["problems"] == [] and report["promised"] == 2
    assert "2 files promised by a remote" in other.art("fsck").stdout
    assert other.art("pull", "--lazy").stdout.strip() == "everything is up to date"


def test_a_checkout_fetches_a_promised_file_from_its_remote_when_the_workspace_copy_is_gone(lazy):
    other, files = lazy
    (other.root / "big.bin").unlink()
    (other.root / "data" / "table.csv").write_bytes(b"changed")
    result = other.art("checkout", "--force")
    assert "restored: big.bin" in result.stdout and "restored: data" in result.stdout
    for name, data in files.items():
        assert (other.root / name).read_bytes() == data
    assert promised_rows(other) == []  # the chunks are stored now: nothing is promised any more
    assert other.art("fsck").exit_code == 0


def test_a_checkout_of_a_promised_file_names_the_remote_when_it_is_unreachable(lazy, tmp_path):
    other, _ = lazy
    (other.root / "big.bin").unlink()
    shutil.move(tmp_path / "remote", tmp_path / "moved")
    result = other.art("checkout", code=None)
    assert_error(result, 12, "'origin'")
    assert not (other.root / "big.bin").exists()
    assert len(promised_rows(other)) == 2


def test_a_push_to_another_remote_refuses_promised_files_until_they_are_fetched(lazy, tmp_path):
    other, files = lazy
    other.art("remote", "add", "backup", str(tmp_path / "backup"))
    result = other.art("push", "-r", "backup", code=None)
    assert_error(result, 1, "promised by remote 'origin'")
    assert "art fetch --promised -r origin" in result.stderr
    assert not list((tmp_path / "backup").rglob("*.idx"))  # nothing published: no index lists what was not sent
    assert other.art("push").exit_code == 0  # the promising remote lists them: skipped, not refused
    fetched = other.art("fetch", "--promised")
    assert "fetched 2 promised files" in fetched.stdout
    assert promised_rows(other) == []
    assert json.loads(other.art("fsck", "--json").stdout)["promised"] == 0
    other.art("push", "-r", "backup")
    commit(other, "lazy")
    third = Workspace(tmp_path / "third")
    shutil.copytree(other.root, third.root, ignore=shutil.ignore_patterns(".art"))
    third.art("init")
    third.art("remote", "add", "backup", str(tmp_path / "backup"), "--default")
    third.art("pull")
    for name, data in files.items():
        assert (third.root / name).read_bytes() == data


def test_gc_keeps_promised_files_promised(lazy):
    other, files = lazy
    other.art("gc", "--grace", "0s")
    assert len(promised_rows(other)) == 2
    (other.root / "big.bin").unlink()
    other.art("checkout")
    assert (other.root / "big.bin").read_bytes() == files["big.bin"]


def test_fsck_remote_reports_promised_files_the_remote_lost(lazy, tmp_path):
    other, _ = lazy
    for f in (tmp_path / "remote").rglob("*"):  # every pack and index holding chunks of the large files
        if f.is_file() and f.suffix in (".pack", ".idx") and f.stat().st_size > MIB // 2:
            f.unlink()
            idx = f.with_suffix(".idx")
            if idx.exists():
                idx.unlink()
    result = other.art("fsck", "--remote", "origin", code=None)
    assert result.exit_code != 0
    assert "promised by this remote, which no longer lists" in result.stdout + result.stderr


def test_a_damaged_file_on_the_remote_is_refused_and_nothing_is_written(ws, tmp_path):
    data = random_bytes(6 * MIB, 5)
    ws.gen({"big.bin": data})
    ws.art("add", "big.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    pack = max((tmp_path / "remote").rglob("*.pack"), key=lambda p: p.stat().st_size)
    damaged = bytearray(pack.read_bytes())
    damaged[len(damaged) * 3 // 4] ^= 0xFF
    pack.unlink()  # may be a hard link to the first workspace's pack: write a new file
    pack.write_bytes(bytes(damaged))
    other = clone(ws, tmp_path / "clone")
    result = other.art("pull", "--lazy", code=None)
    assert_error(result, 3, "failed verification")
    assert not (other.root / "big.bin").exists()
    assert leftovers(other) == []
    assert promised_rows(other) == []


def test_a_lazy_pull_does_not_overwrite_local_changes(lazy, tmp_path):
    other, _ = lazy
    third = clone(other, tmp_path / "third")
    (third.root / "big.bin").write_bytes(b"mine")
    result = third.art("pull", "--lazy", code=None)
    assert result.exit_code == 1 and "not added" in result.stderr
    assert (third.root / "big.bin").read_bytes() == b"mine"
    assert leftovers(third) == []


def test_fetch_promised_with_nothing_promised_says_so(ws):
    assert "nothing is promised" in ws.art("fetch", "--promised").stdout


@pytest.mark.slow  # 8-11 s of the default tier's 3 minutes: the slow tier runs it
def test_a_lazy_pull_from_an_s3_remote(ws, tmp_path, request):
    from tests.bucket_fixtures import _object_bucket, bucket_name
    from tests.remote.conftest import use_bucket

    server = request.getfixturevalue("s3_server")
    bucket = _object_bucket(server, bucket_name(request.node.name))
    data = csv_bytes(5 * MIB, 9)
    ws.gen({"big.csv": data})
    ws.art("add", "big.csv")
    use_bucket(ws, bucket)
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    other.art("pull", "--lazy")
    assert (other.root / "big.csv").read_bytes() == data
    assert pack_bytes(other) < 64 * 1024
    assert len(promised_rows(other)) == 1
    (other.root / "big.csv").unlink()
    other.art("checkout")
    assert (other.root / "big.csv").read_bytes() == data
    assert promised_rows(other) == []


def test_a_file_needed_at_two_paths_is_pulled_the_ordinary_way(ws, tmp_path):
    data = random_bytes(5 * MIB, 11)
    ws.gen({"a.bin": data, "copies": {"b.bin": data, "run.sh": random_bytes(5 * MIB, 12)}})
    (ws.root / "copies" / "run.sh").chmod(0o755)
    ws.art("add", "a.bin", "copies")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    other.art("pull", "--lazy")
    assert (other.root / "a.bin").read_bytes() == data
    assert (other.root / "copies" / "b.bin").read_bytes() == data
    assert os.access(other.root / "copies" / "run.sh", os.X_OK)  # a promised file keeps its executable bit
    assert len(promised_rows(other)) == 1  # run.sh only: a.bin's content is stored, for both of its paths
    assert leftovers(other) == []
    assert other.art("fsck").exit_code == 0


def test_a_store_made_before_promises_gets_the_table_when_opened(ws):
    db_path = ws.root / ".art" / "store" / "index.db"
    with sqlite3.connect(db_path) as db:
        db.execute("DROP TABLE promised")
    assert "nothing is promised" in ws.art("fetch", "--promised").stdout
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM promised").fetchone() == (0,)


def test_a_lazy_pull_killed_while_writing_leaves_nothing_in_the_workspace(ws, tmp_path):
    from tests.remote.test_pull_stream import art_child

    data = random_bytes(9 * MIB, 13)
    ws.gen({"big.bin": data})
    ws.art("add", "big.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    proc, _, points = art_child(other.root, tmp_path, "pull", "--lazy", ART_FAULT="lazy.file-writing@2:kill")
    assert proc.returncode == -9, proc.stderr
    assert not (other.root / "big.bin").exists()
    assert [n for n in leftovers(other) if n.startswith("file-")]  # the killed pull's temp file
    assert promised_rows(other) == []  # nothing promised before the file was proved
    other.art("checkout", code=None)  # the next command that takes the lock removes it
    assert leftovers(other) == []
    proc, _, _ = art_child(other.root, tmp_path, "pull", "--lazy")
    assert proc.returncode == 0, proc.stderr
    assert (other.root / "big.bin").read_bytes() == data
    assert len(promised_rows(other)) == 1


def test_a_plain_pull_after_a_lazy_one_makes_the_store_complete(lazy):
    other, _ = lazy
    other.art("pull")
    assert other.art("fetch", "--promised").stdout.strip() == "nothing is promised: the local store is complete"
    assert json.loads(other.art("fsck", "--json").stdout)["promised"] == 0


def test_core_lazy_pull_makes_every_pull_lazy_and_no_lazy_overrides_it(ws, tmp_path):
    data = random_bytes(5 * MIB, 14)
    ws.gen({"big.bin": data})
    ws.art("add", "big.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    first = clone(ws, tmp_path / "first")
    first.art("config", "core.lazy_pull", "true")
    first.art("pull")
    assert len(promised_rows(first)) == 1 and pack_bytes(first) < 64 * 1024
    second = clone(ws, tmp_path / "second")
    second.art("config", "core.lazy_pull", "true")
    second.art("pull", "--no-lazy")
    assert promised_rows(second) == [] and pack_bytes(second) > 5 * MIB
    assert (first.root / "big.bin").read_bytes() == (second.root / "big.bin").read_bytes() == data


def test_a_lazy_pull_of_a_file_inside_a_tracked_folder_takes_the_partial_pull(ws, tmp_path):
    """A path inside a tracked folder goes the ordinary partial way (``pull.pull_parts``): only that file is
    written, stored whole, and nothing is promised."""
    table = csv_bytes(5 * MIB, 2)
    ws.gen({"big.bin": random_bytes(3 * MIB, 1), "data": {"table.csv": table, "small.txt": "small\n"}})
    ws.art("add", "big.bin", "data")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    other.art("pull", "--lazy", "data/table.csv")
    assert (other.root / "data" / "table.csv").read_bytes() == table
    assert not (other.root / "data" / "small.txt").exists() and not (other.root / "big.bin").exists()
    assert promised_rows(other) == []


def test_a_lazy_pull_in_a_fresh_clone_opens_the_store_and_state_db_beside_the_writes(ws, tmp_path, monkeypatch):
    """A fresh clone has no ``.art/store``: its index and ``state.db`` are created (sqlite, fsyncs) on a thread of
    their own while the file is written, not on the writing thread before it starts or after it ended (where
    each fsync waits behind the file's writeback)."""
    import threading

    from artvc.objstore.store.local import LocalStore
    from artvc.workspace import lazy_pull
    from artvc.workspace.repo import Repo
    from artvc.workspace.state import StateDB

    data = random_bytes(5 * MIB, 21)
    ws.gen({"big.bin": data})
    ws.art("add", "big.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    assert not (other.root / ".art" / "store").exists()
    opened: list[tuple[str, str]] = []
    for cls in (LocalStore, StateDB):  # a spy: the real classes open the real files
        real = cls.__init__

        def spy(self, *args, _real=real, _name=cls.__name__, **kwargs):
            opened.append((_name, threading.current_thread().name))
            _real(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", spy)
    with Repo.find(other.root) as repo:
        result = lazy_pull.lazy_pull(repo)
    assert result.checkout.restored == ["big.bin"]
    assert (other.root / "big.bin").read_bytes() == data
    assert opened == [("LocalStore", "art-open-store"), ("StateDB", "art-open-store")]


@pytest.mark.long
def test_a_compressible_file_of_many_spans_is_hashed_from_recycled_buffers_in_bounded_memory(ws, tmp_path):
    """Decompressed spans are hashed from the buffer they were written from, and the buffers go back to the
    pool only after their hash: a file of many spans comes out whole (a buffer handed back before its hash is
    overwritten by a later span, and the file then fails its id: exit 3), in a few spans' worth of memory."""
    import tracemalloc

    from artvc.objstore.remote_file import LOCAL_THREADS, SPAN
    from artvc.workspace import lazy_pull
    from artvc.workspace.repo import Repo

    data = csv_bytes(40 * MIB, 22)  # about 10 decompressed spans of SPAN
    ws.gen({"table.csv": data})
    ws.art("add", "table.csv")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    tracemalloc.start()
    try:
        with Repo.find(other.root) as repo:
            result = lazy_pull.lazy_pull(repo)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.checkout.restored == ["table.csv"]
    assert (other.root / "table.csv").read_bytes() == data
    assert len(promised_rows(other)) == 1
    # output buffers for the spans in flight, a stored-bytes buffer per writer, and a few MB of the rest
    assert peak < (2 * LOCAL_THREADS + 1) * SPAN + 6 * MIB, peak


def killed_after_one_file(ws, tmp_path):
    """Two large files pushed, a clone whose lazy pull was killed while writing the second: the first is kept."""
    from tests.remote.test_pull_stream import art_child

    data = {"a.bin": random_bytes(6 * MIB, 31), "b.bin": random_bytes(6 * MIB, 32)}
    ws.gen(data)
    ws.art("add", "a.bin", "b.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    # each file is 2-3 spans of 4 MiB: the 4th span written is the second file's
    proc, _, _ = art_child(other.root, tmp_path, "pull", "--lazy", ART_FAULT="lazy.file-writing@4:kill")
    assert proc.returncode == -9, proc.stderr
    assert not (other.root / "a.bin").exists() and not (other.root / "b.bin").exists()
    kept = other.root / ".art" / "tmp" / "lazy-kept"
    (first,) = os.listdir(kept)  # the one file proved before the kill
    return other, data, kept / first


def test_a_killed_lazy_pull_resumes_without_writing_the_files_it_had_proved(ws, tmp_path):
    """The next lazy pull takes the kept file (the same inode, hashed again, not written) and writes only the
    second; a completed pull keeps nothing."""
    from tests.remote.test_pull_stream import art_child

    other, data, first = killed_after_one_file(ws, tmp_path)
    inode = os.stat(first).st_ino
    proc, _, _ = art_child(other.root, tmp_path, "pull", "--lazy")
    assert proc.returncode == 0, proc.stderr
    for name, content in data.items():
        assert (other.root / name).read_bytes() == content
    assert inode in {os.stat(other.root / n).st_ino for n in data}  # taken, not written again
    assert os.listdir(first.parent) == []
    assert len(promised_rows(other)) == 2
    assert "modified" not in other.art("status").stdout


def test_a_kept_file_that_no_longer_hashes_to_its_id_is_written_again(ws, tmp_path):
    from tests.remote.test_pull_stream import art_child

    other, data, first = killed_after_one_file(ws, tmp_path)
    with open(first, "r+b") as f:  # the same size, one byte changed (a power loss, an edit through the link)
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 1]))
    proc, _, _ = art_child(other.root, tmp_path, "pull", "--lazy")
    assert proc.returncode == 0, proc.stderr
    for name, content in data.items():  # the kept file, taken unproved, would hold the changed byte
        assert (other.root / name).read_bytes() == content
    assert not first.exists()


@pytest.mark.long
def test_a_lazy_pull_never_writes_a_file_from_two_threads_at_once(ws, tmp_path, monkeypatch):
    """Through the page cache (direct writes off: a preallocated file written around it takes two writes at
    once, ``test_materialize_large``), the pool's writers decompress at once but take turns writing the file (as
    the checkout's do: a writer waiting on the kernel's inode lock spins). Every write is watched per file, and
    made slow enough that two would overlap without the lock (they did before)."""
    import threading
    import time

    from artvc.objstore import remote_file
    from artvc.workspace import lazy_pull
    from artvc.workspace.repo import Repo

    monkeypatch.setattr(remote_file, "DIRECT", [False])

    data = csv_bytes(24 * MIB, 23)  # several decompressed spans, two writers
    ws.gen({"table.csv": data})
    ws.art("add", "table.csv")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    guard, busy, most = threading.Lock(), {}, [0]

    def watched(real):
        def call(fd, *args):
            with guard:
                busy[fd] = busy.get(fd, 0) + 1
                most[0] = max(most[0], busy[fd])
            try:
                time.sleep(0.01)
                return real(fd, *args)
            finally:
                with guard:
                    busy[fd] -= 1

        return call

    for name in ("pwrite", "pwritev"):
        monkeypatch.setattr(os, name, watched(getattr(os, name)))
    with Repo.find(other.root) as repo:
        result = lazy_pull.lazy_pull(repo)
    assert result.checkout.restored == ["table.csv"]
    assert (other.root / "table.csv").read_bytes() == data
    assert busy and most[0] == 1


def direct_opens(log: Path) -> list[str]:
    """The ``O_DIRECT`` opens an strace log shows (``-y``: each with its path; not ``O_DIRECTORY``)."""
    import re

    return [line for line in log.read_text().splitlines() if "openat(" in line and re.search(r"O_DIRECT\b", line)]


def traced_art(cwd: Path, log: Path, *args: str, **env: str) -> None:
    """``art ARGS`` in a child under ``strace -f`` (its opens, written to ``log``); it must succeed."""
    import subprocess
    import sys

    traced = ["strace", "-f", "-qq", "-y", "-e", "trace=openat", "-o", str(log)]
    r = subprocess.run(
        [*traced, sys.executable, "-m", "artvc", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr


def on_disk(folder: Path) -> bool:
    from artvc.objstore.fileio import in_memory

    fd = os.open(folder, os.O_RDONLY)
    try:
        return not in_memory(fd)
    finally:
        os.close(fd)


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
@pytest.mark.parametrize("direct", ["1", "0"])
def test_a_lazy_pull_writes_a_large_file_around_the_page_cache(ws, tmp_path, direct):
    """A file of ``LARGE_FILE`` bytes or more from a directory remote is written through a second descriptor of
    its stage temp file opened ``O_DIRECT`` (8 MiB windows; raw and zstd chunks, a chunk across each window's edge,
    the last bytes unaligned), byte for byte, proved and promised as before; ``ART_DIRECT_WRITES=0`` opens none."""
    from artvc.objstore.materialize_large import LARGE_FILE
    from tests.objstore.test_materialize_large import mixed

    if not on_disk(tmp_path):
        pytest.skip("the test's folder is kept in memory: direct writes are off there by design")
    data = mixed(LARGE_FILE + 5 * MIB + 1_234)
    ws.gen({"big.bin": data})
    ws.art("add", "big.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    log = tmp_path / "strace.log"
    traced_art(other.root, log, "pull", "--lazy", ART_DIRECT_WRITES=direct)
    opened = direct_opens(log)
    if direct == "1":
        assert len(opened) == 1 and "O_WRONLY" in opened[0] and "/.art/tmp/stage/" in opened[0], opened
    else:
        assert opened == []
    assert (other.root / "big.bin").read_bytes() == data
    assert len(promised_rows(other)) == 1
    assert pack_bytes(other) < 64 * 1024  # no chunk stored
    assert "modified" not in other.art("status").stdout


def test_a_damaged_chunk_of_a_large_file_written_direct_is_refused(ws, tmp_path):
    """A zstd chunk of the remote's pack damaged in place: the window that holds it fails to decompress to its
    length, the file is not written, the pull names the remote and exits 3, and nothing is left in the stage."""
    from artvc.objstore.materialize_large import LARGE_FILE

    if not on_disk(tmp_path):
        pytest.skip("the test's folder is kept in memory: direct writes are off there by design")
    ws.gen({"table.csv": csv_bytes(LARGE_FILE + 3 * MIB, 41)})
    ws.art("add", "table.csv")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    pack = max((tmp_path / "remote").rglob("*.pack"), key=lambda p: p.stat().st_size)
    damaged = bytearray(pack.read_bytes())
    middle = len(damaged) // 2
    damaged[middle : middle + 64] = bytes(64)
    pack.unlink()  # may be a hard link to the first workspace's pack: write a new file
    pack.write_bytes(bytes(damaged))
    other = clone(ws, tmp_path / "clone")
    result = other.art("pull", "--lazy", code=None)
    assert_error(result, 3, "origin")
    assert not (other.root / "table.csv").exists()
    assert leftovers(other) == []
    assert promised_rows(other) == []
