import os

import pytest

from tests.conftest import Workspace, git


def snapshot(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        if "/.git" in dirpath:
            continue
        for f in files:
            p = os.path.join(dirpath, f)
            if "/.art/" in p and not p.endswith(".art/config"):
                continue
            with open(p, "rb") as f:
                out[p] = f.read()
    return out


def assert_one_error(result, code):
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("art: error: ")
    assert all(ln.startswith(("art: error:", "hint:")) for ln in lines)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["add", "nope.txt"], 1),
        (["add", "/etc/hostname"], 10),
        (["add", ".git/config"], 10),
        (["add", ".art/config"], 10),
        (["add", "../outside"], 10),
        (["status", "untracked.txt"], 1),
    ],
)
def test_bad_paths_fail_cleanly_and_change_nothing(ws, args, code):
    ws.gen({"untracked.txt": "x"})
    before = snapshot(ws.root)
    assert_one_error(ws.art(*args, code=None), code)
    assert snapshot(ws.root) == before


def test_symlink_leaving_workspace_is_refused(ws, tmp_path):
    (tmp_path / "secret").write_text("s")
    os.symlink(tmp_path / "secret", ws.root / "link")
    assert_one_error(ws.art("add", "link", code=None), 10)
    ws.gen({"d": {"ok.txt": "fine"}})
    os.symlink(tmp_path / "secret", ws.root / "d/escape")
    assert_one_error(ws.art("add", "d", code=None), 10)
    assert not (ws.root / "d.art").exists()


@pytest.mark.parametrize(
    "text",
    [
        "not toml [[[",
        'version = 1\nid = "abc"\nkind = "file"\nsize = 1\nfiles = 1\n',
        'version = 1\nid = "' + "a" * 64 + '"\nkind = "blob"\nsize = 1\nfiles = 1\n',
        'version = 2\nid = "' + "a" * 64 + '"\nkind = "file"\nsize = 1\nfiles = 1\n',
    ],
)
def test_hand_edited_pointer_is_reported(ws, text):
    ws.gen({"a.txt": "data"})
    ws.art("add", "a.txt")
    (ws.root / "a.txt.art").write_text(text)
    for cmd in (["status"], ["checkout"], ["ls"]):
        r = ws.art(*cmd, code=None)
        assert_one_error(r, 1)
        assert "a.txt.art" in r.stderr
    assert (ws.root / "a.txt").read_text() == "data"


def test_commands_outside_a_repository_exit_10(tmp_path):
    w = Workspace(tmp_path)
    (tmp_path / "f").write_text("x")
    assert_one_error(w.art("add", "f", code=None), 10)
    assert_one_error(w.art("status", code=None), 10)
    assert not (tmp_path / "f.art").exists()


def test_init_requires_git_unless_no_git(tmp_path):
    w = Workspace(tmp_path)
    assert_one_error(w.art("init", code=None), 1)
    w.art("init", "--no-git")
    w.gen({"f": "x"})
    w.art("add", "f")
    assert (tmp_path / "f.art").exists()


def test_json_errors_are_machine_readable(ws):
    import json

    r = ws.art("add", "missing", "--json", code=1)
    err = json.loads(r.stdout)["error"]
    assert err["exit_status"] == 1 and "missing" in err["message"] and err["hint"]


def test_internal_errors_exit_70_without_traceback(ws, monkeypatch):
    import importlib

    st = importlib.import_module("artvc.workspace.status")

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(st, "status", boom)
    r = ws.art("status", code=70)
    assert "internal error" in r.stderr and "Traceback" not in r.stderr


def test_git_repo_nested_workspace(tmp_path):
    git(tmp_path, "init", "-q")
    sub = tmp_path / "project"
    sub.mkdir()
    w = Workspace(sub)
    w.art("init")
    w.gen({"x.txt": "x"})
    w.art("add", "x.txt")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "c1")
    assert "x.txt" in w.art("ls", "--rev", "HEAD").stdout


def test_a_damaged_stat_cache_row_is_a_miss_not_a_crash(ws):
    import sqlite3

    from tests.workspace.test_add_checkout import age

    ws.gen({"data": {"a.csv": "x,y\n1,2\n"}, "b.txt": "hello\n"})
    age(ws.root / "data")  # old enough for add to remember the folder's signature
    ws.art("add", "data", "b.txt")
    db = sqlite3.connect(ws.root / ".art" / "state.db")
    db.execute("UPDATE stat SET oid = 'not an id' WHERE path = 'b.txt'")
    db.execute("UPDATE stat SET recorded = 'later' WHERE path = 'data/a.csv'")
    assert db.execute("UPDATE trees SET sig = 5, oid = x'00', size = 'big'").rowcount == 1
    db.commit()
    db.close()
    assert "modified" not in ws.art("status").stdout  # every file is hashed again and found unchanged
    (ws.root / "b.txt").write_text("changed\n")
    assert "b.txt" in ws.art("status").stdout
