from artvc.objstore.chunking import Chunker
from tests.builders import csv_bytes, random_bytes


def test_chunks_respect_bounds_and_cover_input():
    data = random_bytes(3 << 20)
    pieces = Chunker().split(data)
    assert b"".join(pieces) == data
    assert all(16 * 1024 <= len(p) <= 256 * 1024 for p in pieces[:-1])
    assert 8 < len(pieces) < 60


def test_boundaries_are_deterministic():
    data = csv_bytes(2 << 20)
    assert Chunker().split(data) == Chunker().split(data)


def test_insertion_shifts_only_nearby_chunks():
    data = random_bytes(4 << 20, seed=3)
    edited = data[: 2 << 20] + b"inserted bytes" * 100 + data[2 << 20 :]
    before, after = set(Chunker().split(data)), Chunker().split(edited)
    reused = sum(1 for p in after if p in before)
    assert reused >= len(after) - 3
