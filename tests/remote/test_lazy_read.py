"""Reading a promised file without fetching it into the store: ``art cat`` and ``art diff``'s content summary
read it from the remote that promised it (verified, nothing stored), as git's partial clone reads a missing
blob on demand; the remote unreachable is a one-line error (cat) or a skipped summary (diff)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.builders import csv_bytes, random_bytes
from tests.remote.conftest import assert_error, clone, commit
from tests.remote.test_lazy_pull import MIB, leftovers, pack_bytes, promised_rows


def lazy_clone(ws, tmp_path):
    big, table = random_bytes(6 * MIB, 21), csv_bytes(5 * MIB, 22)
    ws.gen({"big.bin": big, "table.csv": table})
    ws.art("add", "big.bin", "table.csv")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    other.art("pull", "--lazy")
    assert len(promised_rows(other)) == 2
    return other, big, table


def test_cat_reads_a_promised_file_from_the_promising_remote_not_the_default_one(ws, tmp_path):
    other, big, _ = lazy_clone(ws, tmp_path)
    other.art("remote", "add", "backup", str(tmp_path / "backup"), "--default")  # lists nothing
    before = pack_bytes(other)
    assert other.art("cat", "big.bin").stdout_bytes == big
    assert pack_bytes(other) == before and len(promised_rows(other)) == 2  # nothing stored, still promised
    result = other.art("cat", "big.bin", "-r", "backup", code=None)  # a remote named is the one read
    assert result.exit_code != 0 and "not in the store" in result.stderr


def test_cat_of_a_promised_file_whose_remote_is_gone_fails_in_one_line(ws, tmp_path):
    other, _, _ = lazy_clone(ws, tmp_path)
    shutil.move(tmp_path / "remote", tmp_path / "moved")
    result = other.art("cat", "big.bin", code=None)
    assert_error(result, 12, "")
    assert result.stdout_bytes == b""


@pytest.mark.long
def test_diff_summarises_two_promised_versions_read_from_their_remote(ws, tmp_path):
    other, _, table = lazy_clone(ws, tmp_path)
    ws.gen({"table.csv": csv_bytes(4 * MIB, 23)})  # unrelated to the first: no chunk stored as a delta
    ws.art("add", "table.csv")
    ws.art("push")
    commit(ws, "more rows")
    other.git("pull", "-q")
    other.art("pull", "--lazy")
    assert len(promised_rows(other)) == 3  # both versions of the table promised: no chunk of either stored
    change = json.loads(other.art("diff", "HEAD~1", "HEAD", "--json").stdout)["changes"][0]
    assert "skipped" not in change["summary"] and change["summary"]["rows_new"] > 0, change
    assert len(promised_rows(other)) == 3  # read, not fetched
    shutil.move(tmp_path / "remote", tmp_path / "moved")
    change = json.loads(other.art("diff", "HEAD~1", "HEAD", "--json").stdout)["changes"][0]
    assert "skipped" in change["summary"] and change["added_size"] is not None  # sizes come from the manifests


def nested(depth: int) -> dict:
    """A folder holding a large CSV file and, ``depth`` folders down, a small file."""
    small: dict = {"small.txt": "small\n"}
    for i in range(depth):
        small = {f"d{i}": small}
    return {"table.csv": csv_bytes(5 * MIB, 24 + depth), **small}


def test_a_lazy_pull_reads_each_tree_once(ws, tmp_path):
    ws.gen({"shallow": nested(1), "deep": nested(6)})
    ws.art("add", "shallow", "deep")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    reports = {}
    for name, depth in (("shallow", 1), ("deep", 6)):
        other = clone(ws, tmp_path / name)
        reports[name] = json.loads(other.art("pull", "--lazy", name, "--json").stdout)
        assert (other.root / name / "table.csv").read_bytes() == (ws.root / name / "table.csv").read_bytes()
        path = other.root / name / "/".join(f"d{i}" for i in reversed(range(depth))) / "small.txt"
        assert path.read_text() == "small\n"
        assert len(promised_rows(other)) == 1
        problems = json.loads(other.art("fsck", "--json", code=3).stdout)["problems"]
        assert len(problems) == 1, problems  # the other folder, not pulled: its root is missing; nothing below
        assert "modified" not in other.art("status", name).stdout
    # the walk stored the trees it read once what they name was here: the ordinary fetch after it finds its
    # root here and reads no tree (before: one more request per level of folders, 5 more for the deep one)
    assert reports["deep"]["requests"] == reports["shallow"]["requests"], reports


def test_a_lazy_pull_keeps_no_tree_whose_small_file_failed_verification(ws, tmp_path):
    marker = b"a small file whose bytes the remote damages\n"
    ws.gen({"data": {"table.csv": csv_bytes(5 * MIB, 31), "small.txt": marker}})
    ws.art("add", "data")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    packs = [p for p in (tmp_path / "remote").rglob("*.pack") if marker in p.read_bytes()]
    assert len(packs) == 1
    good = packs[0].read_bytes()
    packs[0].write_bytes(good.replace(marker, marker.upper()))
    result = other.art("pull", "--lazy", code=None)
    assert result.exit_code == 3, result.stderr
    assert not (other.root / "data" / "small.txt").exists()
    assert leftovers(other) == []
    packs[0].write_bytes(good)  # repaired: the next pull finds what is missing (no tree stored claims it is here)
    other.art("pull", "--lazy")
    assert (other.root / "data" / "small.txt").read_bytes() == marker
    assert json.loads(other.art("fsck", "--json").stdout)["problems"] == []
