"""The metrics an experiment records: the files stages declare under ``metrics`` (or, for pipelines written
before that field, outputs named ``metrics*.json|yaml|toml``), parsed and flattened to dotted keys.

A small reader of its own until ``pipeline/metrics.py`` lands; then ``read_metrics`` delegates to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .exp_params import flatten, load_params_file_bytes
from .spec import Pipeline

_SUFFIXES = (".json", ".yaml", ".yml", ".toml")


def metrics_files(pipeline: Pipeline) -> list[str]:
    """The metrics files of the pipeline's stages, in stage order."""
    out: list[str] = []
    for stage in pipeline.stages.values():
        declared = getattr(stage, "metrics", None)
        if declared is None:
            declared = [o for o in stage.outs if o.rsplit("/", 1)[-1].startswith("metrics") and o.endswith(_SUFFIXES)]
        out.extend(p for p in declared if p not in out)
    return out


def read_metrics(pipeline: Pipeline, root: Path) -> dict[str, dict[str, Any]]:
    """file -> flattened metrics, for every metrics file present under ``root`` that parses (others are
    left out: an experiment's record never fails on them)."""
    from ..errors import ArtError

    out: dict[str, dict[str, Any]] = {}
    for path in metrics_files(pipeline):
        try:
            raw = (root / path).read_bytes()
            out[path] = flatten(load_params_file_bytes(path, raw))
        except (OSError, ArtError):
            continue
    return out


MAX_METRICS_FILE = 16 << 20  # bytes art reads of a metrics file from the store


def values_at(repo, rev: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(params, metrics) of git revision ``rev``: the params its stages use, read from its params files, and
    its metrics files as its ``art.lock`` records them, read from the store (each verified against its id).
    What cannot be read is left out."""
    from ..errors import ArtError
    from ..objstore.hashing import hash_bytes
    from ..objstore.oid import Oid
    from ..workspace.lockfile import LOCK_NAME, parse_lock_text
    from .exp_params import used_values
    from .spec import parse

    git = repo.git
    prefix = f"{repo.git_prefix}/" if repo.git_prefix else ""
    text = git.file_at(rev, prefix + "art.toml")
    if text is None:
        return {}, {}
    try:
        pipeline = parse(text.decode(), repo.root, check_deps=False)
    except (ArtError, UnicodeDecodeError):
        return {}, {}
    params = used_values(pipeline, lambda f: git.file_at(rev, prefix + f))
    metrics: dict[str, dict[str, Any]] = {}
    try:
        lock = parse_lock_text(git.file_at(rev, prefix + LOCK_NAME) or b"")
    except ArtError:
        return params, metrics
    outs = {o.get("path"): o for s in lock.values() if isinstance(s, dict) for o in s.get("outs", [])}
    for path in metrics_files(pipeline):
        out = outs.get(path)
        try:
            oid, size = Oid(str(out["id"])), int(out["size"])  # type: ignore[index]
            if size > MAX_METRICS_FILE:
                continue
            data = b"".join(repo.store.iter_file(oid, size))
            if hash_bytes(data) != oid:
                continue
            metrics[path] = flatten(load_params_file_bytes(path, data))
        except (ArtError, KeyError, TypeError, ValueError):
            continue
    return params, metrics
