import json

import pytest

from tests import servers
from tests.builders import write_random_file
from tests.remote.conftest import add_remote, art_json, clone


def test_changing_one_mib_of_a_64_mib_file_pushes_little(ws, tmp_path):
    big = ws.root / "big.bin"
    write_random_file(big, 64 << 20, seed=7)
    ws.art("add", "big.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "bucket"), "-d")
    first = art_json(ws, "push")
    assert first["size"] > 60 << 20
    with open(big, "r+b") as f:
        f.seek(30 << 20)
        f.write(__import__("random").Random(8).randbytes(1 << 20))
    ws.art("add", "big.bin")
    second = art_json(ws, "push")
    assert 0 < second["size"] < 4 << 20, second
    assert second["already_on_remote"] > 700  # the unchanged chunks were recognised from the cached indexes


@pytest.mark.long
def test_pushing_2000_small_files_to_s3_takes_few_requests(ws, s3_server, tmp_path):
    from tests.bucket_fixtures import bucket_name

    ws.gen({"many": {f"f{i:04d}.txt": f"file {i}\n" * (i % 7 + 1) for i in range(2000)}})
    ws.art("add", "many")
    name = bucket_name("economy")
    s3_server.filesystem().mkdir(name)
    with servers.RequestCounter(s3_server.port) as counter:
        add_remote(ws, f"s3://{name}/root", s3_server.options_for_port(counter.port))
        pushed = art_json(ws, "push")
        puts, total = counter.count("PUT"), len(counter.requests)
        assert pushed["objects"] > 2000
        assert puts < 50, counter.requests
        assert total < 60, counter.requests
        counter.reset()
        assert art_json(ws, "push")["objects"] == 0
        # the shared lock (PUT, a listing of locks/, a HEAD to check it still holds, DELETE), one listing of
        # index/ and one of today's epoch folder in it (indexes are cached) and the root record that protects
        # what this push relies on (docs/gc.md)
        assert counter.count("PUT") == 2 and len(counter.requests) <= 7, counter.requests
        other = clone(ws, tmp_path / "clone")
        counter.reset()
        other.art("pull")
        assert len(counter.requests) < 20, counter.requests
    assert sorted(p.name for p in (other.root / "many").iterdir()) == [f"f{i:04d}.txt" for i in range(2000)]


def test_status_remote_shows_what_is_not_pushed_or_not_fetched(data_ws, tmp_path):
    data_ws.art("remote", "add", "origin", str(tmp_path / "bucket"), "-d")
    before = art_json(data_ws, "status", "--remote")
    assert before["counts"]["not-pushed"] == 2
    assert all(a["objects_to_push"] > 0 for a in before["artifacts"])
    data_ws.art("status", "--remote", "origin", "--check", code=4)
    data_ws.art("push", "model.bin")
    states = {a["path"]: a["state"] for a in art_json(data_ws, "status", "--remote", "origin")["artifacts"]}
    assert states == {"data": "not-pushed", "model.bin": "synced"}
    data_ws.art("push")
    data_ws.art("status", "--remote", "--check")
    other = clone(data_ws, tmp_path / "clone")
    text = other.art("status", "--remote").stdout
    assert "not-fetched" in text and "2 not fetched" in text
    other.art("pull", "data")
    states = {a["path"]: a["state"] for a in json.loads(other.art("status", "--remote", "--json").stdout)["artifacts"]}
    assert states == {"data": "synced", "model.bin": "not-fetched"}
