"""A remote's view beyond ``remote_view.SPILL`` objects lives in a temporary file of records: a pull of many
objects holds no Python object per listed entry, and reads the same bytes as with the view in memory."""

from __future__ import annotations

import tracemalloc

import pytest

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.objects import Kind
from artvc.objstore.store import remote_view
from artvc.objstore.store.pack import PackEntry
from artvc.objstore.store.remote import RemoteStore
from artvc.objstore.store.remote_view import ViewIndex
from tests.remote.conftest import add_remote, art_json, clone, files_under


def _entries(n: int, pack_no: int) -> list[PackEntry]:
    return [PackEntry(hash_bytes(b"%d/%d" % (pack_no, i)), int(Kind.CHUNK), 0, 8 + 100 * i, 100, 100) for i in range(n)]


def test_a_spilled_index_answers_as_the_dictionary_does(tmp_path, monkeypatch):
    monkeypatch.setattr(remote_view, "SPILL", 500)
    packs = {f"{p:064x}": _entries(300, p) for p in range(4)}
    dup = packs[f"{0:064x}"][7]  # listed again in pack 3: the first copy added wins, as with setdefault
    packs[f"{3:064x}"].append(PackEntry(dup.oid, dup.kind, 0, 99_999, 100, 100))
    skipped = packs[f"{1:064x}"][5]
    avoid = {(skipped.oid, skipped.kind, f"{1:064x}")}
    mem, spilled = ViewIndex(spill=False), ViewIndex(tmp_path)
    for name in sorted(packs):
        mem.add(name, packs[name], avoid)
        spilled.add(name, packs[name], avoid)
    assert spilled.spilled and not mem.spilled
    assert list(tmp_path.iterdir()) == []  # the file is unlinked once open
    keys = [(e.oid, e.kind) for es in packs.values() for e in es] + [(hash_bytes(b"absent"), int(Kind.CHUNK))]
    assert spilled.get_many(keys) == mem.get_many(keys)
    assert all(spilled.get(k) == mem.get(k) for k in keys[::37])
    assert spilled.get((dup.oid, dup.kind)).pack == f"{0:064x}"
    assert (skipped.oid, skipped.kind) not in spilled and len(spilled) == len(mem) == 4 * 300 - 1
    assert sorted(spilled.items()) == sorted(mem.items())
    spilled.close()


def test_a_spilled_lookup_names_each_id_as_it_was_asked_and_makes_no_new_one(tmp_path, monkeypatch):
    """A pull's walk asks the view about every file, as a file and as a chunk: each answer reuses the id of the
    key as asked (the old code made one more ``Oid`` per row found: 300 here) and both kinds of one id are
    answered from one row each."""
    monkeypatch.setattr(remote_view, "SPILL", 100)
    entries = _entries(300, 1)
    view = ViewIndex(tmp_path)
    view.add(f"{1:064x}", entries)
    assert view.spilled
    made: list[str] = []
    real = remote_view.Oid

    class Counted(real):  # type: ignore[misc, valid-type]
        def __new__(cls, value):
            made.append(value)
            return real.__new__(real, value)

    monkeypatch.setattr(remote_view, "Oid", Counted)
    keys = [(e.oid, k) for e in entries for k in (int(Kind.FILE), int(Kind.CHUNK))]
    got = view.get_many(keys)
    assert made == []
    assert set(got) == {(e.oid, int(Kind.CHUNK)) for e in entries}
    assert all(got[(e.oid, e.kind)].entry == e and got[(e.oid, e.kind)].entry.oid is e.oid for e in entries)
    view.close()


