"""A worker's own art store: where a Dask worker keeps what it downloaded from the remote and what its stages
wrote, reused across tasks (so a dep or code file it already holds is never downloaded again).

Layout under ``<worker.local_directory>/art-worker/`` (or ``$ART_WORKER_CACHE``):

    store/               an art object store (objstore/store/local.py)
    remotes/<id>/        the remote's index cache (indexes are immutable)
    cache/               the package list of this interpreter (provenance)
    tasks/<key>.<nonce>/ one task's scratch workspace (deleted after the task)

Workers share nothing but the remote: everything comes from it by id and is verified before it is stored
(``objstore/transfer.download``); what a stage wrote goes back to it under the remote's shared lock, and the
run-key marker is published last (``objstore/remote_runkeys.py``), the commit point of a remote run.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from ...errors import UnsafePathError
from ...objstore.lineage import Run
from ...objstore.objects import Kind
from ...objstore.oid import Oid
from ...objstore.store.local import LocalStore
from ...objstore.store.remote import RemoteStore
from ...workspace.paths import check_tree_links, ensure_inside

_CACHES: dict[tuple, WorkerCache] = {}
_CACHES_LOCK = threading.Lock()
ENV_ROOT = "ART_WORKER_CACHE"


def _key_of(kind: str) -> Kind:
    return Kind.FILE if kind == "file" else Kind.TREE


def default_root() -> Path:
    """``$ART_WORKER_CACHE``, else ``art-worker/`` in the Dask worker's local directory, else in the temp dir."""
    env = os.environ.get(ENV_ROOT)
    if env:
        return Path(env)
    try:
        from distributed import get_worker

        return Path(get_worker().local_directory) / "art-worker"
    except (ImportError, ValueError):
        import tempfile

        return Path(tempfile.gettempdir()) / f"art-worker-{os.getuid()}"


