"""Property-based fuzzing of every decoder of stored or remote data (docs/formats.md#limits).

Random bytes, mutations of valid encodings (bit flips, truncation, insertion, deletion, splicing) and type
swaps inside valid msgpack / TOML structures may only raise art's own errors (``ArtError``), never anything
else, and never make a decoder allocate more than a small bound. The default tier is quick; the ``slow`` tier
runs many more examples. Inputs that crashed art before the validating layer existed are kept in
``tests/data/fuzz-corpus/`` (named ``DECODER-what.bin``) and replayed here.
"""

from __future__ import annotations

import os
import tomllib
import tracemalloc
from pathlib import Path

import msgpack
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artvc.errors import ArtError, CorruptObjectError, FormatError
from tests.objstore import fuzz_harness as harness

CORPUS = Path(__file__).parent.parent / "data" / "fuzz-corpus"
SEEDS = harness.seeds()
MEMORY_BOUND = 16 << 20  # bytes any decoder may allocate (Python heap peak) for these small inputs
FAST = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW = settings(
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def decode_only_raises_art_errors(name: str, data: bytes) -> None:
    """Run one decoder; fail on any exception that is not an ArtError, or on a heap peak over the bound."""
    tracemalloc.start()
    try:
        harness.DECODERS[name](data)
    except ArtError:
        pass
    except Exception as exc:  # the property under test: nothing else may escape
        raise AssertionError(f"{name} raised {type(exc).__name__}: {exc} on {data[:80]!r}") from exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{name} allocated {peak} bytes on {len(data)} bytes of input"


# --- strategies --------------------------------------------------------------------------------------------


@st.composite
def mutated(draw, name: str) -> bytes:
    """A valid encoding with a few byte-level mutations."""
    data = bytearray(draw(st.sampled_from(SEEDS[name])))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete", "splice"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and data:  # msgpack type markers and TOML punctuation are the interesting values
            data[i] = draw(
                st.sampled_from(
                    b"\x00\x7f\x80\x90\x91\xa0\xc0\xc2\xc3\xc4\xca\xcb\xcc\xcd\xce\xcf"
                    b"\xd0\xd4\xd9\xdc\xdd\xde\xdf\xff[]{}=\"'\n.,#\\"
                )
                | st.integers(0, 255)
            )
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[i : i + draw(st.integers(1, 8))]
        elif op == "splice" and data:
            j = draw(st.integers(0, len(data) - 1))
            data[i:i] = data[j : j + draw(st.integers(1, 16))]
    return bytes(data)


_LEAVES_MSGPACK = (
    st.none()
    | st.booleans()
    | st.integers(-(1 << 63), (1 << 64) - 1)
    | st.floats()
    | st.text(max_size=12)
    | st.binary(max_size=40)
    | st.sampled_from([b"x" * 32, "a" * 64, ""])
)
_LEAVES_TOML = (
    st.booleans()
    | st.integers(-(1 << 63), (1 << 63) - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["a" * 64, "../x", "/abs", "file", "dir", ""])
)


def _values(leaves):
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=6,
    )


def _swap(draw, value, values, depth: int = 0):
    """Replace one node of a decoded structure by a value of any type."""
    if isinstance(value, list) and value and draw(st.integers(0, 3)) and depth < 8:
        value = list(value)
        i = draw(st.integers(0, len(value) - 1))
        value[i] = _swap(draw, value[i], values, depth + 1)
        return value
    if isinstance(value, dict) and value and draw(st.integers(0, 3)) and depth < 8:
        value = dict(value)
        k = draw(st.sampled_from(sorted(value)))
        value[k] = _swap(draw, value[k], values, depth + 1)
        return value
    return draw(values)


@st.composite
def swapped(draw, name: str) -> bytes:
    """A valid structure with one to three fields replaced by values of other types, re-encoded."""
    seed = draw(st.sampled_from(SEEDS[name]))
    if name in harness.MSGPACK:
        value = msgpack.unpackb(seed, raw=False)
        for _ in range(draw(st.integers(1, 3))):
            value = _swap(draw, value, _values(_LEAVES_MSGPACK))
        return msgpack.packb(value, use_bin_type=True)
    value = tomllib.loads(seed.decode())
    for _ in range(draw(st.integers(1, 3))):
        value = _swap(draw, value, _values(_LEAVES_TOML))
    return tomli_w.dumps(value if isinstance(value, dict) else {"x": value}).encode()


def _any_input(name: str):
    strategies = [st.binary(max_size=256), mutated(name)]
    if name in harness.MSGPACK or name in harness.TOML:
        strategies.append(swapped(name))
    return st.one_of(strategies)