def test_the_view_of_a_large_remote_holds_no_object_per_entry(tmp_path, monkeypatch):
    """Refreshing a remote of 20,000 listed objects and locating every one: before, the view held a Located,
    a PackEntry and an id per object (about 400 bytes each, 8 MB here); spilled, it holds pack names only."""
    from artvc.objstore.store.pack import encode_index, pack_name

    monkeypatch.setattr(remote_view, "SPILL", 2000)
    (tmp_path / "remote" / "index").mkdir(parents=True)
    keys = []
    for p in range(10):
        entries = _entries(2000, p)
        table = encode_index(entries)
        name = pack_name(memoryview(table)[8:])
        (tmp_path / "remote" / "index" / f"{name}.idx").write_bytes(table)
        keys += [(e.oid, e.kind) for e in entries]
    store = RemoteStore.open(str(tmp_path / "remote"), cache_dir=tmp_path / "cache")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store.refresh()
        found = {}
        for i in range(0, len(keys), 1000):  # as the fetch walk asks: a level at a time
            found.update(store.locate_many(keys[i : i + 1000]))
        found_count = len(found)
        found.clear()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert found_count == len(keys)
    assert held < 20 * len(keys), f"the view holds {held / len(keys):.0f} bytes per listed object"
    store.close()


def test_a_pull_through_a_spilled_view_is_byte_identical(ws, tmp_path, monkeypatch):
    """The view in a file, the walk in batches of 16 keys, every tree decoded an entry at a time, and files
    of the same content in many folders (each chunk fetched once)."""
    import random

    from artvc.objstore import transfer

    rng = random.Random(3)
    spec = {f"d{j}": {f"f{i:04d}.bin": rng.randbytes(rng.randint(1, 900)) for i in range(60)} for j in range(4)}
    for j in range(4):
        spec[f"d{j}"].update({"same.bin": b"same in every folder", "empty.bin": b""})
    ws.gen({"data": spec})
    ws.art("add", "data")
    add_remote(ws, str(tmp_path / "bucket"))
    art_json(ws, "push")
    monkeypatch.setattr(remote_view, "SPILL", 20)
    monkeypatch.setattr(transfer, "WALK_BATCH", 16)
    monkeypatch.setattr(transfer, "BIG_TREE", 100)
    other = clone(ws, tmp_path / "clone")
    pulled = art_json(other, "pull")
    assert not pulled["problems"] and pulled["objects"] > 200
    assert files_under(other.root / "data") == files_under(ws.root / "data")
    assert art_json(other, "fsck")["problems"] == []


@pytest.mark.slow
def test_python_memory_of_a_pull_per_file_is_small(ws, tmp_path, monkeypatch):
    """A pull of one flat folder holds per file neither a listed entry (the view is a file), nor a location of
    its chunk (16 bytes per chunk to fetch), nor a key of every level (the walk goes in batches and decodes a
    large tree an entry at a time)."""
    import random

    from artvc.objstore import transfer
    from tests.conftest import Workspace

    monkeypatch.setattr(remote_view, "SPILL", 1000)
    monkeypatch.setattr(transfer, "BIG_TREE", 64 << 10)
    rng = random.Random(5)
    peaks = {}
    for n in (1500, 6000):
        ws.gen({f"data{n}": {f"f{i:06d}.bin": rng.randbytes(rng.randint(16, 64)) for i in range(n)}})
        ws.art("add", f"data{n}")
        add_remote(ws, str(tmp_path / f"bucket{n}"), name=f"r{n}")
        ws.art("push", "-r", f"r{n}", f"data{n}")
    other = clone(ws, tmp_path / "clone")
    for n in (1500, 6000):
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            Workspace(other.root).art("pull", "-r", f"r{n}", f"data{n}")
            peaks[n] = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
        assert files_under(other.root / f"data{n}") == files_under(ws.root / f"data{n}")
    per_file = (peaks[6000] - peaks[1500]) / 4500
    # measured (this file run whole, in one process, as CI runs it): 1,022-1,036 before h/scalemem, 828-849 on
    # its branch, 979-1,042 once merged; 896 since the
    # fetch holds no second decoded entry list of a whole pack: the comprehension deciding which packs to fetch
    # whole bound the last pack's entries to a name that lived through the import (transfer.fetch_chunks), and
    # the trailer check decoded a third (pack.trailer_lists compares bytes). The rest is mostly the checkout's
    # and the whole-pack import's one entry list (bounded by the pack size, 64 MiB, not by the number of files)
    # h/small-co3 measured 273 running this test alone (its checkout after the fetch checks a new folder's files
    # present 2,048 at a time, not all at once), before it was rebased onto the above; not re-measured the CI way
    assert per_file < 985, f"pull: {per_file:.0f} bytes of Python memory per file"


