"""The tree of a huge folder is encoded to a temporary file and copied into the pack in pieces (``spill_tree``,
``StoreWriter.put_pieces``): the same tree, stored as it is, with nothing left in the store's tmp."""

from __future__ import annotations

import os

import pytest

from artvc.errors import FormatError
from artvc.objstore import ingest, scan
from artvc.objstore.ingest import Ingester
from artvc.objstore.objects import Kind, SpilledTree, Tree
from artvc.objstore.store.local import LocalStore
from artvc.objstore.store.pack import RAW, read_trailer


def _folder(root, n: int) -> None:
    root.mkdir()
    for i in range(n):
        (root / f"f{(i * 37) % n:05d}.bin").write_bytes(b"%d" % (i % 50))  # out of name order, duplicates
    (root / "sub").mkdir()
    (root / "sub" / "x").write_bytes(b"x")
    (root / "link").symlink_to("sub/x")


def _add(store: LocalStore, data) -> tuple[str, int]:
    with store.writer() as w, Ingester(w, store.params, store.compressor, jobs=2) as ing:
        tree, count = ing.add_tree(data)
    return tree.oid, count


@pytest.mark.long
def test_a_folder_over_the_spill_size_stores_the_same_tree_from_its_file(tmp_path, monkeypatch):
    data = tmp_path / "data"
    _folder(data, 3000)
    kept = LocalStore(tmp_path / "kept")
    expected, count = _add(kept, data)  # encoded in memory and compressed, as before
    monkeypatch.setattr(scan, "SPILL_FILES", 1000)
    monkeypatch.setattr(ingest, "RAW_TREE", 1000)
    store = LocalStore(tmp_path / "store")
    oid, spilled_count = _add(store, data)
    assert (oid, spilled_count) == (expected, count) == (oid, 3001)
    stored = store.get(oid, Kind.TREE)
    assert stored == kept.get(oid, Kind.TREE)
    tree = Tree.from_bytes(oid, stored)
    assert [e.name for e in tree.entries][:2] == ["f00000.bin", "f00001.bin"] and tree.entries[-1].name == "sub"
    assert store.locate(oid, Kind.TREE).codec == RAW  # type: ignore[union-attr]
    in_packs = []
    for path in store.pack_files().values():
        with open(path, "rb") as f:
            in_packs += [e.oid for e in read_trailer(f, path.stat().st_size)]
    assert in_packs.count(oid) == 1
    assert os.listdir(store.root / "tmp") == []  # the tree's file was unnamed and is gone
    # adding again finds the tree stored: nothing is written twice
    with store.writer() as w, Ingester(w, store.params, store.compressor) as ing:
        again, _ = ing.add_tree(data)
    assert again.oid == oid and ing.stats.new_objects == 0
    store.close()
    kept.close()


@pytest.mark.long
def test_a_spilled_tree_reads_back_in_pieces_and_is_gone_once_closed(tmp_path, monkeypatch):
    data = tmp_path / "data"
    _folder(data, 1500)
    monkeypatch.setattr(scan, "SPILL_FILES", 1000)
    monkeypatch.setattr(ingest, "RAW_TREE", 1000)
    seen: list[SpilledTree] = []

    def put(tree) -> None:
        if isinstance(tree, SpilledTree):
            pieces = list(tree.pieces())
            assert b"".join(pieces) == tree.to_bytes() and sum(map(len, pieces)) == tree.length
            assert Tree.from_bytes(tree.oid, tree.to_bytes()).entries[0].name == "f00000.bin"
            seen.append(tree)

    spill = tmp_path / "tmp"
    spill.mkdir()

    def oids(files):
        return [scan.hash_bytes(b"")] * len(files)

    held, _ = scan.walk_tree(str(data), None, oids)  # no put_tree: nothing spilled
    root, _ = scan.walk_tree(str(data), None, oids, put, spill=str(spill))
    assert [t.oid for t in seen] == [root.oid] == [held.oid] and root.size == held.size
    assert os.listdir(spill) == []
    with pytest.raises(ValueError):
        root.to_bytes()  # closed once stored: only its id and size stay
    # a spilled tree cut short (its file changed under it) is refused, not stored short
    f = tmp_path / "cut"
    with open(f, "w+b") as handle:
        handle.write(b"abc")
        handle.flush()
        short = SpilledTree(root.oid, 0, handle, 10)
        with pytest.raises(FormatError):
            list(short.pieces())


@pytest.mark.slow
def test_no_block_of_the_spilled_tree_s_size_is_held_when_it_reaches_the_store(tmp_path, monkeypatch):
    """When ``put_tree`` gets a spilled tree, the largest block of memory alive is a small fraction of the
    tree's encoding; held in memory (no ``spill``), the encoding is one block of its whole size (which a
    folder of a million files made ~55 MB beside the names and ids it was encoded from)."""
    import tracemalloc

    data = tmp_path / "data"
    data.mkdir()
    for i in range(20_000):
        (data / f"f{i:06d}").touch()
    monkeypatch.setattr(scan, "SPILL_FILES", 1000)
    spill = tmp_path / "tmp"
    spill.mkdir()
    largest: dict[bool, tuple[int, int]] = {}

    def oids(files):
        return [scan.hash_bytes(b"")] * len(files)

    for spilled in (False, True):

        def put(tree) -> None:
            snap = tracemalloc.take_snapshot()
            biggest = max(t.size for t in snap.traces)
            length = tree.length if isinstance(tree, SpilledTree) else len(tree.to_bytes())
            largest[spilled] = (biggest, length)  # noqa: B023 - called at once

        tracemalloc.start()
        try:
            scan.walk_tree(str(data), None, oids, put, spill=str(spill) if spilled else None)
        finally:
            tracemalloc.stop()
    held, length = largest[False]
    assert held >= length > 20_000 * 40  # the control: held whole, the encoding is one block
    biggest, spilled_length = largest[True]
    assert spilled_length == length and biggest < length / 4, largest


@pytest.mark.parametrize("count", [3, 70_000])  # the array header of 1 byte, and of 5 (the room kept for it)
@pytest.mark.parametrize("others", [0, 2])
def test_a_tree_run_encodes_what_encode_tree_does(tmp_path, count, others):
    """A ``TreeRun`` (a large folder's files encoded as they are done) gives the bytes and id of ``encode_tree``
    of the same entries: files added in parts, and other entries (a folder, a symlink) merged in by name when
    there are some (the run is read back)."""
    from artvc.objstore.hashing import hash_object
    from artvc.objstore.objects import TreeRun, encode_tree
    from artvc.objstore.types import EntryKind

    def entry(i: int) -> tuple[str, list[object]]:
        name = f"f{i:06d}"
        return name, [name, EntryKind.FILE.value, i % 7 == 0, bytes([i % 256]) * 32, i]

    files = [entry(i) for i in range(count)]
    extra = [
        ("f000001a", ["f000001a", EntryKind.DIR.value, False, b"d" * 32, 5]),
        ("zlink", ["zlink", EntryKind.SYMLINK.value, "f000000", b"l" * 32, 0]),
    ][:others]
    expected = encode_tree(count, iter(files), list(extra), "data")
    run = TreeRun(str(tmp_path), "data")
    run.add(iter(files[: count // 2]))
    run.add(iter(files[count // 2 :]))
    tree = run.finish(list(extra), 123, str(tmp_path))
    run.close()
    try:
        assert isinstance(tree, SpilledTree) and tree.length == len(expected) and tree.size == 123
        assert tree.to_bytes() == expected and tree.oid == hash_object("tree", expected)
    finally:
        tree.close()
    assert os.listdir(tmp_path) == []  # unnamed files