class WorkerCache:
    """One worker's store and its view of the remote a task names.

    Args:
        root: the cache directory (created when missing).
        remote_spec: the task spec's ``remote`` ({url, options, name}); credentials come from the worker's own
            environment and config files, never from the spec.
    """

    def __init__(self, root: Path, remote_spec: dict[str, Any]) -> None:
        from ...objstore.hashing import hash_bytes

        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.store = LocalStore(self.root / "store")
        url = str(remote_spec["url"])
        tag = str(hash_bytes(url.encode()))[:16]
        self.remote = RemoteStore.open(
            url,
            dict(remote_spec.get("options") or {}),
            name=remote_spec.get("name") or "remote",
            cache_dir=self.root / "remotes" / tag,
        )
        self.write_lock = threading.Lock()  # one writer of the store at a time within this process

    @classmethod
    def for_worker(cls, remote_spec: dict[str, Any], root: Path | None = None) -> WorkerCache:
        """The cache of this worker process for ``remote_spec`` (opened once, reused by later tasks)."""
        base = Path(root) if root is not None else default_root()
        key = (str(base), str(remote_spec["url"]), repr(sorted((remote_spec.get("options") or {}).items())))
        with _CACHES_LOCK:
            cache = _CACHES.get(key)
            if cache is None:
                cache = _CACHES[key] = cls(base, remote_spec)
            return cache

    @property
    def bytes_read(self) -> int:
        """Bytes downloaded from the remote by this cache so far."""
        return self.remote.read_size

    def task_dir(self, run_key: str) -> Path:
        """A new, empty scratch directory for one task."""
        import uuid

        path = self.root / "tasks" / f"{run_key[:32]}.{uuid.uuid4().hex[:12]}"
        path.mkdir(parents=True)
        return path

    # -- from the remote ---------------------------------------------------------------------------------

    def fetch(self, keys: list[tuple[str, str]]) -> None:
        """Download (verified) every (oid, "file"|"dir"|"tree") this store lacks, with its whole closure.

        Raises:
            IntegrityError: when an object failed verification (nothing of it is stored).
            TransferError: when an object is not on the remote.
            StoreIOError: when the remote fails.
        """
        from ...objstore.transfer import download
        from ...workspace.fetch import FetchResult, raise_for

        wanted = [(Oid(o), _key_of(k)) for o, k in keys]
        with self.write_lock:
            got = download(self.remote, self.store, wanted, jobs=4)
        raise_for(
            FetchResult(self.remote.name, self.remote.url, len(wanted), missing=got.missing, problems=got.problems)
        )

    def materialize(self, oid: str, kind: str, dest: Path, *, root: Path) -> None:
        """Fetch ``oid`` and write it at ``dest`` inside the scratch workspace ``root`` (files replaced, a tree
        merged into what is there), verified object by object.

        Raises:
            UnsafePathError: when ``dest`` or a name or link of the tree would leave ``root``.
            IntegrityError, TransferError, StoreIOError: see ``fetch``.
        """
        self.fetch([(oid, kind)])
        if dest != root:
            dest = ensure_inside(root, dest)
        if _key_of(kind) == Kind.FILE:
            self._write_file(dest, Oid(oid), self.store.file_size(Oid(oid)), False)
            return
        at = dest.relative_to(root).as_posix() if dest != root else ""
        links: dict[str, str] = {}
        self._links(Oid(oid), "", links)
        check_tree_links(root, at, links)
        self._write_tree(dest, Oid(oid))

    def _links(self, oid: Oid, prefix: str, out: dict[str, str]) -> None:
        from ...workspace.paths import check_name

        for e in self.store.get_tree(oid).entries:
            check_name(e.name, where="code tree")
            if e.kind == "dir":
                self._links(e.oid, f"{prefix}{e.name}/", out)
            elif e.kind == "symlink" and e.target is not None:
                out[f"{prefix}{e.name}"] = e.target

    def _write_file(self, dest: Path, oid: Oid, size: int, executable: bool) -> None:
        from ...objstore.materialize import materialize_file

        if dest.is_symlink() or dest.is_dir():
            raise UnsafePathError(f"{dest.name} is in the way of a file in the task's workspace", path=str(dest))
        materialize_file(self.store, oid, size, dest, executable=executable)

    def _write_tree(self, dest: Path, oid: Oid) -> None:
        from ...objstore.materialize import make_symlink

        dest.mkdir(parents=True, exist_ok=True)
        for e in self.store.get_tree(oid).entries:
            target = dest / e.name
            if e.kind == "dir":
                self._write_tree(target, e.oid)
            elif e.kind == "symlink" and e.target is not None:
                make_symlink(target, e.target)
            else:
                self._write_file(target, e.oid, e.size, e.executable)

    # -- into the store and back to the remote ----------------------------------------------------------

    def ingest(self, path: Path, rel: str, *, root: Path) -> dict[str, Any]:
        """Store the file or directory at ``path`` (``rel`` inside the scratch workspace ``root``); return its
        art.lock entry {path, id, kind, size, files}."""
        from ...objstore.ingest import Ingester

        store = self.store
        with (
            self.write_lock,
            store.writer() as writer,
            Ingester(writer, store.params, store.compressor, guard=root) as ing,
        ):
            if path.is_dir() and not path.is_symlink():
                tree, files = ing.add_tree(path)
                return {"path": rel, "id": str(tree.oid), "kind": "dir", "size": tree.size, "files": files}
            oid, size = ing.add_file(path)
            return {"path": rel, "id": str(oid), "kind": "file", "size": size, "files": 1}

    def publish(self, run_fields: dict[str, Any], outs: list[dict[str, Any]], packages: bytes | None = None) -> str:
        """Store the run record, push it and every output to the remote under the remote's shared lock, then
        publish its run-key marker (last: the commit point). Return the run's id.

        Raises:
            StoreIOError: when the remote fails; RepoLockedError: a remote gc holds the remote.
        """
        from ...objstore.faults import fault_point
        from ...objstore.gc import RemoteLock
        from ...objstore.reachability import closure
        from ...objstore.remote_runkeys import publish
        from ...objstore.transfer import upload
        from ..runrecord import store_packages

        run = Run(run_fields)
        with self.write_lock:
            with self.store.writer() as writer:
                if packages is not None:
                    store_packages(writer, packages)
                writer.put(run.oid, Kind.RUN, run.to_bytes())
            roots = [(run.oid, Kind.RUN), *((Oid(o["id"]), _key_of(o["kind"])) for o in outs)]
            keys = closure(self.store, roots)
        staging = self.root / "tmp"
        staging.mkdir(exist_ok=True)
        with RemoteLock(self.remote, exclusive=False, holder="art worker") as lock:
            self.remote.refresh()
            upload(self.store, self.remote, keys, jobs=4, staging_dir=str(staging), refresh=False)
            fault_point("worker.objects-pushed")  # objects committed on the remote, no marker yet
            lock.check()
            if run.get("exit_status", 0) == 0 and run.get("run_key"):
                publish(self.remote, str(run["run_key"]), run)
        return str(run.oid)

    def lookup(self, run_key: str, outs: list[str]) -> Run | None:
        """The newest run the remote's markers name for ``run_key`` that produced exactly ``outs``."""
        from ...objstore.remote_runkeys import lookup

        for run in lookup(self.remote, run_key):
            if sorted(o.get("path") for o in run.get("outputs", [])) == sorted(outs):
                return run
        return None
