"""The object store contract: what every store promises, as one test class that each backend subclasses.

Modelled on dulwich's ``ObjectStoreTests`` mixin. A backend's test class derives from ``StoreContract`` and
provides a ``backend`` fixture returning a ``Backend``: how to open a store (a new instance on the same
location, as another command would) and the filesystem holding its bytes (``fs`` + ``root``, for tests that
damage a pack the way bit rot would). Only public names are used: ``ObjectStore`` and its writer, the
``locate`` of both stores, the pack format of ``docs/formats.md`` (``packs/xx/NAME.pack`` under the root, its
trailer) and the named fault points of ``objstore/faults.py``. CONTRIBUTING.md says how to run a new backend
through it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from artvc.errors import ArtError, CorruptObjectError, FormatError, ObjectNotFoundError
from artvc.objstore import faults
from artvc.objstore.hashing import hash_bytes
from artvc.objstore.lineage import Run
from artvc.objstore.objects import FileManifest, Kind, Tree, TreeEntry
from artvc.objstore.oid import Oid
from artvc.objstore.store.base import ObjectStore
from artvc.objstore.store.pack import RAW, read_trailer
from artvc.objstore.verify import verify_store
from tests.builders import csv_bytes, random_bytes


@dataclass
class Backend:
    """One store under test.

    Args:
        name: for messages.
        open: a new store instance on the backend's location (each call is another "process's" view).
        fs: the fsspec filesystem holding the store's files; ``root`` its root path on ``fs``.
        verifies_chunks: ``get`` hashes a chunk before returning it. Remote stores do (everything read from
            a remote is verified); the local store leaves that to its callers, which hash what they write
            (docs/design.md, "Objects are immutable"), and ``art fsck`` finds the damage.
        script: Python source defining ``open_store()`` for a subprocess (None: the location lives in this
            process only, e.g. ``memory://``); kill tests need it.
    """

    name: str
    open: Callable[[], ObjectStore]
    fs: Any
    root: str
    verifies_chunks: bool
    script: str | None = None

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def index_files(self) -> list[str]:
        """The store's own index of its packs: ``index.db`` (local) or ``index/NAME.idx`` (remote)."""
        found = self.fs.find(self.root) if self.fs.exists(self.root) else []
        return sorted(p for p in found if p.endswith((".idx", "/index.db")))

    def pack_files(self) -> list[str]:
        """Every ``.pack`` file under ``packs/`` (the layout of docs/formats.md and docs/remotes.md)."""
        try:
            found = self.fs.find(self.path("packs"))
        except FileNotFoundError:
            return []
        return sorted(p for p in found if p.endswith(".pack"))


# -- objects of every kind ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Obj:
    oid: Oid
    kind: Kind
    data: bytes

    @property
    def key(self) -> tuple[Oid, Kind]:
        return (self.oid, self.kind)


def chunk(data: bytes) -> Obj:
    return Obj(hash_bytes(data), Kind.CHUNK, data)


def sample_objects(seed: int = 0) -> list[Obj]:
    """One object of every kind, and chunks stored both raw (noise) and compressed (text)."""
    noise, text, tiny = chunk(random_bytes(50_000, seed)), chunk(csv_bytes(60_000, seed)), chunk(b"t%d" % seed)
    whole = noise.data + text.data
    pieces = ((noise.oid, len(noise.data)), (text.oid, len(text.data)))
    manifest = Obj(hash_bytes(whole), Kind.FILE, FileManifest(hash_bytes(whole), len(whole), pieces).to_bytes())
    tree = Tree.build(
        [
            TreeEntry("whole.bin", "file", manifest.oid, len(whole)),
            TreeEntry("tiny.txt", "file", tiny.oid, len(tiny.data), executable=True),
            TreeEntry("link", "symlink", hash_bytes(b"tiny.txt"), 0, target="tiny.txt"),
        ]
    )
    run = Run({"kind": "add", "outputs": [{"path": "d", "oid": tree.oid, "kind": "dir", "size": tree.size}]})
    return [
        noise,
        text,
        tiny,
        manifest,
        Obj(tree.oid, Kind.TREE, tree.to_bytes()),
        Obj(run.oid, Kind.RUN, run.to_bytes()),
    ]


def absent_keys() -> list[tuple[Oid, Kind]]:
    """Ids never stored, and a stored id asked for under another kind."""
    ghost = hash_bytes(b"never stored")
    return [(ghost, kind) for kind in Kind] + [(chunk(random_bytes(50_000, 0)).oid, Kind.TREE)]


def put_all(store: ObjectStore, objs: list[Obj]) -> list[bool]:
    with store.writer() as w:
        return [w.put(o.oid, o.kind, o.data) for o in objs]


def keys(objs: list[Obj]) -> set[tuple[Oid, int]]:
    return {(o.oid, int(o.kind)) for o in objs}


def listed(store: ObjectStore) -> set[tuple[Oid, int]]:
    return {(o.oid, int(o.kind)) for o in store.iter_objects()}


def points_reached(fault_env, log: Path, write: Callable[[], None]) -> list[tuple[str, int]]:
    """Run ``write`` with ``ART_FAULT_LOG`` and return the first and the last time it reached each fault point
    (the chaos harness samples the same way: a loop's middle iterations leave no other state)."""
    fault_env(ART_FAULT_LOG=str(log), ART_FAULT=None)
    write()
    fault_env(ART_FAULT_LOG=None)
    counts: dict[str, int] = {}
    for name in log.read_text().split():
        counts[name] = counts.get(name, 0) + 1
    return sorted({(name, n) for name, last in counts.items() for n in (1, last)})


# -- the contract ---------------------------------------------------------------------------------------------


class StoreContract:
    """Every test here runs against each backend. Subclasses provide the fixture ``make_backend``: a function
    of a short label returning a ``Backend`` on a fresh, empty location (the same label, the same location)."""

    @pytest.fixture
    def backend(self, make_backend: Callable[[str], Backend]) -> Backend:
        return make_backend("store")

    @pytest.fixture
    def store(self, backend: Backend) -> Iterator[ObjectStore]:
        with backend.open() as s:
            yield s

    @pytest.fixture
    def fault_env(self, monkeypatch) -> Iterator[Callable[..., None]]:
        """Set ``ART_FAULT`` / ``ART_FAULT_LOG`` for this process (fault points read them once: reset)."""

        def set_env(**env: str | None) -> None:
            for name, value in env.items():
                if value is None:
                    monkeypatch.delenv(name, raising=False)
                else:
                    monkeypatch.setenv(name, value)
            faults.reset()

        yield set_env
        monkeypatch.delenv("ART_FAULT", raising=False)
        monkeypatch.delenv("ART_FAULT_LOG", raising=False)
        faults.reset()

    # -- put, get, has --------------------------------------------------------------------------------------

    def test_every_kind_round_trips_through_a_new_instance(self, backend, store):
        objs = sample_objects()
        assert put_all(store, objs) == [True] * len(objs)
        for view in (store, backend.open()):
            for o in objs:
                assert view.has(o.oid, o.kind), o.kind
                assert view.get(o.oid, o.kind) == o.data, o.kind

    def test_absent_ids_are_absent_and_raise_not_found(self, store):
        put_all(store, sample_objects())
        for oid, kind in absent_keys():
            assert not store.has(oid, kind)
            assert store.locate(oid, kind) is None
            with pytest.raises(ObjectNotFoundError):
                store.get(oid, kind)

    def test_locate_finds_every_stored_object(self, backend, store):
        objs = sample_objects()
        put_all(store, objs)
        view = backend.open()
        assert all(view.locate(o.oid, o.kind) is not None for o in objs)

    def test_an_empty_store_has_nothing(self, store):
        assert list(store.iter_objects()) == []
        assert not store.has(hash_bytes(b""), Kind.CHUNK)

    def test_the_empty_chunk_round_trips(self, backend, store):
        empty = chunk(b"")
        assert put_all(store, [empty]) == [True]
        assert backend.open().get(empty.oid, Kind.CHUNK) == b""

    def test_derived_file_helpers(self, backend, store):
        objs = sample_objects()
        put_all(store, objs)
        noise, text, tiny, manifest, tree, _ = objs
        view = backend.open()
        whole = noise.data + text.data
        assert view.has_file(manifest.oid) and view.has_file(tiny.oid) and not view.has_file(tree.oid)
        assert view.file_size(manifest.oid) == len(whole) and view.file_size(tiny.oid) == len(tiny.data)
        assert b"".join(view.iter_file(manifest.oid, len(whole))) == whole
        assert view.file_chunks(tiny.oid, len(tiny.data)) == ((tiny.oid, len(tiny.data)),)
        assert [e.name for e in view.get_tree(tree.oid).entries] == ["link", "tiny.txt", "whole.bin"]
        with pytest.raises(ObjectNotFoundError):
            view.file_chunks(tree.oid, 0)
        with pytest.raises(ObjectNotFoundError):
            view.file_size(hash_bytes(b"never stored"))

    # -- batches --------------------------------------------------------------------------------------------

    def test_batch_presence(self, backend, store):
        objs = sample_objects()
        put_all(store, objs[:3])
        view = backend.open()
        wanted = [o.key for o in objs] + absent_keys()
        assert view.missing(wanted) == [o.key for o in objs[3:]] + absent_keys()
        w = view.writer()
        try:
            assert w.present(wanted) == keys(objs[:3])
            w.put(objs[3].oid, objs[3].kind, objs[3].data)
            assert w.has(objs[3].oid, objs[3].kind)  # pending in this writer counts as present
            assert w.present(wanted) == keys(objs[:4])
        finally:
            w.abort()

    def test_listing_lists_exactly_what_was_stored(self, backend, store):
        first, second = sample_objects(1), sample_objects(2)
        put_all(store, first)
        put_all(store, second)
        assert listed(backend.open()) == keys(first) | keys(second)
        objects = list(backend.open().iter_objects())
        assert len(objects) == len(first) + len(second)  # each object once, however many packs
        sizes = {(o.oid, int(o.kind)): o.raw_length for o in objects}
        assert sizes == {(o.oid, int(o.kind)): len(o.data) for o in first + second}

    # -- writers --------------------------------------------------------------------------------------------

    def test_re_put_is_idempotent(self, backend, store):
        objs = sample_objects()
        put_all(store, objs)
        packs = backend.pack_files()
        assert put_all(backend.open(), objs) == [False] * len(objs)
        with store.writer() as w:  # twice in one batch: stored once
            assert [w.put(o.oid, o.kind, o.data) for o in objs + objs] == [False] * 2 * len(objs)
        assert backend.pack_files() == packs  # nothing was written again
        more = sample_objects(3)
        with backend.open().writer() as w:
            assert [w.put(o.oid, o.kind, o.data) for o in more + more] == [True] * len(more) + [False] * len(more)
        assert listed(backend.open()) == keys(objs) | keys(more)

    def test_put_new_many_writes_each_new_object_once_from_views_of_a_reused_buffer(self, backend, store):
        objs = sample_objects(4)
        chunks = [o for o in objs if o.kind == Kind.CHUNK]
        buf = bytearray(b"".join(o.data for o in chunks))
        views, offset = [], 0
        for o in chunks:
            views.append(memoryview(buf)[offset : offset + len(o.data)])
            offset += len(o.data)
        batch = [(o.oid, int(Kind.CHUNK), RAW, v, len(v)) for o, v in zip(chunks, views, strict=True)]
        with store.writer() as w:
            w.put(chunks[1].oid, Kind.CHUNK, chunks[1].data)
            assert w.put_new_many(batch + batch[:1]) == [0, 2]  # the put one and the repeat are not new
            buf[:] = bytes(len(buf))  # the caller reuses its buffer once the call returned
            assert w.put_new_many(batch) == []
        view = backend.open()
        assert [view.get(o.oid, Kind.CHUNK) for o in chunks] == [o.data for o in chunks]
        assert listed(view) == keys(chunks)

    def test_nothing_is_visible_before_commit_and_an_abort_leaves_nothing(self, backend, store):
        objs = sample_objects()
        w = store.writer()
        for o in objs:
            w.put(o.oid, o.kind, o.data)
        assert listed(backend.open()) == set()
        w.abort()
        assert listed(store) == set() and listed(backend.open()) == set()
        assert backend.pack_files() == []

    def test_a_writer_that_raises_commits_nothing(self, backend, store):
        objs = sample_objects()
        with pytest.raises(RuntimeError), store.writer() as w:
            for o in objs:
                w.put(o.oid, o.kind, o.data)
            raise RuntimeError("the caller failed half way")
        assert listed(backend.open()) == set()

    def test_put_stored_reuses_compressed_bytes(self, backend, store):
        text = chunk(csv_bytes(80_000, 7))
        codec, stored = store.compressor.pack(text.data)
        assert len(stored) < len(text.data)  # compressible: the payload is zstd
        with store.writer() as w:
            assert w.put_stored(text.oid, Kind.CHUNK, codec, stored, len(text.data))
            assert not w.put_stored(text.oid, Kind.CHUNK, codec, stored, len(text.data))
        assert backend.open().get(text.oid, Kind.CHUNK) == text.data

    @pytest.mark.parametrize("attempt", range(3))
    def test_concurrent_writers_lose_nothing(self, backend, attempt):
        """Writers on separate instances, with overlapping objects, all at once (creating the store at once
        when it is new): every object survives."""
        shared = sample_objects(0)
        batches = [shared + sample_objects(10 + i) for i in range(4)]
        start = threading.Barrier(len(batches), timeout=60)
        errors: list[BaseException] = []

        def write(objs: list[Obj]) -> None:
            try:
                start.wait()
                with backend.open() as s:  # the first use of a new location too: opened by all at once
                    put_all(s, objs)
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(b,)) for b in batches]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        everything = [o for b in batches for o in b]
        view = backend.open()
        assert listed(view) == keys(everything)
        for o in everything:
            assert view.get(o.oid, o.kind) == o.data

    # -- damage ---------------------------------------------------------------------------------------------

    def _damage(self, backend: Backend, obj: Obj, how: str) -> None:
        """Damage ``obj``'s payload in its pack file as bit rot or a tamperer would: flip a byte in the middle
        or cut the pack short inside it (then the trailer is gone too)."""
        for path in backend.pack_files():
            data = bytearray(backend.fs.cat_file(path))
            entries = read_trailer(io.BytesIO(bytes(data)), len(data))
            entry = next((e for e in entries if e.oid == obj.oid and e.kind == obj.kind), None)
            if entry is None:
                continue
            if how == "flip":
                data[entry.offset + entry.length // 2] ^= 0x10
            else:
                del data[entry.offset + entry.length // 2 :]
            backend.fs.pipe_file(path, bytes(data))
            return
        raise AssertionError(f"{obj.kind.label} {obj.oid[:10]} is in no pack")

    @pytest.mark.parametrize("which", ["raw chunk", "compressed chunk", "tree", "run"])
    @pytest.mark.parametrize("how", ["flip", "truncate"])
    def test_a_damaged_object_raises_the_integrity_error(self, backend, store, which, how):
        objs = sample_objects()
        noise, text, _, _, tree, run = objs
        target = {"raw chunk": noise, "compressed chunk": text, "tree": tree, "run": run}[which]
        put_all(store, objs)
        self._damage(backend, target, how)
        view = backend.open()
        if which == "raw chunk" and how == "flip" and not backend.verifies_chunks:
            # the documented exception: the store hands chunks to callers that hash them; verify (fsck) finds it
            assert view.get(target.oid, target.kind) != target.data
            assert {p.oid for p in verify_store(view) if p.damaged} == {target.oid}
            return
        with pytest.raises((CorruptObjectError, FormatError)) as err:  # both are "integrity", exit 3
            data = view.get(target.oid, target.kind)  # a store that does not hash chunks may hand the bytes...
            if target.kind == Kind.TREE:
                view.get_tree(target.oid)  # ...to the decoder, which checks the id
            elif target.kind == Kind.RUN:
                Run.from_bytes(target.oid, data)
            raise AssertionError(f"damaged {which} came back as {data[:40]!r}")
        assert err.value.exit_code == 3

    def test_damage_does_not_spread_to_other_objects(self, backend, store):
        objs = sample_objects()
        put_all(store, objs[:1])
        put_all(store, objs[1:])
        self._damage(backend, objs[0], "flip")
        view = backend.open()
        for o in objs[1:]:
            assert view.get(o.oid, o.kind) == o.data

    @pytest.mark.parametrize("how", ["flip", "truncate", "garbage"])
    def test_a_damaged_index_never_yields_wrong_bytes(self, backend, store, how):
        """The index that maps ids to packs is damaged (bit rot, a half-copied backup): every object is then
        either found and intact, or absent, or an ``ArtError`` is raised; never wrong bytes."""
        objs = sample_objects()
        put_all(store, objs[:3])
        put_all(store, objs[3:])
        store.close()
        assert backend.index_files()
        for path in backend.index_files():
            data = bytearray(backend.fs.cat_file(path))
            if how == "flip":
                for i in range(len(data) // 3, len(data), max(1, len(data) // 7)):
                    data[i] ^= 0x10
            elif how == "truncate":
                del data[len(data) // 2 :]
            else:
                data[:] = random_bytes(len(data), 5)
            backend.fs.pipe_file(path, bytes(data))
        try:
            with backend.open() as view:
                for o in objs:
                    try:
                        if view.has(o.oid, o.kind):
                            assert view.get(o.oid, o.kind) == o.data
                    except ArtError:
                        pass
        except ArtError:
            pass

    # -- interrupted writes ---------------------------------------------------------------------------------

    def test_an_interrupted_write_is_all_or_nothing(self, make_backend, fault_env, tmp_path):
        """At each fault point a write reaches, an injected I/O error or Ctrl-C leaves the batch whole or
        invisible (never some of it), and writing the same batch again then completes."""
        objs = sample_objects()
        with make_backend("log").open() as s:
            reached = points_reached(fault_env, tmp_path / "points.log", lambda: put_all(s, objs))
        assert reached, "a write reaches no fault point: nothing here would test an interrupted write"
        for i, (name, nth) in enumerate(reached):
            for action in ("eio", "interrupt"):
                backend = make_backend(f"{action}{i}")
                failed = False
                with backend.open() as s:
                    fault_env(ART_FAULT=f"{name}@{nth}:{action}")
                    try:
                        put_all(s, objs)
                    except (ArtError, OSError, KeyboardInterrupt):
                        failed = True  # (a fault in best-effort work, such as a cache, may be absorbed)
                    fault_env(ART_FAULT=None)
                with backend.open() as view:
                    visible = listed(view)
                    assert visible in (set(), keys(objs)), (name, nth, action, len(visible))
                    assert failed or visible == keys(objs), (name, nth, action, "reported success, wrote nothing")
                    assert all(view.get(o.oid, o.kind) == o.data for o in objs if view.has(o.oid, o.kind))
                with backend.open() as s:
                    put_all(s, objs)
                with backend.open() as view:
                    assert listed(view) == keys(objs), (name, nth, action)

    def test_a_killed_writer_leaves_nothing_half_visible(self, make_backend, fault_env, tmp_path):
        """SIGKILL at each fault point of a write in another process: all or nothing, and a rerun completes."""
        objs = sample_objects()
        with make_backend("log").open() as s:  # the subprocess too opens an existing location, then writes
            reached = points_reached(fault_env, tmp_path / "points.log", lambda: put_all(s, objs))
        assert reached
        repo_root = Path(__file__).resolve().parents[2]
        for i, (name, nth) in enumerate(reached):
            backend = make_backend(f"kill{i}")
            backend.open().close()
            assert backend.script, f"{backend.name}: no script to open the store in another process"
            writer = tmp_path / f"writer{i}.py"
            writer.write_text(
                f"{backend.script}\n"
                "from tests.objstore.store_contract import put_all, sample_objects\n"
                "put_all(open_store(), sample_objects())\n"
            )
            env = {**os.environ, "PYTHONPATH": str(repo_root), "ART_FAULT": f"{name}@{nth}"}
            proc = subprocess.run([sys.executable, str(writer)], env=env, capture_output=True)
            assert proc.returncode == -9, (name, nth, proc.stderr.decode()[-2000:])
            with backend.open() as view:
                visible = listed(view)
                assert visible in (set(), keys(objs)), (name, nth, len(visible))
            with backend.open() as s:
                put_all(s, objs)
            with backend.open() as view:
                assert listed(view) == keys(objs)
                assert all(view.get(o.oid, o.kind) == o.data for o in objs)
