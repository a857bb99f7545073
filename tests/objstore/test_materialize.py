"""Files written from the store are created, never opened: a name already there (a symlink planted in a
private staging folder, a temp name taken) is refused, not written through."""

from __future__ import annotations

import pytest

from artvc.errors import FileSystemError
from artvc.objstore.ingest import Ingester
from artvc.objstore.materialize import materialize_file, materialize_small
from artvc.objstore.store.local import LocalStore


@pytest.fixture
def stored(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"new content " * 100)
    with LocalStore(tmp_path / "store") as store:
        with store.writer() as w, Ingester(w, store.params, store.compressor) as ing:
            oid, size = ing.add_file(tmp_path / "f.bin")
        yield store, oid, size


@pytest.mark.parametrize("how", ["file", "small"])
def test_a_direct_write_never_follows_a_symlink_at_its_name(tmp_path, stored, how):
    store, oid, size = stored
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    (tmp_path / "staging").mkdir()
    dest = tmp_path / "staging" / "f.bin"
    dest.symlink_to(outside)
    with pytest.raises(FileSystemError):
        if how == "file":
            materialize_file(store, oid, size, dest, direct=True)
        else:
            for _ in materialize_small(store, [(str(dest), oid, size, False)], direct=True):
                pass
    assert outside.read_bytes() == b"keep me" and dest.is_symlink()
