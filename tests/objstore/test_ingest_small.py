"""Many small files: jobs read, hash and compress in the workers, claims give each new object to one job, the
pack file writes payloads without copying them, the walk signs the folders it stores."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import pytest

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.ingest import Ingester
from artvc.objstore.objects import Kind
from artvc.objstore.scan import walk_tree
from artvc.objstore.sigwalk import signed_walk
from artvc.objstore.store.local import LocalStore
from artvc.objstore.store.pack import read_trailer
from artvc.objstore.store.packer import PackBuilder
from artvc.objstore.tree import walk


def _many_files(root: Path, n: int = 3000, seed: int = 3) -> dict[str, bytes]:
    """``n`` files in nested folders: duplicates, empty files, compressible text, files of several chunks
    (over the 16 KiB minimum chunk, under the small-file limit), executable bits, a symlink per folder."""
    rng = random.Random(seed)
    shared = [rng.randbytes(rng.randint(1, 6000)) for _ in range(40)]
    out = {}
    for i in range(n):
        folder = f"d{i % 7}" + ("/inner" if i % 3 == 0 else "")
        r = rng.random()
        if r < 0.05:
            data = b""
        elif r < 0.35:
            data = rng.choice(shared)
        elif r < 0.5:
            data = (b"row %d\n" % (i % 11)) * rng.randint(1, 3000)
        elif r < 0.53:
            data = rng.randbytes(rng.randint(20_000, 300_000))
        else:
            data = rng.randbytes(rng.randint(1, 8192))
        path = root / folder / f"f{i:05d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if i % 13 == 0:
            path.chmod(0o755)
        out[f"{folder}/f{i:05d}"] = data
    for d in sorted({p.rpartition("/")[0] for p in out}):
        (root / d / "link").symlink_to("missing-target")
    return out


def _tree_by_hashing(root: Path):
    """The tree built with each file's id taken straight from its bytes (a file's id is blake3 of its content)."""
    return walk_tree(str(root), None, lambda files: [hash_bytes(Path(p).read_bytes()) for p, _ in files])[0]


@pytest.mark.long
def test_small_file_jobs_store_the_tree_one_file_at_a_time_would(tmp_path):
    data = tmp_path / "data"
    files = _many_files(data)
    expected = _tree_by_hashing(data)
    store = LocalStore(tmp_path / "store")
    with store.writer() as w, Ingester(w, store.params, store.compressor, jobs=2) as ing:
        tree, count = ing.add_tree(data)
    assert (tree.oid, count) == (expected.oid, len(files))
    flat = list(walk(store, tree.oid))
    got = {f.path: b"".join(store.iter_file(f.entry.oid, f.entry.size)) for f in flat if f.entry.kind == "file"}
    assert got == files
    assert sorted(f.path for f in flat if f.entry.target == "missing-target") == sorted(
        f"{d}/link" for d in {p.rpartition("/")[0] for p in files}
    )
    executable = {f.path for f in flat if f.entry.executable}
    assert executable == {p for p in files if int(p[-5:]) % 13 == 0}
    stats = ing.stats
    assert (stats.files, stats.hashed) == (len(files), len(files))
    # each new object stored once: as many index rows as objects written into the packs
    rows = store.stats()["objects"]
    in_packs = 0
    for path in store.pack_files().values():
        with open(path, "rb") as f:
            in_packs += len(read_trailer(f, path.stat().st_size))
    assert rows == in_packs == stats.new_objects
    # adding again reads nothing new and stores nothing
    with store.writer() as w, Ingester(w, store.params, store.compressor, jobs=2) as ing:
        again, _ = ing.add_tree(data)
    assert again.oid == tree.oid and ing.stats.new_objects == 0
    store.close()


def test_one_worker_and_many_give_the_same_tree(tmp_path):
    data = tmp_path / "data"
    _many_files(data, 600, seed=9)
    oids = []
    for jobs in (1, 4):
        store = LocalStore(tmp_path / f"store{jobs}")
        with store.writer() as w, Ingester(w, store.params, store.compressor, jobs=jobs) as ing:
            oids.append(ing.add_tree(data)[0].oid)
        store.close()
    assert oids[0] == oids[1] == _tree_by_hashing(data).oid


@pytest.mark.long
def test_concurrent_claims_give_each_new_object_to_one_caller_across_pack_seals(tmp_path):
    """Workers claim overlapping keys while the writer seals packs (16,384 objects each): every key is claimed
    once, stored once, and a key stored before a seal is not claimed again after it."""
    store = LocalStore(tmp_path / "store")
    keys = [(hash_bytes(b"%d" % i), int(Kind.CHUNK)) for i in range(20_000)]
    stored_before = keys[:500]
    with store.writer() as w:
        for oid, kind in stored_before:
            w.put(oid, Kind(kind), b"x")
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()
    writer = store.writer()
    put_lock = threading.Lock()  # put_claimed is for one thread at a time; claim is for many

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(60):
            batch = rng.sample(keys, 400)
            got = writer.claim(batch)
            with lock:
                claimed.extend(got)
            with put_lock:
                writer.put_claimed_many([(oid, kind, 0, b"y", 1) for oid, kind in got])

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.commit()
    assert len(claimed) == len(set(claimed))
    assert not set(claimed) & set(stored_before)
    in_packs = 0
    for path in store.pack_files().values():
        with open(path, "rb") as f:
            in_packs += len(read_trailer(f, path.stat().st_size))
    assert in_packs == len(stored_before) + len(claimed) == store.stats()["objects"]
    assert len(store.pack_files()) >= 2  # the claims crossed at least one seal
    store.close()


def test_pack_file_keeps_payload_order_with_reused_buffers_and_large_payloads(tmp_path):
    builder = PackBuilder(tmp_path)
    rng = random.Random(1)
    reused = bytearray(5000)
    expected = []
    for i in range(300):
        kind = i % 3
        if kind == 0:  # a view into a buffer the caller overwrites right after the call
            reused[:] = rng.randbytes(5000)
            payload: bytes | memoryview = memoryview(reused)[: rng.randint(1, 5000)]
        elif kind == 1:
            payload = rng.randbytes(rng.randint(60_000, 200_000))  # written at once
        else:
            payload = rng.randbytes(rng.randint(0, 3000))
        oid = hash_bytes(bytes(payload))
        expected.append((oid, bytes(payload)))
        if i % 2:
            builder.add(oid, 0, 0, payload, len(payload))
        else:
            builder.add_many([(oid, 0, 0, payload, len(payload))])
    sealed = builder.seal()
    with open(sealed.path, "rb") as f:
        entries = read_trailer(f, os.path.getsize(sealed.path))
        got = []
        for e in entries:
            f.seek(e.offset)
            got.append((e.oid, f.read(e.length)))
    assert got == expected


def test_the_walk_that_stores_a_folder_remembers_the_signatures_status_computes(tmp_path):
    data = tmp_path / "data"
    _many_files(data, 200)
    (data / ".git").mkdir()
    (data / ".git" / "ignored").write_text("x")
    os.mkfifo(data / "d1" / "pipe")  # neither a file nor a folder: in the signature, not in the tree
    (data / "d2" / "empty").mkdir()
    _age(data)
    seen = {}
    walk_tree(str(data), None, lambda files: [hash_bytes(b"") for _ in files], remember=_put(seen))
    sigs = {}
    top, _, complete = signed_walk(str(data), keep=sigs)
    assert complete and set(seen) == set(sigs) and {"", "d1", "d2/empty", "d0/inner"} <= set(sigs)
    assert {rel: sig for rel, (sig, _, _) in seen.items()} == {rel: sig for rel, (sig, _) in sigs.items()}
    assert seen[""][0] == top == signed_walk(str(data))[0]
    (data / "d3" / "f00003").write_text("changed")
    assert signed_walk(str(data))[0] != top


def test_a_racily_new_folder_and_its_parents_are_not_remembered(tmp_path):
    data = tmp_path / "data"
    _many_files(data, 50)
    _age(data)
    (data / "d1" / "new").write_text("just now")  # within the racy window of the walk below
    seen = {}
    walk_tree(str(data), None, lambda files: [hash_bytes(b"") for _ in files], remember=_put(seen))
    assert "d1" not in seen and "" not in seen  # neither the racy folder nor the top
    assert {"d0", "d1/inner", "d2", "d2/inner"} <= set(seen)


def _put(seen: dict):
    def remember(rel, sig, oid, size):
        seen[rel] = (sig, oid, size)

    return remember


def _age(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        st = p.lstat()
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - 2_000_000_000), follow_symlinks=False)


def test_stat_rows_made_in_a_worker_are_what_record_remembers(tmp_path):
    from artvc.workspace.state import StateDB

    root = tmp_path / "ws"
    root.mkdir()
    items = []
    for i in range(300):
        p = root / f"f{i}"
        p.write_bytes(b"%d" % i)
        os.utime(p, ns=(1_000_000_000, 1_000_000_000))  # long before now: outside the racy window
        items.append((str(p), os.stat(p), hash_bytes(b"%d" % i)))
    cache = StateDB(tmp_path / "state.db", root)
    rows: list = []
    t = threading.Thread(target=lambda: rows.extend(cache.rows(items)))
    t.start()
    t.join()
    cache.record_rows(rows)
    assert cache.lookup_many([(p, st) for p, st, _ in items]) == [o for _, _, o in items]
    cache.flush()
    cache.close()
    again = StateDB(tmp_path / "state.db", root)
    assert [again.lookup(p, st) for p, st, _ in items] == [o for _, _, o in items]
    again.close()


def test_knows_under_sees_rows_of_the_folder_only(tmp_path):
    from artvc.workspace.state import StateDB

    root = tmp_path / "ws"
    for rel in ("data2/x", "dat/y", "data.txt", "other/data/z"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode())
    cache = StateDB(tmp_path / "state.db", root)
    assert not cache.knows_under(str(root))
    for rel in ("data2/x", "dat/y", "data.txt", "other/data/z"):
        p = root / rel
        cache.record(str(p), os.stat(p), hash_bytes(rel.encode()))
    cache.flush()
    # names that share the folder's prefix ("data2", "data.txt") or its name deeper down are not under it
    assert not cache.knows_under(str(root / "data"))
    assert cache.knows_under(str(root / "data2")) and cache.knows_under(str(root / "other"))
    assert cache.knows_under(str(root)) and cache.knows_under(str(root) + "/")
    (root / "data").mkdir()
    (root / "data" / "a").write_bytes(b"a")
    cache.record(str(root / "data" / "a"), os.stat(root / "data" / "a"), hash_bytes(b"a"))
    assert cache.knows_under(str(root / "data"))  # a buffered row counts before it is flushed
    cache.close()


class _CountingCache:
    """A stat cache (the ``StatCache`` protocol) that knows what it was asked."""

    def __init__(self, known: bool) -> None:
        self.known, self.asked, self.rows_made = known, 0, 0
        self.remembered: dict[str, object] = {}

    def knows_under(self, folder: str) -> bool:
        return self.known

    def lookup(self, path, st):
        return None

    def lookup_many(self, items):
        self.asked += len(items)
        return [self.remembered.get(p) for p, _ in items]

    def record(self, path, st, oid) -> None:
        self.remembered[path] = oid

    def rows(self, items):
        return [(p, oid) for p, _, oid in items]

    def record_rows(self, rows) -> None:
        self.rows_made += len(rows)
        self.remembered.update(rows)


def test_a_folder_the_stat_cache_knows_nothing_under_is_not_looked_up_file_by_file(tmp_path):
    data = tmp_path / "data"
    files = _many_files(data, 400, seed=5)
    expected = _tree_by_hashing(data).oid
    store = LocalStore(tmp_path / "store")
    cold = _CountingCache(known=False)
    with store.writer() as w, Ingester(w, store.params, store.compressor, cache=cold) as ing:
        assert ing.add_tree(data)[0].oid == expected
    # nothing asked, every file remembered
    assert cold.asked == 0 and cold.rows_made == len(files)
    warm = _CountingCache(known=True)
    warm.remembered = cold.remembered
    with store.writer() as w, Ingester(w, store.params, store.compressor, cache=warm) as ing:
        assert ing.add_tree(data)[0].oid == expected
    # asked for every file, and every id came from the cache: nothing read again
    assert warm.asked == len(files) and ing.stats.hashed == 0
    store.close()


def test_a_large_tree_is_stored_uncompressed_and_reads_back(tmp_path, monkeypatch):
    """A tree encoded larger than ``RAW_TREE`` (a folder of ~150,000 files by default) is stored as it is: no
    compressed copy beside it when the add's memory peaks. Lowered here so that a folder of 300 files is over
    it and its subfolder's small tree is not."""
    from artvc.objstore import ingest
    from artvc.objstore.store.pack import RAW, ZSTD

    monkeypatch.setattr(ingest, "RAW_TREE", 4096)
    data = tmp_path / "data"
    files = {f"f{i:04d}": (b"row %d\n" % i) * 40 for i in range(300)}
    files.update({f"sub/a-long-name-that-compresses-well-{i:02d}": b"x%d" % i for i in range(20)})
    for rel, body in files.items():
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(body)
    store = LocalStore(tmp_path / "store")
    with store.writer() as w, Ingester(w, store.params, store.compressor, jobs=2) as ing:
        tree, count = ing.add_tree(data)
    assert count == len(files) and tree.oid == _tree_by_hashing(data).oid
    assert len(tree.to_bytes()) > 4096
    assert store.get_stored(tree.oid, Kind.TREE)[0] == RAW
    sub = next(e.oid for e in store.get_tree(tree.oid).entries if e.name == "sub")
    assert store.get_stored(sub, Kind.TREE)[0] == ZSTD  # small trees are compressed as before
    flat = list(walk(store, tree.oid))
    got = {f.path: b"".join(store.iter_file(f.entry.oid, f.entry.size)) for f in flat if f.entry.kind == "file"}
    assert got == files
    store.close()