# --- the properties -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(set(harness.DECODERS) - {"payload"}))  # (its ids are made up)
def test_seeds_are_valid(name):
    for seed in SEEDS[name]:
        harness.DECODERS[name](seed)  # the starting points decode: mutations explore around valid data


@pytest.mark.parametrize("name", sorted(harness.DECODERS))
@FAST
@given(data=st.data())
def test_decoders_only_raise_art_errors(name, data):
    decode_only_raises_art_errors(name, data.draw(_any_input(name)))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(harness.DECODERS))
@SLOW
@given(data=st.data())
def test_decoders_only_raise_art_errors_many_examples(name, data):
    decode_only_raises_art_errors(name, data.draw(_any_input(name)))


@pytest.mark.parametrize("path", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_the_crash_corpus_only_raises_art_errors(path):
    name = path.name.split("-", 1)[0]
    decode_only_raises_art_errors(name, path.read_bytes())
    with pytest.raises(ArtError):  # every one of them is invalid, not silently accepted
        harness.DECODERS[name](path.read_bytes())


# --- sizes claimed by an index -----------------------------------------------------------------------------


def _peak(fn) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        fn()
        error = None
    except ArtError as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, peak


def test_a_small_zstd_object_claiming_4_gib_is_refused_without_allocating_it():
    import zstandard

    from artvc.objstore.store.pack import PackEntry, unpack_payload
    from artvc.objstore.store.remote_read import verify_payload

    frame = zstandard.ZstdCompressor(write_content_size=False).compress(os.urandom(32 << 10))
    entry = PackEntry(harness.OID, 0, 1, 8, len(frame), 0xFFFFFFFF)
    error, peak = _peak(lambda: verify_payload(entry, frame))
    assert isinstance(error, CorruptObjectError) and "over the limit" in str(error)
    assert peak < 2 << 20
    # within the chunk limit (16 MiB) but still a lie: output is produced step by step, never allocated up front
    error, peak = _peak(lambda: unpack_payload(1, frame, 16 << 20, 0))
    assert isinstance(error, FormatError) and "index says" in str(error)
    assert peak < 4 << 20


def test_a_decompression_bomb_stops_at_the_claimed_size():
    import zstandard

    from artvc.objstore.store.pack import unpack_payload

    bomb = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(200 << 20))  # 200 MiB of zeros
    assert len(bomb) < 64 << 10
    error, peak = _peak(lambda: unpack_payload(1, bomb, 1 << 20, 2))  # a "tree" of 1 MiB
    assert isinstance(error, FormatError) and "index says" in str(error)
    assert peak < 8 << 20
    declared = zstandard.ZstdCompressor().compress(bytes(3 << 20))  # the frame header says 3 MiB
    error, peak = _peak(lambda: unpack_payload(1, declared, 1000, 0))
    assert isinstance(error, FormatError) and "declares" in str(error)
    assert peak < 1 << 20


def test_index_entries_are_checked_against_the_format():
    from artvc.objstore.codec import MAX_CHUNK_SIZE
    from artvc.objstore.store.pack import ENTRY, IDX_MAGIC, decode_index

    def idx(*fields):
        return IDX_MAGIC + ENTRY.pack(b"y" * 32, *fields)

    assert decode_index(idx(0, 1, 8, 100, MAX_CHUNK_SIZE))  # the largest chunk
    for fields, reason in [
        ((4, 0, 8, 3, 3), "unknown kind"),
        ((0, 3, 8, 3, 3), "unknown codec"),
        ((1, 2, 8, 40, 3), "not a chunk"),
        ((0, 2, 8, 32, 3), "stored bytes"),
        ((0, 1, 8, 100, MAX_CHUNK_SIZE + 1), "over the limit"),
        ((0, 0, 8, 3, 4), "stored bytes"),
        ((0, 1, 8, 5000, 100), "stored bytes"),
        ((0, 0, 0, 3, 3), "pack header"),
    ]:
        with pytest.raises(FormatError, match=reason):
            decode_index(idx(*fields))


def test_canonical_encoding_is_enforced_for_manifests():
    from artvc.objstore.objects import FileManifest

    good = FileManifest(harness.OID, 5, ((harness.OID, 5),))
    assert FileManifest.from_bytes(harness.OID, good.to_bytes()) == good
    loose = msgpack.packb(["file", 1, 5, [[harness.OID.digest, 5]]], use_bin_type=False)  # digest as str8
    with pytest.raises(FormatError):
        FileManifest.from_bytes(harness.OID, loose)
    wide = good.to_bytes().replace(b"\x05", b"\xcd\x00\x05", 1)  # 5 as a uint16: valid msgpack, not canonical
    with pytest.raises(FormatError, match="canonical"):
        FileManifest.from_bytes(harness.OID, wide)
