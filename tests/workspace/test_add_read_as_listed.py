"""A folder's first ``art add`` reads each file as the folder is listed (``objstore/listread.py``): one name lookup
a file in the kernel, and an entry replaced between the listing and its open is taken for what it is then."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from artvc.objstore.tree import walk
from artvc.workspace.pointers import read_pointer
from tests.held import run_held
from tests.workspace.test_add_checkout import age

ART = [sys.executable, "-m", "artvc"]


def test_a_first_add_looks_each_file_name_up_once(ws, tmp_path):
    """Each file is opened by its name relative to its folder (not following a symlink, not waiting on a fifo)
    and its stat taken from the open file: no ``stat`` by name or path (there was one per file as listed)."""
    ws.gen({"data": {f"f{i:03d}.bin": os.urandom(100 + i) for i in range(200)}})
    ws.gen({"data": {"sub": {f"g{i:03d}.bin": b"%d" % i for i in range(50)}}})
    log = tmp_path / "strace.log"
    traced = ["strace", "-f", "-qq", "-e", "trace=openat,newfstatat,statx,stat,lstat", "-o", str(log)]
    r = subprocess.run([*traced, *ART, "add", "data"], cwd=ws.root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    calls = log.read_text().splitlines()
    named = re.compile(r'"(?:[^"]*/)?([fg]\d{3}\.bin)"')
    by_file: dict[str, list[str]] = {}
    for line in calls:
        if m := named.search(line):
            by_file.setdefault(m.group(1), []).append(line)
    assert len(by_file) == 250
    for lines in by_file.values():
        assert len(lines) == 1, lines
        # (the add's reading process opens most of them: strace may cut its call in two, ``<unfinished ...>``)
        flags = r"O_RDONLY\|O_NONBLOCK\|O_NOFOLLOW\|O_CLOEXEC( <u|\))"
        assert re.search(r'openat\(\d+, "[fg]\d{3}\.bin", ' + flags, lines[0])
    assert json.loads(ws.art("status", "--json").stdout)["artifacts"][0]["state"] == "unchanged"


def _add_blocked_after_listing(ws, tmp_path, change) -> subprocess.CompletedProcess:
    """Run ``art add data`` until the folder is listed and its names checked, ``change`` it, let it go on."""
    return run_held(
        ["add", "data"], ws.root, tmp_path, "listread.folder-listed:block", lambda: change(ws.root / "data")
    )


def test_files_replaced_between_the_listing_and_their_open_are_taken_for_what_they_are_then(ws, tmp_path):
    ws.gen({"data": {f"f{i}": f"file {i}" for i in range(6)}})
    age(ws.root / "data")

    def change(data):
        (data / "f1").unlink()
        (data / "f1").symlink_to("f0")  # not followed: stored as the link it is now
        (data / "f2").unlink()
        os.mkfifo(data / "f2")  # not waited on, not stored (as a fifo listed as one)
        (data / "f3").unlink()
        (data / "f3").mkdir()  # walked as the folder it is now
        (data / "f3" / "inner").write_text("inside")

    r = _add_blocked_after_listing(ws, tmp_path, change)
    assert r.returncode == 0, r.stderr
    with ws.repo() as repo:
        oid = read_pointer(ws.root / "data.art", where="data.art").oid
        entries = {f.path: f.entry for f in walk(repo.store, oid)}
        content = {p: b"".join(repo.store.iter_file(e.oid, e.size)) for p, e in entries.items() if e.kind == "file"}
    assert entries["f1"].kind == "symlink" and entries["f1"].target == "f0"
    assert content == {"f0": b"file 0", "f3/inner": b"inside", "f4": b"file 4", "f5": b"file 5"}
    assert json.loads(ws.art("status", "--json").stdout)["artifacts"][0]["state"] == "unchanged"


def test_a_file_deleted_between_the_listing_and_its_open_is_one_error_naming_it(ws, tmp_path):
    ws.gen({"data": {f"f{i}": f"file {i}" for i in range(6)}})
    r = _add_blocked_after_listing(ws, tmp_path, lambda data: (data / "f4").unlink())
    assert r.returncode == 13, r.stderr
    assert r.stderr.startswith("art: error: cannot read ") and "data/f4: no such file or directory" in r.stderr
    assert "Traceback" not in r.stderr and not (ws.root / "data.art").exists()