def _push_peaks(ws, tmp_path, counts: tuple[int, ...], make, after=None) -> dict[int, int]:
    """The traced peak of Python memory of ``art push`` of ``make(n)`` (a folder ``gen`` spec) for each of
    ``counts``; the first is pushed untraced, so that imports count in none of those measured. ``after(n)`` runs
    after each measured push."""
    peaks = {}
    for n in counts:
        ws.gen({f"data{n}": make(n)})
        ws.art("add", f"data{n}")
        add_remote(ws, str(tmp_path / f"bucket{n}"), name=f"r{n}")
        if n == counts[0]:
            ws.art("push", "-r", f"r{n}", f"data{n}")
            continue
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            ws.art("push", "-r", f"r{n}", f"data{n}")
            peaks[n] = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
        if after is not None:
            after(n)
    return peaks


@pytest.mark.slow
def test_python_memory_of_a_push_per_file_is_small(ws, tmp_path):
    """A push of one flat folder keeps its plan (keys seen, queue, objects to send) in a temporary sqlite file,
    not in Python sets: what grows with the number of files is the folder's tree and the whole packs' entries."""
    import random

    rng = random.Random(7)
    peaks = _push_peaks(
        ws,
        tmp_path,
        (20, 1500, 6000),
        lambda n: {f"f{i:06d}.bin": rng.randbytes(rng.randint(16, 64)) for i in range(n)},
    )
    per_file = (peaks[6000] - peaks[1500]) / 4500
    # measured 1,235 (772 without the untraced push first: the imports counted in the 1,500-file push); 1,106
    # since the plan's walk decodes a tree an entry at a time (upload_plan._named; a push of 200k tiny files in one
    # folder peaked at 126 MB of Python memory before, 25 MB after); what remains grows with the objects of one
    # pack here (all 6,000 fit in one): the decoded entries of the local packs published whole
    assert per_file < 1180, f"push: {per_file:.0f} bytes of Python memory per file"


