import json
import threading

import pytest

from tests.conftest import Workspace, git
from tests.remote.conftest import art_json, assert_error, clone, files_under, use_bucket


def _largest_pack(bucket) -> str:
    packs = [p for p in bucket.fs.find(bucket.join("packs"), detail=True).values() if p["name"].endswith(".pack")]
    return max(packs, key=lambda p: p["size"])["name"]


def _flip_byte(bucket, key: str, offset: int) -> None:
    data = bytearray(bucket.fs.cat_file(key))
    data[offset] ^= 0x40
    bucket.fs.pipe_file(key, bytes(data))  # rewrite as a whole: what a bit rot or a tamperer leaves behind


@pytest.mark.long
@pytest.mark.parametrize("bucket", ["file", "s3"], indirect=True)
def test_a_flipped_byte_on_the_server_is_detected_and_never_written(data_ws, bucket, tmp_path):
    use_bucket(data_ws, bucket)
    data_ws.art("push")
    assert art_json(data_ws, "fsck", "--remote", "origin", "--read-data")["problems"] == []
    key = _largest_pack(bucket)
    _flip_byte(bucket, key, bucket.fs.size(key) // 3)  # inside the payload of model.bin's chunks

    other = clone(data_ws, tmp_path / "clone")
    result = other.art("pull", code=None)
    assert_error(result, 3, "failed verification and were not stored")
    assert not (other.root / "model.bin").exists()
    assert files_under(other.root / "data") == files_under(data_ws.root / "data")  # the intact artifact
    local = json.loads(other.art("fsck", "--json", code=3).stdout)["problems"]
    assert [p["detail"] for p in local] == [f"model.bin: file {local[0]['oid'][:10]} is not in the store"]

    structural = art_json(data_ws, "fsck", "--remote", "origin")
    assert structural["problems"] == []  # the indexes still match the packs
    found = data_ws.art("fsck", "--remote", "origin", "--read-data", "--json", code=3)
    problems = json.loads(found.stdout)["problems"]
    assert problems and any(p["kind"] == "chunk" for p in problems)


def test_fsck_remote_finds_missing_and_damaged_indexes_and_orphan_packs(data_ws, tmp_path):
    import fsspec

    bucket = tmp_path / "bucket"
    data_ws.art("remote", "add", "origin", str(bucket), "-d")
    data_ws.art("push")
    fs = fsspec.filesystem("file")
    idx = sorted((bucket / "index").rglob("*.idx"))
    idx[0].unlink()  # its pack is now an orphan
    raw = bytearray(idx[1].read_bytes())
    raw[-1] ^= 1
    idx[1].write_bytes(bytes(raw))
    found = json.loads(data_ws.art("fsck", "--remote", "origin", "--json", code=3).stdout)
    structural = [p["detail"] for p in found["problems"] if p["kind"] != "marker"]
    assert structural == ["index is damaged (its content does not match its name)"]
    # the add runs sat in a pack no valid index lists now: their produced/ markers name runs readers cannot get
    dangling = [p["detail"] for p in found["problems"] if p["kind"] == "marker"]
    assert all(d.startswith("produced/") and d.endswith("names a run the remote does not hold") for d in dangling)
    assert found["garbage"] == [idx[0].name[:-4]]  # a pack without index: invisible to readers, not damage
    assert fs.exists(str(bucket))
    # push --full repairs it: the objects no valid index lists are sent again (same packs, same names)
    assert art_json(data_ws, "push", "--full")["objects"] > 0
    assert art_json(data_ws, "fsck", "--remote", "origin")["problems"] == []
    from artvc.objstore.store.pack import decode_index

    chunk_only = [p for p in (bucket / "index").rglob("*.idx") if {e.kind for e in decode_index(p.read_bytes())} == {0}]
    chunk_only[0].unlink()  # the trees and manifests stay listed, their chunks no longer are
    assert art_json(data_ws, "push")["objects"] == 0  # the roots are listed: a normal push trusts them
    assert data_ws.art("fsck", "--remote", "origin", "--read-data", code=3)
    assert art_json(data_ws, "push", "--full")["objects"] > 0
    assert art_json(data_ws, "fsck", "--remote", "origin", "--read-data")["problems"] == []


def test_malicious_tree_names_from_a_remote_cannot_escape_the_workspace(ws, tmp_path):
    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.objects import Kind, Tree, TreeEntry
    from artvc.workspace.pointers import Pointer, write_pointer

    payload = b"owned\n"
    oid = hash_bytes(payload)
    for i, name in enumerate(["../escaped", "/abs-escaped", ".git"]):
        tree = Tree.build([TreeEntry(name, "file", oid, len(payload)), TreeEntry("ok.txt", "file", oid, 6)])
        with ws.repo() as repo, repo.store.writer() as w:
            w.put(oid, Kind.CHUNK, payload)
            w.put(tree.oid, Kind.TREE, tree.to_bytes())
        write_pointer(ws.root / f"evil{i}.art", Pointer(tree.oid, "dir", 12, 2))
    ws.art("remote", "add", "origin", str(tmp_path / "bucket"), "-d")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    result = other.art("pull", code=None)
    assert_error(result, 10, "unsafe name")
    assert not (tmp_path / "escaped").exists() and not (other.root.parent / "escaped").exists()
    assert not (tmp_path.parent / "escaped").exists() and not __import__("os").path.exists("/abs-escaped")
    assert not (other.root / ".git" / "owned").exists()


@pytest.mark.long
def test_two_clients_pushing_to_one_remote_at_once_both_succeed(tmp_path, s3_server):
    from artvc.workspace.push import push
    from tests.bucket_fixtures import bucket_name
    from tests.builders import random_bytes
    from tests.remote.conftest import add_remote

    name = bucket_name("concurrent")
    s3_server.filesystem().mkdir(name)
    url, options = f"s3://{name}/root", s3_server.storage_options
    clients = []
    for i in range(2):
        root = tmp_path / f"client{i}"
        root.mkdir()
        git(root, "init", "-q")
        w = Workspace(root)
        w.art("init")
        w.gen({"shared.bin": random_bytes(200_000, 99), f"own{i}": {"x.bin": random_bytes(500_000, i)}})
        w.art("add", "shared.bin", f"own{i}")
        add_remote(w, url, options)
        clients.append(w)
    results, errors = [None, None], []
    start = threading.Barrier(2)

    def run(i):
        try:
            with clients[i].repo() as repo:
                start.wait()
                results[i] = push(repo)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(r.objects > 0 for r in results)
    for i, w in enumerate(clients):
        other = clone(w, tmp_path / f"clone{i}")
        other.art("pull")
        assert files_under(other.root / f"own{i}") == files_under(w.root / f"own{i}")
        assert (other.root / "shared.bin").read_bytes() == (w.root / "shared.bin").read_bytes()


def test_a_manifest_that_does_not_hash_to_its_id_is_never_stored(ws, tmp_path):
    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.objects import FileManifest, Kind
    from artvc.workspace.pointers import Pointer, write_pointer
    from tests.builders import random_bytes

    parts = [random_bytes(20_000, 1), random_bytes(20_000, 2)]
    lie = hash_bytes(b"something else entirely")  # the id a forged manifest claims
    manifest = FileManifest(lie, 40_000, tuple((hash_bytes(p), len(p)) for p in parts))
    with ws.repo() as repo, repo.store.writer() as w:
        for p in parts:
            w.put(hash_bytes(p), Kind.CHUNK, p)
        w.put(lie, Kind.FILE, manifest.to_bytes())
    write_pointer(ws.root / "forged.bin.art", Pointer(lie, "file", 40_000, 1))
    ws.art("remote", "add", "origin", str(tmp_path / "bucket"), "-d")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    result = other.art("pull", code=None)
    assert_error(result, 3, "failed verification")
    assert "content hashes to" in result.stderr
    assert not (other.root / "forged.bin").exists()
    with other.repo() as repo:
        assert not repo.store.has(lie, Kind.FILE)
