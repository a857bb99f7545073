"""Property-based round trips: packs (build, parse, every entry back), trees and manifests (encode, decode),
and read plans (the ranged reads a remote pull makes for a set of objects).

Sizes are bounded so that the default tier stays quick; the ``slow`` tier runs many more examples of each
property (as tests/objstore/test_fuzz_decoders.py does for the decoders).
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artvc.objstore.codec import MAX_NAME_BYTES, MAX_TARGET_BYTES
from artvc.objstore.hashing import hash_bytes
from artvc.objstore.objects import FileManifest, Kind, Tree, TreeEntry
from artvc.objstore.oid import Oid
from artvc.objstore.store.pack import (
    RAW,
    Compressor,
    PackEntry,
    PackWriter,
    check_entry,
    decode_index,
    encode_entries,
    encode_index,
    pack_name,
    read_trailer,
    unpack_payload,
)
from artvc.objstore.store.remote_read import MAX_SPAN, MERGE_GAP, Located, plan_reads
from artvc.workspace.init import init
from artvc.workspace.remote import open_remote, remote_add
from artvc.workspace.repo import Repo
from tests.builders import csv_bytes, random_bytes

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=_HEALTH)
SLOW = settings(max_examples=600, deadline=None, database=None, suppress_health_check=_HEALTH)


def both_tiers(*strategies, **named) -> Callable:
    """Turn a property into two tests: FAST examples in the default tier, SLOW ones under the slow mark."""

    def make(prop: Callable) -> tuple[Callable, Callable]:
        fast = FAST(given(*strategies, **named)(prop))
        slow = pytest.mark.slow(SLOW(given(*strategies, **named)(prop)))
        return fast, slow

    return make


digests = st.binary(min_size=32, max_size=32)
oids = digests.map(Oid.from_digest)

# -- packs ----------------------------------------------------------------------------------------------------

# payloads: noise, repetitive text (compresses), the empty payload, and sizes around the compressor's thresholds
payloads = st.one_of(
    st.binary(max_size=600),
    st.builds(lambda unit, n: (unit * n)[:20_000], st.binary(min_size=1, max_size=64), st.integers(1, 2000)),
    st.integers(120, 9000).map(lambda n: random_bytes(n, n)),
)
pack_objects = st.lists(st.tuples(oids, st.sampled_from(list(Kind)), payloads, st.booleans()), max_size=24)


def _pack_round_trip(objects) -> None:
    compressor = Compressor()
    f = io.BytesIO()
    writer = PackWriter(f)
    for oid, kind, data, raw in objects:
        codec, stored = (RAW, data) if raw else compressor.pack(data)
        writer.add(oid, int(kind), codec, stored, len(data))
    name = writer.seal()
    blob = f.getvalue()
    assert writer.size == len(blob)

    entries = read_trailer(io.BytesIO(blob), len(blob))
    assert entries == writer.entries
    assert pack_name(encode_entries(entries)) == name
    assert decode_index(encode_index(entries)) == entries  # the remote's .idx beside the pack
    for (oid, kind, data, _), e in zip(objects, entries, strict=True):
        check_entry(e.kind, e.codec, e.offset, e.length, e.raw_length)
        assert (e.oid, e.kind, e.raw_length) == (oid, int(kind), len(data))
        assert unpack_payload(e.codec, blob[e.offset : e.offset + e.length], e.raw_length, e.kind) == data


test_pack_round_trip, test_pack_round_trip_many_examples = both_tiers(pack_objects)(_pack_round_trip)

# -- trees and manifests --------------------------------------------------------------------------------------

names = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), min_size=1, max_size=40)
names = names.filter(lambda n: len(n.encode()) <= MAX_NAME_BYTES)
targets = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), min_size=1, max_size=80)
targets = targets.filter(lambda t: len(t.encode()) <= MAX_TARGET_BYTES)
sizes = st.one_of(st.integers(0, 1 << 20), st.integers(0, (1 << 63) - 1))


@st.composite
def tree_entries(draw) -> list[TreeEntry]:
    chosen = draw(st.lists(names, max_size=30, unique_by=lambda n: n.encode()))
    out = []
    for name in chosen:
        kind = draw(st.sampled_from(["file", "dir", "symlink"]))
        if kind == "symlink":
            out.append(TreeEntry(name, kind, draw(oids), 0, target=draw(targets)))
        else:
            executable = kind == "file" and draw(st.booleans())
            out.append(TreeEntry(name, kind, draw(oids), draw(sizes), executable=executable))
    return out


def _tree_round_trip(entries, order) -> None:
    tree = Tree.build(entries)
    data = tree.to_bytes()
    back = Tree.from_bytes(tree.oid, data)
    assert back.entries == tree.entries and back.oid == tree.oid
    assert back.to_bytes() == data  # canonical: decoding and encoding again changes nothing
    shuffled = Tree.build(order.shuffle(list(entries)) or entries)
    assert shuffled.oid == tree.oid  # the order the entries came in does not change the id


test_tree_round_trip, test_tree_round_trip_many_examples = both_tiers(tree_entries(), st.randoms())(_tree_round_trip)


@st.composite
def manifests(draw) -> FileManifest:
    chunks = tuple(draw(st.lists(st.tuples(oids, st.integers(0, 16 << 20)), max_size=40)))
    return FileManifest(Oid.from_digest(draw(digests)), sum(n for _, n in chunks), chunks)


def _manifest_round_trip(manifest) -> None:
    data = manifest.to_bytes()
    back = FileManifest.from_bytes(manifest.oid, data)
    assert back == manifest and back.to_bytes() == data


test_manifest_round_trip, test_manifest_round_trip_many_examples = both_tiers(manifests())(_manifest_round_trip)

# -- read plans -----------------------------------------------------------------------------------------------

# gaps and lengths around the planner's own bounds, so that merging and splitting both happen
gaps = st.one_of(st.integers(0, 64), st.integers(MERGE_GAP - 2, MERGE_GAP + 2), st.integers(0, 3 * MERGE_GAP))
lengths = st.one_of(st.integers(0, 4096), st.integers(MAX_SPAN // 4, MAX_SPAN + 10))


@st.composite
def located(draw) -> list[Located]:
    """Objects in 1-3 packs laid out back to back (with gaps: objects not asked for), in a random order."""
    out = []
    for pack in draw(st.lists(st.sampled_from("abc"), min_size=1, max_size=3, unique=True)):
        name, offset = hash_bytes(pack.encode()), 8
        for length, gap, wanted in draw(st.lists(st.tuples(lengths, gaps, st.booleans()), max_size=30)):
            offset += gap
            if wanted:
                entry = (Oid.from_digest(draw(digests)), 0, RAW, offset, length, length)
                out.append(Located(name, PackEntry(*entry)))
            offset += length
    return draw(st.permutations(out))


def _plan_covers_every_object_once(locations) -> None:
    spans = plan_reads(locations)
    planned = [(pack, e) for pack, _start, _end, group in spans for e in group]
    assert sorted(planned, key=repr) == sorted(((loc.pack, loc.entry) for loc in locations), key=repr)
    last: dict[str, int] = {}
    for pack, start, end, group in spans:
        assert group and start == min(e.offset for e in group) and end == max(e.offset + e.length for e in group)
        assert start >= last.get(pack, 0)  # spans of one pack are in order and never overlap
        last[pack] = end
        assert end - start <= max(MAX_SPAN, group[0].length)  # bounded: one read never holds a whole pack
        for a, b in zip(group, group[1:], strict=False):
            assert a.offset <= b.offset and b.offset - (a.offset + a.length) <= MERGE_GAP


test_read_plan_covers_every_object_once, test_read_plan_covers_every_object_once_many_examples = both_tiers(located())(
    _plan_covers_every_object_once
)


def _plans_merge_what_is_close(locations) -> None:
    """Two neighbours in one pack are read apart only when the gap or the span bound demands it."""
    spans = plan_reads(locations)
    for (pack, start, end, _), (next_pack, _, _, next_group) in zip(spans, spans[1:], strict=False):
        if pack == next_pack:
            first = next_group[0]
            assert first.offset - end > MERGE_GAP or first.offset + first.length - start > MAX_SPAN


test_read_plan_merges_neighbours, test_read_plan_merges_neighbours_many_examples = both_tiers(located())(
    _plans_merge_what_is_close
)


def test_reads_of_any_subset_in_any_order_return_each_object_once(tmp_path: Path) -> None:
    """Through a real remote store (``memory://``, opened as a workspace opens it): whatever objects a pull
    asks for, in whatever order and with however many parallel reads, each comes back once, byte-exact."""
    from fsspec.implementations.memory import MemoryFileSystem

    init(tmp_path, no_git=True)
    url = f"memory://roundtrip-{secrets.token_hex(4)}"
    with Repo(tmp_path) as repo:
        remote_add(repo, "origin", url)
        store = open_remote(repo, "origin")
    # small and large objects (a large one not asked for forces a gap over MERGE_GAP), in three packs
    blobs = [random_bytes(n, i) if i % 2 else csv_bytes(n, i) for i, n in enumerate([0, 10, 5000, 300_000] * 6)]
    try:
        for part in (blobs[:8], blobs[8:15], blobs[15:]):
            with store.writer() as w:
                for b in part:
                    w.put(hash_bytes(b), Kind.CHUNK, b)
        view = open_remote(Repo(tmp_path), "origin")
        by_oid = {hash_bytes(b): b for b in blobs}
        where = {oid: view.locate(oid, Kind.CHUNK) for oid in by_oid}
        assert len({loc.pack for loc in where.values()}) == 3

        @FAST
        @given(st.permutations(sorted(by_oid)), st.integers(0, len(by_oid)), st.integers(1, 4))
        def reads(order, n, jobs) -> None:
            wanted = [where[oid] for oid in order[:n]]
            got = [
                (e.oid, unpack_payload(e.codec, stored, e.raw_length))
                for _, e, stored in view.read_objects(wanted, jobs=jobs)
            ]
            assert sorted(oid for oid, _ in got) == sorted(order[:n])
            assert all(data == by_oid[oid] for oid, data in got)

        reads()
    finally:
        MemoryFileSystem.store.clear()
        MemoryFileSystem.pseudo_dirs[:] = [""]
