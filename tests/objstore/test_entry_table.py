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
