"""``art repack``: chunks stored in full become deltas against similar older chunks; every version still
restores byte for byte, fsck passes, a killed repack leaves a readable store, ``core.delta = false`` makes none.
And deltas through a real push and clone + pull of the newest version only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.builders import csv_bytes, revised
from tests.conftest import Workspace, git

VERSIONS = 3


def versions() -> list[bytes]:
    out = [csv_bytes(400_000, 1)]
    for i in range(VERSIONS - 1):
        out.append(revised(out[-1], i + 2))
    return out


def commit_versions(ws: Workspace, *, delta: bool) -> list[str]:
    """Add and commit each version of ``table.csv``; return the commits."""
    ws.art("config", "core.delta", "true" if delta else "false")
    commits = []
    for i, data in enumerate(versions()):
        ws.gen({"table.csv": data})
        ws.art("add", "table.csv")
        ws.git("add", "-A")
        ws.git("commit", "-qm", f"v{i}")
        commits.append(ws.git("rev-parse", "HEAD").stdout.strip())
    return commits


def delta_count(ws: Workspace) -> int:
    with ws.repo() as repo:
        chunks = [o.oid for o in repo.store.iter_objects() if int(o.kind) == 0]
        return len(repo.store.delta_bases(chunks))


def every_version_restores(ws: Workspace, commits: list[str]) -> None:
    for commit, data in zip(commits, versions(), strict=True):
        ws.git("checkout", "-q", commit)
        (ws.root / "table.csv").unlink()
        ws.art("checkout", "table.csv")
        assert (ws.root / "table.csv").read_bytes() == data
    ws.art("fsck")


def newest_chunks(ws: Workspace) -> list:
    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.objects import FileManifest, Kind

    with ws.repo() as repo:
        oid = hash_bytes(versions()[-1])
        return [c for c, _ in FileManifest.from_bytes(oid, repo.store.get(oid, Kind.FILE)).chunks]


def test_repack_makes_deltas_of_a_store_filled_without_them(ws):
    commits = commit_versions(ws, delta=False)
    assert delta_count(ws) == 0
    ws.art("config", "core.delta", "true")
    report = json.loads(ws.art("repack", "--json").stdout)
    assert report["delta_objects"] > 0
    assert report["pack_size_after"] < report["pack_size_before"] * 0.8
    assert delta_count(ws) == report["delta_objects"]
    with ws.repo() as repo:  # newest first: the newest version is stored in full, the older ones on it
        assert not repo.store.delta_bases(newest_chunks(ws))
    every_version_restores(ws, commits)
    again = json.loads(ws.art("repack", "--json").stdout)  # the same choices again
    assert again["objects"] == report["objects"] and again["delta_objects"] == report["delta_objects"]
    assert again["pack_size_after"] <= report["pack_size_after"] * 1.01
    every_version_restores(ws, commits)


def test_repack_reverses_the_forward_deltas_of_add(ws):
    commits = commit_versions(ws, delta=True)
    with ws.repo() as repo:
        assert repo.store.delta_bases(newest_chunks(ws))  # add: the newest version is built on the older ones
    ws.art("repack")
    with ws.repo() as repo:
        assert not repo.store.delta_bases(newest_chunks(ws))
    every_version_restores(ws, commits)


def test_repack_with_deltas_off_stores_every_chunk_in_full(ws):
    commits = commit_versions(ws, delta=True)
    assert delta_count(ws) > 0
    ws.art("config", "core.delta", "false")
    report = json.loads(ws.art("repack", "--level", "9", "--json").stdout)
    assert report["delta_objects"] == 0 and delta_count(ws) == 0
    assert report["recompressed_objects"] > 0
    every_version_restores(ws, commits)


def test_repack_refuses_a_bad_level(ws):
    result = ws.art("repack", "--level", "40", code=2)
    assert "art: error: --level must be between 1 and 19" in result.stderr


def test_a_killed_repack_leaves_a_readable_store(ws):
    commits = commit_versions(ws, delta=False)
    ws.art("config", "core.delta", "true")
    env = dict(os.environ, ART_FAULT="repack.copied:kill")
    art = str(Path(sys.executable).with_name("art"))
    proc = subprocess.run([art, "repack"], cwd=ws.root, capture_output=True, text=True, env=env)
    assert proc.returncode == -9, (proc.returncode, proc.stderr)
    every_version_restores(ws, commits)
    ws.git("checkout", "-q", "main")
    report = json.loads(ws.art("repack", "--json").stdout)  # a second run finishes the job
    assert delta_count(ws) > 0 and report["packs_after"] <= report["packs_before"]
    every_version_restores(ws, commits)


def test_a_clone_pulling_only_the_newest_version_gets_its_bases(ws, tmp_path):
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("config", "core.delta", "true")
    for i, data in enumerate(versions()):
        ws.gen({"table.csv": data})
        ws.art("add", "table.csv")
        ws.git("add", "-A")
        ws.git("commit", "-qm", f"v{i}")
        ws.art("push")
    assert delta_count(ws) > 0
    dest = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(ws.root), str(dest))
    clone = Workspace(dest)
    clone.art("pull")
    assert (dest / "table.csv").read_bytes() == versions()[-1]
    assert delta_count(clone) > 0  # carried as deltas, with their bases
    clone.art("fsck")
