"""The code a distributed stage runs: an art tree of the files git would commit right now.

Workers get no git checkout: the client builds a tree object of every file ``git add -A`` would commit — tracked
files and untracked, not ignored ones, **as they are in the work tree** (a dirty tree is shipped exactly) —
leaving out what art tracks (ignored by git anyway) and every stage's outs, stores it in the local store and
pushes it once (unchanged files dedup, so a re-run pushes nothing). Files are hashed through the stat cache
(``state.db``): an unchanged file is never read again. The run record still names the git commit and
dirtiness for lineage.
"""

from __future__ import annotations

import os
import stat as statmod
from typing import Any, NamedTuple

from ...errors import ArtError
from ...objstore.objects import EntryKind, Tree, TreeEntry
from ...objstore.oid import Oid
from ...workspace.repo import Repo
from ..spec import Pipeline


class NoGitError(ArtError):
    """``--executor dask`` ships code as the files git would commit: it needs a git repository."""


def code_files(repo: Repo, pipeline: Pipeline | None) -> list[str]:
    """The workspace-relative paths of the code tree (see the module docstring), sorted.

    Raises:
        NoGitError: when the workspace is not in a git repository.
    """
    git = repo.git
    if git is None:
        raise NoGitError(
            "--executor dask needs a git repository",
            hint="workers get the files git would commit; run 'git init' (or use --executor local)",
        )
    base = os.path.relpath(repo.root, git.workdir)
    prefix = "" if base == "." else base.replace(os.sep, "/") + "/"
    outs = tuple(o for s in (pipeline.stages.values() if pipeline else ()) for o in s.outs)
    out: list[str] = []
    for path in git.commit_candidates():
        if not path.startswith(prefix):
            continue
        rel = path[len(prefix) :]
        top = rel.split("/", 1)[0]
        if top in (".art", ".git") or any(rel == o or rel.startswith(o.rstrip("/") + "/") for o in outs):
            continue
        out.append(rel)
    return out


class CodeTree(NamedTuple):
    oid: Oid
    files: int  # files (and symlinks) in it
    hashed: int  # files read to hash them (the others were known to the stat cache)


def build(repo: Repo, pipeline: Pipeline | None) -> CodeTree:
    """Store the code tree in the local store; return its id and counts.

    A symlink is kept only when it points inside the workspace; files that vanish while the tree is built
    are left out.

    Raises:
        NoGitError: without git. FileSystemError: a file cannot be read.
    """
    from ...objstore.ingest import Ingester

    files = code_files(repo, pipeline)
    store = repo.store
    root: dict[str, Any] = {}
    count = 0
    with store.writer() as writer:
        with Ingester(writer, store.params, store.compressor, cache=repo.state, guard=repo.root) as ing:
            for rel in files:
                full = repo.root / rel
                try:
                    st = os.lstat(full)
                except FileNotFoundError:
                    continue
                name = rel.rsplit("/", 1)[-1]
                if statmod.S_ISLNK(st.st_mode):
                    target = os.readlink(full)
                    if not _inside(repo, full, target):
                        continue
                    from ...objstore.hashing import hash_bytes

                    entry = TreeEntry(name, EntryKind.SYMLINK, hash_bytes(target.encode()), 0, target=target)
                elif statmod.S_ISREG(st.st_mode):
                    oid, size = ing.add_file(full, st)
                    entry = TreeEntry(name, EntryKind.FILE, oid, size, executable=bool(st.st_mode & 0o111))
                else:
                    continue
                node = root
                for part in rel.split("/")[:-1]:
                    node = node.setdefault(part + "/", {})
                node[name] = entry
                count += 1
            hashed = ing.stats.hashed
        tree = _put(writer, root)
    repo.state.flush()
    return CodeTree(tree.oid, count, hashed)


def _put(writer, node: dict[str, Any]) -> Tree:
    from ...objstore.types import Kind

    entries = []
    for key, value in node.items():
        if isinstance(value, dict):
            sub = _put(writer, value)
            entries.append(TreeEntry(key[:-1], EntryKind.DIR, sub.oid, sub.size))
        else:
            entries.append(value)
    tree = Tree.build(entries)
    writer.put(tree.oid, Kind.TREE, tree.to_bytes())
    return tree


def _inside(repo: Repo, link, target: str) -> bool:
    if os.path.isabs(target):
        return False
    resolved = os.path.normpath(os.path.join(os.path.dirname(link), target))
    root = os.path.normpath(repo.root)
    return resolved == root or resolved.startswith(root + os.sep)
