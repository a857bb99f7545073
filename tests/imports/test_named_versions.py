"""get/import/update by a named version or stage of the source repository (art tag; issue 13), and reading
another repository's artifact by URL with ``artvc.open(..., repo=URL)``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import artvc
from artvc.workspace.registry import VersionNotFoundError
from tests.builders import random_bytes, write_random_file
from tests.conftest import Workspace, git
from tests.remote.conftest import add_remote, assert_error

MiB = 1 << 20


def jrun(w: Workspace, *args: str) -> dict:
    return json.loads(w.art(*args, "--json").stdout)


def commit_and_push(reg: Workspace, message: str) -> str:
    reg.git("add", "-A")
    reg.git("commit", "-q", "-m", message)
    reg.art("push")
    reg.git("push", "-q", "origin", "main", "--tags")
    return reg.git("rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def registry(ws: Workspace, tmp_path: Path):
    """model.bin v1.0.0 in stage prod, then v1.1.0 committed on top (not in prod), a directory remote, git
    pushed to a bare repository: (workspace, bare, commit of v1.0.0, commit of v1.1.0)."""
    ws.gen({"model.bin": random_bytes(90_000, 1), "data": {f"{i}.bin": random_bytes(2000 + i, i) for i in range(3)}})
    ws.art("add", "model.bin", "data")
    add_remote(ws, str(tmp_path / "registry-store"))
    bare = tmp_path / "registry.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    ws.git("remote", "add", "origin", str(bare))
    c1 = commit_and_push(ws, "model v1")
    ws.art("tag", "model.bin", "v1.0.0")
    ws.art("tag", "model.bin", "--stage", "prod")
    ws.art("tag", "data", "v1.0.0")
    (ws.root / "model.bin").write_bytes(random_bytes(95_000, 2))
    ws.art("add", "model.bin")
    c2 = commit_and_push(ws, "model v1.1")
    ws.art("tag", "model.bin", "v1.1.0")
    ws.git("push", "-q", "origin", "--tags")
    return ws, bare, c1, c2


@pytest.fixture
def consumer(tmp_path: Path) -> Workspace:
    root = tmp_path / "consumer"
    root.mkdir()
    git(root, "init", "-q")
    w = Workspace(root)
    w.art("init")
    return w


def test_get_and_import_by_version_and_by_stage(registry, consumer, tmp_path):
    reg, bare, c1, c2 = registry
    v1, v2 = random_bytes(90_000, 1), random_bytes(95_000, 2)

    got = jrun(consumer, "get", str(bare), "model.bin", "--version", "v1.0.0", "-o", str(tmp_path / "a.bin"))
    assert (tmp_path / "a.bin").read_bytes() == v1
    assert got["import"]["commit"] == c1 and got["import"]["version"] == "v1.0.0"
    consumer.art("get", str(bare), "model.bin", "--version", "1.1.0", "-o", str(tmp_path / "b.bin"))
    assert (tmp_path / "b.bin").read_bytes() == v2
    got = jrun(consumer, "get", str(bare), "model.bin", "--stage", "prod", "-o", str(tmp_path / "c.bin"))
    assert (tmp_path / "c.bin").read_bytes() == v1 and got["import"]["stage"] == "prod"
    # a file inside a tracked folder resolves through the folder's versions
    consumer.art("get", str(bare), "data/1.bin", "--version", "v1.0.0", "-o", str(tmp_path / "d.bin"))
    assert (tmp_path / "d.bin").read_bytes() == random_bytes(2001, 1)

    # import by stage: the pointer records the stage and the commit it resolved to
    done = jrun(consumer, "import", str(bare), "model.bin", "--stage", "prod")
    assert done["import"] | {"url": None} == {
        "url": None,
        "rev": "",
        "commit": c1,
        "path": "model.bin",
        "oid": done["import"]["oid"],
        "stage": "prod",
    }
    pointer = (consumer.root / "model.bin.art").read_text()
    assert 'stage = "prod"' in pointer and f'commit = "{c1}"' in pointer
    assert (consumer.root / "model.bin").read_bytes() == v1
    assert [i["state"] for i in jrun(consumer, "status")["imports"]] == ["up-to-date"]
    assert "at stage prod" in consumer.art("update", "model.bin").stdout

    # the registry promotes v1.1.0 to prod: the import is behind, and update follows the stage
    reg.art("tag", "model.bin", "--stage", "prod", "--rev", "v1.1.0")
    reg.git("push", "-q", "origin", "--tags")
    assert [i["state"] for i in jrun(consumer, "status")["imports"]] == ["behind"]
    up = jrun(consumer, "update", "model.bin")["updated"][0]
    assert up["changed"] is True and up["import"]["commit"] == c2 and up["import"]["stage"] == "prod"
    assert (consumer.root / "model.bin").read_bytes() == v2

    # update --version pins it to a version (a version does not move)
    up = jrun(consumer, "update", "model.bin", "--version", "v1.0.0")["updated"][0]
    assert up["import"]["version"] == "v1.0.0" and "stage" not in up["import"] and up["import"]["commit"] == c1
    assert (consumer.root / "model.bin").read_bytes() == v1
    assert 'version = "v1.0.0"' in (consumer.root / "model.bin.art").read_text()
    assert jrun(consumer, "update", "model.bin")["updated"][0]["changed"] is False


def test_a_version_or_stage_that_does_not_exist_is_one_line_and_writes_nothing(registry, consumer, tmp_path):
    _, bare, _, _ = registry
    before = sorted(p.name for p in consumer.root.iterdir())
    cases = [
        (("import", str(bare), "model.bin", "--version", "v9.9.9"), "model.bin in "),
        (("import", str(bare), "model.bin", "--stage", "staging"), "has no stage staging"),
        (("get", str(bare), "model.bin", "--version", "v9.9.9", "-o", str(tmp_path / "x")), "has no version v9.9.9"),
        (("get", str(bare), "model.bin", "--stage", "nope", "-o", str(tmp_path / "x")), "has no stage nope"),
        (("import", str(bare), "model.bin", "--version", "v1.0.0", "--rev", "main"), "at most one of"),
    ]
    for args, text in cases:
        r = consumer.art(*args, code=None)
        assert r.exit_code in (1, 2), (args, r.exit_code, r.stderr)
        assert_error(r, r.exit_code, text)
        assert len(r.stderr.strip().splitlines()) == 2, r.stderr
    r = consumer.art("import", str(bare), "model.bin", "--version", "v9.9.9", code=1)
    assert "has no version v9.9.9" in r.stderr and "its versions: v1.0.0, v1.1.0" in r.stderr
    assert sorted(p.name for p in consumer.root.iterdir()) == before
    assert not (tmp_path / "x").exists()


def test_open_reads_a_range_of_another_repositorys_artifact_by_url(ws, tmp_path, monkeypatch):
    size = 6 * MiB
    write_random_file(ws.root / "big.bin", size, seed=3)
    ws.gen({"data": {f"{i}.bin": random_bytes(2000 + i, i) for i in range(3)}})
    ws.art("add", "big.bin", "data")
    add_remote(ws, str(tmp_path / "store"))
    bare = tmp_path / "registry.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    ws.git("remote", "add", "origin", str(bare))
    content = (ws.root / "big.bin").read_bytes()
    c1 = commit_and_push(ws, "big v1")
    ws.art("tag", "big.bin", "v1.0.0")
    write_random_file(ws.root / "big.bin", size, seed=4)
    ws.art("add", "big.bin")
    commit_and_push(ws, "big v2")
    ws.art("tag", "big.bin", "--stage", "prod", "--rev", c1)
    ws.git("push", "-q", "origin", "--tags")

    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)  # no workspace around: nothing local to read from
    for kw in ({"version": "v1.0.0"}, {"stage": "prod"}, {"rev": c1}):
        with artvc.open("big.bin", repo=str(bare), **kw) as f:
            f.seek(size // 2)
            data = f.read(MiB)
            remote = f.raw.remote
            assert remote is not None
            assert data == content[size // 2 : size // 2 + MiB], kw
            print(f"repo= read 1 MiB at {size // 2} of {size} ({kw}): downloaded {remote.read_size} bytes")
            assert remote.read_size < 2 * MiB, remote.read_size  # ranged reads, not the whole 6 MiB
    assert artvc.read("data/1.bin", repo=str(bare)) == random_bytes(2001, 1)
    assert artvc.read("big.bin", repo=str(bare)) == (ws.root / "big.bin").read_bytes()  # HEAD: v2
    assert sorted(p.name for p in outside.iterdir()) == []
    with pytest.raises(VersionNotFoundError, match=r"big.bin in .* has no version v7.0.0"):
        artvc.open("big.bin", repo=str(bare), version="v7.0.0")

    # art cat --repo, from outside any workspace
    out = Workspace(outside)
    r = out.art("cat", "data/2.bin", "--repo", str(bare), "--rev", c1)
    assert r.stdout_bytes == random_bytes(2002, 2)
    assert_error(out.art("cat", "big.bin", "--repo", str(bare), "--stage", "dev", code=1), 1, "has no stage dev")
    assert sorted(p.name for p in outside.iterdir()) == []
