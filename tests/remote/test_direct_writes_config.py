"""``core.direct_writes``: large files written around the page cache (``O_DIRECT``) by add, checkout and
``art pull --lazy`` by default; ``false`` keeps every write in the page cache, and ``ART_DIRECT_WRITES``
overrides the key for one command (``fileio.direct_writes``: the environment first)."""

from __future__ import annotations

import shutil

import pytest

from artvc.objstore.materialize_large import LARGE_FILE
from tests.objstore.test_materialize_large import mixed
from tests.remote.conftest import clone
from tests.remote.test_lazy_pull import direct_opens, on_disk, traced_art

MIB = 1 << 20

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")


def test_core_direct_writes_false_keeps_add_checkout_and_lazy_pull_in_the_page_cache(ws, tmp_path, monkeypatch):
    """With the key off, no command opens anything ``O_DIRECT`` (the add's packs, the checkout's temp file, the
    lazy pull's stage file), and every file comes back byte for byte; ``ART_DIRECT_WRITES=1`` turns them back on
    for one checkout, and without the key the default is on."""
    if not on_disk(tmp_path):
        pytest.skip("the test's folder is kept in memory: direct writes are off there by design")
    monkeypatch.delenv("ART_DIRECT_WRITES", raising=False)
    data = mixed(LARGE_FILE + 3 * MIB + 777)
    ws.gen({"big.bin": data})
    ws.art("config", "core.direct_writes", "false")
    log = tmp_path / "strace.log"
    traced_art(ws.root, log, "add", "big.bin")
    assert direct_opens(log) == []
    (ws.root / "big.bin").unlink()
    traced_art(ws.root, log, "checkout", "big.bin")
    assert direct_opens(log) == [] and (ws.root / "big.bin").read_bytes() == data
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")
    other = clone(ws, tmp_path / "clone")  # .art/config, with the key, comes with the clone
    traced_art(other.root, log, "pull", "--lazy")
    assert direct_opens(log) == [] and (other.root / "big.bin").read_bytes() == data

    (ws.root / "big.bin").unlink()  # the environment wins over the key
    traced_art(ws.root, log, "checkout", "big.bin", ART_DIRECT_WRITES="1")
    (opened,) = direct_opens(log)
    assert "art-tmp" in opened and (ws.root / "big.bin").read_bytes() == data

    ws.art("config", "--unset", "core.direct_writes")  # the default: on
    (ws.root / "big.bin").unlink()
    traced_art(ws.root, log, "checkout", "big.bin")
    assert len(direct_opens(log)) == 1 and (ws.root / "big.bin").read_bytes() == data
