"""A remote pack's index held as its encoded records (``EntryTable``): checked whole, decoded one entry at a
time, and small in memory for a pack of many tiny files (issue 18: a pull of 1M small files)."""

from __future__ import annotations

import os
import tracemalloc

import pytest

from artvc.errors import FormatError
from artvc.objstore.store.pack import (
    ENTRY,
    IDX_MAGIC,
    EntryTable,
    by_offset,
    decode_index,
    encode_entries,
    pack_name,
    sorted_records,
)
from artvc.objstore.store.remote_read import check_index


def _index(n: int, *, reverse: bool = False) -> bytes:
    """An index of ``n`` raw 16-byte chunks with random ids, in offset order (or reversed)."""
    offsets = range(8, 8 + 16 * n, 16)
    recs = [ENTRY.pack(os.urandom(32), 0, 0, off, 16, 16) for off in (reversed(offsets) if reverse else offsets)]
    return IDX_MAGIC + b"".join(recs)


def test_table_reads_as_the_decoded_list() -> None:
    data = _index(500)
    name = pack_name(memoryview(data)[len(IDX_MAGIC) :])
    table = check_index(name, data)
    listed = decode_index(data)
    assert isinstance(table, EntryTable) and table.offset_ordered
    assert len(table) == 500 and list(table) == listed and table == listed
    assert table[0] == listed[0] and table[-1] == listed[-1] and table[10:13] == listed[10:13]
    assert encode_entries(table) == data[len(IDX_MAGIC) :]
    assert by_offset(table) is table
    with pytest.raises(IndexError):
        table[500]


def test_unordered_table_is_sorted_and_bad_tables_are_refused() -> None:
    data = _index(50, reverse=True)
    table = EntryTable.from_records(memoryview(data)[len(IDX_MAGIC) :])
    assert not table.offset_ordered
    assert [e.offset for e in by_offset(table)] == sorted(e.offset for e in table)
    with pytest.raises(FormatError):
        EntryTable.from_records(data[len(IDX_MAGIC) : -1])  # a partial entry
    bad = bytearray(data[len(IDX_MAGIC) :])
    bad[32] = 9  # an unknown kind
    with pytest.raises(FormatError):
        EntryTable.from_records(bytes(bad))
    assert check_index("0" * 64, data) is None  # not the name its content hashes to


def test_sorted_records_merges_runs_stably(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("artvc.objstore.store.pack._RUN", 7)
    table = _index(100)[len(IDX_MAGIC) :]
    dup = table[: ENTRY.size]  # one id listed twice: the first copy stays first
    both = table + dup[:32] + dup[32:33] + b"\x00" + dup[34:]
    got = list(sorted_records(both))
    assert got == sorted(ENTRY.iter_unpack(both), key=lambda r: r[0])
    firsts = [r for r in got if r[0] == dup[:32]]
    assert [r[2] for r in firsts] == [0, 0] and len(firsts) == 2


@pytest.mark.slow
def test_a_large_pack_index_costs_its_bytes_not_an_object_per_entry() -> None:
    """200k entries: the checked index and its id-sorted rows stay near the table's 50 bytes an entry (a list
    of ``PackEntry`` was ~300 bytes an entry, a sorted list of row tuples over 200; one run of
    65,536 rows is unpacked at a time, so the bound per entry falls as packs grow)."""
    n = 200_000
    data = _index(n)
    name = pack_name(memoryview(data)[len(IDX_MAGIC) :])
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        table = check_index(name, data)
        held = tracemalloc.get_traced_memory()[0] - base
        assert table is not None and len(table) == n
        tracemalloc.reset_peak()
        last, count = b"", 0
        for rec in sorted_records(encode_entries(table)):
            assert rec[0] >= last
            last, count = rec[0], count + 1
        peak = tracemalloc.get_traced_memory()[1] - base - held
    finally:
        tracemalloc.stop()
    assert count == n
    assert held / n < 60, f"the checked index holds {held / n:.0f} bytes an entry"
    assert peak / n < 160, f"sorting its rows peaked at {peak / n:.0f} bytes an entry"


def test_the_check_notes_what_adopting_the_pack_whole_asks_and_refuses_what_decode_refuses() -> None:
    """``from_records``' one pass notes deltas, the end of the objects, their bytes and whether a gap lies
    between them (a fetch walks no entry again for these), and its shortcut for raw chunks refuses exactly
    what ``decode_entries`` refuses."""
    from artvc.objstore.codec import MAX_CHUNK_SIZE
    from artvc.objstore.store.pack import decode_entries

    def table(*recs: tuple[int, int, int, int, int]) -> bytes:
        return b"".join(ENTRY.pack(os.urandom(32), *r) for r in recs)

    dense = EntryTable.from_records(table((0, 0, 8, 16, 16), (0, 1, 24, 10, 40), (2, 0, 34, 5, 5)))
    assert (dense.deltas, dense.end, dense.stored, dense.dense, dense.offset_ordered) == (False, 39, 31, True, True)
    gap = EntryTable.from_records(table((0, 0, 8, 16, 16), (0, 0, 30, 16, 16)))
    assert (gap.dense, gap.end, gap.stored) == (False, 46, 32)
    back = EntryTable.from_records(table((0, 0, 24, 16, 16), (0, 0, 8, 16, 16)))
    assert (back.dense, back.offset_ordered, back.end) == (False, False, 40)
    delta = EntryTable.from_records(table((0, 0, 8, 16, 16), (0, 2, 24, 40, 4000)))
    assert delta.deltas and not dense.deltas
    for bad in [
        (0, 0, 8, 16, 17),  # a raw object whose stored and raw lengths differ
        (0, 0, 4, 16, 16),  # inside the pack's header
        (0, 0, 8, MAX_CHUNK_SIZE + 1, MAX_CHUNK_SIZE + 1),  # over a chunk's limit
        (9, 0, 8, 16, 16),  # an unknown kind
        (0, 7, 8, 16, 16),  # an unknown codec
        (2, 2, 8, 40, 4000),  # a delta that is not a chunk
    ]:
        data = table((0, 0, 8, 16, 16), bad)
        with pytest.raises(FormatError):
            list(decode_entries(data))
        with pytest.raises(FormatError):
            EntryTable.from_records(data)
