"""Push and pull of a flat folder of small files do each piece of work once, counted: a pull's checkout does
not ask the store again for the files the fetch just verified and stored, each remote index is decoded once
per use and cached as it came (not encoded again), and a push's plan looks each one-chunk file up once."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.conftest import Workspace
from tests.remote.conftest import add_remote, art_json, clone, count_calls, files_under, flat_clone


def _flat(ws: Workspace, tmp_path: Path, *, folders: int = 2, files: int = 150) -> Workspace:
    return flat_clone(ws, tmp_path, seed=18, folders=folders, files=files)


@pytest.mark.long
def test_a_pull_checks_out_what_it_fetched_without_asking_the_store_again(ws, tmp_path, monkeypatch):
    """The download proves the folders' trees complete (it met and stored everything below them) and says
    so in the completeness memo, so the checkout's plan checks none of their files for presence (on the old
    code: one query per 2,048 files of each folder)."""
    from artvc.workspace import checkout_plan

    other = _flat(ws, tmp_path)
    absent = count_calls(monkeypatch, checkout_plan, "_absent")
    pulled = art_json(other, "pull")
    assert not pulled["problems"] and pulled["files_written"] == 300
    assert absent == []
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    assert files_under(other.root / "d1") == files_under(ws.root / "d1")


def test_a_download_that_trusted_a_local_tree_leaves_the_trees_above_it_to_the_checkout(ws, tmp_path, monkeypatch):
    """A tree found in the local store is trusted, not walked: the trees above it are stored but not recorded
    complete by the download, so the checkout still checks their files (here: a folder holding a copy of
    one already pulled)."""
    from artvc.workspace import checkout_plan

    other = _flat(ws, tmp_path, folders=1)
    art_json(other, "pull")
    ws.gen({"top": {}})
    (ws.root / "d0").rename(ws.root / "top" / "d0")  # the same tree, now below a new one
    ws.gen({"top": {"new.bin": b"new"}})
    ws.art("rm", "d0")
    ws.art("add", "top")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "top")
    assert art_json(ws, "push")["missing"] == []
    other.git("pull", "-q", "origin", "HEAD")
    absent = count_calls(monkeypatch, checkout_plan, "_absent")
    assert not art_json(other, "pull")["problems"]
    assert absent != []
    assert files_under(other.root / "top") == files_under(ws.root / "top")


def test_a_pull_decodes_each_remote_index_once_per_use_and_caches_it_as_it_came(ws, tmp_path, monkeypatch):
    """With the view spilled to its file (as at 100,000 files), a whole pack's entries come from the cached
    index once: to decide that it is fetched whole and to import it (the old code decoded it twice there),
    and the index cache is written from the downloaded bytes, never re-encoded."""
    from artvc.objstore import transfer
    from artvc.objstore.store import remote, remote_view

    other = _flat(ws, tmp_path)
    monkeypatch.setattr(remote_view, "SPILL", 1)
    decoded = count_calls(monkeypatch, remote, "check_index")
    encoded = count_calls(monkeypatch, remote, "encode_index")
    whole = count_calls(monkeypatch, transfer._Download, "_import_pack")
    pulled = art_json(other, "pull")
    assert not pulled["problems"] and pulled["files_written"] == 300
    indexes = sorted((tmp_path / "bucket" / "index").rglob("*.idx"))
    assert whole  # the pack of the files' chunks came whole
    assert len(decoded) == len(indexes) + len(whole)  # the refresh reads each; a whole pack's once more, not twice
    assert encoded == []
    cached = {p.name: p.read_bytes() for p in (other.root / ".art").rglob("*.idx")}
    assert {p.name: p.read_bytes() for p in indexes}.items() <= cached.items()


def test_a_push_looks_each_one_chunk_file_up_once(ws, tmp_path, monkeypatch):
    """The plan marks a one-chunk file's chunk key seen without a second lookup (``Plan._as_chunks``): the
    keys through ``Plan._fresh`` are the objects sent, each once, not each file twice."""
    from artvc.objstore import upload_plan

    ws.gen({"data": {f"f{i:04d}.bin": random.Random(i).randbytes(100 + i) for i in range(200)}})
    ws.art("add", "data")
    add_remote(ws, str(tmp_path / "bucket"))
    keys: list[int] = []
    real = upload_plan.Plan._fresh

    def counted(self, batch):
        keys.append(len(batch))
        return real(self, batch)

    monkeypatch.setattr(upload_plan.Plan, "_fresh", counted)
    pushed = art_json(ws, "push")
    assert pushed["objects"] >= 201 and pushed["missing"] == []  # the files, their tree, the records of adds
    assert sum(keys) == pushed["objects"]  # each key once (the old code: each file's key, then its chunk's)
    other = clone(ws, tmp_path / "clone")
    assert not art_json(other, "pull")["problems"]
    assert files_under(other.root / "data") == files_under(ws.root / "data")


def test_a_pull_failing_on_one_whole_pack_leaves_no_download_of_the_next_behind(ws, tmp_path):
    """Two whole packs, the second downloaded while the first is imported: a write error on the first stops
    the pull, and neither pack's temp file stays in the store's ``tmp/`` (the next one's is removed, not only
    the failing one's)."""
    import os
    import subprocess
    import sys

    rng = random.Random(19)
    add_remote(ws, str(tmp_path / "bucket"))
    for f in range(2):  # one push each: two remote packs of chunks
        ws.gen({f"d{f}": {f"f{i:04d}.bin": rng.randbytes(rng.randint(1, 2000)) for i in range(100)}})
        ws.art("add", f"d{f}")
        assert art_json(ws, "push")["missing"] == []
    other = clone(ws, tmp_path / "clone")
    failed = subprocess.run(
        [sys.executable, "-m", "artvc", "pull"],
        cwd=other.root,
        env={**os.environ, "ART_FAULT": "fetch.pack-copied:enospc"},
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 13, failed.stderr
    assert sorted(os.listdir(other.root / ".art" / "store" / "tmp")) == []
    assert not art_json(other, "pull")["problems"]
    assert files_under(other.root / "d1") == files_under(ws.root / "d1")


def test_a_pull_writes_the_small_files_it_verified_without_hashing_them_again(ws, tmp_path, monkeypatch):
    """The fetch verifies every object of a whole pack as it adopts it (``FileStage.proved_packs``), so the
    checkout in the same pull writes those one-chunk files without a second blake3 each (the old code hashed
    all 300 again); a later plain checkout hashes no one-chunk file of the local store (docs/design.md)."""
    from artvc.objstore import materialize

    other = _flat(ws, tmp_path)
    rehashed = count_calls(monkeypatch, materialize, "hashes_to")
    pulled = art_json(other, "pull")
    assert not pulled["problems"] and pulled["files_written"] == 300
    assert rehashed == []
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    assert files_under(other.root / "d1") == files_under(ws.root / "d1")
    import shutil

    shutil.rmtree(other.root / "d0")
    other.art("checkout", "d0")
    assert rehashed == []
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")


def test_a_pull_hashes_again_what_it_did_not_verify_itself_and_refuses_a_damaged_copy(ws, tmp_path):
    """Only the packs this pull adopted are trusted: a file whose chunk the local store held before (in a pack
    damaged since) is hashed by the pull's checkout, which refuses it (exit 3) and writes nothing of its folder."""
    import shutil

    from artvc.objstore.hashing import hash_bytes

    other = _flat(ws, tmp_path, folders=1)
    assert art_json(other, "pull")["files_written"] == 150
    with other.repo() as repo:
        (row,) = repo.store.locate_chunks([hash_bytes((ws.root / "d0" / "f0000.bin").read_bytes())])
        pack, _, offset, length, _ = row
        path = repo.store.pack_path(repo.store.pack_name(pack))
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    shutil.rmtree(other.root / "d0")
    result = other.art("pull", code=3)
    assert "hashes to" in result.stderr, result.stderr
    assert not (other.root / "d0").exists()


@pytest.mark.long
def test_the_fetch_decodes_a_big_tree_once_as_it_walks_it(ws, tmp_path, monkeypatch):
    """A tree of more than ``BIG_TREE`` bytes is read an entry at a time; the walk decodes it once, not once
    to check it and once more to walk it (here every tree counts as big: 2 decodes, 4 on the old code)."""
    from artvc.objstore import objects, transfer

    other = _flat(ws, tmp_path)
    monkeypatch.setattr(transfer, "BIG_TREE", 0)
    decoded = count_calls(monkeypatch, objects, "_iter_checked")
    pulled = art_json(other, "pull")
    assert not pulled["problems"] and pulled["files_written"] == 300
    assert len(decoded) == 2
    assert files_under(other.root / "d1") == files_under(ws.root / "d1")


def test_a_big_tree_found_malformed_late_in_its_walk_is_refused_and_never_stored(ws, tmp_path, monkeypatch):
    """Walked as it is decoded, a big tree whose second entry breaks the name order (its id matches: the remote
    is hostile) is reported (exit 3), not stored, and nothing of it is written, though the objects named
    before the bad entry were fetched and verified on their own."""
    from artvc.objstore import codec, transfer
    from artvc.objstore.hashing import hash_bytes, hash_object
    from artvc.objstore.objects import Kind
    from artvc.objstore.store.remote import RemoteStore
    from artvc.workspace.pointers import Pointer, write_pointer

    bucket = tmp_path / "bucket"
    content = b"a file of the hostile tree"
    digest = bytes.fromhex(hash_bytes(content))
    payload = codec.encode(
        ["tree", 1, [["b.bin", "file", False, digest, len(content)], ["a.bin", "file", False, digest, len(content)]]],
        maps=False,
    )
    tree = hash_object("tree", payload)
    remote = RemoteStore.open(str(bucket))
    writer = remote.writer()
    writer.put_stored(hash_bytes(content), Kind.CHUNK, 0, content, len(content))
    writer.put_stored(tree, Kind.TREE, 0, payload, len(payload))
    writer.commit()
    add_remote(ws, str(bucket))
    write_pointer(ws.root / "bad.art", Pointer(tree, "dir", 2 * len(content), 2))
    monkeypatch.setattr(transfer, "BIG_TREE", 0)
    result = ws.art("pull", code=3)
    assert "names are not sorted" in result.stderr, result.stderr
    assert not (ws.root / "bad").exists()
    with ws.repo() as repo:
        assert not repo.store.has(tree, Kind.TREE)


def test_a_fresh_clone_s_pull_asks_its_empty_store_nothing_as_it_walks(ws, tmp_path, monkeypatch):
    """A store without a pack holds no object: the walk does not ask it about each file (the old code asked
    about every file twice, as a file and as a chunk: 606 keys for 300 files)."""
    from artvc.objstore.store.local import LocalStore

    other = _flat(ws, tmp_path)
    asked: list[int] = []
    real = LocalStore.has_many

    def counted(self, keys):
        keys = list(keys)
        asked.append(len(keys))
        return real(self, keys)

    monkeypatch.setattr(LocalStore, "has_many", counted)
    pulled = art_json(other, "pull")
    assert not pulled["problems"] and pulled["files_written"] == 300
    assert sum(asked) < 300, asked
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
