"""A registry repository publishes a dataset and a model; consumers list, get and import them (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import random_bytes
from tests.conftest import Workspace, git
from tests.remote.conftest import add_remote, assert_error


def publish(reg: Workspace, bare: Path, tag: str, message: str) -> None:
    reg.git("add", "-A")
    reg.git("commit", "-q", "-m", message)
    reg.git("tag", tag)
    reg.art("push")
    reg.git("push", "-q", "origin", "main", "--tags")


@pytest.fixture(params=["s3", "dir"])
def registry(request, ws: Workspace, tmp_path: Path):
    """The registry: data/ (a folder of files) and model.bin, pushed to a bucket, git pushed to a bare repo."""
    ws.gen({"data": {f"{i:03}.bin": random_bytes(3000 + i, i) for i in range(6)}, "model.bin": random_bytes(90_000, 7)})
    ws.art("add", "data", "model.bin")
    if request.param == "s3":
        from tests.bucket_fixtures import _object_bucket, bucket_name

        server = request.getfixturevalue("s3_server")
        bucket = _object_bucket(server, bucket_name(request.node.name))
        add_remote(ws, bucket.url, dict(bucket.storage_options))
    else:
        add_remote(ws, str(tmp_path / "registry-store"))
    bare = tmp_path / "registry.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    ws.git("remote", "add", "origin", str(bare))
    publish(ws, bare, "v1.0.0", "model v1")
    return ws, bare


@pytest.fixture
def consumer(tmp_path: Path) -> Workspace:
    root = tmp_path / "consumer"
    root.mkdir()
    git(root, "init", "-q")
    w = Workspace(root)
    w.art("init")
    return w


def jrun(w: Workspace, *args: str) -> dict:
    return json.loads(w.art(*args, "--json").stdout)


def test_import_status_behind_update_and_lineage(registry, consumer, tmp_path):
    reg, bare = registry
    v1 = (reg.root / "model.bin").read_bytes()
    listed = jrun(consumer, "ls", str(bare), "--rev", "v1.0.0")
    assert [a["path"] for a in listed["artifacts"]] == ["data", "model.bin"]

    got = jrun(consumer, "import", str(bare), "model.bin", "--rev", "v1.0.0")
    assert got["import"]["rev"] == "v1.0.0" and got["objects"] > 0
    assert (consumer.root / "model.bin").read_bytes() == v1
    pointer = (consumer.root / "model.bin.art").read_text()
    assert "[source]" in pointer and 'rev = "v1.0.0"' in pointer
    assert "/model.bin" in (consumer.root / ".gitignore").read_text()
    status = jrun(consumer, "status")
    assert status["artifacts"][0]["state"] == "unchanged"
    assert [(i["path"], i["state"]) for i in status["imports"]] == [("model.bin", "up-to-date")]

    (reg.root / "model.bin").write_bytes(random_bytes(95_000, 8))
    reg.art("add", "model.bin")
    publish(reg, bare, "v1.1.0", "model v1.1")
    v2 = (reg.root / "model.bin").read_bytes()

    status = jrun(consumer, "status")
    assert [(i["path"], i["state"]) for i in status["imports"]] == [("model.bin", "behind")]
    assert "behind" in consumer.art("status").stdout

    # following the tag it was imported at changes nothing: a tag does not move
    assert jrun(consumer, "update", "model.bin")["updated"][0]["changed"] is False
    assert (consumer.root / "model.bin").read_bytes() == v1
    done = jrun(consumer, "update", "model.bin", "--rev", "v1.1.0")["updated"][0]
    assert done["changed"] is True and done["import"]["rev"] == "v1.1.0"
    assert (consumer.root / "model.bin").read_bytes() == v2
    assert [i["state"] for i in jrun(consumer, "status")["imports"]] == ["up-to-date"]

    lineage = jrun(consumer, "lineage", "model.bin")
    assert lineage["import"]["url"] == str(bare) and lineage["import"]["path"] == "model.bin"
    assert f"imported from {bare}" in consumer.art("lineage", "model.bin").stdout

    # the imported objects are in the consumer's own store: a push and a fresh clone's pull work
    consumer.art("remote", "add", "origin", str(tmp_path / "consumer-store"), "--default")
    consumer.art("push")
    consumer.git("add", "-A")
    consumer.git("commit", "-q", "-m", "use model")
    git(tmp_path, "clone", "-q", str(consumer.root), str(tmp_path / "clone"))
    clone = Workspace(tmp_path / "clone")
    clone.art("pull")
    assert (clone.root / "model.bin").read_bytes() == v2


def test_get_a_file_inside_a_tracked_folder_and_ls_of_the_folder(registry, consumer, tmp_path):
    reg, bare = registry
    listed = jrun(consumer, "ls", str(bare), "data")
    assert [a["path"] for a in listed["artifacts"]] == [f"data/{i:03}.bin" for i in range(6)]
    out = tmp_path / "one.bin"
    got = jrun(consumer, "get", str(bare), "data/004.bin", "-o", str(out))
    assert out.read_bytes() == (reg.root / "data" / "004.bin").read_bytes()
    assert got["objects"] <= 3  # that file's object(s) only, not the folder's other files
    assert not (consumer.root / "one.bin.art").exists() and not (tmp_path / "one.bin.art").exists()
    # an existing output is never overwritten without --force
    out.write_bytes(b"mine")
    assert_error(consumer.art("get", str(bare), "data/004.bin", "-o", str(out), code=None), 1, "already exists")
    assert out.read_bytes() == b"mine"
    consumer.art("get", str(bare), "data/004.bin", "-o", str(out), "--force")
    assert out.read_bytes() == (reg.root / "data" / "004.bin").read_bytes()
    # a whole folder
    consumer.art("get", str(bare), "data", "-o", str(tmp_path / "copy"))
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == [f"{i:03}.bin" for i in range(6)]
    assert not list(tmp_path.glob(".art-get-*"))


def test_bad_input_gives_one_line_and_writes_nothing(registry, consumer, tmp_path):
    reg, bare = registry
    plain = tmp_path / "plain"
    plain.mkdir()
    git(plain, "init", "-q")
    (plain / "f").write_text("x")
    git(plain, "add", "f")
    git(plain, "commit", "-q", "-m", "x")
    before = sorted(p.name for p in consumer.root.iterdir())
    cases = [
        (("import", str(plain), "f"), "not an art repository"),
        (("import", str(tmp_path / "nowhere"), "f"), "cannot clone"),
        (("import", str(bare), "nope.bin"), "is not tracked by"),
        (("import", str(bare), "data/999.bin"), "is not in data"),
        (("import", str(bare), "model.bin", "--rev", "v9.9.9"), "unknown revision 'v9.9.9'"),
        (("get", str(bare), "nope.bin"), "is not tracked by"),
        (("ls", str(plain)), "not an art repository"),
    ]
    for args, text in cases:
        r = consumer.art(*args, code=None)
        assert_error(r, r.exit_code, text)
        assert r.exit_code in (1, 10), (args, r.exit_code)
        assert len(r.stderr.strip().splitlines()) == 2, r.stderr
    assert sorted(p.name for p in consumer.root.iterdir()) == before
    assert not (consumer.root / "f").exists() and not (consumer.root / "model.bin.art").exists()


@pytest.mark.parametrize("registry", ["dir"], indirect=True)  # one backend is enough for kills
def test_killed_get_and_import_leave_nothing_half_written(registry, consumer, tmp_path):
    from tests.e2e.faultfs import art

    reg, bare = registry
    out = tmp_path / "got.bin"
    r = art(tmp_path, "get", str(bare), "model.bin", "-o", str(out), env={"ART_FAULT": "get.staged:kill"})
    assert r.returncode == -9, r.stderr
    assert not out.exists() and len(list(tmp_path.glob(".art-get-*"))) == 1  # the dead process's staging
    r = art(tmp_path, "get", str(bare), "model.bin", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == (reg.root / "model.bin").read_bytes()
    assert not list(tmp_path.glob(".art-get-*"))  # swept by the next get there

    r = art(consumer.root, "import", str(bare), "model.bin", env={"ART_FAULT": "import.objects-stored:kill"})
    assert r.returncode == -9, r.stderr
    assert not (consumer.root / "model.bin.art").exists() and not (consumer.root / "model.bin").exists()
    assert consumer.art("status").stdout.strip() == "no tracked artifacts (use 'art add PATH')"
    consumer.art("import", str(bare), "model.bin")
    assert (consumer.root / "model.bin").read_bytes() == (reg.root / "model.bin").read_bytes()


@pytest.mark.parametrize("registry", ["dir"], indirect=True)
def test_import_refuses_an_output_outside_the_workspace(registry, consumer, tmp_path):
    _, bare = registry
    r = consumer.art("import", str(bare), "model.bin", "-o", str(tmp_path / "outside.bin"), code=None)
    assert_error(r, 10, "outside")
    assert not (tmp_path / "outside.bin").exists()
