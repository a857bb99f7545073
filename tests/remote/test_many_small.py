"""Push and pull of many small files in a nested tree: the batched closure walk, the ranged reads of local
packs, a push killed at every publication, and a push of one changed file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.remote.conftest import add_remote, art_json, clone, commit, files_under


def _tree(ws, files: int = 300, seed: int = 7) -> None:
    import random

    rng = random.Random(seed)
    spec: dict = {}
    for i in range(files):  # data/tN/lM/fK.bin: three levels of trees, some duplicates and empty files
        leaf = spec.setdefault(f"t{i % 3}", {}).setdefault(f"l{i % 5}", {})
        leaf[f"f{i:04d}.bin"] = b"" if i % 50 == 0 else b"same" if i % 7 == 0 else rng.randbytes(rng.randint(1, 3000))
    ws.gen({"data": spec})
    ws.art("add", "data")


def _closed(bucket: Path) -> list[str]:
    """Objects a remote index lists whose tree or manifest names something no index lists."""
    from artvc.objstore.objects import FileManifest, Kind, Tree
    from artvc.objstore.store.remote import FsspecStore
    from artvc.objstore.types import EntryKind

    remote = FsspecStore(str(bucket), name="origin")
    remote.refresh(use_cache=False)
    bad = []
    for obj in remote.iter_objects():
        oid, kind = obj.oid, obj.kind
        if kind == Kind.TREE:
            for e in Tree.from_bytes(oid, remote.get(oid, Kind.TREE)).entries:
                want = [Kind.TREE] if e.kind == EntryKind.DIR else [Kind.FILE, Kind.CHUNK]
                if e.kind != EntryKind.SYMLINK and not any(remote.has(e.oid, k) for k in want):
                    bad.append(f"tree {oid[:8]} names {e.name} ({e.oid[:8]}), not listed")
        elif kind == Kind.FILE:
            manifest = FileManifest.from_bytes(oid, remote.get(oid, Kind.FILE))
            bad += [f"file {oid[:8]} names chunk {c[:8]}" for c, _ in manifest.chunks if not remote.has(c, Kind.CHUNK)]
    return bad


def _pushes_killed_at_each_publication(ws, bucket: Path, points: int) -> Iterator[int]:
    """For n in 1..points: empty ``bucket``, run a push killed at its n-th publication, yield n (the caller
    checks what the remote lists)."""
    for n in range(1, points + 1):
        shutil.rmtree(bucket)
        bucket.mkdir()
        killed = subprocess.run(
            [sys.executable, "-m", "artvc", "push"],
            cwd=ws.root,
            env={**os.environ, "ART_FAULT": f"remote.publishing@{n}"},
            capture_output=True,
            text=True,
        )
        assert killed.returncode == -9, killed.stderr
        yield n


def test_push_of_many_small_files_in_a_tree_pulls_byte_identical(ws, tmp_path):
    _tree(ws)
    add_remote(ws, str(tmp_path / "bucket"))
    pushed = art_json(ws, "push")
    assert pushed["objects"] > 250 and pushed["missing"] == []
    assert _closed(tmp_path / "bucket") == []
    assert art_json(ws, "push")["objects"] == 0
    other = clone(ws, tmp_path / "clone")
    pulled = art_json(other, "pull")
    assert not pulled["problems"]
    assert files_under(other.root / "data") == files_under(ws.root / "data")
    assert art_json(other, "fsck")["problems"] == []


def test_push_of_one_changed_file_sends_it_and_the_trees_above_it(ws, tmp_path):
    """The walk does not descend into subtrees the remote lists, and what it sends completes the remote."""
    _tree(ws)
    add_remote(ws, str(tmp_path / "bucket"))
    art_json(ws, "push")
    (ws.root / "data" / "t1" / "l2" / "f0007.bin").write_bytes(b"changed once, nowhere else in the tree")
    ws.art("add", "data")
    pushed = art_json(ws, "push")
    # a chunk, l2, t1, data and the add's run record; the walk looked at the 24 siblings on the way down
    # (t0, t2, four l*, the other files of l2), not at the 300 files below them
    assert (pushed["objects"], pushed["already_on_remote"]) == (5, 24)
    assert _closed(tmp_path / "bucket") == []
    other = clone(ws, tmp_path / "clone")
    other.art("pull")
    assert files_under(other.root / "data") == files_under(ws.root / "data")


@pytest.mark.slow
def test_push_killed_at_each_publication_never_lists_an_object_before_its_closure(ws, tmp_path):
    _tree(ws, files=400)
    bucket = tmp_path / "bucket"
    add_remote(ws, str(bucket))
    commit(ws)
    log = tmp_path / "points"
    env = {**os.environ, "ART_FAULT_LOG": str(log)}
    subprocess.run([sys.executable, "-m", "artvc", "push", "-r", "origin"], cwd=ws.root, env=env, check=True)
    points = log.read_text().splitlines().count("remote.publishing")
    assert points >= 3  # a chunk pack, a metadata pack (each: pack file and index), the root record
    for n in _pushes_killed_at_each_publication(ws, bucket, points):
        assert _closed(bucket) == [], n
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    other.art("pull")
    assert files_under(other.root / "data") == files_under(ws.root / "data")


def test_push_from_a_truncated_local_pack_fails_cleanly(ws, tmp_path):
    _tree(ws, files=60)
    add_remote(ws, str(tmp_path / "bucket"))
    pack = max((ws.root / ".art" / "store" / "packs").rglob("*.pack"), key=lambda p: p.stat().st_size)
    with open(pack, "r+b") as f:
        f.truncate(pack.stat().st_size // 3)
    result = ws.art("push", code=None)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert result.stderr.startswith("art: error: ") and "Traceback" not in result.stderr


def _deltas_without_base(ws, bucket: Path) -> list[str]:
    """Chunks the remote lists that the local store keeps as deltas on a chunk the remote does not list."""
    from artvc.objstore.objects import Kind
    from artvc.objstore.store.remote import FsspecStore

    remote = FsspecStore(str(bucket), name="origin")
    remote.refresh(use_cache=False)
    listed = {o.oid for o in remote.iter_objects() if o.kind == Kind.CHUNK}
    with ws.repo() as repo:
        bases = repo.store.delta_bases(listed)
    return [f"{d[:8]} on {b[:8]}" for d, b in bases.items() if b not in listed]


def test_push_of_a_revised_file_sends_the_base_of_its_deltas_first(ws, tmp_path):
    """The closure walk names only the new version's chunks; the chunks they are deltas on go too, published
    before them: a push killed at any publication never lists a delta without its base."""
    from tests.builders import csv_bytes, revised

    data = csv_bytes(300_000, 1)
    (ws.root / "table.csv").write_bytes(data)
    ws.art("add", "table.csv")
    (ws.root / "table.csv").write_bytes(revised(data, 2))
    ws.art("add", "table.csv")
    with ws.repo() as repo:
        from artvc.objstore.objects import Kind

        chunks = {o.oid for o in repo.store.iter_objects() if o.kind == Kind.CHUNK}
        assert repo.store.delta_bases(chunks), "the revision is stored as deltas"
    bucket = tmp_path / "bucket"
    add_remote(ws, str(bucket))
    commit(ws)
    log = tmp_path / "points"
    env = {**os.environ, "ART_FAULT_LOG": str(log)}
    subprocess.run([sys.executable, "-m", "artvc", "push"], cwd=ws.root, env=env, check=True, capture_output=True)
    assert _deltas_without_base(ws, bucket) == [] and _closed(bucket) == []
    points = log.read_text().splitlines().count("remote.publishing")
    for n in _pushes_killed_at_each_publication(ws, bucket, points):
        assert _deltas_without_base(ws, bucket) == [], n
        assert _closed(bucket) == [], n
    ws.art("push")
    other = clone(ws, tmp_path / "clone")
    pulled = art_json(other, "pull")
    assert not pulled["problems"]
    assert (other.root / "table.csv").read_bytes() == revised(data, 2)


def test_a_walk_in_tiny_batches_sends_each_object_once(ws, tmp_path, monkeypatch):
    """The plan's queue and seen table (upload_plan: sqlite, not Python sets) across many batches: duplicate
    files, shared subtrees and one-chunk files met in different batches are sent once, and the remote is
    complete."""
    from artvc.objstore import upload_plan

    _tree(ws, files=120)
    ws.gen({"copy": {"t0": {"l0": {"f0000.bin": b"", "same.bin": b"same"}}}})
    ws.art("add", "copy")
    add_remote(ws, str(tmp_path / "big"), name="big")
    big = art_json(ws, "push", "-r", "big")  # in batches of the default size
    monkeypatch.setattr(upload_plan, "BATCH", 3)
    add_remote(ws, str(tmp_path / "bucket"))
    pushed = art_json(ws, "push", "-r", "origin")
    assert pushed["objects"] == big["objects"] and pushed["missing"] == []
    assert _closed(tmp_path / "bucket") == []
    other = clone(ws, tmp_path / "clone")
    assert not art_json(other, "pull")["problems"]
    assert files_under(other.root / "data") == files_under(ws.root / "data")
