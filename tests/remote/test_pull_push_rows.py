"""Push and pull of many small files without an object per row, counted (issue 18): the pull's walk reads the
remote's spilled view as rows (no ``Located``/``PackEntry`` per chunk), a large tree is checked once (by the
walk) and read plainly by the checkout beside the fetch, and a push's plan marks a one-chunk file once. Plus
the rules these must keep: a damaged remote index or checkpoint block, and a tree missing on the remote."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import Workspace
from tests.remote.conftest import add_remote, art_json, clone, count_calls, files_under, flat_clone


def _flat(ws: Workspace, tmp_path: Path, *, folders: int = 2, files: int = 150) -> Workspace:
    return flat_clone(ws, tmp_path, seed=32, folders=folders, files=files)


@contextlib.contextmanager
def _push_plan(ws: Workspace, path: str) -> Iterator[tuple[Any, Any, str]]:
    """The push plan of the artifact at ``path`` against the default remote, built as ``art push`` builds it;
    yields the open repository, the plan and the artifact's root tree id; closes the remote after."""
    from artvc.objstore.objects import Kind
    from artvc.objstore.types import ObjectKey
    from artvc.objstore.upload_plan import plan_closure
    from artvc.workspace.remote import open_remote

    with ws.repo() as repo:
        root = next(a for a in repo.artifacts() if a.path == path).pointer.oid
        store = open_remote(repo, None)
        try:
            store.refresh()
            with plan_closure(repo.store, store, [ObjectKey(root, Kind.TREE)], trust_remote=True) as plan:
                yield repo, plan, root
        finally:
            store.close()


def _idx_of(bucket: Path, pack: str) -> Path:
    return next(p for p in (bucket / "index").rglob("*.idx") if p.stem == pack)


def test_the_walk_reads_the_spilled_view_as_rows_without_an_object_per_chunk(ws, tmp_path, monkeypatch):
    """With the remote's view in its sqlite file (as at 100,000 files), the walk's lookups make no
    ``PackEntry`` nor ``Located`` per file found (the old code made one of each per file: 300 here) and do not
    go through ``get_many`` at all."""
    from artvc.objstore import transfer
    from artvc.objstore.store import remote_view

    other = _flat(ws, tmp_path)
    monkeypatch.setattr(remote_view, "SPILL", 1)
    entries = count_calls(monkeypatch, remote_view, "PackEntry")
    located = count_calls(monkeypatch, remote_view, "Located")
    many = count_calls(monkeypatch, remote_view.ViewIndex, "get_many")
    made = count_calls(monkeypatch, transfer, "Located")
    pulled = art_json(other, "pull")
    assert not pulled["problems"] and pulled["files_written"] == 300
    assert entries == [] and located == [] and many == []
    assert 0 < len(made) < 10  # the trees (and the records of adds) the walk reads, not the 300 files
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    assert files_under(other.root / "d1") == files_under(ws.root / "d1")


def test_a_large_tree_is_checked_once_per_pull_and_read_plainly_after(ws, tmp_path, monkeypatch):
    """Every tree spilled (``BIG_TREE`` 0) and streamed (``DECODED_MAX`` 1): the walk checks each tree once;
    the plan and the apply step of the checkout beside the fetch read it without checking it again (the old
    code ran the checking decoder three times a tree: 6 here, now 2)."""
    from artvc.objstore import objects, transfer
    from artvc.workspace import pull_overlap

    other = _flat(ws, tmp_path)
    monkeypatch.setattr(transfer, "BIG_TREE", 0)
    monkeypatch.setattr(objects, "DECODED_MAX", 1)
    monkeypatch.setattr(pull_overlap, "DECODED_MAX", 1)
    checked = count_calls(monkeypatch, objects, "_iter_checked")
    pulled = art_json(other, "pull")
    assert not pulled["problems"] and pulled["files_written"] == 300
    assert len(checked) == 2  # the walk's, of each tree (the plan's and the apply's read it plainly)
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    assert files_under(other.root / "d1") == files_under(ws.root / "d1")


