"""A damaged remote is repaired from a clone that holds the data intact (item 9 of the safety issue).

Damage is done the way bit rot, a careless admin or a lost upload leave it: a flipped byte in a pack, a pack
deleted while its index stays, an index deleted. After 'art fsck --remote --repair' (or 'art push --full' for
structural damage) a fresh clone pulls byte-identical data and 'art fsck --remote --read-data' passes.
"""

import json

import pytest

from tests.remote.conftest import art_json, assert_error, clone, files_under, use_bucket

BACKENDS = ["file", "s3"]
# the S3 runs of the longer scenarios take 10-20 s each on moto: slow tier (the directory runs stay default)
HEAVY = ["file", pytest.param("s3", marks=pytest.mark.slow)]


def _packs(bucket) -> dict[str, int]:
    found = bucket.fs.find(bucket.join("packs"), detail=True)
    return {p["name"]: p["size"] for p in found.values() if p["name"].endswith(".pack")}


def _largest_pack(bucket) -> str:
    packs = _packs(bucket)
    return max(packs, key=packs.get)


def _replace(bucket, key: str, data: bytes) -> None:
    """Write a new file (a directory remote may share the old one's inode with the pushing clone's store)."""
    bucket.fs.rm_file(key)
    bucket.fs.pipe_file(key, data)


def _flip(bucket, key: str, offset: int) -> None:
    data = bytearray(bucket.fs.cat_file(key))
    data[offset] ^= 0x40
    _replace(bucket, key, bytes(data))


def _index_of(bucket, pack_key: str) -> str:
    name = pack_key.rsplit("/", 1)[1][: -len(".pack")]
    found = [p for p in bucket.fs.find(bucket.join("index")) if p.endswith(f"/{name}.idx")]
    return found[0] if found else bucket.join("index", f"{name}.idx")


def _pulls_identically(source, tmp_path, name: str, check_remote: bool = True) -> None:
    other = clone(source, tmp_path / name)
    other.art("pull")
    assert files_under(other.root / "data") == files_under(source.root / "data")
    assert (other.root / "model.bin").read_bytes() == (source.root / "model.bin").read_bytes()
    if check_remote:
        assert art_json(other, "fsck", "--remote", "origin", "--read-data")["problems"] == []


