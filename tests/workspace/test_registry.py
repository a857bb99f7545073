import json

import pytest

from tests.builders import random_bytes
from tests.conftest import Workspace, git


def publish(ws, files: dict, message: str, add: tuple[str, ...]) -> str:
    ws.gen(files)
    ws.art("add", *add)
    ws.git("add", "-A")
    ws.git("commit", "-qm", message)
    return ws.git("rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def reg(ws):
    c1 = publish(
        ws,
        {"models/model.pt": random_bytes(4000, 1), "data": {"images": {"a.png": "a"}}},
        "v1",
        ("models/model.pt", "data/images"),
    )
    c2 = publish(ws, {"models/model.pt": random_bytes(4000, 2)}, "v2", ("models/model.pt",))
    return ws, c1, c2


def test_versions_and_stages_are_git_tags_that_push_and_resolve_in_a_clone(reg, tmp_path):
    from artvc.workspace import Repo
    from artvc.workspace.registry import resolve_version

    ws, c1, c2 = reg
    ws.art("tag", "models/model.pt", "v1.0.0", "--rev", "HEAD~1", "-m", "first model")
    ws.art("tag", "models/model.pt", "1.1.0")  # normalised to v1.1.0
    ws.art("tag", "models/model.pt", "--stage", "prod", "--rev", "v1.0.0")
    ws.art("tag", "models/model.pt", "--stage", "prod", "--rev", "v1.1.0")  # the latest assignment wins
    ws.art("tag", "models/model.pt", "--stage", "staging")
    ws.art("tag", "data/images", "v0.1.0", "--rev", c1)
    tags = set(ws.git("tag", "--list").stdout.split())
    assert tags == {
        "art/models/model.pt@v1.0.0",
        "art/models/model.pt@v1.1.0",
        "art/models/model.pt#prod#1",
        "art/models/model.pt#prod#2",
        "art/models/model.pt#staging#1",
        "art/data/images@v0.1.0",
    }
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    ws.git("remote", "add", "origin", str(bare))
    ws.git("push", "-q", "origin", "HEAD:main", "--tags")
    git(tmp_path, "clone", "-q", str(bare), "clone")
    clone = Workspace(tmp_path / "clone")
    with Repo(clone.root) as repo:
        assert resolve_version(repo, "models/model.pt", version="v1.0.0") == c1
        assert resolve_version(repo, "models/model.pt", version="1.1.0") == c2
        assert resolve_version(repo, "models/model.pt", stage="prod") == c2
        assert resolve_version(repo, "data/images/a.png", version="v0.1.0") == c1  # a file inside a tracked dir
    out = json.loads(clone.art("versions", "models/model.pt", "--json").stdout)
    assert out["path"] == "models/model.pt"
    assert [(v["version"], v["commit"], v["stages"]) for v in out["versions"]] == [
        ("v1.1.0", c2, ["prod", "staging"]),
        ("v1.0.0", c1, []),
    ]
    v1 = out["versions"][1]
    assert v1["message"] == "first model" and v1["author"] == "Art Tester <tester@example.com>"
    assert v1["oid"] == __import__("blake3").blake3(random_bytes(4000, 1)).hexdigest()
    assert v1["time"].endswith("Z") and v1["kind"] == "file" and v1["size"] == 4000
    assert [(s["stage"], s["number"], s["commit"], s["current"]) for s in out["stages"]] == [
        ("prod", 1, c1, False),
        ("prod", 2, c2, True),
        ("staging", 1, c2, True),
    ]
    text = clone.art("versions", "models/model.pt").stdout.splitlines()
    assert text[0].startswith("v1.1.0") and "[prod, staging]" in text[0]


def test_versions_shows_the_run_that_produced_a_version(reg):
    ws, c1, c2 = reg
    ws.art("tag", "models/model.pt", "v2.0.0")
    out = json.loads(ws.art("versions", "models/model.pt", "--json").stdout)
    lineage = json.loads(ws.art("lineage", "models/model.pt", "--json").stdout)
    assert out["versions"][0]["run_oid"] == lineage["run"]["oid"]


def test_a_stage_on_a_commit_without_a_version_is_listed(reg):
    ws, c1, c2 = reg
    ws.art("tag", "models/model.pt", "--stage", "dev", "--rev", c1)
    out = json.loads(ws.art("versions", "models/model.pt", "--json").stdout)
    assert [(v["version"], v["commit"], v["stages"]) for v in out["versions"]] == [(None, c1, ["dev"])]


def test_delete_removes_a_version_and_frees_its_number(reg):
    ws, c1, c2 = reg
    ws.art("tag", "models/model.pt", "v1.0.0", "--rev", c1)
    r = ws.art("tag", "models/model.pt", "--delete", "v1.0.0")
    assert "deleted models/model.pt v1.0.0" in r.stdout
    assert ws.git("tag", "--list").stdout == ""
    ws.art("tag", "models/model.pt", "v1.0.0")
    assert ws.git("rev-parse", "art/models/model.pt@v1.0.0^{commit}").stdout.strip() == c2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["tag", "models/model.pt", "v1.0.0"], 1, "models/model.pt already has version v1.0.0 (commit "),
        (["tag", "models/model.pt", "1.0"], 2, "'1.0' is not a semantic version"),
        (["tag", "models/model.pt", "--stage", "Prod!"], 2, "'Prod!' is not a stage name"),
        (["tag", "nothing.bin", "v1.0.0"], 1, "nothing.bin is not tracked by art at commit "),
        (["tag", "models/model.pt", "v3.0.0", "--rev", "nope"], 1, "unknown revision 'nope'"),
        (["tag", "models/model.pt", "--delete", "v9.9.9"], 1, "models/model.pt has no version v9.9.9"),
        (["tag", "models/model.pt", "v3.0.0", "--stage", "prod"], 2, "give one of VERSION, --stage STAGE"),
        (["versions", "data/images"], 1, "data/images has no versions"),
    ],
)
def test_bad_input_is_one_clear_line_and_creates_no_tag(reg, args, code, message):
    ws, c1, c2 = reg
    ws.art("tag", "models/model.pt", "v1.0.0", "--rev", c1)
    before = ws.git("tag", "--list").stdout
    r = ws.art(*args, code=code)
    assert r.stderr.splitlines()[0].startswith("art: error: " + message), r.stderr
    assert len(r.stderr.splitlines()) <= 2
    assert ws.git("tag", "--list").stdout == before


