"""Trees written and read an entry at a time (a folder of a million files is never a million objects): the
walk's encoder gives ``Tree.to_bytes``'s bytes, and ``iter_tree_entries`` checks what ``Tree.from_bytes``
checks."""

from __future__ import annotations

import msgpack
import pytest

from artvc.errors import FormatError
from artvc.objstore.hashing import hash_bytes, hash_object
from artvc.objstore.objects import EncodedTree, Tree, TreeEntry, iter_tree_entries
from artvc.objstore.scan import walk_tree
from artvc.objstore.types import EntryKind


def _tree() -> Tree:
    entries = [
        TreeEntry(f"f{i:03d}", EntryKind.FILE, hash_bytes(b"%d" % i), i, executable=i % 5 == 0) for i in range(50)
    ]
    entries.append(TreeEntry("sub", EntryKind.DIR, hash_bytes(b"sub"), 70_000))
    entries.append(TreeEntry("link", EntryKind.SYMLINK, hash_bytes(b"f001"), 0, target="f001"))
    return Tree.build(entries)


def test_iter_entries_reads_what_from_bytes_reads():
    tree = _tree()
    assert tuple(iter_tree_entries(tree.oid, tree.to_bytes())) == tree.entries
    encoded = EncodedTree(tree.to_bytes(), tree.size)
    assert encoded.oid == tree.oid and tuple(encoded.iter_entries()) == tree.entries and encoded.count == 52


@pytest.mark.parametrize("damage", ["unsorted", "long int", "trailing", "bad kind", "version"])
def test_iter_entries_refuses_what_from_bytes_refuses(damage):
    items = [e.encoded() for e in _tree().entries]
    if damage == "unsorted":
        items[0], items[1] = items[1], items[0]
        data = msgpack.packb(["tree", 1, items], use_bin_type=True)
    elif damage == "long int":  # size 3 as a uint32: valid msgpack, not canonical
        good = msgpack.packb(["tree", 1, items], use_bin_type=True)
        entry = msgpack.packb(items[3], use_bin_type=True)
        data = good.replace(entry, entry[:-1] + b"\xce\x00\x00\x00\x03", 1)
    elif damage == "trailing":
        data = msgpack.packb(["tree", 1, items], use_bin_type=True) + b"\x00"
    elif damage == "bad kind":
        items[2][1] = "fifo"
        data = msgpack.packb(["tree", 1, items], use_bin_type=True)
    else:
        data = msgpack.packb(["tree", 2, items], use_bin_type=True)
    oid = hash_object("tree", data)
    with pytest.raises(FormatError):
        Tree.from_bytes(oid, data)
    with pytest.raises(FormatError):
        list(iter_tree_entries(oid, data))


@pytest.mark.parametrize("batch", [4096, 4])
def test_the_walk_encodes_a_folder_as_tree_does(tmp_path, monkeypatch, batch):
    """In one batch of files, and in batches of 4 (the ids of all but the last two batches packed early)."""
    from artvc.objstore import scan

    monkeypatch.setattr(scan, "FILE_BATCH", batch)
    for i in range(30):
        (tmp_path / f"n{(i * 7) % 30:02d}").write_bytes(b"x" * i)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "inner").write_bytes(b"inner")
    (tmp_path / "a-link").symlink_to("n01")
    (tmp_path / "n05").chmod(0o755)
    trees = []

    batches = []

    def oids(files):
        batches.append(len(files))
        return [hash_bytes(open(p, "rb").read()) for p, _ in files]

    root, count = walk_tree(str(tmp_path), tmp_path, oids, trees.append)
    assert count == 31 and max(batches) <= batch and sum(batches) == 31
    entries = tuple(root.iter_entries())
    rebuilt = Tree.build(list(entries))
    assert rebuilt.to_bytes() == root.to_bytes() and rebuilt.oid == root.oid
    assert root.size == sum(i for i in range(30)) + len(b"inner")
    assert [e.name for e in entries][:3] == ["a-link", "d", "n00"]
    assert next(e for e in entries if e.name == "n05").executable