@pytest.mark.parametrize("bucket", HEAVY, indirect=True)
def test_a_flipped_byte_in_a_remote_pack_is_repaired_from_a_clone(data_ws, bucket, tmp_path):
    use_bucket(data_ws, bucket)
    data_ws.art("push")
    key = _largest_pack(bucket)
    _flip(bucket, key, _packs(bucket)[key] // 3)  # inside the payload of model.bin's chunks
    assert art_json(data_ws, "push", "--full")["objects"] == 0  # structure is fine: push cannot see it
    found = data_ws.art("fsck", "--remote", "origin", "--read-data", code=3)
    assert "art fsck --remote origin --repair --read-data" in found.stderr

    report = art_json(data_ws, "fsck", "--remote", "origin", "--read-data", "--repair")
    assert report["problems"] and report["remaining"] == []
    repair = report["repair"]
    assert repair["uploaded"] > 0 and repair["retired"] + repair["replaced"] == [key.rsplit("/", 1)[1][:-5]]
    if repair["retired"]:
        assert key not in _packs(bucket) and not bucket.fs.exists(_index_of(bucket, key))
    _pulls_identically(data_ws, tmp_path, "clone")


@pytest.mark.parametrize("bucket", HEAVY, indirect=True)
def test_a_deleted_pack_gives_a_clear_pull_error_and_is_repaired(data_ws, bucket, tmp_path):
    use_bucket(data_ws, bucket)
    data_ws.art("push")
    key = _largest_pack(bucket)
    bucket.fs.rm_file(key)  # its index stays: readers are told the pack exists

    broken = clone(data_ws, tmp_path / "broken")
    result = broken.art("pull", code=None)
    assert_error(result, 3, "but the pack file is missing")
    assert "art fsck --remote origin --repair" in result.stderr
    assert "Traceback" not in result.stderr

    assert art_json(data_ws, "fsck", "--remote", "origin", code=3)["problems"][0]["detail"] == "indexed pack is missing"
    report = art_json(data_ws, "fsck", "--remote", "origin", "--repair")
    repair = report["repair"]
    assert report["remaining"] == [] and repair["retired"] + repair["replaced"] == [key.rsplit("/", 1)[1][:-5]]
    broken.art("pull")  # the clone that failed now completes
    assert (broken.root / "model.bin").read_bytes() == (data_ws.root / "model.bin").read_bytes()
    assert files_under(broken.root / "data") == files_under(data_ws.root / "data")
    _pulls_identically(data_ws, tmp_path, "clone")


@pytest.mark.long
@pytest.mark.parametrize("bucket", BACKENDS, indirect=True)
def test_push_full_repairs_a_deleted_pack_and_a_deleted_index(data_ws, bucket, tmp_path):
    use_bucket(data_ws, bucket)
    data_ws.art("push")
    packs = sorted(_packs(bucket), key=_packs(bucket).get)
    bucket.fs.rm_file(packs[-1])  # a pack without its file
    bucket.fs.rm_file(_index_of(bucket, packs[0]))  # an index lost
    assert art_json(data_ws, "push", "--full")["objects"] > 0
    assert art_json(data_ws, "fsck", "--remote", "origin")["problems"] == []
    _pulls_identically(data_ws, tmp_path, "clone")


def test_a_damaged_index_is_rewritten_from_its_pack_trailer(data_ws, tmp_path):
    bucket_dir = tmp_path / "bucket"
    data_ws.art("remote", "add", "origin", str(bucket_dir), "-d")
    data_ws.art("push")
    idx = sorted((bucket_dir / "index").rglob("*.idx"))[0]
    raw = bytearray(idx.read_bytes())
    raw[-1] ^= 1
    idx.unlink()
    idx.write_bytes(bytes(raw))
    report = art_json(data_ws, "fsck", "--remote", "origin", "--repair")
    assert report["repair"]["reindexed"] == [idx.name[:-4]] and report["repair"]["uploaded"] == 0
    assert art_json(data_ws, "fsck", "--remote", "origin", "--read-data")["problems"] == []


def _two_copies(ws, tmp_path):
    """Push, then publish every object of the largest pack a second time in another pack (as a second client
    that never saw the first would); return the remote directory and the first pack's file."""
    from artvc.objstore.objects import Kind
    from artvc.objstore.store.remote import FsspecStore

    bucket_dir = tmp_path / "bucket"
    ws.art("remote", "add", "origin", str(bucket_dir), "-d", "-o", "hardlinks=false")
    ws.art("push")
    first = max((bucket_dir / "packs").rglob("*.pack"), key=lambda p: p.stat().st_size)
    with ws.repo() as repo:
        remote = FsspecStore(str(bucket_dir), name="origin")
        listed = remote.packs[first.stem]
        remote.avoid(first.stem)  # as a client that never saw that pack: it sends the same objects again
        with remote.writer() as writer:
            for e in reversed(listed):  # in another order: another pack name
                codec, stored, raw = repo.store.get_stored(e.oid, Kind(e.kind))
                writer.put_stored(e.oid, Kind(e.kind), codec, stored, raw)
    assert len(list((bucket_dir / "index").rglob("*.idx"))) == len(remote.packs) + 1
    return bucket_dir, first


def _damage(pack) -> None:
    raw = bytearray(pack.read_bytes())
    for offset in range(8, len(raw) // 2, 4096):  # many of its objects
        raw[offset] ^= 0x40
    pack.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["deleted", "flipped"])
def test_pull_reads_another_copy_when_a_listed_pack_is_damaged(data_ws, tmp_path, damage):
    """Two packs list the same objects (two clients pushed them); losing or damaging one loses nothing."""
    _, first = _two_copies(data_ws, tmp_path)
    first.unlink() if damage == "deleted" else _damage(first)
    other = clone(data_ws, tmp_path / "clone")
    other.art("pull")
    assert (other.root / "model.bin").read_bytes() == (data_ws.root / "model.bin").read_bytes()
    assert json.loads(other.art("fsck", "--json").stdout)["problems"] == []


@pytest.mark.parametrize("point", ["repair.uploaded", "repair.retiring"])
def test_a_repair_killed_midway_leaves_a_readable_remote_and_resumes(data_ws, tmp_path, point):
    import os
    import subprocess
    import sys

    _, first = _two_copies(data_ws, tmp_path)
    _damage(first)
    killed = subprocess.run(
        [sys.executable, "-m", "artvc", "fsck", "--remote", "origin", "--read-data", "--repair"],
        cwd=data_ws.root,
        env={**os.environ, "ART_FAULT": point},
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -9, killed.stderr
    _pulls_identically(data_ws, tmp_path, "during", check_remote=False)  # readers skip the damaged copy
    report = art_json(data_ws, "fsck", "--remote", "origin", "--read-data", "--repair")
    assert report["remaining"] == [] and report["repair"]["retired"] == [first.stem]
    assert not first.exists()
    _pulls_identically(data_ws, tmp_path, "after")
