"""Deltas (pack codec 2) on remotes: push sends bases, pull fetches them, check/gc/compaction/repair know them,
and a hostile remote's deltas (a loop, a wrong base, an endless chain, a bad frame, a missing base) are refused
with nothing of them stored. Directory remotes: the codec handling is the same over every transport."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.objects import Kind
from artvc.objstore.oid import Oid
from artvc.objstore.store.delta import DELTA, MAX_CHAIN, encode_delta
from artvc.objstore.store.local import LocalStore
from artvc.objstore.store.pack import Compressor
from artvc.objstore.store.remote import RemoteStore, pack_path
from artvc.objstore.transfer import download, upload
from artvc.objstore.types import ObjectKey
from tests.builders import csv_bytes, revised


def text(seed: int, n: int = 60_000) -> bytes:
    return csv_bytes(n, seed)


def revise(data: bytes, seed: int) -> bytes:
    return revised(data, seed)


def put(store: LocalStore | RemoteStore, data: bytes, base: tuple[Oid, bytes] | None = None, oid: Oid | None = None):
    """Store ``data`` as one chunk: in full, or as a delta against ``base`` (id, content); return its id."""
    oid = oid or hash_bytes(data)
    if base is None:
        codec, stored = Compressor().pack(data)
    else:
        codec, stored = DELTA, encode_delta(data, base[0], base[1], 3)
    w = store.writer()
    w.put_stored(oid, Kind.CHUNK, codec, stored, len(data))
    w.commit()
    return oid


def remote(path: Path) -> RemoteStore:
    return RemoteStore.open(str(path))


def chain(store: LocalStore | RemoteStore, n: int) -> list[tuple[Oid, bytes]]:
    """A full chunk and ``n`` deltas, each on the one before: [(id, content)]."""
    data = text(1)
    out = [(put(store, data), data)]
    for i in range(n):
        data = revise(data, i + 2)
        out.append((put(store, data, out[-1]), data))
    return out


def test_push_sends_the_bases_and_a_fresh_pull_gets_them(tmp_path):
    local = LocalStore(tmp_path / "local")
    versions = chain(local, 2)  # full, delta on it, delta on the delta
    top, top_data = versions[-1]
    assert local.delta_base(top) == versions[1][0]
    dest = remote(tmp_path / "bucket")
    sent = upload(local, dest, [ObjectKey(top, Kind.CHUNK)])  # only the newest is asked for
    assert sent.objects == 3
    dest = remote(tmp_path / "bucket")
    assert {o for o, _ in versions} <= {o.oid for o in dest.iter_objects()}
    assert dest.locate(top, Kind.CHUNK).entry.codec == DELTA  # carried as it is
    fresh = LocalStore(tmp_path / "fresh")
    got = download(dest, fresh, [(top, int(Kind.FILE))])
    assert not got.problems and not got.missing
    assert fresh.get(top, Kind.CHUNK) == top_data
    assert all(fresh.has(o, Kind.CHUNK) for o, _ in versions)  # a pull never needs a base it did not fetch
    assert fresh.delta_base(top) == versions[1][0]


def test_a_pull_fetches_a_base_the_closure_does_not_name(tmp_path):
    """The remote already has the old version (pushed before); the clone asks only for the new one."""
    local = LocalStore(tmp_path / "local")
    (base, base_data), (new, new_data) = chain(local, 1)
    dest = remote(tmp_path / "bucket")
    upload(local, dest, [ObjectKey(base, Kind.CHUNK)])
    upload(local, dest, [ObjectKey(new, Kind.CHUNK)])
    fresh = LocalStore(tmp_path / "fresh")
    got = download(remote(tmp_path / "bucket"), fresh, [(new, int(Kind.FILE))])
    assert not got.problems
    assert fresh.get(new, Kind.CHUNK) == new_data and fresh.get(base, Kind.CHUNK) == base_data


def test_remote_get_and_check_rebuild_deltas(tmp_path):
    local = LocalStore(tmp_path / "local")
    versions = chain(local, 2)
    dest = remote(tmp_path / "bucket")
    upload(local, dest, [ObjectKey(o, Kind.CHUNK) for o, _ in versions])
    from artvc.objstore.store.remote_check import check_remote

    dest = remote(tmp_path / "bucket")
    assert dest.get(versions[-1][0], Kind.CHUNK) == versions[-1][1]
    found = check_remote(dest, read_data=True)
    assert not found.problems


def test_remote_check_names_every_delta_on_a_damaged_base(tmp_path):
    bucket = tmp_path / "bucket"
    dest = remote(bucket)
    base_data = text(1)
    base = put(dest, base_data)
    one = put(dest, revise(base_data, 2), (base, base_data))
    two = put(dest, revise(base_data, 3), (base, base_data))
    three = put(dest, revise(revise(base_data, 2), 4), (one, revise(base_data, 2)))
    other = put(dest, text(9))
    dest = remote(bucket)
    loc = dest.locate(base, Kind.CHUNK)
    path = bucket / pack_path(loc.pack)
    raw = bytearray(path.read_bytes())
    raw[loc.entry.offset + loc.entry.length // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    from artvc.objstore.store.remote_check import check_remote

    found = check_remote(remote(bucket), read_data=True)
    named = {p.oid for p in found.problems}
    assert {base, one, two, three} <= named
    assert other not in named
    assert any(p.oid == three and base[:10] in p.detail for p in found.problems)


@pytest.mark.parametrize("case", ["self", "loop", "wrong-base", "bad-frame", "missing-base", "too-deep"])
def test_hostile_deltas_are_refused_and_nothing_is_stored(tmp_path, case):
    bucket = tmp_path / "bucket"
    dest = remote(bucket)
    base_data = text(1)
    data = revise(base_data, 2)
    oid = hash_bytes(data)
    base = put(dest, base_data)
    other = text(5)
    if case == "self":
        put(dest, data, (oid, base_data), oid=oid)
    elif case == "loop":  # oid is a delta on x, x a delta on oid
        x_data = revise(base_data, 3)
        x = hash_bytes(x_data)
        put(dest, data, (x, x_data), oid=oid)
        put(dest, x_data, (oid, data), oid=x)
    elif case == "wrong-base":  # encoded against another chunk than the one it names
        w = dest.writer()
        w.put_stored(oid, Kind.CHUNK, DELTA, bytes.fromhex(base) + encode_delta(data, base, other, 3)[32:], len(data))
        w.commit()
    elif case == "bad-frame":
        w = dest.writer()
        w.put_stored(oid, Kind.CHUNK, DELTA, bytes.fromhex(base) + b"\x28\xb5\x2f\xfd" + bytes(200), len(data))
        w.commit()
    elif case == "missing-base":
        put(dest, data, (hash_bytes(b"nowhere"), base_data), oid=oid)
    else:  # a chain longer than any reader follows
        prev = (base, base_data)
        for i in range(MAX_CHAIN + 2):
            d = revise(prev[1], 10 + i)
            prev = (put(dest, d, prev), d)
        oid, data = prev
    fresh = LocalStore(tmp_path / "fresh")
    got = download(remote(bucket), fresh, [(oid, int(Kind.FILE))])
    assert [p.oid for p in got.problems if p.oid == oid], got.problems
    assert not fresh.has(oid, Kind.CHUNK)
    from artvc.errors import ArtError

    with pytest.raises(ArtError):  # reading it straight from the remote refuses it too
        remote(bucket).get(oid, Kind.CHUNK)


def test_remote_gc_keeps_the_base_of_a_live_delta(tmp_path):
    from artvc.objstore.gc import plan_remote, rewrite_remote

    local = LocalStore(tmp_path / "local")
    base_data = text(1)
    base = put(local, base_data)
    dead = put(local, text(7))
    dest = remote(tmp_path / "bucket")
    upload(local, dest, [ObjectKey(base, Kind.CHUNK), ObjectKey(dead, Kind.CHUNK)])  # one pack: base + dead
    new_data = revise(base_data, 2)
    new = put(local, new_data, (base, base_data))
    upload(local, dest, [ObjectKey(new, Kind.CHUNK)])
    store = remote(tmp_path / "bucket")
    plan = plan_remote(store, {ObjectKey(new, Kind.CHUNK)}, time.time() + 3600)
    rewrite_remote(store, plan)
    after = remote(tmp_path / "bucket")
    assert not after.has(dead, Kind.CHUNK)  # collected...
    assert after.has(base, Kind.CHUNK)  # ...but the base a live delta needs stays
    fresh = LocalStore(tmp_path / "fresh")
    got = download(after, fresh, [(new, int(Kind.FILE))])
    assert not got.problems and fresh.get(new, Kind.CHUNK) == new_data


def test_compaction_carries_deltas_as_they_are(tmp_path):
    from artvc.objstore.remote_compact import compact

    local = LocalStore(tmp_path / "local")
    versions = chain(local, 2)
    dest = remote(tmp_path / "bucket")
    for o, _ in versions:
        upload(local, dest, [ObjectKey(o, Kind.CHUNK)])
    result = compact(remote(tmp_path / "bucket"), rebuild=True)
    assert result.entries == 3
    after = remote(tmp_path / "bucket")
    after.refresh()
    assert after.checkpoints.generations
    assert after.locate(versions[-1][0], Kind.CHUNK).entry.codec == DELTA
    fresh = LocalStore(tmp_path / "fresh")
    got = download(after, fresh, [(versions[-1][0], int(Kind.FILE))])
    assert not got.problems and fresh.get(versions[-1][0], Kind.CHUNK) == versions[-1][1]


_PUSH = """
import sys
from artvc.objstore.objects import Kind
from artvc.objstore.oid import Oid
from artvc.objstore.store.local import LocalStore
from artvc.objstore.store.remote import RemoteStore
from artvc.objstore.transfer import upload
from artvc.objstore.types import ObjectKey

