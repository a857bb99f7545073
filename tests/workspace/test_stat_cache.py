"""The stat cache vouches for a file only when every fact of its row matches (inode, mtime, ctime, size), the
row is of the right types and was recorded after the racy window: ``digests_of`` (status rebuilding a changed
folder's tree) asks sqlite to compare, and hashes every file it does not get an id for."""

from __future__ import annotations

import os

from artvc.objstore.hashing import hash_bytes
from artvc.workspace import state as state_mod
from artvc.workspace.state import StateDB


def test_digests_of_vouches_only_for_rows_whose_every_fact_matches(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    n = 2 * state_mod._MATCH_BATCH + 17  # several queries, the last one short
    paths = []
    for i in range(n):
        p = root / f"f{i:04d}"
        p.write_bytes(b"content %d" % i)
        os.utime(p, ns=(1_000_000_000, 1_000_000_000 + i))  # long before now: outside the racy window
        paths.append(str(p))
    items = [(p, os.stat(p)) for p in paths]
    cached = [hash_bytes(b"remembered %d" % i) for i in range(n)]  # not the content's: a hit is told apart
    cache = StateDB(tmp_path / "state.db", root)
    cache.record_rows(cache.rows([(p, st, o) for (p, st), o in zip(items, cached, strict=True)]))
    cache.flush()
    db = cache.db
    damage = {
        1: "ino = ino + 1",
        2: "mtime = mtime + 1",
        3: "ctime = ctime + 1",
        4: "size = size + 1",
        5: "recorded = mtime + 50000000",  # recorded within the racy window of its mtime
        6: "ino = 'x' || ino",  # a damaged row: text where an integer belongs
        7: "oid = 'zz' || substr(oid, 3)",  # not hex
        8: "oid = substr(oid, 2)",  # 63 characters
        9: "recorded = recorded || 'x'",  # text where an integer belongs
        n - 1: "size = NULL",
    }
    for i, change in damage.items():
        db.execute(f"UPDATE stat SET {change} WHERE path = ?", (f"f{i:04d}",))
    db.execute("UPDATE stat SET oid = upper(oid) WHERE path = 'f0010'")  # any case is one id
    fresh = StateDB(tmp_path / "state.db", root)
    pending = 11  # a row recorded in this process and not flushed answers too
    fresh.record(paths[pending], items[pending][1], hash_bytes(b"pending"))
    got = fresh.digests_of(items)
    for i, digest in enumerate(got):
        if i in damage:
            assert digest == hash_bytes(b"content %d" % i).digest, i  # hashed: the row did not vouch
        elif i == pending:
            assert digest == hash_bytes(b"pending").digest
        else:
            assert digest == cached[i].digest, i
    # what was hashed is remembered, so the next ask vouches for it
    assert fresh.lookup_many([items[1]]) == [hash_bytes(b"content 1")]
    fresh.close()
    cache.close()
