import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import git


def run_demo(*args: str, code: int = 0):
    from artvc.commands import _available, cli

    _available()
    result = CliRunner().invoke(cli, ["demo", *args], catch_exceptions=False)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def kept_demo(tmp_path_factory):
    """One ``art demo --keep DIR --json`` run shared by the tests that read its summary or its repository."""
    target = tmp_path_factory.mktemp("demo") / "kept"
    return target, json.loads(run_demo("--keep", str(target), "--json").stdout)


def test_demo_json_numbers_are_consistent_and_data_round_trips(kept_demo):
    _, s = kept_demo
    v1, v2, store = s["v1"], s["v2"], s["store"]
    assert v1["files"] == v2["files"] == 201
    assert v1["files_read"] == 201 and v1["read_size"] > 3_000_000
    # the second add re-reads only the two changed files and stores a small fraction of the first add
    assert v2["files_read"] == 2
    assert 0 < v2["new_size"] * 20 < v1["new_size"]
    logical = sum(a["size"] for a in v1["artifacts"] + v2["artifacts"])
    assert store["logical_size"] == logical
    assert store["dedup_ratio"] > 1.8  # two nearly equal versions stored about once
    assert store["raw_size"] > store["stored_size"]  # CSV and JSON compress
    assert store["compression_ratio"] == pytest.approx(store["raw_size"] / store["stored_size"], rel=1e-3)
    restore = s["restore"]
    assert restore["identical"] and restore["files_compared"] == 201 == restore["files_written"]
    assert restore["compared_size"] == sum(a["size"] for a in v2["artifacts"])
    assert {a["state"] for a in s["states"]} == {"unchanged"}
    assert s["diff_head"] == []
    changes = {c["path"]: c for c in s["diff"]}
    assert set(changes) == {"data/table.csv", "data/samples"}
    assert changes["data/table.csv"]["new_size"] > changes["data/table.csv"]["old_size"]
    assert [f["path"] for f in changes["data/samples"]["files"]] == ["sample-042.json"]
    assert {i["path"]: i["oid"] for i in s["ls"]} == {a["path"]: a["oid"] for a in v2["artifacts"]}


def test_demo_keep_leaves_a_working_repository(kept_demo):
    target, s = kept_demo
    assert s["kept"] and Path(s["root"]) == target.resolve()
    log = git(target, "log", "--format=%s").stdout.split("\n")
    assert log.index("data v2") == log.index("data v1") - 1  # later parts of the tour may commit on top
    tracked = git(target, "ls-files").stdout.split()
    assert "data/table.csv.art" in tracked and "data/samples.art" in tracked
    assert "data/table.csv" not in tracked  # the data itself stays out of git
    assert git(target, "status", "--porcelain").stdout == ""
    v1_pointer = git(target, "show", "HEAD^{/data v1}:data/table.csv.art").stdout
    assert s["v1"]["artifacts"][0]["oid"] in v1_pointer


def test_demo_keep_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "precious.txt").write_text("mine")
    r = run_demo("--keep", str(tmp_path), code=2)
    assert r.stderr.startswith("art: error: ") and "not empty" in r.stderr
    assert "\nhint: " in r.stderr
    assert (tmp_path / "precious.txt").read_text() == "mine" and len(list(tmp_path.iterdir())) == 1
    err = json.loads(run_demo("--keep", str(tmp_path), "--json", code=2).stdout)["error"]
    assert err["type"] == "UsageError" and err["exit_status"] == 2 and err["hint"]


@pytest.mark.e2e
def test_demo_from_the_installed_executable_is_short_ends_with_next_and_cleans_up(tmp_path):
    """The README's main job as a newcomer runs it: the installed executable, no git identity, a short text
    tour ending with where to go next, and no scratch repository left behind."""
    art = Path(sys.executable).with_name("art")
    home, scratch = tmp_path / "home", tmp_path / "scratch"
    home.mkdir()
    scratch.mkdir()
    env = {
        "PATH": "/nonexistent",
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "LANG": "C.UTF-8",
        "TMPDIR": str(scratch),
    }
    r = subprocess.run([str(art), "demo"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert 12 <= len(lines) <= 60
    assert lines[-1].startswith("Next:") and "docs/getting-started.md" in lines[-1]
    text = r.stdout
    assert "byte-for-byte identical" in text and "dedup" in text and "stat cache vouched for 199" in text
    assert r.stderr == ""
    assert list(scratch.iterdir()) == []  # the demo's repository is removed unless --keep
    r = subprocess.run(
        [str(art), "demo", "--json", "--keep", str(tmp_path / "k")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["v2"]["new_size"] * 20 < s["v1"]["new_size"] and s["restore"]["identical"]
    assert os.path.isdir(tmp_path / "k" / ".git") and os.path.isdir(tmp_path / "k" / ".art" / "store")