def test_small_folders_share_jobs_and_their_trees_one_claim(tmp_path):
    """A tree of many small folders (the benchmark's 100 files per folder) gets jobs of ``JOB_FILES`` files
    that run across folders, not a short job per folder, and its trees are claimed together: one store query
    for the trees of up to ``TREES_AT_ONCE`` folders, none asked one tree at a time."""
    from artvc.objstore import ingest

    data = tmp_path / "data"
    files = {}
    for d in range(20):
        for i in range(100):
            rel = f"d{d:02d}/f{i:02d}"
            files[rel] = b"%d %d " % (d, i) * (5 + i % 7)
            (data / rel).parent.mkdir(parents=True, exist_ok=True)
            (data / rel).write_bytes(files[rel])
    store = LocalStore(tmp_path / "store")
    calls = {"claim": 0, "has": 0}
    with store.writer() as w, Ingester(w, store.params, store.compressor, jobs=2) as ing:
        for name in calls:

            def counted(*args, _real=getattr(w, name), _name=name, **kwargs):
                calls[_name] += 1
                return _real(*args, **kwargs)

            setattr(w, name, counted)
        tree, count = ing.add_tree(data)
    assert (tree.oid, count) == (_tree_by_hashing(data).oid, len(files))
    # 32 jobs of up to 64 files for 2,000 files (there were two per folder, of 64 and 36: 40), and one claim
    # for the 21 trees (there were two ``has`` per tree)
    assert calls == {"claim": -(-len(files) // ingest.JOB_FILES) + 1, "has": 0}
    flat = list(walk(store, tree.oid))
    got = {f.path: b"".join(store.iter_file(f.entry.oid, f.entry.size)) for f in flat if f.entry.kind == "file"}
    assert got == files and ing.stats.new_objects == len(files) + 21
    store.close()
