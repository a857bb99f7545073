"""``objstore/remote_file.py``'s decoders bound what a remote gives them: a zstd chunk decompressed in place must
fill exactly the length its entry states, and the spans a file is cut into stay within ``SPAN``."""

from __future__ import annotations

import pytest
import zstandard

from artvc.errors import FormatError
from artvc.objstore.objects import Kind
from artvc.objstore.remote_file import SPAN, spans
from artvc.objstore.store.pack import RAW, ZSTD, PackEntry, unzstd_into


def frame(data: bytes, *, sized: bool = True) -> memoryview:
    return memoryview(zstandard.ZstdCompressor(level=1, write_content_size=sized).compress(data))


@pytest.mark.parametrize("sized", [True, False])
def test_a_chunk_is_decompressed_in_place_to_exactly_its_length(sized):
    data = bytes(range(256)) * 300
    out = bytearray(len(data) + 7)
    unzstd_into(frame(data, sized=sized), memoryview(out)[: len(data)])
    assert bytes(out[: len(data)]) == data and out[len(data) :] == bytes(7)  # nothing past its slot


@pytest.mark.parametrize("sized", [True, False])
@pytest.mark.parametrize("delta", [-1, 1, 5000])
def test_a_chunk_that_does_not_decompress_to_its_stated_length_is_refused(sized, delta):
    data = b"abc" * 4000
    out = bytearray(len(data) + delta + 16)
    slot = memoryview(out)[: len(data) + delta]
    with pytest.raises(FormatError):
        unzstd_into(frame(data, sized=sized), slot)
    assert out[len(data) + delta :] == bytes(16)  # a frame larger than its slot never writes past it


def test_garbage_is_refused():
    with pytest.raises(FormatError):
        unzstd_into(memoryview(b"\x28\xb5\x2f\xfd" + b"\xff" * 40), memoryview(bytearray(100)))


def test_spans_stay_within_the_bound_stored_and_decompressed():
    def entry(i: int, length: int, raw: int, codec: int) -> PackEntry:
        return PackEntry(f"{i:064x}", int(Kind.CHUNK), codec, 100 + i * length, length, raw)

    raw_chunks = [("p", entry(i, 1 << 20, 1 << 20, RAW)) for i in range(9)]
    assert [len(s[3]) for s in spans(raw_chunks)] == [4, 4, 1]
    packed = [("p", entry(i, 100 << 10, 1 << 20, ZSTD)) for i in range(9)]  # 10x compressed: bound by raw size
    cut = list(spans(packed))
    assert all(sum(e.raw_length for e in s[3]) <= SPAN for s in cut) and sum(len(s[3]) for s in cut) == 9
    two_packs = [("p", raw_chunks[0][1]), ("q", raw_chunks[1][1])]  # contiguous offsets, other pack: cut
    assert [s[0] for s in spans(two_packs)] == ["p", "q"]
