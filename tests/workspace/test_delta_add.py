"""Deltas at ``art add`` by position: a file added again at the same path is delta-compressed against its
previous version (what the artifact's pointer tracks there), with no sketch; a first add tries no delta."""

from artvc.objstore.objects import Kind
from tests.builders import csv_bytes, rewritten


def _counts(repo) -> tuple[int, int, set[str]]:
    db = repo.store._db
    sketches = db.execute("SELECT count(*) FROM sketch").fetchone()[0]
    rows = list(db.execute("SELECT oid, base FROM deltas"))
    return sketches, len(rows), {b.hex() for _, b in rows}


def test_a_large_file_added_again_is_stored_as_deltas_on_its_previous_version(ws):
    v1 = csv_bytes(3 << 20, seed=7)
    v2 = rewritten(v1, 50, seed=8)
    ws.gen({"data": {"big.csv": v1}})
    ws.art("add", "data")
    with ws.repo() as repo:
        assert _counts(repo)[:2] == (0, 0)  # a first add: nothing sketched, no delta tried
    ws.gen({"data": {"big.csv": v2}})
    ws.art("status", code=None)  # hashes the changed file (the stat cache now knows v2's id, not v1's)
    ws.art("add", "data")
    with ws.repo() as repo:
        sketches, deltas, bases = _counts(repo)
        assert sketches == 0 and deltas > 20
        old = {c for c, _ in repo.store.file_chunks(_hash(v1), len(v1))}
        assert bases <= old
        assert b"".join(repo.store.iter_file(_hash(v2), len(v2))) == v2
    ws.art("fsck")


def test_a_small_file_added_again_is_a_delta_on_its_previous_version_without_a_sketch(ws):
    v1 = csv_bytes(40_000, seed=9)
    ws.gen({"small.csv": v1})
    ws.art("config", "core.delta", "true")
    ws.art("add", "small.csv")
    with ws.repo() as repo:
        before = _counts(repo)[0]
    v2 = rewritten(v1, 5, seed=10)
    ws.gen({"small.csv": v2})
    ws.art("add", "small.csv")
    with ws.repo() as repo:
        sketches, deltas, bases = _counts(repo)
        assert (sketches, deltas, bases) == (before, 1, {_hash(v1)})
        assert repo.store.get(_hash(v2), Kind.CHUNK) == v2


def _hash(data: bytes) -> str:
    from artvc.objstore.hashing import hash_bytes

    return hash_bytes(data)
