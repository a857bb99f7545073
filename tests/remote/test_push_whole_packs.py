"""An add that writes more than ``MIXED_AT_MOST`` bytes of chunks keeps its metadata (trees, manifests, the run)
in a pack of its own, sealed after its chunk packs, so a first push publishes every chunk pack as it is (the same
pack name on the remote) instead of copying the last one object by object. A small add still writes one pack."""

from __future__ import annotations

import random
import sqlite3

from artvc.objstore.objects import Kind
from artvc.objstore.store.local_writer import MIXED_AT_MOST
from tests.conftest import Workspace
from tests.remote.conftest import add_remote, art_json, clone, commit, files_under


def _packs(ws: Workspace) -> dict[str, set[int]]:
    """Each local pack's name -> the kinds of the objects its index rows list."""
    db = sqlite3.connect(ws.root / ".art" / "store" / "index.db")
    try:
        rows = db.execute("SELECT p.name, o.kind FROM objects o JOIN packs p ON p.id = o.pack").fetchall()
    finally:
        db.close()
    out: dict[str, set[int]] = {}
    for name, kind in rows:
        out.setdefault(name, set()).add(kind)
    return out


def _remote_packs(bucket) -> set[str]:
    return {p.name.removesuffix(".pack") for p in (bucket / "packs").rglob("*.pack")}


def test_a_large_add_keeps_metadata_apart_and_a_push_publishes_every_chunk_pack_whole(ws, tmp_path):
    rng = random.Random(19)
    files = {f"f{i:05d}.bin": rng.randbytes(rng.randint(3000, 6000)) for i in range(2600)}  # ~11.7 MB of chunks
    assert sum(map(len, files.values())) > MIXED_AT_MOST
    files["big.bin"] = rng.randbytes(3 << 20)  # a file of several chunks: a manifest too
    ws.gen({"data": {"sub": dict(list(files.items())[:100]), **dict(list(files.items())[100:])}})
    ws.art("add", "data")
    packs = _packs(ws)
    chunk_only = {name for name, kinds in packs.items() if kinds == {int(Kind.CHUNK)}}
    meta_only = {name for name, kinds in packs.items() if int(Kind.CHUNK) not in kinds}
    assert chunk_only and meta_only
    assert chunk_only | meta_only == set(packs), packs  # no pack mixes chunks and metadata
    meta_kinds = set().union(*(packs[name] for name in meta_only))
    assert {int(Kind.TREE), int(Kind.FILE)} <= meta_kinds

    bucket = tmp_path / "bucket"
    add_remote(ws, str(bucket))
    commit(ws)
    pushed = art_json(ws, "push")
    assert pushed["missing"] == []
    assert chunk_only <= _remote_packs(bucket)  # published as they are: the same names

    other = clone(ws, tmp_path / "clone")
    assert not art_json(other, "pull")["problems"]
    assert files_under(other.root / "data") == files_under(ws.root / "data")
    assert other.art("fsck").exit_code == 0


def test_a_small_add_writes_one_pack_holding_chunks_and_metadata(ws):
    rng = random.Random(20)
    ws.gen({"data": {f"f{i}.bin": rng.randbytes(2000) for i in range(50)}})
    ws.art("add", "data")
    packs = _packs(ws)
    assert len(packs) == 1
    assert {int(Kind.CHUNK), int(Kind.TREE)} <= next(iter(packs.values()))