def test_a_tree_whose_walk_failed_is_not_marked_checked(tmp_path):
    """Only a tree every entry of which the checking decoder read is trusted: a malformed one stays unchecked,
    and reading it again raises as before."""
    import pytest

    from artvc.errors import FormatError
    from artvc.objstore import codec
    from artvc.objstore.hashing import hash_object
    from artvc.objstore.pulled_tree import spill

    digest = bytes(32)
    payload = codec.encode(["tree", 1, [["b", "file", False, digest, 1], ["a", "file", False, digest, 1]]], maps=False)
    tree = spill(hash_object("tree", payload), payload, tmp_path)
    with pytest.raises(FormatError):
        list(tree.iter_entries())
    assert not tree.checked
    with pytest.raises(FormatError):
        list(tree.iter_entries())
    tree.close()


def test_a_push_of_small_files_marks_each_once_in_its_plan(ws, tmp_path):
    """A one-chunk file's chunk mark is appended aside, not written into ``seen`` (the old plan held two rows a
    file there: the file's key and its chunk's)."""
    rng = random.Random(5)
    ws.gen({"data": {f"f{i:03d}.bin": rng.randbytes(rng.randint(10, 900)) for i in range(120)}})
    ws.art("add", "data")
    add_remote(ws, str(tmp_path / "bucket"))
    with _push_plan(ws, "data") as (_, plan, _root):
        assert plan.count()[0] == 121  # the files and their tree
        assert plan.db.execute("SELECT count(*) FROM seen").fetchone()[0] == 121


def test_a_chunk_met_after_the_one_chunk_file_it_is_goes_once(ws, tmp_path):
    """A small file whose bytes are a chunk of a large file in the same folder: its mark waits aside until the
    large file's chunks come, then joins ``seen``, so the chunk is sent once, and a clone pulls both."""
    from artvc.objstore.objects import FileManifest, Kind
    from artvc.objstore.store.remote import RemoteStore

    rng = random.Random(7)
    big = rng.randbytes(3 << 20)
    ws.gen({"data": {"big.bin": big}})
    ws.art("add", "data")
    with ws.repo() as repo:
        (entry,) = repo.store.get_tree(next(a for a in repo.artifacts()).pointer.oid).entries
        manifest = FileManifest.from_bytes(entry.oid, repo.store.get(entry.oid, Kind.FILE))
    assert len(manifest.chunks) > 1
    first = big[: manifest.chunks[0][1]]
    ws.gen({"data": {"big.bin": big, "piece.bin": first}})
    ws.art("add", "data")
    add_remote(ws, str(tmp_path / "bucket"))
    assert art_json(ws, "push")["missing"] == []
    listed = [o.oid for o in RemoteStore.open(str(tmp_path / "bucket")).iter_objects() if o.kind == Kind.CHUNK]
    assert len(listed) == len(set(listed)) == len(manifest.chunks)
    other = clone(ws, tmp_path / "clone")
    assert not art_json(other, "pull")["problems"]
    assert files_under(other.root / "data") == files_under(ws.root / "data")


def test_a_damaged_remote_index_leaves_its_folders_unwritten(ws, tmp_path, monkeypatch):
    """The remote index of the pack holding the files' chunks is damaged (it no longer hashes to its name):
    its objects are not listed, so the files are reported missing (exit 12) and neither folder is written,
    though the trees were found and the checkout beside the fetch planned them."""
    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.objects import Kind
    from artvc.objstore.store import remote_view
    from artvc.objstore.store.remote import RemoteStore

    other = _flat(ws, tmp_path)
    bucket = tmp_path / "bucket"
    chunk = hash_bytes((ws.root / "d1" / "f0000.bin").read_bytes())
    idx = _idx_of(bucket, RemoteStore.open(str(bucket)).locate(chunk, Kind.CHUNK).pack)
    data = bytearray(idx.read_bytes())
    data[-3] ^= 0xFF
    idx.write_bytes(bytes(data))
    monkeypatch.setattr(remote_view, "SPILL", 1)
    result = other.art("pull", code=12)
    assert "on neither the remote" in result.stderr, result.stderr
    assert not (other.root / "d0").exists() and not (other.root / "d1").exists()


