"""The remote part of ``art demo``: push to a local directory standing in for a bucket, clone the git
repository elsewhere, pull there, and check that every artifact arrived byte for byte."""

from __future__ import annotations

import filecmp
import os
import shutil
import tempfile
import time
from pathlib import Path

from ._render import human


def demo_remote(root: Path, say) -> dict:
    """Run the remote tour on the demo repository at ``root``; return its numbers for ``--json``."""
    from ..workspace.pull import pull
    from ..workspace.push import push
    from ..workspace.remote import remote_add
    from ..workspace.repo import Repo
    from ..workspace.scm import Git

    scratch = Path(tempfile.mkdtemp(prefix="art-demo-remote-"))
    try:
        bucket, clone = scratch / "bucket", scratch / "clone"
        bucket.mkdir()
        with Repo(root) as repo:
            remote_add(repo, "demo", str(bucket), default=True)
            git = Git.discover(root)
            assert git is not None  # the demo made root a git repository
            git.commit_all("art remote add demo")
            t0 = time.monotonic()
            pushed = push(repo)
            push_s = time.monotonic() - t0
            again = push(repo)
            artifacts = [path for path, _, _ in repo.artifacts()]
        say(f"remote  art remote add demo {bucket} --default   (a directory standing in for s3://bucket/prefix)")
        say(
            f"        art push: {pushed.objects} objects ({human(pushed.bytes)}) in {pushed.packs} packs "
            f"+ {pushed.packs} indexes, {push_s:.2f} s; pushing again sends {again.objects} objects"
        )
        Git.clone(root, clone)
        t0 = time.monotonic()
        with Repo(clone) as other:
            pulled = pull(other)
        pull_s = time.monotonic() - t0
        same, differ = 0, []
        for path in artifacts:
            n, bad = _compare(root / path, clone / path)
            same += n
            differ += [f"{path}/{b}" if b else path for b in bad]
        say(
            f"clone   git clone, then art pull there: {pulled.fetch.objects} objects verified and stored, "
            f"{pulled.checkout.files_written} files written in {pull_s:.2f} s"
        )
        say(
            f"        {same} files byte-for-byte identical to the originals"
            if not differ
            else f"        {len(differ)} files DIFFER: {', '.join(differ[:3])}"
        )
        return {
            "bucket_files": sum(len(f) for _, _, f in os.walk(bucket)),
            "pushed_objects": pushed.objects,
            "pushed_size": pushed.bytes,
            "packs": pushed.packs,
            "push_duration": round(push_s, 3),
            "second_push_objects": again.objects,
            "pulled_objects": pulled.fetch.objects,
            "files_written": pulled.checkout.files_written,
            "pull_duration": round(pull_s, 3),
            "identical_files": same,
            "differing_files": differ,
            "identical": not differ,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _compare(a: Path, b: Path) -> tuple[int, list[str]]:
    """Compare a file or a directory tree byte for byte; return (identical files, differing relative paths)."""
    if a.is_file():
        return (1, []) if b.is_file() and filecmp.cmp(a, b, shallow=False) else (0, [""])
    same, bad = 0, []
    files_a = {str(p.relative_to(a)) for p in a.rglob("*") if p.is_file()}
    files_b = {str(p.relative_to(b)) for p in b.rglob("*") if p.is_file()} if b.is_dir() else set()
    for rel in sorted(files_a | files_b):
        if rel in files_a and rel in files_b and filecmp.cmp(a / rel, b / rel, shallow=False):
            same += 1
        else:
            bad.append(rel)
    return same, bad