upload(LocalStore(sys.argv[1]), RemoteStore.open(sys.argv[2]), [ObjectKey(Oid(sys.argv[3]), Kind.CHUNK)], jobs=1)
"""


def test_an_interrupted_push_never_lists_a_delta_without_its_base(tmp_path):
    """The delta sits in an older local pack than its base (a gc or repack can leave that): the base is still
    published first, so a push killed after its first pack leaves no delta on the remote without its base."""
    import os
    import subprocess
    import sys

    local = LocalStore(tmp_path / "local")
    base_data = text(1)
    base = hash_bytes(base_data)
    new_data = revise(base_data, 2)
    new = put(local, new_data, (base, base_data))  # the older pack: the delta
    put(local, base_data)  # the newer pack: its base
    env = dict(os.environ, ART_FAULT="remote.publishing@3:kill")  # after the first pack and its index
    bucket = tmp_path / "bucket"
    proc = subprocess.run(
        [sys.executable, "-c", _PUSH, str(tmp_path / "local"), str(bucket), new], env=env, capture_output=True
    )
    assert proc.returncode == -9, proc.stderr
    listed = {o.oid for o in remote(bucket).iter_objects()}
    assert listed == {base}  # the base went first; the delta was not published
    upload(local, remote(bucket), [ObjectKey(new, Kind.CHUNK)])  # the next push completes it
    fresh = LocalStore(tmp_path / "fresh")
    got = download(remote(bucket), fresh, [(new, int(Kind.FILE))])
    assert not got.problems and fresh.get(new, Kind.CHUNK) == new_data


def test_art_pull_of_a_delta_loop_fails_with_one_error_and_writes_nothing(ws, tmp_path):
    from artvc.workspace.pointers import Pointer, write_pointer

    bucket = tmp_path / "bucket"
    dest = remote(bucket)
    data = text(3)
    x_data = revise(data, 4)
    oid, x = hash_bytes(data), hash_bytes(x_data)
    put(dest, data, (x, x_data), oid=oid)
    put(dest, x_data, (oid, data), oid=x)
    ws.art("remote", "add", "origin", str(bucket), "-d")
    write_pointer(ws.root / "table.csv.art", Pointer(oid, "file", len(data), 1))
    result = ws.art("pull", code=3)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("art: error: ") and "loops back" in lines[0], result.stderr
    assert lines[1].startswith("hint: ") and "Traceback" not in result.stderr
    assert not (ws.root / "table.csv").exists()
    with ws.repo() as repo:
        assert not repo.store.has(oid, Kind.CHUNK) and not repo.store.has(x, Kind.CHUNK)


def test_deltas_over_the_memory_budget_are_read_again(tmp_path, monkeypatch):
    """With room for no delta's bytes, every delta is set aside without them and read again one at a time."""
    from artvc.objstore import delta_fetch

    monkeypatch.setattr(delta_fetch, "MEMORY", 1)
    local = LocalStore(tmp_path / "local")
    versions = chain(local, 3)
    dest = remote(tmp_path / "bucket")
    upload(local, dest, [ObjectKey(o, Kind.CHUNK) for o, _ in versions])
    fresh = LocalStore(tmp_path / "fresh")
    got = download(remote(tmp_path / "bucket"), fresh, [(o, int(Kind.FILE)) for o, _ in versions])
    assert not got.problems and got.objects == len(versions)
    assert [fresh.get(o, Kind.CHUNK) for o, _ in versions] == [d for _, d in versions]