def test_a_tree_missing_on_the_remote_writes_nothing_of_its_folder(ws, tmp_path, monkeypatch):
    """The remote lists a folder's files but not its tree (a push interrupted another way, or a hand-edited
    remote): the pull reports the tree missing (exit 12) and writes nothing of that folder."""
    from artvc.objstore.store import remote_view
    from artvc.objstore.store.remote import RemoteStore
    from artvc.workspace.pointers import read_pointer

    other = _flat(ws, tmp_path, folders=1)
    bucket = tmp_path / "bucket"
    tree = read_pointer(ws.root / "d0.art", where="d0.art").oid
    pack = RemoteStore.open(str(bucket)).locate(tree, 2).pack
    _idx_of(bucket, pack).unlink()  # the pack of the tree (metadata packs are apart from the chunks')
    monkeypatch.setattr(remote_view, "SPILL", 1)
    result = other.art("pull", code=12)
    assert "2 object(s) are on neither the remote" in result.stderr, result.stderr  # the tree and the add's run
    assert not (other.root / "d0").exists()


def test_a_pull_through_a_damaged_checkpoint_block_falls_back_and_writes_everything(ws, tmp_path):
    """A checkpointed remote: the walk's rows come through the checkpoint, key by key; a damaged table block
    makes the reader fall back to every per-pack index, and the pull is whole."""
    from artvc.objstore.remote_compact import compact
    from artvc.objstore.store.remote import RemoteStore

    other = _flat(ws, tmp_path)
    bucket = tmp_path / "bucket"
    compact(RemoteStore.open(str(bucket), cache_dir=str(tmp_path / "cache")))
    table = next((bucket / "index" / "midx" / "tables").glob("*.tbl"))
    data = bytearray(table.read_bytes())
    data[-10] ^= 0xFF
    table.write_bytes(bytes(data))
    pulled = art_json(other, "pull")
    assert not pulled["problems"] and pulled["files_written"] == 300
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    assert files_under(other.root / "d1") == files_under(ws.root / "d1")


def test_the_checkout_beside_the_fetch_decodes_no_small_tree_with_the_checks_again(ws, tmp_path, monkeypatch):
    """A nested folder (a tree per folder, each small): the walk decodes each tree with its checks; the plan
    beside the fetch decodes them again without (``checked_tree``), and the apply step takes the plan's (the old
    code decoded them 7 times here, now 3)."""
    from artvc.objstore.objects import Tree

    rng = random.Random(11)
    ws.gen({"top": {f"s{d}": {f"f{i:03d}.bin": rng.randbytes(rng.randint(1, 900)) for i in range(40)} for d in (0, 1)}})
    ws.art("add", "top")
    add_remote(ws, str(tmp_path / "bucket"))
    assert art_json(ws, "push")["missing"] == []
    other = clone(ws, tmp_path / "clone")
    real = Tree.from_bytes.__func__
    decoded: list[str] = []

    def counted(cls, oid, data):
        decoded.append(oid)
        return real(cls, oid, data)

    monkeypatch.setattr(Tree, "from_bytes", classmethod(counted))
    pulled = art_json(other, "pull")
    assert not pulled["problems"] and pulled["files_written"] == 80
    assert len(decoded) == len(set(decoded)) == 3  # top, s0, s1: once each
    assert files_under(other.root / "top") == files_under(ws.root / "top")


def test_a_push_plan_finds_its_trees_by_index_not_by_scanning_every_row(ws, tmp_path):
    """``todo`` has no key (its rows are appended): setting the trees' heights must go through the partial
    index of the metadata rows, one seek a tree, not a scan of every file's row per tree (a push of 100k files
    in 1,000 folders took ~1 CPU s more that way). Counted in sqlite's virtual-machine steps."""
    rng = random.Random(3)
    ws.gen(
        {"top": {f"s{d:02d}": {f"f{i:03d}": rng.randbytes(rng.randint(1, 300)) for i in range(60)} for d in range(10)}}
    )
    ws.art("add", "top")
    add_remote(ws, str(tmp_path / "bucket"))
    with _push_plan(ws, "top") as (repo, plan, root):
        assert plan.count()[0] == 611  # the files and 11 trees
        steps: list[int] = []
        plan.db.set_progress_handler(lambda: steps.append(1), 100)  # one call per 100 steps
        plan.tree_heights(repo.store)
        plan.db.set_progress_handler(None, 100)
        assert len(steps) < 100, len(steps)  # a scan per tree (11 x 611 rows): ~220 calls
        heights = dict(plan.db.execute("SELECT hex(oid), height FROM todo WHERE kind = 2").fetchall())
        assert heights[root.upper()] == 2 and sorted(heights.values()).count(1) == 10
