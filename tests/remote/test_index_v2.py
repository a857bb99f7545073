"""Remote index v2 (objstore/store/midx.py, remote_ckpt.py, objstore/remote_compact.py): checkpoints over the
per-pack indexes, epoch folders, lookups through cached blocks, compaction, gc and repair with a checkpoint."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from artvc.errors import FormatError
from artvc.objstore.oid import Oid
from artvc.objstore.remote_compact import compact, prune
from artvc.objstore.store import midx
from artvc.objstore.store.pack import PackEntry, encode_entries, pack_name
from artvc.objstore.store.remote import RemoteStore
from tests.builders import random_bytes
from tests.remote.conftest import art_json, clone, files_under


def _store(path: Path, cache: Path | None = None) -> RemoteStore:
    return RemoteStore.open(str(path), cache_dir=str(cache) if cache else tempfile.mkdtemp())


def _synthetic(path: Path, packs: int, per_pack: int, *, seed: int = 0, dupes: int = 0) -> dict:
    """Publish ``packs`` indexes of random entries (no pack files: index operations only); return
    {(oid, kind): {pack names}}."""
    rng = random.Random(seed)
    store = _store(path)
    where: dict = {}
    earlier: list[PackEntry] = []
    for _ in range(packs):
        entries = [
            PackEntry(Oid(rng.randbytes(32).hex()), rng.randrange(4), 0, 8 + i * 100, 100, 100) for i in range(per_pack)
        ]
        entries += [
            PackEntry(e.oid, e.kind, 0, 8 + (per_pack + i) * 100, 100, 100) for i, e in enumerate(earlier[:dupes])
        ]
        name = str(pack_name(encode_entries(entries)))
        store.publish_index(name, entries)
        for e in entries:
            where.setdefault((e.oid, e.kind), set()).add(name)
        earlier = entries
    return where


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_lookups_through_a_checkpoint_find_what_the_indexes_list(tmp_path):
    where = _synthetic(tmp_path / "r", packs=12, per_pack=700, dupes=50)
    result = compact(_store(tmp_path / "r"))
    assert result.folded == 12 and result.entries == 12 * 700 + 11 * 50
    reader = _store(tmp_path / "r")
    reader.refresh()
    assert reader.checkpoints.active and reader.window == {}
    listed = reader.requests
    for (oid, kind), packs in random.Random(1).sample(sorted(where.items()), 300):
        loc = reader.locate(oid, kind)
        assert loc is not None and loc.pack in packs and loc.entry.oid == oid
    assert reader.locate(Oid("ab" * 32), 0) is None
    # each pack found joins the window with its index: its other objects need no block
    assert reader.requests - listed <= 3 * 12 + 4
    full = _store(tmp_path / "r")
    assert {(o.oid, int(o.kind)) for o in full.iter_objects()} == set(where)


def test_two_compactions_of_the_same_remote_write_identical_files(tmp_path):
    _synthetic(tmp_path / "a", packs=9, per_pack=500, seed=3)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    one, two = compact(_store(tmp_path / "a")), compact(_store(tmp_path / "b"))
    assert one.manifest == two.manifest
    assert _tree(tmp_path / "a" / "index") == _tree(tmp_path / "b" / "index")


def test_concurrent_compactions_in_two_processes_agree(tmp_path):
    _synthetic(tmp_path / "r", packs=8, per_pack=800, seed=5)
    code = (
        "import sys, tempfile\n"
        "from artvc.objstore.store.remote import RemoteStore\n"
        "from artvc.objstore.remote_compact import compact\n"
        "r = compact(RemoteStore.open(sys.argv[1], cache_dir=tempfile.mkdtemp()))\n"
        "print(r.manifest)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "r")], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate()[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    # at the same time both write the same files; one that starts after the other ends has nothing to do
    assert len({o for o in outs if o != "None"}) == 1
    assert len(list((tmp_path / "r" / "index").glob("*.ckpt"))) == 1


def test_new_indexes_after_a_checkpoint_form_the_window_and_fold_in_next_time(tmp_path):
    where = _synthetic(tmp_path / "r", packs=5, per_pack=300)
    compact(_store(tmp_path / "r"))
    more = _synthetic(tmp_path / "r", packs=3, per_pack=300, seed=9)
    reader = _store(tmp_path / "r")
    reader.refresh()
    assert set(reader.window) == {n for ns in more.values() for n in ns}
    second = compact(_store(tmp_path / "r"))
    assert second.gen == 2 and second.folded == 3 and second.written >= 1
    reader = _store(tmp_path / "r")
    reader.refresh()
    assert reader.window == {}
    for (oid, kind), packs in list({**where, **more}.items())[::37]:
        assert reader.locate(oid, kind).pack in packs
    assert prune(_store(tmp_path / "r")), "gen 1's manifest is superseded"
    assert len(list((tmp_path / "r" / "index").glob("*.ckpt"))) == 1


def test_a_damaged_block_falls_back_to_the_indexes_and_rebuild_repairs_it(tmp_path):
    where = _synthetic(tmp_path / "r", packs=4, per_pack=600)
    compact(_store(tmp_path / "r"))
    table = next((tmp_path / "r" / "index" / "midx" / "tables").glob("*.tbl"))
    data = bytearray(table.read_bytes())
    data[-10] ^= 0xFF
    table.write_bytes(bytes(data))
    reader = _store(tmp_path / "r")
    reader.refresh()
    for (oid, kind), packs in list(where.items())[::50]:
        assert reader.locate(oid, kind).pack in packs
    assert reader.problems and "damaged" in reader.problems[0]
    compact(_store(tmp_path / "r"), rebuild=True)
    prune(_store(tmp_path / "r"))
    healthy = _store(tmp_path / "r")
    healthy.refresh()
    for (oid, kind), packs in list(where.items())[::50]:
        assert healthy.locate(oid, kind).pack in packs
    assert healthy.problems == []


def test_a_missing_table_falls_back_too(tmp_path):
    where = _synthetic(tmp_path / "r", packs=3, per_pack=200)
    compact(_store(tmp_path / "r"))
    for t in (tmp_path / "r" / "index" / "midx" / "tables").glob("*.tbl"):
        t.unlink()
    reader = _store(tmp_path / "r")
    oid, kind = next(iter(where))
    assert reader.locate(oid, kind).pack in where[(oid, kind)]
    assert reader.problems


@pytest.mark.parametrize("point", ["compact.table", "compact.manifest"])
def test_a_compaction_killed_midway_leaves_a_readable_remote(tmp_path, point):
    where = _synthetic(tmp_path / "r", packs=4, per_pack=300)
    code = (
        "import sys, tempfile\n"
        "from artvc.objstore.store.remote import RemoteStore\n"
        "from artvc.objstore.remote_compact import compact\n"
        "compact(RemoteStore.open(sys.argv[1], cache_dir=tempfile.mkdtemp()))\n"
    )
    env = dict(os.environ, ART_FAULT=f"{point}:kill")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], env=env, capture_output=True)
    assert proc.returncode != 0
    assert not list((tmp_path / "r" / "index").glob("*.ckpt"))
    reader = _store(tmp_path / "r")
    for (oid, kind), packs in list(where.items())[::40]:
        assert reader.locate(oid, kind).pack in packs
    assert compact(_store(tmp_path / "r")).gen == 1


def test_a_v1_remote_with_flat_indexes_is_read_and_migrated(tmp_path):
    where = _synthetic(tmp_path / "r", packs=4, per_pack=200)
    index = tmp_path / "r" / "index"
    for idx in list(index.rglob("*.idx")):  # as an older art wrote them: index/<name>.idx
        idx.rename(index / idx.name)
    for d in [d for d in index.iterdir() if d.is_dir()]:
        d.rmdir()
    reader = _store(tmp_path / "r")
    reader.refresh()
    assert len(reader.window) == 4
    first = compact(_store(tmp_path / "r"))
    assert first.folded == 4
    newer = _synthetic(tmp_path / "r", packs=2, per_pack=200, seed=4)
    assert all(
        p.parent.name.isdigit() for p in index.rglob("*.idx") if p.stem in {n for s in newer.values() for n in s}
    )
    reader = _store(tmp_path / "r")
    for (oid, kind), packs in list({**where, **newer}.items())[::23]:
        assert reader.locate(oid, kind).pack in packs


def test_push_pull_gc_and_fsck_work_on_a_compacted_remote(ws, tmp_path):
    remote = tmp_path / "remote"
    ws.art("remote", "add", "origin", str(remote), "--default")
    shared = random_bytes(400_000, seed=1)
    for i in range(3):
        ws.gen({"f.bin": shared + random_bytes(200_000, seed=10 + i), f"s{i}.txt": f"s {i}\n"})
        ws.art("add", "f.bin", f"s{i}.txt")
        ws.git("add", "-A")
        ws.git("commit", "-qm", f"v{i}")
        ws.art("push")
    report = art_json(ws, "remote", "compact")
    assert report["generation"] == 1 and report["indexes_folded"] >= 3
    assert art_json(ws, "remote", "compact")["manifest"] is None  # nothing new
    other = clone(ws, tmp_path / "clone")
    other.art("pull")
    assert files_under(other.root).keys() >= {"f.bin", "s2.txt"}
    assert (other.root / "f.bin").read_bytes() == (ws.root / "f.bin").read_bytes()
    assert art_json(ws, "fsck", "--remote", "origin", "--read-data")["problems"] == []
    ws.art("gc", "--remote", "origin", "--keep-last", "1", "--grace", "0")
    assert len(list((remote / "index").glob("*.ckpt"))) == 1, "gc pruned the superseded checkpoint"
    third = clone(ws, tmp_path / "third")
    third.art("pull")
    assert (third.root / "f.bin").read_bytes() == (ws.root / "f.bin").read_bytes()
    assert art_json(ws, "fsck", "--remote", "origin", "--read-data")["problems"] == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_hostile_manifest_bytes_are_refused_cleanly(data):
    try:
        midx.decode_manifest(data)
    except FormatError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=2000))
def test_manifest_round_trip_and_mutations(n_recent, seed):
    rng = random.Random(seed)
    blocks = tuple(sorted((rng.randbytes(33), rng.randbytes(32).hex()) for _ in range(3)))
    table = midx.TableRef(rng.randbytes(32).hex(), rng.randbytes(32).hex(), 2 * midx.BLOCK_ENTRIES + 5, 7, blocks)
    m = midx.Manifest(seed + 1, 20261130, (table,), frozenset(rng.randbytes(32).hex() for _ in range(n_recent)))
    data = midx.encode_manifest(m)
    assert midx.decode_manifest(data) == m
    cut = rng.randrange(len(data))
    with pytest.raises(FormatError):
        midx.decode_manifest(data[:cut])


def test_fsck_reports_a_checkpoint_that_disagrees_with_the_indexes_and_repair_rebuilds_it(ws, tmp_path):
    remote = tmp_path / "remote"
    ws.art("remote", "add", "origin", str(remote), "--default")
    for i in range(2):
        ws.gen({f"d{i}.bin": random_bytes(300_000, seed=i)})
        ws.art("add", f"d{i}.bin")
        ws.art("push")
    ws.art("remote", "compact")
    table = next((remote / "index" / "midx" / "tables").glob("*.tbl"))
    data = bytearray(table.read_bytes())
    data[-5] ^= 0x01
    table.write_bytes(bytes(data))
    report = art_json(ws, "fsck", "--remote", "origin", code=3)
    assert [p["kind"] for p in report["problems"]] == ["checkpoint"]
    assert "compact --rebuild" in report["problems"][0]["detail"]
    fixed = art_json(ws, "fsck", "--remote", "origin", "--repair")
    assert fixed["repair"]["checkpoint_rebuilt"] is True
    assert art_json(ws, "fsck", "--remote", "origin", "--read-data")["problems"] == []


def test_has_many_samples_chunks_on_a_large_checkpoint_and_finds_their_neighbours(tmp_path, monkeypatch):
    from artvc.objstore.objects import Kind
    from artvc.objstore.store import remote as remote_mod

    rng = random.Random(7)
    store = _store(tmp_path / "r")
    sampled = "0000" + rng.randbytes(30).hex()  # 0x0000 % CHUNK_SAMPLE == 0: looked up through the checkpoint
    chunks = [Oid(sampled)] + [Oid("ff" + rng.randbytes(31).hex()) for _ in range(299)]  # never sampled
    entries = [PackEntry(o, int(Kind.CHUNK), 0, 8 + i * 100, 100, 100) for i, o in enumerate(chunks)]
    store.publish_index(str(pack_name(encode_entries(entries))), entries)
    _synthetic(tmp_path / "r", packs=3, per_pack=500, seed=8)
    compact(_store(tmp_path / "r"))
    monkeypatch.setattr(remote_mod, "EXHAUSTIVE_BLOCKS", 0)
    reader = _store(tmp_path / "r")
    reader.refresh()
    new = [(Oid("ff" + rng.randbytes(31).hex()), Kind.CHUNK) for _ in range(50)]
    there = reader.has_many([(o, Kind.CHUNK) for o in chunks] + new)
    assert there == {(o, Kind.CHUNK) for o in chunks}  # the sampled one brought its 299 neighbours
    only_unsampled = _store(tmp_path / "r")
    only_unsampled.refresh()
    assert only_unsampled.has_many([(o, Kind.CHUNK) for o in chunks[1:]]) == set()  # absent: sent again, safely


def test_a_rebuild_over_many_indexes_sorts_them_in_bounded_groups_and_finds_everything(tmp_path, monkeypatch):
    from artvc.objstore import remote_compact

    monkeypatch.setattr(remote_compact, "GROUP", 3)  # 10 indexes: four sorted runs merged on disk
    where = _synthetic(tmp_path / "r", packs=10, per_pack=150, dupes=20)
    one = compact(_store(tmp_path / "r"), rebuild=True)
    assert one.folded == 10 and one.tables == 1
    shutil.copytree(tmp_path / "r", tmp_path / "copy")
    reader = _store(tmp_path / "r")
    for (oid, kind), packs in where.items():
        assert reader.locate(oid, kind).pack in packs
    monkeypatch.setattr(remote_compact, "GROUP", 256)  # the grouping does not change a byte of the result
    shutil.rmtree(tmp_path / "copy" / "index" / "midx")
    for manifest in (tmp_path / "copy" / "index").glob("*.ckpt"):
        manifest.unlink()
    assert compact(_store(tmp_path / "copy"), rebuild=True).manifest == one.manifest


def _live_lock(remote: Path, holder: str, exclusive: bool) -> Path:
    import json
    import socket
    import time

    (remote / "locks").mkdir(exist_ok=True)
    lock = remote / "locks" / "other.json"
    lock.write_text(
        json.dumps(
            {
                "token": "other",
                "host": socket.gethostname(),
                "pid": os.getppid(),
                "time": time.time(),
                "exclusive": exclusive,
                "holder": holder,
            }
        )
    )
    return lock


def test_compaction_and_gc_exclude_each_other(ws, tmp_path):
    remote = tmp_path / "remote"
    ws.art("remote", "add", "origin", str(remote), "--default")
    ws.gen({"a.bin": random_bytes(100_000, seed=3)})
    ws.art("add", "a.bin")
    ws.art("push")
    lock = _live_lock(remote, "art gc", exclusive=True)
    r = ws.art("remote", "compact", code=11)
    assert "locked by art gc" in r.stderr
    assert not list((remote / "index").glob("*.ckpt"))
    lock.unlink()
    lock = _live_lock(remote, "art remote compact", exclusive=False)
    ws.art("remote", "compact")  # compactions share the lock with pushes and with each other
    r = ws.art("gc", "--remote", "origin", "--grace", "0", code=11)
    assert "art remote compact" in r.stderr
    lock.unlink()
    ws.art("gc", "--remote", "origin", "--grace", "0")


@pytest.mark.slow
def test_a_v1_remote_migrates_while_several_clients_push_and_one_compacts(ws, tmp_path):
    remote = tmp_path / "remote"
    ws.art("remote", "add", "origin", str(remote), "--default")
    ws.gen({"base.bin": random_bytes(200_000, seed=1)})
    ws.art("add", "base.bin")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "base")
    ws.art("push")
    index = remote / "index"
    for idx in list(index.rglob("*.idx")):  # what an older art left: flat indexes
        idx.rename(index / idx.name)
    for d in [d for d in index.iterdir() if d.is_dir()]:
        d.rmdir()
    clients = []
    for i in range(3):
        c = clone(ws, tmp_path / f"c{i}")
        for j in range(3):
            c.gen({f"c{i}-{j}.bin": random_bytes(60_000, seed=100 * i + j)})
        c.art("add", *[f"c{i}-{j}.bin" for j in range(3)])
        c.git("add", "-A")
        c.git("commit", "-qm", f"c{i}")
        clients.append(c)
    exe = str(Path(sys.executable).parent / "art")
    env = dict(os.environ, ART_FAULT="")
    pushes = [subprocess.Popen([exe, "push", "-q"], cwd=c.root, env=env) for c in clients]
    compactor = subprocess.run([exe, "remote", "compact", "-q"], cwd=ws.root, env=env, capture_output=True, text=True)
    assert [p.wait() for p in pushes] == [0, 0, 0]
    assert compactor.returncode == 0, compactor.stderr
    ws.art("remote", "compact")  # folds whatever the first one did not see
    assert art_json(ws, "fsck", "--remote", "origin", "--read-data")["problems"] == []
    for i, c in enumerate(clients):
        other = clone(c, tmp_path / f"check{i}")
        other.art("pull")
        for j in range(3):
            assert (other.root / f"c{i}-{j}.bin").read_bytes() == (c.root / f"c{i}-{j}.bin").read_bytes()
    reader = _store(remote)
    reader.refresh()
    assert reader.checkpoints.active and reader.window == {}
