"""The streamed directory walk, batched stat-cache and store lookups."""

from __future__ import annotations

import os
from array import array
from pathlib import Path

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.ingest import Ingester
from artvc.objstore.objects import Kind
from artvc.objstore.scan import walk_tree
from artvc.objstore.scanlist import iter_files
from artvc.objstore.sigwalk import signed_walk
from artvc.objstore.store.local import LocalStore


def _tree(root: Path) -> None:
    for d in ("a", "a/x", "b", "c/y/z"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for name in ("top.txt", "a/1", "a/2", "a/x/3", "b/4", "c/y/z/5"):
        (root / name).write_text(name)


def test_walk_tree_asks_for_one_directory_of_files_at_a_time(tmp_path):
    _tree(tmp_path)
    batches = []

    def file_oids(files):
        batches.append([os.path.relpath(p, tmp_path) for p, _ in files])
        return [hash_bytes(Path(p).read_bytes()) for p, _ in files]

    tree, files = walk_tree(str(tmp_path), None, file_oids)
    assert files == 6
    assert sorted(map(tuple, batches)) == sorted([("top.txt",), ("a/1", "a/2"), ("a/x/3",), ("b/4",), ("c/y/z/5",)])
    assert [e.name for e in tree.iter_entries()] == ["a", "b", "c", "top.txt"]
    assert sorted(os.path.relpath(p, tmp_path) for p, _ in iter_files(str(tmp_path))) == [
        "a/1",
        "a/2",
        "a/x/3",
        "b/4",
        "c/y/z/5",
        "top.txt",
    ]


def test_a_tree_1100_folders_deep_is_added_and_walked_without_recursion(tmp_path):
    deep = tmp_path / "data"
    path = deep
    deep.mkdir()
    levels = []
    for _ in range(1100):  # one level at a time: makedirs itself recurses
        path = path / "d"
        path.mkdir()
        levels.append(path)
    (path / "leaf.txt").write_text("deep")
    try:
        _add_and_walk_deep(tmp_path, deep, path)
    finally:  # bottom-up by hand: shutil.rmtree (and so pytest's cleanup) recurses too
        (path / "leaf.txt").unlink()
        for level in reversed(levels):
            level.rmdir()


def _add_and_walk_deep(tmp_path: Path, deep: Path, path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    with store.writer() as w, Ingester(w, store.params, store.compressor) as ing:
        tree, files = ing.add_tree(deep)
    assert files == 1
    assert [p for p, _ in iter_files(str(deep))] == [str(path / "leaf.txt")]
    assert len(signed_walk(str(deep))[0]) == 32  # 1,100 levels deep: iterative, no recursion limit
    node = store.get_tree(tree.oid)
    for _ in range(1100):
        (entry,) = node.entries
        node = store.get_tree(entry.oid)
    assert store.get(node.entries[0].oid, Kind.CHUNK) == b"deep"
    store.close()


def test_has_many_finds_stored_keys_of_the_right_kind_across_query_batches(tmp_path):
    store = LocalStore(tmp_path / "store")
    stored = [hash_bytes(b"%d" % i) for i in range(1200)]
    with store.writer() as w:
        for i, oid in enumerate(stored):
            w.put(oid, Kind.CHUNK, b"%d" % i)
    absent = [hash_bytes(b"x%d" % i) for i in range(300)]
    keys = [(o, Kind.CHUNK) for o in stored + absent] + [(o, Kind.FILE) for o in stored[:10]]
    assert store.has_many(keys) == {(o, int(Kind.CHUNK)) for o in stored}
    with store.writer() as w:
        w.put(absent[0], Kind.FILE, b"pending")
        assert w.present([(absent[0], Kind.FILE), (stored[5], Kind.CHUNK), (absent[1], Kind.CHUNK)]) == {
            (absent[0], int(Kind.FILE)),
            (stored[5], int(Kind.CHUNK)),
        }
    store.close()


def test_index_writes_and_batch_lookups_bind_ids_without_sqlites_adapter(tmp_path):
    """Indexing a pack and asking for many ids bind each id as a blob directly: a ``bytes`` parameter first goes
    through sqlite3's adapter lookup (about 1 us of a 2.6 us index row). Seen through the public adapter registry:
    an adapter registered for ``bytes`` is never called, and the rows hold the same 32-byte blobs as before."""
    import sqlite3

    calls = []
    sqlite3.register_adapter(bytes, lambda b: calls.append(1) or b)
    try:
        store = LocalStore(tmp_path / "store")
        stored = [hash_bytes(b"%d" % i) for i in range(700)]
        with store.writer() as w:
            for i, oid in enumerate(stored):
                w.put(oid, Kind.CHUNK, b"%d" % i)
        assert store.has_many([(o, Kind.CHUNK) for o in stored]) == {(o, int(Kind.CHUNK)) for o in stored}
        assert [loc is not None for loc in store.locate_chunks(stored)] == [True] * 700
        assert calls == []
        rows = store._db.execute("SELECT typeof(oid), length(oid), count(*) FROM objects GROUP BY 1, 2").fetchall()
        assert rows == [("blob", 32, 700)]
        assert store.has(stored[3], Kind.CHUNK)
        store.close()
    finally:
        del sqlite3.adapters[(bytes, sqlite3.PrepareProtocol)]


def test_stat_cache_lookup_many_matches_lookup(tmp_path):
    from artvc.workspace.state import StateDB

    root = tmp_path / "ws"
    root.mkdir()
    paths = []
    for i in range(1300):
        p = root / f"f{i}"
        p.write_bytes(b"%d" % i)
        paths.append(str(p))
    cache = StateDB(tmp_path / "state.db", root)
    stats = [os.stat(p) for p in paths]
    for p, st in zip(paths[:1000], stats[:1000], strict=True):
        cache.record(p, st, hash_bytes(b"x"), written=True)
    cache.flush()
    cache.record(paths[1000], stats[1000], hash_bytes(b"y"), written=True)  # still buffered
    got = cache.lookup_many(list(zip(paths, stats, strict=True)))
    assert got == [cache.lookup(p, st) for p, st in zip(paths, stats, strict=True)]
    assert got[:1000] == [hash_bytes(b"x")] * 1000 and got[1000] == hash_bytes(b"y") and got[1001:] == [None] * 299
    cache.close()


def _signature_by_definition(folder: Path, batch: int) -> bytes:
    """A folder's signature as documented (``scan.stream_dir``): per batch of entries in directory order, their
    inode, mtime, ctime, size and mode as native int64s, then their names; then its subfolders' signatures."""
    import blake3

    entries = [e for e in os.scandir(folder) if e.name not in (".git", ".art")]
    h = blake3.blake3()
    for i in range(0, len(entries), batch):
        part = entries[i : i + batch]
        facts = array("q")
        for e in part:
            st = e.stat(follow_symlinks=False)
            facts.extend((st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode))
        h.update(facts.tobytes())
        h.update("\0".join(e.name for e in part).encode("utf-8", "surrogateescape") + b"\1")
    h.update(b"\2")
    for e in sorted((e for e in entries if e.is_dir(follow_symlinks=False)), key=lambda e: e.name):
        h.update(e.name.encode() + b"\0" + _signature_by_definition(Path(e.path), batch))
    return h.digest()


def test_folder_signatures_keep_their_definition_across_batches(tmp_path):
    """Signatures remembered by an older art must still match: the bytes hashed per entry are pinned."""
    _tree(tmp_path)
    for i in range(4100):  # two batches of entries (``scan._STREAM_BATCH``) in one folder
        (tmp_path / "a" / f"n{i}").write_bytes(b"x" * (i % 7))
    (tmp_path / ".art").mkdir()
    assert signed_walk(str(tmp_path))[0] == _signature_by_definition(tmp_path, 4096)


def test_a_walk_keeps_the_listings_of_folders_within_its_bound(tmp_path):
    from artvc.objstore.scan import stream_dir
    from artvc.objstore.treecache import scan_folder

    _tree(tmp_path)
    small = stream_dir(str(tmp_path / "a"), keep_at_most=10)
    assert small.whole and sorted(small.names) == ["1", "2", "x"] and len(small.meta) == 15
    big = stream_dir(str(tmp_path / "a"), keep_at_most=2)  # more entries than that: none kept
    assert not big.whole and len(big.names) == 0 and len(big.meta) == 0
    assert big.finish([]) == small.finish([])  # keeping changes nothing of the signature
    scanned = scan_folder(str(tmp_path), listings=True)
    assert set(scanned.listings) == {"", "a", "a/x", "b", "c", "c/y", "c/y/z"} == set(scanned.sigs)
    # a listing kept is unfinished: finishing it with the subfolders' signatures gives the walk's signature
    x = scanned.listings["a/x"]
    assert x.finish([]) == scanned.sigs["a/x"][0]
    assert scan_folder(str(tmp_path)).listings == {}


def test_a_listing_kept_by_the_walk_packs_the_names_and_facts_a_kept_stream_does(tmp_path):
    """``signed_walk`` keeps each batch's names as read and packs them on first use (``SignedDir.names``): the
    same names, in the same order, with the same stat facts, as ``stream_dir(keep=True)`` packs as it reads, over
    two batches and names that are not ASCII; the kept facts are there before the names are packed."""
    from artvc.objstore.scan import stream_dir
    from artvc.objstore.treecache import scan_folder

    d = tmp_path / "a"
    d.mkdir()
    for i in range(4100):  # two batches (``scan._STREAM_BATCH``)
        (d / (f"é{i}" if i % 3 else f"n{i}")).write_bytes(b"x" * (i % 5))
    (d / "sub").mkdir()
    eager = stream_dir(str(d), keep=True)
    kept = scan_folder(str(tmp_path), listings=True).listings["a"]
    assert kept.whole and kept.count == len(eager.names) == 4101
    assert kept.meta == eager.meta  # the facts are kept as read; the names not yet packed
    names = kept.names
    assert names.blob == eager.names.blob and names.ends == eager.names.ends
    assert [names[i] for i in (0, 4095, 4096, 4100)] == [eager.names[i] for i in (0, 4095, 4096, 4100)]
    assert kept.names is names  # packed once
    assert sorted(kept.names.decoded()) == sorted([*(p.name for p in d.iterdir())])


def _statements(db, word):
    """Start counting the statements ``db`` runs whose SQL starts with ``word`` (sqlite's trace fires once per
    statement run: once per row of an ``executemany``)."""
    seen = []
    db.set_trace_callback(lambda sql: seen.append(sql) if sql.lstrip().startswith(word) else None)
    return seen


def test_a_pack_is_indexed_64_rows_to_a_statement(tmp_path):
    """700 new objects are indexed with 11 INSERT statements, not 700 (an executemany runs one statement per
    row: ~4k instructions of driver per row); every row is there, each id once, with its kind and location."""
    store = LocalStore(tmp_path / "store")
    stored = [hash_bytes(b"%d" % i) for i in range(700)]
    seen = _statements(store._db, "INSERT OR IGNORE INTO objects")
    with store.writer() as w:
        for i, oid in enumerate(stored):
            w.put(oid, Kind.CHUNK, b"%d" % i)
    store._db.set_trace_callback(None)
    assert len(seen) == 11  # ceil(700 / 64)
    assert store._db.execute("SELECT count(*), count(DISTINCT oid) FROM objects").fetchone() == (700, 700)
    for i in (0, 63, 64, 699):
        assert store.get(stored[i], Kind.CHUNK) == b"%d" % i
    store.close()


def test_the_stat_cache_writes_64_rows_to_a_statement(tmp_path):
    """A flush of 1,300 recorded files runs 21 INSERT statements into the stat cache, not 1,300; a path
    recorded again replaces its row, and every file is found again with its id."""
    from artvc.workspace.state import StateDB

    root = tmp_path / "ws"
    root.mkdir()
    paths = []
    for i in range(1300):
        (root / f"f{i}").write_bytes(b"%d" % i)
        paths.append(str(root / f"f{i}"))
    stats = [os.stat(p) for p in paths]
    cache = StateDB(tmp_path / "state.db", root)
    cache.record(paths[5], stats[5], hash_bytes(b"old"), written=True)
    cache.flush()
    seen = _statements(cache.db, "INSERT OR REPLACE INTO stat")
    for i, (p, st) in enumerate(zip(paths, stats, strict=True)):
        cache.record(p, st, hash_bytes(b"%d" % i), written=True)
    cache.flush()
    cache.db.set_trace_callback(None)
    assert len(seen) == 21  # ceil(1300 / 64)
    assert cache.lookup_many(list(zip(paths, stats, strict=True))) == [hash_bytes(b"%d" % i) for i in range(1300)]
    assert cache.db.execute("SELECT count(*) FROM stat").fetchone() == (1300,)
    cache.close()


def test_a_packed_listing_gives_back_names_order_and_stat_facts(tmp_path):
    """``NameList`` keeps names (ASCII, multi-byte UTF-8, surrogate-escaped bytes) as they were added, in one
    buffer; ``name_order`` sorts in runs and merges (byte order, which is the tree format's code point order);
    ``meta_in_batches`` permutes stat facts in place and cuts them into batches."""
    import random
    from array import array

    from artvc.objstore import packed
    from artvc.objstore.packed import NameList, meta_in_batches, name_order

    rng = random.Random(4)
    names = [f"f{rng.randrange(10**6):07d}" for _ in range(3000)] + ["é", "日本", "z\udcff", "a"]
    rng.shuffle(names)
    kept = NameList()
    for start in range(0, len(names), 1000):  # added in batches, as ``stream_dir`` adds them
        part = names[start : start + 1000]
        text = "\0".join(part)
        kept.add(part, text, text.encode("utf-8", "surrogateescape"))
    assert [kept[i] for i in range(len(kept))] == names
    expected = sorted(range(len(names)), key=lambda i: names[i].encode("utf-8", "surrogateescape"))
    assert list(name_order(kept)) == expected  # sorted at once
    old_run, old_whole = packed._SORT_RUN, packed._SORT_WHOLE
    packed._SORT_RUN = packed._SORT_WHOLE = 256  # several runs merged
    try:
        order = list(name_order(kept))
    finally:
        packed._SORT_RUN, packed._SORT_WHOLE = old_run, old_whole
    assert order == expected
    meta = array("q", (10 * i + f for i in range(len(names)) for f in range(5)))
    files = array("I", order[:2500])
    cut = meta_in_batches(meta, files, 1000)
    assert [len(c) for c in cut] == [5000, 5000, 2500] and len(meta) == 0
    assert [v for c in cut for v in c] == [10 * i + f for i in order[:2500] for f in range(5)]


def test_names_are_sorted_and_decoded_without_a_python_call_per_name(tmp_path, monkeypatch):
    """The walk that stores a folder and the rebuild of a changed one take their names in name order and decoded
    by the batch (``name_order``'s C-level keys, ``NameList.decoded``): no ``NameList.key`` or ``__getitem__``
    call per name (the old sort called a Python key per name, and each name was decoded one call at a time,
    twice), and the trees are those built from the names one by one."""
    from artvc.objstore import packed
    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.scan import walk_tree
    from artvc.objstore.treecache import resolve_tree, scan_folder

    for i in range(300):
        (tmp_path / f"f{(i * 7919) % 1000:04d}").write_bytes(b"%d" % i)
    expected = walk_tree(str(tmp_path), None, lambda files: [hash_bytes(Path(p).read_bytes()) for p, _ in files])[0]
    calls = {"key": 0, "__getitem__": 0}
    for name in calls:

        def counted(self, i, _real=getattr(packed.NameList, name), _name=name):
            calls[_name] += 1
            return _real(self, i)

        monkeypatch.setattr(packed.NameList, name, counted)
    built = walk_tree(str(tmp_path), None, lambda files: [hash_bytes(Path(p).read_bytes()) for p, _ in files])[0]
    scanned = scan_folder(str(tmp_path), listings=True)

    def digests(items):
        return [hash_bytes(Path(p).read_bytes()).digest for p, _ in items]

    rebuilt = resolve_tree(str(tmp_path), None, scanned, digests, lambda rel, sig: None, lambda *a: None)
    assert built.oid == rebuilt == expected.oid
    assert calls == {"key": 0, "__getitem__": 0}
