import json

from tests.builders import csv_bytes, random_bytes


def commit(ws, msg):
    ws.git("add", "-A")
    ws.git("commit", "-qm", msg)


def test_ls_and_diff_across_revisions(ws):
    ws.gen({"data.csv": csv_bytes(300_000), "d": {"a": "a", "b": "b"}})
    ws.art("add", "data.csv", "d")
    commit(ws, "v1")
    ws.gen({"data.csv": csv_bytes(350_000), "d": {"a": "A", "c": "c"}, "model.bin": random_bytes(1000)})
    (ws.root / "d/b").unlink()
    ws.art("add", "data.csv", "d", "model.bin")
    commit(ws, "v2")
    listed = {a["path"]: a for a in json.loads(ws.art("ls", "--rev", "HEAD~1", "--json").stdout)["artifacts"]}
    assert set(listed) == {"data.csv", "d"} and listed["data.csv"]["size"] == 300_000
    assert "model.bin" in ws.art("ls").stdout
    changes = {c["path"]: c for c in json.loads(ws.art("diff", "HEAD~1", "HEAD", "--json").stdout)["changes"]}
    assert changes["model.bin"]["state"] == "added"
    assert changes["data.csv"]["state"] == "modified"
    assert (changes["data.csv"]["old_size"], changes["data.csv"]["new_size"]) == (300_000, 350_000)
    files = {f["path"]: f["state"] for f in changes["d"]["files"]}
    assert files == {"a": "modified", "b": "removed", "c": "added"}
    text = ws.art("diff", "HEAD~1", "HEAD").stdout
    assert "added  model.bin" in text and "modified  data.csv" in text


def test_diff_head_against_workspace(ws):
    ws.gen({"x.bin": random_bytes(5000)})
    ws.art("add", "x.bin")
    commit(ws, "v1")
    assert "no changes" in ws.art("diff").stdout
    (ws.root / "x.bin").write_bytes(random_bytes(6000, seed=5))
    change = json.loads(ws.art("diff", "--json").stdout)["changes"][0]
    assert change["state"] == "modified" and change["new_size"] == 6000


def test_unknown_revision_is_a_clean_error(ws):
    r = ws.art("ls", "--rev", "no-such-branch", code=1)
    assert r.stderr.startswith("art: error: unknown revision")


def test_fsck_finds_flipped_byte_and_checkout_refuses_it(ws):
    data = random_bytes(400_000)
    ws.gen({"blob.bin": data})
    ws.art("add", "blob.bin")
    assert "ok:" in ws.art("fsck").stdout
    with ws.repo() as repo:
        (pack,) = repo.store.pack_files().values()
    raw = bytearray(pack.read_bytes())
    raw[200_000] ^= 0x01
    pack.write_bytes(bytes(raw))
    r = ws.art("fsck", "--json", code=3)
    problems = json.loads(r.stdout)["problems"]
    assert problems and {p["kind"] for p in problems} >= {"chunk"}
    (ws.root / "blob.bin").unlink()
    r = ws.art("checkout", code=3)
    assert "corrupt" in r.stderr
    assert not (ws.root / "blob.bin").exists()


def test_add_refuses_path_inside_tracked_dir_and_pointer_files(ws):
    ws.gen({"d": {"a": "1"}})
    ws.art("add", "d")
    assert "inside the tracked directory d" in ws.art("add", "d/a", code=1).stderr
    assert "is an art pointer" in ws.art("add", "d.art", code=1).stderr


def test_diff_before_the_first_commit_shows_everything_added(ws):
    ws.gen({"a.bin": random_bytes(100)})
    ws.art("add", "a.bin")
    changes = json.loads(ws.art("diff", "--json").stdout)["changes"]
    assert [(c["path"], c["state"]) for c in changes] == [("a.bin", "added")]


def test_add_hint_names_the_gitignore_it_changed(ws):
    ws.gen({"data": {"x.csv": "1,2\n"}})
    out = ws.art("add", "data/x.csv").stdout
    assert "git add data/x.csv.art data/.gitignore" in out


def test_add_outside_git_gives_no_git_hint(tmp_path):
    from tests.conftest import Workspace

    root = tmp_path / "plain"
    root.mkdir()
    w = Workspace(root)
    w.art("init", "--no-git")
    w.gen({"x.csv": "1,2\n"})
    out = w.art("add", "x.csv").stdout
    assert out.startswith("added: x.csv") and "git add" not in out


def test_init_force_keeps_config(ws):
    with ws.repo() as repo:
        repo.config.update(lambda d: d.setdefault("core", {}).update({"jobs": 3}))
    ws.art("init", "--force")
    assert "jobs = 3" in (ws.root / ".art/config").read_text()


def test_status_check_with_a_modified_artifact_exits_4_with_its_hint(ws):
    ws.gen({"a.txt": "1\n"})
    ws.art("add", "a.txt")
    (ws.root / "a.txt").write_text("2\n")
    r = ws.art("status", "--check", code=4)
    assert r.stderr.splitlines()[-2:] == [
        "art: error: 1 artifact out of date: a.txt",
        "hint: modified data: run 'art add'",
    ]
