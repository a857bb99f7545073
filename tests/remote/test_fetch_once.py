"""A fetch checks each remote index once and walks no whole pack's entries again for what that check can note:
whether the pack holds deltas, where its objects end, their bytes, and that no gap lies between them (all from
``EntryTable.from_records``); the index read back from the cache for a pack fetched whole hashes to a name
checked already, so it is not checked entry by entry again. Damaged data is still refused (exit 3), and the
rest is pulled byte for byte, through the view of a large remote (a file of records, ``remote_view``)."""

from __future__ import annotations

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.objects import Kind
from artvc.objstore.store.pack import IDX_MAGIC, EntryTable, decode_index
from artvc.objstore.store.remote_read import check_index
from tests.remote.conftest import art_json, count_calls, files_under, flat_clone


def test_a_pull_checks_each_index_once_and_adopts_a_pack_without_walking_its_entries_again(ws, tmp_path, monkeypatch):
    from artvc.objstore import pack_ranges, transfer
    from artvc.objstore.store import remote_view

    other = flat_clone(ws, tmp_path, seed=36)
    monkeypatch.setattr(remote_view, "SPILL", 1)  # the view in its file, as at 100,000 files
    checked = count_calls(monkeypatch, EntryTable, "from_records")
    walked = count_calls(monkeypatch, EntryTable, "__iter__")
    windows = count_calls(monkeypatch, pack_ranges, "spans")
    whole = count_calls(monkeypatch, transfer._Download, "_import_pack")
    pulled = art_json(other, "pull")
    assert not pulled["problems"] and pulled["files_written"] == 300
    indexes = sorted((tmp_path / "bucket" / "index").rglob("*.idx"))
    assert whole and len(checked) == len(indexes)  # the refresh's check only (a whole pack's index: none again)
    # each whole pack's records cut into windows once, as unpacked records: no PackEntry (nor hex id) made
    assert len(windows) == len(whole) and walked == []
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    assert files_under(other.root / "d1") == files_under(ws.root / "d1")


def test_an_index_checked_once_is_known_by_its_name_only_when_its_bytes_hash_to_it(tmp_path):
    """The memo of checked indexes (``check_index(..., checked)``) vouches for bytes that hash to a checked
    name only: other bytes under that name, or a table with an impossible entry, are refused as before, and
    the facts of a table read again are those of its check."""
    from artvc.objstore.store.pack import PackEntry, encode_index, pack_name

    entries = [PackEntry(hash_bytes(b"%d" % i), int(Kind.CHUNK), 0, 8 + 10 * i, 10, 10) for i in range(5)]
    data = encode_index(entries)
    name = pack_name(memoryview(data)[len(IDX_MAGIC) :])
    memo: dict[str, EntryTable] = {}
    first = check_index(name, data, memo)
    assert first is not None and list(first) == entries and name in memo
    again = check_index(name, data, memo)
    assert again == first and (again.deltas, again.end, again.stored, again.dense) == (False, 58, 50, True)
    tampered = bytearray(data)
    tampered[-1] ^= 1
    assert check_index(name, bytes(tampered), memo) is None
    bad = encode_index([*entries[:4], entries[4]._replace(kind=9)])  # hashes to its own name, not a valid table
    assert check_index(pack_name(memoryview(bad)[len(IDX_MAGIC) :]), bad, memo) is None
    assert len(memo) == 1


def test_a_damaged_chunk_of_a_whole_pack_exits_3_and_the_rest_is_pulled(ws, tmp_path, monkeypatch):
    """One byte flipped in one small file's chunk in the remote's pack: the pack is not adopted (its good objects
    are stored one by one), the pull exits 3 naming the chunk, and the other folder is checked out as pushed."""
    from artvc.objstore.store import remote_view

    other = flat_clone(ws, tmp_path, seed=37)
    monkeypatch.setattr(remote_view, "SPILL", 1)
    packs = {p.name[:-4]: p for p in (tmp_path / "bucket" / "index").rglob("*.idx")}
    name = max(packs, key=lambda n: packs[n].stat().st_size)  # the chunks' pack
    victim = next(e for e in decode_index(packs[name].read_bytes()) if e.kind == Kind.CHUNK and e.length > 20)
    pack = next((tmp_path / "bucket" / "packs").rglob(f"{name}.pack"))
    raw = bytearray(pack.read_bytes())
    raw[victim.offset + victim.length // 2] ^= 0xFF
    pack.write_bytes(bytes(raw))
    error = art_json(other, "pull", code=3)["error"]
    assert error["type"] == "IntegrityError" and f"chunk {victim.oid[:10]}" in error["message"]
    folders = {f: files_under(ws.root / f) for f in ("d0", "d1")}
    (hit,) = [f for f, files in folders.items() if any(hash_bytes(v) == victim.oid for v in files.values())]
    (fine,) = {"d0", "d1"} - {hit}
    assert files_under(other.root / fine) == folders[fine]  # the artifact without the damaged file
    assert not (other.root / hit).exists()  # the one with it is not checked out
    with other.repo() as repo:  # the good objects of the pack not adopted were stored one by one
        rest = [e for e in decode_index(packs[name].read_bytes()) if e.oid != victim.oid]
        assert all(repo.store.has(e.oid, Kind(e.kind)) for e in rest)
        assert not repo.store.has(victim.oid, Kind.CHUNK)
