"""Local damage is found and repaired: quarantined objects are stored again by 'art add', pack structure is
checked by fsck, a lost or corrupt index.db is rebuilt from the packs, and a wrong pointer is named as such."""

import json
import os
import time

import pytest

from tests.builders import random_bytes


def _settle(ws, *names):
    """Age files past the racy-clean window, so the stat cache trusts them (as after any real pause)."""
    old = time.time() - 60
    for name in names:
        os.utime(ws.root / name, (old, old))


def _only_pack(ws):
    with ws.repo() as repo:
        (pack,) = repo.store.pack_files().values()
    return pack


def _flip(path, offset):
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


def _problems(ws, code=3):
    return json.loads(ws.art("fsck", "--json", code=code).stdout)["problems"]


@pytest.mark.parametrize("size", [5_000, 900_000], ids=["one-chunk", "many-chunks"])
def test_re_adding_the_intact_file_replaces_a_damaged_object(ws, size):
    data = random_bytes(size, 7)
    ws.gen({"blob.bin": data})
    _settle(ws, "blob.bin")
    ws.art("add", "blob.bin")
    _flip(_only_pack(ws), 8 + size // 2)  # inside a payload (random data is stored raw)
    problems = _problems(ws)
    assert any(p["kind"] == "chunk" for p in problems), problems
    assert _problems(ws)  # still damaged: nothing replaced it yet

    result = json.loads(ws.art("add", "blob.bin", "--json").stdout)
    assert result["new_objects"] >= 1  # the damaged chunk is stored again although the file is unchanged
    assert _problems(ws, code=0) == []
    (ws.root / "blob.bin").unlink()
    ws.art("checkout")
    assert (ws.root / "blob.bin").read_bytes() == data


@pytest.mark.parametrize("where", ["header", "end-magic", "entry-table", "table-length"])
def test_fsck_checks_pack_structure(ws, where):
    ws.gen({"a.bin": random_bytes(3000, 1), "b.bin": random_bytes(4000, 2)})
    ws.art("add", "a.bin", "b.bin")
    pack = _only_pack(ws)
    size = pack.stat().st_size
    offset = {"header": 2, "end-magic": size - 3, "entry-table": size - 16 - 30, "table-length": size - 16}[where]
    _flip(pack, offset)
    problems = _problems(ws)
    assert [p["kind"] for p in problems] == ["pack"], problems
    assert problems[0]["name"] == pack.stem
    # the objects themselves are intact and still readable
    (ws.root / "a.bin").unlink()
    ws.art("checkout")
    assert (ws.root / "a.bin").read_bytes() == random_bytes(3000, 1)


def test_fsck_repair_rewrites_a_structurally_damaged_pack(ws):
    ws.gen({"a.bin": random_bytes(3000, 1), "b.bin": random_bytes(400_000, 2)})
    ws.art("add", "a.bin", "b.bin")
    pack = _only_pack(ws)
    _flip(pack, 1)
    assert _problems(ws)
    ws.art("fsck", "--repair")
    assert _problems(ws, code=0) == []
    assert _only_pack(ws) != pack and not pack.exists()
    for name in ("a.bin", "b.bin"):
        (ws.root / name).unlink()
    ws.art("checkout")
    assert (ws.root / "b.bin").read_bytes() == random_bytes(400_000, 2)


@pytest.mark.parametrize("damage", ["missing", "garbage", "empty"])
def test_a_lost_or_corrupt_index_db_is_rebuilt_from_the_packs(ws, damage):
    data = random_bytes(300_000, 3)
    ws.gen({"blob.bin": data})
    ws.art("add", "blob.bin")
    store = ws.root / ".art" / "store"
    for suffix in ("", "-wal", "-shm"):
        (store / f"index.db{suffix}").unlink(missing_ok=True)
    if damage == "garbage":
        (store / "index.db").write_bytes(b"this is not a database, just noise " * 200)
    elif damage == "empty":
        import sqlite3

        sqlite3.connect(store / "index.db").close()
    (ws.root / "blob.bin").unlink()
    result = ws.art("checkout")
    assert (ws.root / "blob.bin").read_bytes() == data
    notes = [line for line in result.stderr.splitlines() if line]
    assert len(notes) == 1 and notes[0].startswith("art: note: the store index") and "rebuilt" in notes[0], notes
    assert "ok:" in ws.art("fsck").stdout
    assert ws.art("status").stderr == ""  # rebuilt once, not on every open


def test_fsck_names_a_pointer_with_a_wrong_size_and_checkout_blames_the_pointer(ws):
    ws.gen({"blob.bin": random_bytes(5000, 4), "d": {"x": "1", "y": "22"}})
    ws.art("add", "blob.bin", "d")
    pointer = ws.root / "blob.bin.art"
    pointer.write_text(pointer.read_text().replace("size = 5000", "size = 5001"))
    dpointer = ws.root / "d.art"
    dpointer.write_text(dpointer.read_text().replace("files = 2", "files = 3"))
    problems = _problems(ws)
    assert sorted(p["kind"] for p in problems) == ["pointer", "pointer"], problems
    details = " | ".join(p["detail"] for p in problems)
    assert "pointer blob.bin.art is wrong: size = 5001" in details and "pointer d.art is wrong: files = 3" in details
    hint = ws.art("fsck", code=3).stderr.splitlines()[-1]  # the store is fine: no 'art pull', no '--repair'
    assert hint.startswith("hint: restore the pointers from git") and "pull" not in hint and "repair" not in hint
    (ws.root / "blob.bin").unlink()
    result = ws.art("checkout", code=1)
    assert result.stderr.startswith("art: error: pointer blob.bin.art is wrong: size = 5001"), result.stderr
    assert "corrupt" not in result.stderr and "hint: " in result.stderr
    assert not (ws.root / "blob.bin").exists()


def test_a_tree_entry_with_a_wrong_size_is_named_not_blamed_on_the_data(ws):
    """A tree made by another tool (or tampered with before it was hashed) that records a wrong file size."""
    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.objects import Kind, Tree, TreeEntry
    from artvc.workspace.pointers import Pointer, write_pointer

    payload = b"intact data\n"
    oid = hash_bytes(payload)
    tree = Tree.build([TreeEntry("f.txt", "file", oid, len(payload) + 5)])
    with ws.repo() as repo, repo.store.writer() as writer:
        writer.put(oid, Kind.CHUNK, payload)
        writer.put(tree.oid, Kind.TREE, tree.to_bytes())
    write_pointer(ws.root / "d.art", Pointer(tree.oid, "dir", tree.size, 1))
    problems = _problems(ws)
    assert [p["kind"] for p in problems] == ["tree"], problems
    assert "d/f.txt: the tree says 17 bytes but the stored file has 12" in problems[0]["detail"]
    result = ws.art("checkout", code=3)
    assert "has 12 bytes, but 17 were expected" in result.stderr and "corrupt" not in result.stderr
    assert not (ws.root / "d").exists()
