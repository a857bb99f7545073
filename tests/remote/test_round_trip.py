import json
import os

from tests.remote.conftest import art_json, clone, files_under, use_bucket


def test_push_clone_pull_is_byte_identical_on_every_backend(data_ws, bucket, tmp_path):
    use_bucket(data_ws, bucket)
    first = art_json(data_ws, "push")
    # metadata and chunks travel in separate packs (the whole result and art's environment on failure)
    seen = {k: v for k, v in os.environ.items() if k.startswith(("ART", "GIT", "TMP", "HOME"))}
    assert first["objects"] > 10 and first["packs"] >= 2, json.dumps({"push": first, "env": seen})
    # the objects are where the URL says, on every backend (over SFTP, not below the login's home directory)
    assert bucket.fs.ls(f"{bucket.path}/index"), f"nothing under {bucket.url}/index"
    second = art_json(data_ws, "push")
    assert second["objects"] == 0 and second["packs"] == 0

    other = clone(data_ws, tmp_path / "clone")
    pulled = art_json(other, "pull")
    assert pulled["objects"] == first["objects"] and not pulled["problems"]
    assert files_under(other.root / "data") == files_under(data_ws.root / "data")
    assert (other.root / "model.bin").read_bytes() == (data_ws.root / "model.bin").read_bytes()
    assert os.access(other.root / "data" / "run.sh", os.X_OK)
    assert art_json(other, "pull")["objects"] == 0
    assert art_json(other, "status")["artifacts"][0]["state"] == "unchanged"


def test_runs_travel_so_lineage_works_in_a_clone(data_ws, tmp_path):
    from artvc.workspace.runs import producing_run

    bucket = tmp_path / "bucket"
    data_ws.art("remote", "add", "origin", str(bucket), "--default")
    data_ws.art("push")
    other = clone(data_ws, tmp_path / "clone")
    assert art_json(other, "pull")["runs"] >= 1
    with data_ws.repo() as repo:
        model = next(p for path, p, _ in repo.artifacts() if path == "model.bin")
    with other.repo() as repo:
        run = producing_run(repo, model.oid)
    assert run is not None and run["kind"] == "add"


def test_push_of_revisions_sends_only_what_those_commits_track(ws, tmp_path):
    from artvc.workspace.push import push
    from tests.remote.conftest import commit

    ws.gen({"v1.bin": os.urandom(5000)})
    ws.art("add", "v1.bin")
    commit(ws, "v1")
    ws.gen({"v2.bin": os.urandom(5000)})
    ws.art("add", "v2.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "bucket"), "--default")
    with ws.repo() as repo:
        sent = push(repo, revs=["HEAD"])
        assert sent.objects >= 1
        status = {
            a.path: a.state for a in __import__("artvc.workspace.push", fromlist=["x"]).remote_status(repo).artifacts
        }
    assert status == {"v1.bin": "synced", "v2.bin": "not-pushed"}


def test_fetch_stores_objects_without_touching_the_workspace(data_ws, tmp_path):
    data_ws.art("remote", "add", "origin", str(tmp_path / "bucket"), "-d")
    data_ws.art("push")
    other = clone(data_ws, tmp_path / "clone")
    assert art_json(other, "fetch")["objects"] > 0
    assert not (other.root / "model.bin").exists()
    other.art("checkout")
    assert (other.root / "model.bin").read_bytes() == (data_ws.root / "model.bin").read_bytes()
