"""The store contract (tests/objstore/store_contract.py) run against every store: the local store, and the
remote store, opened as a workspace opens it (``open_remote``), over ``file://``, ``memory://`` and moto S3."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import fsspec
import pytest

from artvc.objstore.store.local import LocalStore
from artvc.workspace.init import init
from artvc.workspace.remote import open_remote, remote_add
from artvc.workspace.repo import Repo
from tests.builders import random_bytes
from tests.objstore.store_contract import Backend, StoreContract, keys, listed, put_all, sample_objects


class TestLocalStore(StoreContract):
    @pytest.fixture
    def make_backend(self, tmp_path: Path) -> Callable[[str], Backend]:
        def make(label: str) -> Backend:
            root = tmp_path / label
            script = (
                f"from artvc.objstore.store.local import LocalStore\nopen_store = lambda: LocalStore({str(root)!r})"
            )
            return Backend(
                f"local store {label}",
                lambda: LocalStore(root),
                fsspec.filesystem("file"),
                str(root),
                verifies_chunks=False,
                script=script,
            )

        return make

    @pytest.mark.parametrize("how", ["missing", "empty", "garbage"])
    def test_a_lost_or_unreadable_index_is_rebuilt_from_the_packs(self, backend, store, how):
        """docs/formats.md: index.db caches the packs' trailers; missing, empty or unreadable, it is rebuilt."""
        objs = sample_objects()
        put_all(store, objs[:2])
        put_all(store, objs[2:])
        store.close()
        index = Path(backend.root) / "index.db"
        if how == "missing":
            index.unlink()
        else:
            index.write_bytes(b"" if how == "empty" else random_bytes(index.stat().st_size, 9))
        with backend.open() as view:
            assert len(view.rebuilt) == 2
            assert listed(view) == keys(objs)
            assert all(view.get(o.oid, o.kind) == o.data for o in objs)


def remote_backend(tmp_path: Path, label: str, url: str, options: dict, fs, root: str) -> Backend:
    """A workspace whose remote 'origin' is ``url``; the store is what ``open_remote`` returns for it."""
    ws = tmp_path / f"ws-{label}"
    if not ws.exists():
        ws.mkdir()
        init(ws, no_git=True)
        with Repo(ws) as repo:
            remote_add(repo, "origin", url, options=options)

    def open_store():
        with Repo(ws) as repo:
            return open_remote(repo, "origin")

    script = (
        "from artvc.workspace.remote import open_remote\nfrom artvc.workspace.repo import Repo\n"
        f"open_store = lambda: open_remote(Repo({str(ws)!r}), 'origin')"
    )
    return Backend(f"{url} {label}", open_store, fs, root, verifies_chunks=True, script=script)


class TestRemoteStoreOverFile(StoreContract):
    @pytest.fixture
    def make_backend(self, tmp_path: Path) -> Callable[[str], Backend]:
        def make(label: str) -> Backend:
            root = tmp_path / f"remote-{label}"
            fs = fsspec.filesystem("file")
            return remote_backend(tmp_path, label, root.as_uri(), {}, fs, str(root))

        return make


class TestRemoteStoreOverMemory(StoreContract):
    @pytest.fixture
    def make_backend(self, tmp_path: Path) -> Iterator[Callable[[str], Backend]]:
        from fsspec.implementations.memory import MemoryFileSystem

        fs = fsspec.filesystem("memory")
        run = secrets.token_hex(4)

        def make(label: str) -> Backend:
            return remote_backend(
                tmp_path, label, f"memory://contract-{run}/{label}", {}, fs, f"/contract-{run}/{label}"
            )

        yield make
        MemoryFileSystem.store.clear()  # the memory filesystem is global to the process: leave it empty
        MemoryFileSystem.pseudo_dirs[:] = [""]

    # another process cannot see this process's memory filesystem
    test_a_killed_writer_leaves_nothing_half_visible = None


@pytest.mark.slow  # about a minute against moto: the default tier covers S3 through tests/remote
@pytest.mark.parametrize("bucket", ["s3"], indirect=True)
class TestRemoteStoreOverS3(StoreContract):
    @pytest.fixture
    def make_backend(self, tmp_path: Path, bucket) -> Callable[[str], Backend]:
        def make(label: str) -> Backend:
            url, root = f"{bucket.url}/{label}", bucket.join(label)
            return remote_backend(tmp_path, label, url, dict(bucket.storage_options), bucket.fs, root)

        return make
