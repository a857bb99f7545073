"""The typed vocabulary (artvc/objstore/types.py and the state enums) changes no stored or printed value."""

import json
import os

import tomli_w

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.objects import Tree, TreeEntry
from artvc.objstore.oid import Oid
from artvc.objstore.store.local import LocalStore
from artvc.objstore.types import EntryKind, Kind, Location, ObjectKey
from artvc.pipeline.outcome import StageStatus
from artvc.pipeline.staleness import Freshness
from artvc.workspace.push import SyncState
from artvc.workspace.status import ArtifactState
from tests.objstore.test_objects import GOLDEN, sample_tree


def test_tree_entry_kinds_encode_as_their_strings():
    typed = Tree.build(
        [
            TreeEntry("b.txt", EntryKind.FILE, hash_bytes(b"b"), 1, executable=True),
            TreeEntry("a.txt", EntryKind.FILE, hash_bytes(b"a"), 1),
            TreeEntry("sub", EntryKind.DIR, Oid("0" * 64), 10),
            TreeEntry("link", EntryKind.SYMLINK, hash_bytes(b"a.txt"), 0, target="a.txt"),
        ]
    )
    assert typed.to_bytes() == sample_tree().to_bytes()
    assert typed.oid == GOLDEN["sample_tree"]
    decoded = Tree.from_bytes(typed.oid, typed.to_bytes())
    assert [e.kind for e in decoded.entries] == [EntryKind.FILE, EntryKind.FILE, EntryKind.SYMLINK, EntryKind.DIR]
    assert all(type(e.kind) is EntryKind for e in decoded.entries)
    assert [e.kind.object_kind for e in decoded.entries if e.kind != EntryKind.SYMLINK] == [
        Kind.FILE,
        Kind.FILE,
        Kind.TREE,
    ]


def test_object_key_is_the_tuple_it_replaced():
    oid = hash_bytes(b"x")
    key = ObjectKey(oid, Kind.CHUNK)
    assert key == (oid, Kind.CHUNK) == (oid, 0) and hash(key) == hash((oid, 0))
    assert {key: 1}[(oid, Kind.CHUNK)] == 1
    assert (key.oid, key.kind) == tuple(key)
    assert sorted([ObjectKey(oid, Kind.TREE), key]) == [key, ObjectKey(oid, Kind.TREE)]


def test_locate_returns_a_location(tmp_path):
    with LocalStore(tmp_path / "store") as store:
        with store.writer() as w:
            w.put(hash_bytes(b"payload"), Kind.CHUNK, b"payload")
        key = ObjectKey(hash_bytes(b"payload"), Kind.CHUNK)
        loc = store.locate(*key)
        assert isinstance(loc, Location) and loc.length == loc.raw_length == len(b"payload")
        assert store.read_stored(loc.pack, loc.offset, loc.length) == b"payload"
        assert store.locate(hash_bytes(b"absent"), Kind.CHUNK) is None
        many = store.locate_many([key, ObjectKey(hash_bytes(b"absent"), Kind.CHUNK)])
        assert many == {key: loc} and isinstance(many[key], Location)


def test_locate_many_by_table_scan_matches_locate(tmp_path):
    """Past 2000 keys ``locate_many`` scans the index once instead of seeking per key: same answer."""
    blobs = [os.urandom(8) + i.to_bytes(4, "big") for i in range(2100)]
    with LocalStore(tmp_path / "store") as store:
        with store.writer() as w:
            for data in blobs:
                w.put(hash_bytes(data), Kind.CHUNK, data)
        keys = [ObjectKey(hash_bytes(d), Kind.CHUNK) for d in blobs]
        many = store.locate_many(keys)
        assert len(many) == len(keys)
        assert all(type(loc) is Location and loc == store.locate(*k) for k, loc in many.items())


def test_state_enums_print_and_serialise_as_before():
    expected = {
        ArtifactState: ["unchanged", "modified", "missing", "not-in-store", "conflict", "partial"],
        SyncState: ["synced", "not-pushed", "not-fetched", "missing"],
        StageStatus: ["ran", "cached", "up-to-date", "failed", "not-run"],
        Freshness: ["up-to-date", "stale"],
        EntryKind: ["file", "dir", "symlink"],
    }
    for enum, values in expected.items():
        assert [m.value for m in enum] == values
        for member, value in zip(enum, values, strict=True):
            assert member == value and str(member) == f"{member}" == value
            assert json.dumps({"state": member}) == json.dumps({"state": value})
            assert tomli_w.dumps({"state": member}) == tomli_w.dumps({"state": value})
