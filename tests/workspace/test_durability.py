"""What art flushes to disk follows ``core.fsync`` (docs/concepts.md "Power loss"), seen with strace: by
default no pack is fsynced, and neither are the sqlite caches that name them (the store's ``index.db``, the
workspace's ``state.db``); only the small files git reads (the pointer, ``.gitignore``) are. With
``core.fsync = true``, packs, the index's commits and the stat cache's checkpoints are flushed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from artvc.workspace.repo import Repo
from tests.builders import random_bytes

ART = [sys.executable, "-m", "artvc"]


def synced(repo: Path, log: Path, *args: str) -> list[str]:
    """The paths ``art ARGS`` fsynced or fdatasynced in ``repo`` (relative to it), in order."""
    traced = ["strace", "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o", str(log), *ART, *args]
    r = subprocess.run(traced, cwd=repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    paths = re.findall(r"f(?:data)?sync\(\d+<([^>]*)>\)\s+=\s+0", log.read_text())
    return [str(Path(p).relative_to(repo)) if p.startswith(str(repo)) else p for p in paths]


def fill(folder: Path, files: int, seed: int) -> None:
    folder.mkdir()
    for i in range(files):
        (folder / f"{i:03}.bin").write_bytes(random_bytes(3000, seed + i))


def test_by_default_art_fsyncs_no_pack_and_no_sqlite_cache_only_what_git_reads(process_repo, tmp_path):
    repo = process_repo
    fill(repo / "data", 300, 1)
    paths = synced(repo, tmp_path / "add.log", "add", "data")
    assert paths, "the pointer and .gitignore are written with an fsync"
    assert not [p for p in paths if ".art/" in p], paths  # no pack, no index.db(-wal), no state.db(-wal)
    assert any(p.endswith(".art-tmp") for p in paths), paths  # the pointer's temp file, before its rename
    (repo / "data" / "000.bin").write_bytes(b"changed")
    paths = synced(repo, tmp_path / "again.log", "add", "data")
    assert not [p for p in paths if ".art/" in p], paths
    r = subprocess.run([*ART, "fsck"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_with_core_fsync_the_packs_the_index_and_the_stat_cache_are_flushed(process_repo, tmp_path):
    repo = process_repo
    subprocess.run([*ART, "config", "core.fsync", "true"], cwd=repo, check=True, capture_output=True)
    fill(repo / "data", 300, 2)
    paths = synced(repo, tmp_path / "add.log", "add", "data")
    store = [p for p in paths if "/store/" in p]
    assert any("/tmp/pack-" in p or "/packs/" in p for p in store), paths  # the pack, before its rename
    assert any(p.endswith("index.db-wal") for p in store), paths  # FULL: each index commit reaches the disk
    # NORMAL: the stat cache is synced where its log is checkpointed (at the latest as the command closes it)
    assert any(p.endswith(("state.db", "state.db-wal")) for p in paths), paths
    with Repo.find(repo) as opened:
        assert opened.store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert opened.state.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
