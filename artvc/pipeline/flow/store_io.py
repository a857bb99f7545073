"""Between step functions and the store: code hashes, the step run cache, reading an input artifact into a
folder, storing saved outputs (chunked and packed like ``art add``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ArtError, FormatError
from ...objstore.ingest import Ingester
from ...objstore.lineage import Run
from ...objstore.materialize import make_symlink, materialize_file
from ...objstore.objects import Kind
from ...objstore.oid import Oid
from ...objstore.tmpowner import token
from ...workspace.repo import Repo
from ...workspace.runs import load_run, runs_with_key
from ...workspace.tracked import incomplete_keys
from ..codehash import function_closure
from ..errors import FlowError, MaterializerError
from ..materializers import materializer_named

if TYPE_CHECKING:
    from .result import ArtifactRef

_RESERVED = frozenset({"path", "oid", "kind", "size", "files", "type", "preview", "materializer"})


class CodeHashes:
    """``codehash.function_closure`` per function, once per pipeline run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[Callable, tuple[str, dict[str, str]]] = {}

    def of(self, fn: Callable) -> tuple[str, dict[str, str]]:
        if fn not in self._seen:
            try:
                self._seen[fn] = function_closure(fn, self.root)
            except ArtError:
                raise
            except (OSError, TypeError) as exc:  # no source: defined at an interactive prompt, or built in
                raise FlowError(
                    f"cannot read the source of step {fn.__module__}:{fn.__qualname__}: {exc}",
                    hint="define steps in a module file (or a notebook cell): their code is part of the cache key",
                ) from exc
        return self._seen[fn]


def find_cached(repo: Repo, key: str, names: list[str]) -> Run | None:
    """The newest successful step run with run key ``key`` that made exactly the artifacts ``names``, whose
    outputs are all in the store and whose materializers are registered at the recorded versions."""
    for run_oid in runs_with_key(repo, key):
        try:
            run = load_run(repo, run_oid)
        except ArtError:
            continue
        if not usable_run(run, names):
            continue
        outputs = run.get("outputs", [])
        keys = [(Oid(o["oid"]), Kind.TREE if o.get("kind") == "dir" else Kind.FILE) for o in outputs]
        if not incomplete_keys(repo.store, keys):
            return run
    return None


def usable_run(run: Run, names: list[str]) -> bool:
    """A successful step run that made exactly the artifacts ``names`` with materializers registered here at
    the recorded versions (whether its outputs are in the store is the caller's question)."""
    outputs = run.get("outputs", [])
    if run.get("kind") != "step" or run.get("exit_status", 0) != 0:
        return False
    if sorted(o.get("path") for o in outputs) != sorted(names):
        return False
    return all(_same_materializer(o) for o in outputs)


def _same_materializer(out: dict[str, Any]) -> bool:
    try:
        mat = materializer_named(str(out.get("materializer", "")))
    except MaterializerError:
        return False
    return int(getattr(mat, "version", 1)) == out.get("materializer_version", 1)


def read_into(repo: Repo, ref: ArtifactRef, dest: Path) -> Path:
    """Write artifact ``ref`` from the store into the new folder ``dest`` (verified object by object)."""
    dest.mkdir(parents=True)
    if ref.kind == "dir":
        _write_tree(repo, dest, Oid(ref.oid))
    else:
        materialize_file(repo.store, Oid(ref.oid), ref.size, dest / "data")
    return dest


def _write_tree(repo: Repo, dest: Path, oid: Oid) -> None:
    for e in repo.store.get_tree(oid).entries:
        if "/" in e.name or e.name in ("", ".", "..") or "\0" in e.name:
            raise FormatError(f"tree {str(oid)[:10]} has an unusable entry name {e.name[:40]!r}")
        target = dest / e.name
        if e.kind == "dir":
            target.mkdir()
            _write_tree(repo, target, e.oid)
        elif e.kind == "symlink" and e.target is not None:
            make_symlink(target, e.target)
        else:
            materialize_file(repo.store, e.oid, e.size, target, executable=e.executable)


def store_outputs(
    repo: Repo, writer: Any, prefix: str, saved: list[tuple[str, Path, str, int, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Store each saved output folder as a tree through ``writer``; return the run record's ``outputs``."""
    store = repo.store
    outs = []
    with Ingester(writer, store.params, store.compressor, guard=repo.art_dir, jobs=1) as ing:
        for name, folder, materializer, version, meta in saved:
            tree, files = ing.add_tree(folder)
            details = _plain({str(k): v for k, v in meta.items() if k not in _RESERVED})
            outs.append(
                {
                    "path": prefix + name,
                    "oid": str(tree.oid),
                    "kind": "dir",
                    "size": tree.size,
                    "files": files,
                    "type": str(meta.get("type", "")),
                    "materializer": materializer,
                    "materializer_version": version,
                    "preview": str(meta.get("preview", ""))[:200],
                    **({"details": details} if details else {}),
                }
            )
    return outs


def _plain(extra: dict[str, Any]) -> dict[str, Any]:
    """What a materializer adds (shape, dtype, ...) as plain JSON, whatever types it used."""
    try:
        return json.loads(json.dumps(extra, default=str, allow_nan=False))
    except (ValueError, TypeError):
        return {k: str(v) for k, v in extra.items()}


def load_ref(ref: ArtifactRef, root: Any = None) -> Any:
    """Load artifact ``ref`` from the repository at ``root`` (default: found from the current directory)."""
    with Repo.find(root) as repo:
        return load_from(repo, ref)


def load_from(repo: Repo, ref: ArtifactRef) -> Any:
    """Read ``ref`` from the store into a temporary folder and load it with its materializer."""
    import shutil
    import tempfile

    mat = materializer_named(ref.materializer)
    work = Path(tempfile.mkdtemp(prefix=f"flow-{token()}-load-", dir=repo.tmp_dir))
    try:
        return mat.load(read_into(repo, ref, work / "a"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