@pytest.mark.slow
def test_python_memory_of_a_push_of_many_folders_per_file_is_small(ws, tmp_path):
    """A push of folders of 50 files sends no local pack whole (each holds trees beside its chunks: an add of
    less than 8 MiB writes one pack): the remote writer builds new packs of tiny objects, and held each sealed
    pack's entries as a ``PackEntry`` list while it uploaded it (a push of 1M files in folders of 100 peaked at
    593 MB RSS). The entries now stay the pack's encoded table (``EntryTable``, 50 bytes an object)."""
    import random

    rng = random.Random(8)

    def built_here(n: int) -> None:
        local = {p.name for p in (ws.root / ".art" / "store" / "packs").rglob("*.pack")}
        built = [p for p in (tmp_path / f"bucket{n}" / "packs").rglob("*.pack") if p.name not in local]
        assert sum(p.stat().st_size for p in built) > n * 16  # the files' chunks went into packs built here

    def folders(n: int) -> dict:
        return {
            f"d{k:03d}": {f"f{i:02d}.bin": rng.randbytes(rng.randint(16, 64)) for i in range(50)}
            for k in range(n // 50)
        }

    peaks = _push_peaks(ws, tmp_path, (100, 1500, 6000), folders, built_here)
    per_file = (peaks[6000] - peaks[1500]) / 4500
    # measured 924 (1,144 with the sealed packs' entries decoded: ~220 bytes an object of the largest pack)
    assert per_file < 1030, f"push of folders: {per_file:.0f} bytes of Python memory per file"


def _key(d: bytes) -> str:
    from artvc.objstore.oid import Oid

    return Oid(d.hex())


@pytest.mark.parametrize("seal_at", [0, 1 << 20])  # records in the file / still in memory when looked up
def test_an_id_inside_another_record_s_bytes_is_not_taken_for_it(tmp_path, monkeypatch, seal_at):
    """The spilled index is searched with ``bytes.find``: an id that appears in a bucket only across two fields
    of another record (here the last 31 bytes of one id and its kind byte) is not listed, and is found once it
    is."""
    monkeypatch.setattr(remote_view, "SPILL", 1)
    monkeypatch.setattr(remote_view, "SEAL_AT", seal_at)
    x = b"\x00\x00" + hash_bytes(b"x").digest[:29] + b"\x00"  # ends in 0: a chunk's kind byte
    host = b"\x00" + x[:31]  # its record holds x at byte 1: id[1:] + kind
    assert remote_view._bucket(x) == remote_view._bucket(host)
    view = ViewIndex(tmp_path)
    view.add("a" * 64, [PackEntry(_key(host), x[31], 0, 8, 10, 10), *_entries(5, 1)])
    assert view.spilled
    assert view.get((_key(x), int(Kind.CHUNK))) is None
    assert view.get_rows([(_key(x), int(Kind.FILE))], [x]) == [None]
    view.add("b" * 64, [PackEntry(_key(x), int(Kind.CHUNK), 0, 108, 7, 7)])  # after a lookup: held in memory
    assert view.get((_key(x), int(Kind.CHUNK))).entry.offset == 108
    assert view.get_rows([(_key(x), int(Kind.FILE))], [x]) == [("b" * 64, int(Kind.CHUNK), 0, 108, 7, 7)]
    view.close()


def test_segments_merge_in_the_order_added_and_the_first_copy_wins(tmp_path, monkeypatch):
    """Records written as several segments (``PENDING`` small), ids crowded into few buckets, copies of one id
    in later packs, added before and after lookups: every lookup answers as the dictionary does."""
    monkeypatch.setattr(remote_view, "SPILL", 10)
    monkeypatch.setattr(remote_view, "PENDING", 2_000)
    monkeypatch.setattr(remote_view, "SEAL_AT", 500)
    monkeypatch.setattr(remote_view, "READ_MAX", 300)
    monkeypatch.setattr(remote_view, "READ_GAP", 120)

    def crowded(n: int, pack_no: int) -> list[PackEntry]:  # 4 buckets for every id
        out = []
        for i in range(n):
            d = bytearray(hash_bytes(b"%d/%d" % (pack_no, i)).digest)
            d[0], d[1] = 0x40 * (i % 4), 0
            out.append(PackEntry(_key(bytes(d)), int(Kind.CHUNK), 0, 8 + 10 * i, 10, 10))
        return out

    packs = {f"{p:064x}": crowded(120, p) + _entries(50, p) for p in range(6)}
    for p in range(1, 6):  # copies of pack 0's objects at other offsets: the first pack's win
        packs[f"{p:064x}"] += [e._replace(offset=e.offset + 100_000) for e in packs[f"{0:064x}"][p * 10 : p * 10 + 15]]
    mem, spilled = ViewIndex(spill=False), ViewIndex(tmp_path)
    keys = []
    for no, name in enumerate(sorted(packs)):
        mem.add(name, packs[name])
        spilled.add(name, packs[name])
        keys += [(e.oid, e.kind) for e in packs[name]]
        if no in (1, 3):  # lookups between the adds: what was written so far is merged
            assert spilled.get_many(keys) == mem.get_many(keys)
    assert spilled.spilled and list(tmp_path.iterdir()) == []
    keys += [(hash_bytes(b"absent"), int(Kind.CHUNK)), (packs[f"{0:064x}"][3].oid, int(Kind.TREE))]
    assert spilled.get_many(keys) == mem.get_many(keys)
    digests = [bytes.fromhex(o) for o, _ in keys]
    assert spilled.get_rows(keys, digests) == mem.get_rows(keys, digests)
    as_files = [(o, int(Kind.FILE)) for o, _ in keys]
    assert spilled.get_rows(as_files, digests) == mem.get_rows(as_files, digests)
    assert len(spilled) == len(mem) and sorted(spilled.items()) == sorted(mem.items())
    spilled.close()
