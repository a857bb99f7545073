"""Small files read whole, each opened by its name relative to its folder's descriptor (``smallread``): what
ingest's workers read, and what they fall back on."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from artvc.errors import FileSystemError
from artvc.objstore import smallread
from artvc.objstore.hashing import hash_bytes
from artvc.objstore.ingest import Ingester
from artvc.objstore.scan import walk_tree
from artvc.objstore.smallread import FolderReader
from artvc.objstore.store.local import LocalStore
from tests.builders import started_threads


def _opens(monkeypatch, thread: str = "") -> list[tuple[str, int | None]]:
    """Record every ``os.open`` (path, dir_fd) made by threads whose name starts with ``thread``."""
    calls: list[tuple[str, int | None]] = []
    real = os.open

    def recording(path, flags, mode=0o777, *, dir_fd=None):
        if threading.current_thread().name.startswith(thread):
            calls.append((os.fspath(path), dir_fd))
        return real(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(smallread.os, "open", recording)
    return calls


def test_an_added_folder_opens_each_file_by_its_name_in_the_folder_opened_once_per_job(tmp_path, monkeypatch):
    data = tmp_path / "data"
    for sub in ("a", "b"):
        (data / sub).mkdir(parents=True)
        for i in range(40):
            (data / sub / f"f{i:02d}").write_bytes(b"%s %d" % (sub.encode(), i) * (i + 1))
    store = LocalStore(tmp_path / "store")
    with store.writer() as writer, Ingester(writer, store.params, store.compressor, jobs=2) as ing:
        calls = _opens(monkeypatch)  # small files are read by the calling thread (``Ingester._submit``)
        tree, files = ing.add_tree(data)
    assert files == 80
    by_name = [p for p, fd in calls if fd is not None and p.startswith("f")]
    under = [p for p, fd in calls if fd is None and p.startswith(str(data) + os.sep)]
    under = [p for p in under if p in (str(data / "a"), str(data / "b"))]
    # every file opened once, by its bare name relative to a folder's descriptor (the old reads: 80 whole paths),
    # each folder opened once for the run of its files in a job (80 files, jobs of at most 64: 3 opens at most)
    assert sorted(by_name) == sorted([f"f{i:02d}" for i in range(40)] * 2)
    # (the walk lists each folder once too, in the same thread: 2 more)
    assert set(under) == {str(data / "a"), str(data / "b")} and len(under) <= 3 + 2
    monkeypatch.undo()
    by_hashing = walk_tree(str(data), None, lambda fs: [hash_bytes(Path(p).read_bytes()) for p, _ in fs])[0]
    assert tree.oid == by_hashing.oid  # what was read is each file's content


def test_the_reader_falls_back_to_the_whole_path_and_describes_what_fails(tmp_path, monkeypatch):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "same").write_bytes(b"x" * 10)
    (folder / "grew").write_bytes(b"y" * 10)
    calls = _opens(monkeypatch)
    with FolderReader() as reader:
        assert reader.read(str(folder / "same"), 10) == b"x" * 10
        (folder / "grew").write_bytes(b"y" * 50)  # longer than its stat said: read to its end, by its path
        assert reader.read(str(folder / "grew"), 10) == b"y" * 50
        assert calls[-1] == (str(folder / "grew"), None)
        with pytest.raises(FileSystemError) as err:
            reader.read(str(folder / "gone"), 3)  # the error names the file's whole path
        assert str(folder / "gone") in str(err.value)
    assert [p for p, fd in calls if fd is None and p == str(folder)] == [str(folder)]  # the folder opened once


def test_a_folder_that_cannot_be_opened_reads_each_file_by_its_path(tmp_path, monkeypatch):
    (tmp_path / "f").write_bytes(b"abc")
    real = os.open

    def no_folders(path, flags, mode=0o777, *, dir_fd=None):
        if flags & getattr(os, "O_DIRECTORY", 0):
            raise PermissionError(13, "Permission denied", path)
        return real(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(smallread.os, "open", no_folders)
    reader = FolderReader()
    assert reader.read(str(tmp_path / "f"), 3) == b"abc"
    assert reader.read(str(tmp_path / "f"), 3) == b"abc"  # the folder is not tried again for its next file
    reader.close()
    assert Path(tmp_path / "f").read_bytes() == b"abc"


def test_small_files_are_read_by_the_calling_thread_not_the_pool(tmp_path, monkeypatch):
    """A small file's read is a few short system calls, each handing the GIL over: worker threads only wait
    on each other (``Ingester._submit``). So an add of small files starts no ``art-ingest`` thread (the old
    code started ``jobs`` of them), and still stores every file."""
    data = tmp_path / "data"
    for sub in ("a", "b"):
        (data / sub).mkdir(parents=True)
        for i in range(100):
            (data / sub / f"f{i:02d}").write_bytes(os.urandom(100 + 37 * i))
    started = started_threads(monkeypatch)
    store = LocalStore(tmp_path / "store")
    with store.writer() as writer, Ingester(writer, store.params, store.compressor, jobs=2) as ing:
        tree, files = ing.add_tree(data)
    assert files == 200 and ing.stats.hashed == 200
    assert [n for n in started if n.startswith("art-ingest")] == []
    monkeypatch.undo()
    by_hashing = walk_tree(str(data), None, lambda fs: [hash_bytes(Path(p).read_bytes()) for p, _ in fs])[0]
    assert tree.oid == by_hashing.oid
