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


@pytest.mark.long
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


def _closure_one_key_at_a_time(store, remote, roots, trust: bool):
    """The plain traversal the plan's walk must agree with: one queue of every key met (trees, files, chunks,
    runs and delta bases alike), each key looked up alone, Python sets. Returns (what to send: key ->
    location, how many the remote lists, the keys missing locally, each tree sent -> its subtrees)."""
    from artvc.objstore.lineage import Run, run_children
    from artvc.objstore.objects import FileManifest, Kind, Tree
    from artvc.objstore.store.delta import DELTA
    from artvc.objstore.types import EntryKind

    queue, seen, send, named, missing, present = list(roots), set(), {}, {}, set(), 0
    while queue:
        oid, kind = queue.pop(0)
        if kind == Kind.FILE and store.locate(oid, kind) is None and store.locate(oid, Kind.CHUNK) is not None:
            kind = Kind.CHUNK  # a one-chunk file is its chunk
        if (oid, kind) in seen:
            continue
        seen.add((oid, kind))
        loc = store.locate(oid, kind)
        if loc is None:
            missing.add((oid, kind))
            continue
        on_remote = bool(remote.has_many([(oid, kind)]))
        present += on_remote
        if on_remote and trust:
            continue
        if not on_remote:
            send[(oid, kind)] = loc
        if kind == Kind.CHUNK:
            if loc.codec == DELTA and not on_remote:
                queue += [(b, Kind.CHUNK) for b in store.delta_bases([oid]).values()]
            continue
        data = store.get(oid, kind)
        if kind == Kind.TREE:
            entries = [e for e in Tree.from_bytes(oid, data).entries if e.kind != EntryKind.SYMLINK]
            queue += [(e.oid, Kind.TREE if e.kind == EntryKind.DIR else Kind.FILE) for e in entries]
            if not on_remote:
                named[oid] = [e.oid for e in entries if e.kind == EntryKind.DIR]
        elif kind == Kind.FILE:
            queue += [(c, Kind.CHUNK) for c, _ in FileManifest.from_bytes(oid, data).chunks]
        else:
            queue += list(run_children(Run.from_bytes(oid, data)))
    return send, present, missing, named


def test_the_plan_walks_files_chunks_and_bases_directly_to_the_same_result(ws, tmp_path, monkeypatch):
    """The walk takes a tree's files, their chunks and the bases of deltas without the plan's queue (only trees
    and runs go through it): what it plans to send, the count the remote lists, the missing keys and each sent
    tree's subtrees are those of a plain one-key-at-a-time traversal, on a tree of sub-folders, one-chunk and
    empty and duplicate files, a many-chunk file revised as deltas and a shared subtree, against an empty
    remote and one holding part of it, trusting the remote and not, in batches of the default size and of 7."""
    from artvc.objstore import upload_plan
    from artvc.objstore.objects import Kind
    from artvc.objstore.store.delta import DELTA
    from artvc.workspace.remote import open_remote
    from artvc.workspace.roots import transfer_roots
    from tests.builders import csv_bytes, revised

    _tree(ws, files=120)
    table = csv_bytes(300_000, 1)
    (ws.root / "data" / "t0" / "table.csv").write_bytes(table)
    ws.art("add", "data")
    (ws.root / "data" / "t0" / "table.csv").write_bytes(revised(table, 2))
    shutil.copytree(ws.root / "data" / "t1", ws.root / "copy")  # the same subtree under another root
    ws.art("add", "data", "copy")
    add_remote(ws, str(tmp_path / "bucket"))
    taken: list[int] = []
    take = upload_plan.Plan._take

    def counted(self):
        keys = take(self)
        taken.extend(k for _, k in keys)
        return keys

    monkeypatch.setattr(upload_plan.Plan, "_take", counted)
    compared = 0
    for pushed_first in (None, "copy"):
        if pushed_first:
            ws.art("push", pushed_first)
        with ws.repo() as repo:
            roots = sorted(transfer_roots(repo))
            assert repo.store.delta_bases(
                {o for o in repo.store.iter_objects() if o.kind == Kind.CHUNK for o in [o.oid]}
            ), "the revision is stored as deltas"
            remote = open_remote(repo, None)
            try:
                remote.refresh()
                for trust in (True, False):
                    want = _closure_one_key_at_a_time(repo.store, remote, roots, trust)
                    assert (want[1] > 0) == bool(pushed_first) and not want[2]
                    assert any(loc.codec == DELTA for loc in want[0].values())  # deltas and their bases go
                    for batch in (10_000, 7):
                        monkeypatch.setattr(upload_plan, "BATCH", batch)
                        with upload_plan.plan_closure(repo.store, remote, roots, trust_remote=trust) as plan:
                            rows = plan.db.execute(
                                "SELECT oid, kind, pack, codec, offset, length, raw_length FROM todo"
                            ).fetchall()
                            sent = {(o.hex(), Kind(k)): tuple(loc) for o, k, *loc in rows}
                            assert len(sent) == len(rows)  # each once
                            got = (sent, plan.present, set(plan.missing), plan.named)
                        assert got == ({k: tuple(v) for k, v in want[0].items()}, *want[1:]), (pushed_first, trust)
                        compared += 1
            finally:
                remote.close()
    assert compared == 8
    assert set(taken) == {Kind.TREE, Kind.RUN}  # through the queue: the roots and the subtrees only
