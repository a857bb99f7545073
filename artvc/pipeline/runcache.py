"""The run cache: find a past run with the same run key whose outputs are all in the store, and restore them.

The index (run key -> run ids) lives in ``state.db`` (workspace/runs.py) and is rebuilt from the run objects in
the store, so runs pulled from a remote serve as cache entries too after ``reindex_runs``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ArtError
from ..objstore.lineage import Run
from ..objstore.materialize import make_symlink, materialize_file
from ..objstore.objects import Kind
from ..objstore.oid import Oid
from ..workspace.paths import check_relpath, ensure_inside
from ..workspace.repo import Repo
from ..workspace.runs import load_run, runs_with_key
from ..workspace.safety import check_tree
from ..workspace.tracked import incomplete_keys


def lookup(repo: Repo, key: str, outs: tuple[str, ...]) -> Run | None:
    """Return the newest run with run key ``key`` that produced exactly ``outs`` and whose outputs are all
    stored (None when there is none)."""
    for run_oid in runs_with_key(repo, key):
        try:
            run = load_run(repo, run_oid)
        except ArtError:
            continue
        outputs = run.get("outputs", [])
        if sorted(o.get("path") for o in outputs) != sorted(outs):
            continue
        keys = [(Oid(o["oid"]), Kind.TREE if o.get("kind") == "dir" else Kind.FILE) for o in outputs]
        if not incomplete_keys(repo.store, keys):  # every output complete in the store
            return run
    return None


def restore(repo: Repo, out: dict) -> None:
    """Write one recorded output into the (empty) workspace path, verified object by object.

    Raises:
        UnsafePathError: for a path or tree entry that would leave the workspace.
        ObjectNotFoundError, CorruptObjectError: when stored data is missing or damaged.
    """
    path = check_relpath(str(out["path"]), where="run record")
    dest = ensure_inside(repo.root, repo.abspath(path))
    oid = Oid(out["oid"])
    if out.get("kind") == "dir":
        check_tree(repo, path, oid)  # names and links, resolved against the tree, before anything is written
        _write_tree(repo, dest, oid)
    else:
        _write_file(repo, dest, oid, int(out["size"]), False)


def _write_file(repo: Repo, dest: Path, oid: Oid, size: int, executable: bool) -> None:
    materialize_file(repo.store, oid, size, dest, executable=executable)
    repo.state.record(str(dest), os.stat(dest), oid, written=True)


def _write_tree(repo: Repo, dest: Path, oid: Oid) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for e in repo.store.get_tree(oid).entries:
        target = dest / e.name
        if e.kind == "dir":
            _write_tree(repo, target, e.oid)
        elif e.kind == "symlink" and e.target is not None:
            make_symlink(target, e.target)
        else:
            _write_file(repo, target, e.oid, e.size, e.executable)
