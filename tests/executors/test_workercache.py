"""A worker's cache (artvc/pipeline/executors/workercache.py) reports a failed download the way fetch and pull
do: one error naming the object and the remote, with the same hint."""

from __future__ import annotations

import pytest

from artvc.errors import IntegrityError, TransferError
from artvc.objstore.hashing import hash_bytes
from artvc.pipeline.executors.workercache import WorkerCache
from artvc.workspace.pointers import read_pointer


def _pushed(ws, tmp_path):
    ws.gen({"data": {"a.txt": "alpha\n" * 100, "b.txt": "beta\n" * 100}})
    ws.art("add", "data")
    remote = tmp_path / "remote"
    ws.art("remote", "add", "origin", str(remote))
    ws.art("push")
    return remote


def test_an_object_the_remote_lacks_is_named_with_the_fetch_hint(ws, tmp_path):
    remote = _pushed(ws, tmp_path)
    cache = WorkerCache(tmp_path / "worker", {"url": str(remote), "name": "origin"})
    absent = str(hash_bytes(b"never pushed"))
    with pytest.raises(TransferError) as info:
        cache.fetch([(absent, "file")])
    assert absent[:10] in str(info.value) and "'origin'" in str(info.value)
    assert "art push" in (info.value.hint or "")


def test_a_damaged_remote_pack_fails_verification_and_stores_nothing(ws, tmp_path):
    remote = _pushed(ws, tmp_path)
    for pack in remote.rglob("*.pack"):
        data = bytearray(pack.read_bytes())
        data[20] ^= 0xFF
        pack.write_bytes(bytes(data))
    tree = read_pointer(ws.root / "data.art", where="data.art").oid
    cache = WorkerCache(tmp_path / "worker", {"url": str(remote), "name": "origin"})
    with pytest.raises(IntegrityError) as info:
        cache.fetch([(tree, "tree")])
    assert "failed verification" in str(info.value)
    assert "art fsck --remote origin" in (info.value.hint or "")
    assert cache.store.stats()["objects"] < 3