def test_repair_salvages_an_intact_delta_out_of_a_damaged_pack(tmp_path):
    """A remote pack holds a delta and a damaged chunk; no clone has either: repair copies the delta (verified
    against its base, published after it) into a new pack and retires the damaged one."""
    from artvc.objstore.remote_repair import repair_remote
    from artvc.objstore.store.remote_check import check_remote

    bucket = tmp_path / "bucket"
    dest = remote(bucket)
    base_data = text(1)
    base = put(dest, base_data)
    new_data = revise(base_data, 2)
    new, lost = hash_bytes(new_data), hash_bytes(text(8))
    w = dest.writer()  # one pack: the delta and a chunk that will be damaged
    w.put_stored(new, Kind.CHUNK, DELTA, encode_delta(new_data, base, base_data, 3), len(new_data))
    codec, stored = Compressor().pack(text(8))
    w.put_stored(lost, Kind.CHUNK, codec, stored, len(text(8)))
    w.commit()
    loc = remote(bucket).locate(lost, Kind.CHUNK)
    path = bucket / pack_path(loc.pack)
    raw = bytearray(path.read_bytes())
    raw[loc.entry.offset + 5] ^= 0xFF
    path.write_bytes(bytes(raw))
    found = check_remote(remote(bucket), read_data=True)
    assert {p.oid for p in found.problems} == {lost}
    result = repair_remote(LocalStore(tmp_path / "empty"), remote(bucket), found)
    assert result.salvaged == 1 and result.lost == [(lost, Kind.CHUNK)]
    after = remote(bucket)
    assert after.locate(new, Kind.CHUNK).pack != loc.pack and after.locate(new, Kind.CHUNK).entry.codec == DELTA
    assert not check_remote(remote(bucket), read_data=True).problems
    assert remote(bucket).get(new, Kind.CHUNK) == new_data
