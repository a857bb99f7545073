"""Deltas in a workspace: fsck reports a damaged base with every chunk built on it and quarantines them all;
re-adding the data heals the store; core.delta = false stores none."""

import json

from artvc.objstore.objects import Kind
from tests.builders import csv_bytes, rewritten


def _flip_payload(repo, oid):
    loc = repo.store.locate(oid, Kind.CHUNK)
    path = repo.store.pack_path(repo.store.pack_name(loc.pack))
    raw = bytearray(path.read_bytes())
    raw[loc.offset + loc.length // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def _three_versions(ws):
    v1 = csv_bytes(700_000, seed=4)
    v2 = rewritten(v1, 30, 1)
    v3 = rewritten(v2, 30, 2)
    for name, data in (("v1.csv", v1), ("v2.csv", v2), ("v3.csv", v3)):
        ws.gen({name: data})
        ws.art("add", name)
    return v1, v2, v3


def test_a_damaged_base_is_reported_and_quarantined_with_every_dependent(ws):
    v1, v2, v3 = _three_versions(ws)
    with ws.repo() as repo:
        rows = list(repo.store._db.execute("SELECT oid, base FROM deltas"))
        assert rows, "revised versions were stored as deltas"
        bases = {b.hex() for _, b in rows}
        base = next(b for b in sorted(bases) if b not in {o.hex() for o, _ in rows})  # a chunk stored in full
        deps = repo.store.dependents([base])[base]
        _flip_payload(repo, base)
    r = ws.art("fsck", "--json", code=3)
    problems = {p["oid"]: p for p in json.loads(r.stdout)["problems"] if p["kind"] == "chunk"}
    assert set(deps) <= set(problems) and base in problems
    assert f"{len(deps)} chunk(s) are stored as deltas on it" in problems[base]["detail"]
    assert all(d[:10] in problems[base]["detail"] for d in deps)
    with ws.repo() as repo:
        quarantined = {o.hex() for (o,) in repo.store._db.execute("SELECT oid FROM quarantine WHERE kind=0")}
    assert {base, *deps} <= quarantined

    for name in ("v1.csv", "v2.csv", "v3.csv"):  # the intact data stores the quarantined chunks again
        (ws.root / name).touch()
        ws.art("add", name)
    assert json.loads(ws.art("fsck", "--json").stdout)["problems"] == []
    for name, data in (("v1.csv", v1), ("v2.csv", v2), ("v3.csv", v3)):
        (ws.root / name).unlink()
        ws.art("checkout", name + ".art")
        assert (ws.root / name).read_bytes() == data


def test_core_delta_false_stores_no_delta(ws):
    ws.art("config", "core.delta", "false")
    _three_versions(ws)
    with ws.repo() as repo:
        assert repo.store._db.execute("SELECT count(*) FROM objects WHERE codec=2").fetchone()[0] == 0
        assert repo.store._db.execute("SELECT count(*) FROM deltas").fetchone()[0] == 0
    r = ws.art("config", "core.delta_depth", "9", code=1)
    assert "core.delta_depth must be from 1 to 8" in r.stderr
