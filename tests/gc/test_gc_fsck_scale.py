"""gc and fsck of the local store without Python sets of every object: the live keys are a table beside the
index (``LiveKeys``), fsck checks index rows a pack at a time. These tests pin the results of those paths."""

from __future__ import annotations

import json
import sqlite3

from artvc.objstore.reachability import closure, closure_into
from artvc.objstore.store.local_check import LiveKeys
from artvc.objstore.types import Kind
from tests.builders import random_bytes


def test_closure_into_a_table_equals_the_closure_in_a_set(ws):
    ws.gen(
        {
            "data": {"a": {f"f{i}.bin": random_bytes(3000 + i, i) for i in range(30)}, "b": {"big.bin": b""}},
            "model.bin": random_bytes(900_000, 99),  # a file of many chunks: a manifest
            "dup": {"same.bin": random_bytes(3000, 0)},  # the same chunk as data/a/f0.bin
        }
    )
    (ws.root / "data/b/link").symlink_to("../a/f1.bin")
    ws.art("add", "data", "model.bin", "dup")
    with ws.repo() as repo:
        roots = [(a.pointer.oid, int(a.key.kind)) for a in repo.artifacts()]
        store = repo.store
        expected = closure(store, roots)
        with LiveKeys(store) as live:
            closure_into(store, roots, live)
            assert live.stored() == len(expected)
            assert all((o, int(k)) in live for o, k in expected)
            assert any(k == Kind.FILE for _, k in expected) and any(k == Kind.TREE for _, k in expected)


def test_gc_removes_exactly_the_unreachable_objects(ws):
    ws.gen({"data": {f"f{i}.bin": random_bytes(2000, i) for i in range(20)}, "old.bin": random_bytes(900_000, 5)})
    ws.art("add", "data", "old.bin")
    (ws.root / "old.bin.art").unlink()
    (ws.root / "data/f3.bin").write_bytes(random_bytes(2000, 333))
    ws.art("add", "data")
    out = json.loads(ws.art("gc", "--grace", "0s", "--json").stdout)
    removed = {(r[0], r[1]) for r in out["removed"]} if isinstance(out["removed"][0], list) else out["removed"]
    assert len(removed) >= 2  # old.bin's manifest and chunks, data's old tree and f3's old chunk
    ws.art("fsck")
    r = json.loads(ws.art("status", "--json").stdout)
    assert [a["state"] for a in r["artifacts"]] == ["unchanged"]


def test_fsck_names_a_pack_whose_index_rows_disagree_with_its_trailer(ws):
    ws.gen({"data": {f"f{i}.bin": random_bytes(2000, i) for i in range(5)}})
    ws.art("add", "data")
    db = sqlite3.connect(ws.root / ".art/store/index.db")
    oid, kind = db.execute("SELECT oid, kind FROM objects LIMIT 1").fetchone()
    db.execute("UPDATE objects SET offset = offset + 1 WHERE oid = ? AND kind = ?", (oid, kind))
    db.commit()
    db.close()
    problems = json.loads(ws.art("fsck", "--json", code=3).stdout)["problems"]
    assert any("1 index row(s) disagree with the pack's trailer" in p["detail"] for p in problems)
