"""What a pull of one large folder holds in memory while it writes the folder's files (docs/design.md, "A pull
of a million files"): not the folder's tree, which a million files make ~55 MB (``objstore/pulled_tree.py``)."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from artvc.objstore.objects import Kind
from tests.remote.conftest import add_remote, art_json, clone, files_under


def _pull_traced(other, monkeypatch) -> tuple[dict, list[list[int]]]:
    """``art pull --json`` in ``other`` under tracemalloc, with the sizes of the blocks alive when the first files
    are written (every tree walked and verified, the folder being applied)."""
    from artvc.objstore import materialize

    snaps: list[list[int]] = []
    real = materialize._write_run

    def write(*args, **kwargs):
        if not snaps:
            snaps.append([t.size for t in tracemalloc.take_snapshot().traces])
        return real(*args, **kwargs)

    monkeypatch.setattr(materialize, "_write_run", write)
    tracemalloc.start(1)
    try:
        return art_json(other, "pull"), snaps
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_a_pulled_large_tree_is_not_held_in_memory_while_its_folder_is_written(ws, tmp_path, monkeypatch):
    """While the checkout beside the fetch writes the first files, no block of memory the size of the folder's
    tree encoding is alive: the walk verified it into a temporary file, and the plan and the apply step read it
    from there a window at a time (the old code held the encoding from the walk to the end of the fetch and of
    the checkout: this found it). The thresholds are lowered so 6,000 files stand for a million: every tree is
    "large" (``BIG_TREE``) and none is decoded whole (``DECODED_MAX``). The store reads a spilled tree back a
    piece at a time (``pulled_tree._PIECE``, a MiB: more than this tree), lowered too: when the fetch stored the
    tree while the checkout wrote its first file, that one piece was the whole tree (a CI run found it)."""
    from artvc.objstore import objects, pulled_tree, transfer

    monkeypatch.setattr(transfer, "BIG_TREE", 16 << 10)
    monkeypatch.setattr(pulled_tree, "_PIECE", 16 << 10)
    monkeypatch.setattr(objects, "DECODED_MAX", 100)
    rng = random.Random(1)
    ws.gen({"d0": {f"f{i:06d}.bin": rng.randbytes(rng.randint(16, 64)) for i in range(6000)}})
    ws.art("add", "d0")
    add_remote(ws, str(tmp_path / "bucket"))
    assert art_json(ws, "push")["missing"] == []
    other = clone(ws, tmp_path / "clone")
    pulled, sizes = _pull_traced(other, monkeypatch)
    assert pulled["restored"] == ["d0"] and pulled["files_written"] == 6000
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    with other.repo() as repo:
        tree = repo.store.get(repo.artifacts()[0].pointer.oid, Kind.TREE)
    assert len(tree) > 6000 * 40
    assert sizes and sizes[0], "no file was written beside the fetch"
    held = [s for s in sizes[0] if len(tree) <= s <= len(tree) + 256]  # a bytes object: its length and a header
    assert held == [], f"a block of {held} bytes (the tree's encoding: {len(tree)}) is held while files are written"


def test_map_ahead_keeps_the_order_and_at_most_its_window_of_results():
    """``map_ahead`` (a refresh's index downloads) gives each result in order and has run at most ``ahead``
    calls past the result it yields (the old refresh submitted every index at once and held every result to
    the end)."""
    from artvc.objstore.store.remote_read import map_ahead

    started: list[int] = []
    lead = []
    for k, out in enumerate(map_ahead(lambda i: started.append(i) or i * i, list(range(50)), 4)):
        assert out == k * k
        lead.append(len(started) - k)
    assert sorted(started) == list(range(50)) and max(lead) <= 5
    assert list(map_ahead(lambda i: i, [], 4)) == []


@pytest.mark.slow
def test_a_refresh_does_not_hold_every_index_of_the_remote(tmp_path, monkeypatch):
    """A fresh view of a remote with 40 indexes (~6 MB of index records in all) does not hold them as read and as
    decoded (the refresh before round 32 did: ~12 MB here, ~120 MB at 1M objects): the indexes are read 8 ahead
    and each let go once listed. The view spilled to its file (round 36: a file of records, not sqlite) holds up
    to ``remote_view.PENDING`` of records in per-bucket buffers before it writes them, and joins them to write:
    8.2 MB at the peak here, about what sqlite's view held at 300k objects (15.7 against 15.8 MB)."""
    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.store import remote_view
    from artvc.objstore.store.remote import RemoteStore

    monkeypatch.setattr(remote_view, "SPILL", 500)
    bucket = str(tmp_path / "bucket")
    remote = RemoteStore.open(bucket)
    for p in range(40):
        writer = remote.writer()
        for i in range(3000):
            content = b"%d/%d" % (p, i)
            writer.put_stored(hash_bytes(content), Kind.CHUNK, 0, content, len(content))
        writer.commit()
    remote.close()
    size = sum(f.stat().st_size for f in (tmp_path / "bucket").rglob("*.idx"))
    assert size > 40 * 3000 * 50
    fresh = RemoteStore.open(bucket)
    tracemalloc.start()
    try:
        fresh.refresh()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        fresh.close()
    assert peak < 1.5 * size, f"a refresh peaked at {peak} bytes for {size} bytes of indexes"


@pytest.mark.slow
def test_a_pull_of_many_folders_holds_its_small_trees_in_a_file_past_its_budget(ws, tmp_path, monkeypatch):
    """A pull of a million files in folders of a hundred reads ~10,000 trees of ~5.5 KB (~55 MB): the fetch
    held every one's encoding from its walk to the end of its store. Past ``transfer.HELD_TREES`` bytes of
    them they wait in one temporary file (``pulled_tree.TreeSpill``), so while the checkout beside the fetch
    writes the first files, at most that budget of tree encodings is alive as bytes. Here 80 folders of 60
    files (~270 KB of leaf trees) with a budget of 32 KiB stand for a million files and 8 MiB; the trees are
    stored as before (the clone's fsck reads every one back)."""
    import sys

    from artvc.objstore import transfer
    from artvc.objstore.objects import Tree

    budget = 32 << 10
    monkeypatch.setattr(transfer, "HELD_TREES", budget)
    rng = random.Random(2)
    folders = {f"d{k:02d}": {f"f{i:04d}.bin": rng.randbytes(rng.randint(16, 64)) for i in range(60)} for k in range(80)}
    ws.gen({"data": folders})
    ws.art("add", "data")
    add_remote(ws, str(tmp_path / "bucket"))
    assert art_json(ws, "push")["missing"] == []
    other = clone(ws, tmp_path / "clone")
    pulled, snaps = _pull_traced(other, monkeypatch)
    assert pulled["files_written"] == 80 * 60
    assert files_under(other.root / "data") == files_under(ws.root / "data")
    with other.repo() as repo:
        top = repo.artifacts()[0].pointer.oid
        leaves = Tree.from_bytes(top, repo.store.get(top, Kind.TREE)).entries
        sizes = {len(repo.store.get(e.oid, Kind.TREE)) for e in leaves}
    assert len(leaves) == 80 and min(sizes) > 60 * 40
    other.art("fsck")
    assert snaps and snaps[0], "no file was written beside the fetch"
    header = sys.getsizeof(b"")
    held = sum(s - header for s in snaps[0] if s - header in sizes)
    assert 80 * min(sizes) > 4 * budget  # what the fetch held before: every leaf tree
    assert held <= budget + max(sizes), f"{held} bytes of tree encodings alive (budget {budget})"


@pytest.mark.parametrize("small", [1 << 16, 2])
def test_distinct_counts_each_offset_of_a_pack_once(small):
    """A fetch's count of the chunks to read from a pack (``pack_ranges.distinct``): a chunk noted twice (two
    files share it) counts once, with its length once, by dictionary or by bitmap (``small`` exceeded)."""
    from array import array

    from artvc.objstore.pack_ranges import distinct

    offsets = array("q", [4, 90, 4, 200, 7, 90, 8, 9])
    lengths = array("q", [86, 110, 86, 50, 1, 110, 1, 30])
    assert distinct(offsets, lengths, small=small) == (6, 86 + 110 + 50 + 1 + 1 + 30)
    assert distinct(array("q"), array("q"), small=small) == (0, 0)
    far = array("q", [4, 1 << 60, 4])  # wider than a pack sealed by art: no bitmap of 2^57 bytes
    assert distinct(far, array("q", [1, 2, 1]), small=small) == (2, 3)


def test_a_pushed_pack_ends_at_its_object_limit(tmp_path, monkeypatch):
    """A remote pack a push builds holds at most ``REMOTE_PACK_OBJECTS`` objects (a million tiny files made one
    pack with a 50 MB index, held by the push as it uploaded it and by a pull as it fetched it whole); every
    object is listed once, and each pack's index is its entries."""
    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.store import remote_writer
    from artvc.objstore.store.remote import RemoteStore

    monkeypatch.setattr(remote_writer, "REMOTE_PACK_OBJECTS", 100)
    remote = RemoteStore.open(str(tmp_path / "bucket"))
    writer = remote.writer()
    ids = []
    for i in range(250):
        content = b"tiny %d" % i
        ids.append(hash_bytes(content))
        writer.put_stored(ids[-1], Kind.CHUNK, 0, content, len(content))
    writer.commit()
    remote.close()
    fresh = RemoteStore.open(str(tmp_path / "bucket"))
    try:
        fresh.refresh()
        packs = {name: fresh.pack_entries(name) for name in fresh.list_packs()}
        assert sorted(len(e) for e in packs.values()) == [50, 100, 100]
        assert sorted(e.oid for entries in packs.values() for e in entries) == sorted(ids)
    finally:
        fresh.close()
