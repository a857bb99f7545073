"""``art du``: how much data the tracked artifacts are, and how much of it the store really keeps.

For each artifact: its *logical* size (the bytes of its files, as a user sees them), its *unique* size (the
bytes of its distinct chunks, after deduplication inside it), and its *stored* size (what those chunks and the
artifact's manifests and trees take in packs, after compression). The total counts shared chunks once, so it
shows deduplication across artifacts too; the store line covers every object the store holds, referenced or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..objstore.objects import Kind
from ..objstore.reachability import closure_into
from ..objstore.store.local_check import LiveKeys
from .ls import artifacts_at
from .repo import Repo
from .tracked import select


@dataclass(frozen=True, slots=True)
class Usage:
    """Sizes of one artifact (or of a total), in bytes.

    ``unique`` and ``stored`` count only objects present in the local store; ``missing`` says how many of the
    artifact's objects are not (fetch them for the full figures).
    """

    path: str
    files: int
    logical: int
    unique: int
    stored: int
    objects: int
    missing: int = 0

    @property
    def dedup_ratio(self) -> float | None:
        return round(self.logical / self.unique, 3) if self.unique and not self.missing else None

    @property
    def compression_ratio(self) -> float | None:
        return round(self.unique / self.stored, 3) if self.stored and not self.missing else None

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "files": self.files,
            "logical_size": self.logical,
            "unique_size": self.unique,
            "stored_size": self.stored,
            "objects": self.objects,
            "missing_objects": self.missing,
            "dedup_ratio": self.dedup_ratio,
            "compression_ratio": self.compression_ratio,
        }


@dataclass(frozen=True, slots=True)
class DiskUsage:
    artifacts: list[Usage]
    total: Usage
    store: dict[str, int]

    def as_dict(self) -> dict:
        return {
            "artifacts": [a.as_dict() for a in self.artifacts],
            "total": self.total.as_dict(),
            "store": store_sizes(self.store),
        }


def du(repo: Repo, paths: Sequence[str] | None = None, *, rev: str | None = None) -> DiskUsage:
    """Measure the artifacts of the workspace (or of git revision ``rev``), all or those under ``paths``.

    Raises:
        PathNotTrackedError: when a path names nothing tracked (workspace only).
        GitError: when ``rev`` names no commit.
    """
    if rev is None:
        chosen = [(p, ptr) for p, ptr, _ in select(repo, paths)]
    else:
        listed = artifacts_at(repo, rev)
        chosen = [
            (p, item.pointer)
            for p, item in listed.items()
            if not paths or any(p == q or p.startswith(q.rstrip("/") + "/") for q in paths)
        ]
    store = repo.store
    out = []
    # the keys in temporary tables beside the index, not Python sets: flat memory at a million files; the sizes
    # are joins with the index (each object counted once, shared ones too, in the total)
    with LiveKeys(store, "du_one") as one, LiveKeys(store, "du_all") as every:
        for path, pointer in chosen:
            one.clear()
            root = (pointer.oid, int(Kind.TREE if pointer.kind == "dir" else Kind.FILE))
            closure_into(store, [root], one, missing=[])
            out.append(_measure(path, pointer.files, pointer.size, one.usage()))
            one.merge_into(every)
        logical = sum(u.logical for u in out)
        files = sum(u.files for u in out)
        total = _measure("total", files, logical, every.usage())
    return DiskUsage(out, total, store.stats())


def _measure(path: str, files: int, logical: int, usage: tuple[int, int, int, int]) -> Usage:
    objects, stored, unique, missing = usage
    return Usage(path, files, logical, unique, stored, objects, missing)


def store_sizes(stats: dict[str, int]) -> dict[str, int]:
    """The store's figures in the JSON vocabulary (docs/cli.md): counts, and byte sizes named ``*_size``."""
    return {
        "objects": stats["objects"],
        "packs": stats["packs"],
        "pack_size": stats["pack_bytes"],
        "raw_size": stats["raw_bytes"],
        "stored_size": stats["stored_bytes"],
    }
