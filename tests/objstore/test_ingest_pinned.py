"""Pinned output of ``art add`` for a fixed folder: tree ids, file manifests and pointer text must not change
when the ingest path is made faster (issue 18). The ids below were computed by the code before that work."""

from __future__ import annotations

import os
import random
from pathlib import Path

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.objects import FileManifest, Kind, Tree
from artvc.workspace import add

# blake3 ids of the fixed folder ``_fixed`` makes, as stored by ``add``
ROOT_TREE = "55154664864237067ae3c96f101d0d2e3b37a2ef230ce209b2698fe23c068f61"
POINTER = (
    "# art pointer: the data lives in the art store, not in git; 'art checkout' restores it\n"
    "version = 1\n"
    'id = "55154664864237067ae3c96f101d0d2e3b37a2ef230ce209b2698fe23c068f61"\n'
    'kind = "dir"\n'
    "size = 4803057\n"
    "files = 303\n"
)
BIG_FILE = "ce4331964535a51dcf79df38c45951ffc5ce2f12a321dd26f1d3b5a4ea3255c5"
BIG_MANIFEST = "70905b4b0c32893108ce5891bf787df50a04c68f0e4e558ea2f4d5658b8d55e2"  # blake3 of its manifest's bytes


def _fixed(root: Path) -> None:
    """Files of every shape add meets: empty, tiny, 1-8 KiB random, duplicates, compressible text, a file of
    several chunks under the small-file limit, one over it, executable bits, symlinks, nested and empty folders,
    a non-ASCII name."""
    rng = random.Random(18)
    shared = rng.randbytes(3000)
    for i in range(300):
        folder = root / f"d{i % 5}" / ("inner" if i % 4 == 0 else "")
        folder.mkdir(parents=True, exist_ok=True)
        r = i % 10
        data = (
            b""
            if r == 0
            else shared
            if r == 1
            else (b"line %d\n" % (i % 7)) * (50 + i)
            if r == 2
            else rng.randbytes(rng.randint(1, 8192))
        )
        path = folder / f"f{i:03d}.bin"
        path.write_bytes(data)
        if i % 11 == 0:
            path.chmod(0o755)
    (root / "big").mkdir()
    (root / "big" / "several-chunks.bin").write_bytes(rng.randbytes(700_000))  # small file, several chunks
    (root / "big" / "large.bin").write_bytes(rng.randbytes(3 << 20))  # over SMALL_FILE: streamed
    (root / "empty-folder").mkdir()
    (root / "d1" / "café.txt").write_text("non-ascii name\n")
    (root / "d2" / "link").symlink_to("../d1/café.txt")
    (root / "d3" / "dangling").symlink_to("nowhere")


def _subtree(repo, tree: Tree, name: str) -> Tree:
    oid = next(e.oid for e in tree.entries if e.name == name)
    return Tree.from_bytes(oid, repo.store.get(oid, Kind.TREE))


def test_add_of_a_fixed_folder_gives_the_pinned_ids_and_pointer(ws):
    _fixed(ws.root / "data")
    with ws.repo() as repo:
        pointer = add(repo, ["data"]).artifacts[0].pointer
        tree = Tree.from_bytes(pointer.oid, repo.store.get(pointer.oid, Kind.TREE))
        big = next(e for e in _subtree(repo, tree, "big").entries if e.name == "several-chunks.bin")
        manifest = FileManifest.from_bytes(big.oid, repo.store.get(big.oid, Kind.FILE))
    text = (ws.root / "data.art").read_text()
    assert str(pointer.oid) == ROOT_TREE
    assert text == POINTER
    assert str(big.oid) == BIG_FILE
    assert len(manifest.chunks) > 1 and hash_bytes(manifest.to_bytes()) == BIG_MANIFEST
    # added again (every id from the stat cache), and after one change: the same ids for what did not change
    os.utime(ws.root / "data" / "d0" / "f005.bin")
    with ws.repo() as repo:
        again = add(repo, ["data"]).artifacts[0]
        (ws.root / "data" / "d4" / "f004.bin").write_bytes(b"changed")
        changed = add(repo, ["data"]).artifacts[0].pointer
        d0 = _subtree(repo, Tree.from_bytes(changed.oid, repo.store.get(changed.oid, Kind.TREE)), "d0")
    assert (again.pointer.oid, again.changed) == (pointer.oid, False)
    assert changed.oid != pointer.oid and d0.oid == _subtree_oid(tree, "d0")


def _subtree_oid(tree: Tree, name: str) -> str:
    return next(e.oid for e in tree.entries if e.name == name)