def test_resolve_version_of_a_missing_version_or_stage_is_one_clear_error(reg):
    from artvc.workspace.registry import VersionNotFoundError, resolve_version

    ws, c1, c2 = reg
    ws.art("tag", "models/model.pt", "v1.0.0", "--rev", c1)
    with ws.repo() as repo:
        with pytest.raises(VersionNotFoundError, match=r"models/model.pt has no version v1.2.0"):
            resolve_version(repo, "models/model.pt", version="v1.2.0")
        with pytest.raises(VersionNotFoundError, match=r"models/model.pt has no stage prod"):
            resolve_version(repo, "models/model.pt", stage="prod")
        with pytest.raises(VersionNotFoundError, match=r"data/images has no version v1.0.0"):
            resolve_version(repo, "data/images", version="v1.0.0")


def test_semver_ordering_puts_prereleases_before_their_release(reg):
    ws, c1, c2 = reg
    for v in ("v1.0.0", "v1.0.0-rc.1", "v1.0.0-rc.2", "v0.9.10", "v0.9.9", "v1.0.0-alpha"):
        ws.art("tag", "models/model.pt", v)
    out = json.loads(ws.art("versions", "models/model.pt", "--json").stdout)
    assert [v["version"] for v in out["versions"]] == [
        "v1.0.0",
        "v1.0.0-rc.2",
        "v1.0.0-rc.1",
        "v1.0.0-alpha",
        "v0.9.10",
        "v0.9.9",
    ]
