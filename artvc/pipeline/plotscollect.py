"""Find the plots and their data in the workspace or at git revisions (``art plots show`` / ``art plots diff``).

The plots drawn are those the stages declare (``plots`` in ``art.toml``) in any of the revisions compared,
each drawn as the newest of those revisions declares it, or the files named on the command line. A file's
content at a revision is the output recorded in that commit's ``art.lock`` (or its pointer file), read from the
local store and checked against its id, or the file itself when git tracks it. A revision without the file, or
whose content the local store lacks, gets a note on the chart instead of failing the command; so does, when
several revisions are compared, one whose data cannot be drawn (a single revision's error is the command's).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import GitError, IntegrityError, UsageError
from ..objstore.hashing import ContentHasher
from ..objstore.oid import Oid
from ..objstore.oserrors import describe
from ..workspace.ls import Listed, artifacts_at
from ..workspace.paths import inside, to_repo_path
from ..workspace.repo import Repo
from . import spec as pipeline_spec
from .errors import SpecError
from .plots import MAX_DATA_SIZE, MAX_IMAGE_SIZE, Plot, PlotsError, PlotSpec, kind_of, make_spec

WORKSPACE = "workspace"
MAX_REVISIONS = 10


def gather(
    repo: Repo,
    revisions: list[str | None],
    targets: Iterable[str] = (),
    *,
    cwd: Path | None = None,
    override: dict[str, object] | None = None,
) -> tuple[list[Plot], list[str]]:
    """Load the plots at ``revisions`` (None: the workspace); return them and the revision labels.

    Args:
        targets: user paths (relative to ``cwd``): only these plots, or these files with a default template.
        override: ``template``, ``x``, ``y`` for the targets (replacing what ``art.toml`` says).

    Raises:
        UsageError: too many revisions, or an override without targets.
        PlotsError: no plots at all, or a plot's data that does not load.
        GitError: a revision that names no commit.
    """
    if len(revisions) > MAX_REVISIONS:
        raise UsageError(f"at most {MAX_REVISIONS} revisions in one plot", hint="compare fewer revisions")
    if repo.git is None and any(r is not None for r in revisions):
        raise GitError("this art repository is not in a git work tree", hint="revisions need git")
    labels = [WORKSPACE if r is None else r for r in revisions]
    if len(set(labels)) != len(labels):
        raise UsageError("a revision is named twice", hint="name each revision once")
    override = {k: v for k, v in (override or {}).items() if v not in (None, (), [])}
    specs = _declared(repo, revisions)
    wanted = [to_repo_path(repo.root, t, cwd=cwd) for t in targets]
    if override and not wanted:
        raise UsageError("--template, -x and -y apply to the files named (TARGETS)", hint="name the plot files")
    if wanted:
        specs = {p: _target(p, specs.get(p), override) for p in dict.fromkeys(wanted)}
    if not specs:
        raise PlotsError(
            "no plots: no stage declares 'plots' in art.toml",
            hint="declare them (see 'Plots' in docs/pipelines.md), or name data files: art plots show FILE",
        )
    plots = [Plot(s) for s in specs.values()]
    for rev, label in zip(revisions, labels, strict=True):
        listed = artifacts_at(repo, rev) if rev is not None else {}
        for plot in plots:
            try:
                _load(repo, plot, rev, label, listed)
            except PlotsError as exc:
                if len(revisions) == 1:
                    raise
                # comparing: one revision's data (an older format, say) must not hide the others
                plot.notes.append((label, f"cannot draw: {exc.message}"))
    return plots, labels


def _declared(repo: Repo, revisions: list[str | None]) -> dict[str, PlotSpec]:
    """The plots declared at the revisions, each as the last revision declaring it says, in stage order."""
    found: dict[str, PlotSpec] = {}
    for rev in revisions:
        if rev is None:
            pipeline = pipeline_spec.load(repo.root, check_deps=False)
        else:
            got = repo.git.bounded_file_at(rev, repo.git_prefix, pipeline_spec.PIPELINE_NAME, 16 << 20)
            if got is None or got[1] is None:
                continue
            try:
                pipeline = pipeline_spec.parse(got[1].decode("utf-8", "replace"), repo.root, check_deps=False)
            except SpecError:
                continue  # an old art.toml this version refuses: the newer definitions still apply
        for stage in pipeline.stages.values() if pipeline else []:
            for plot in stage.plots:
                found.pop(plot.path, None)
                found[plot.path] = plot
    return found


def _target(path: str, declared: PlotSpec | None, override: dict[str, object]) -> PlotSpec:
    if not override and declared is not None:
        return declared
    if kind_of(path) is None and declared is None:
        raise PlotsError(
            f"{path} is not a plot file (CSV, TSV, JSON, PNG, JPEG or SVG, by its extension)",
            hint="name a data file or an image",
        )
    entry: dict[str, object] = {}
    if declared is not None and not declared.is_image:
        entry = {"template": declared.template, "x": declared.x, "y": list(declared.y)}
        entry.update(title=declared.title or None, x_label=declared.x_label or None, y_label=declared.y_label or None)
    entry.update(override)
    try:
        return make_spec(path, {k: v for k, v in entry.items() if v not in (None, [])})
    except ValueError as exc:
        raise UsageError(f"plot {path}: {exc}") from None


def _load(repo: Repo, plot: Plot, rev: str | None, label: str, listed: dict[str, Listed]) -> None:
    path = plot.spec.path
    limit = MAX_IMAGE_SIZE if plot.spec.is_image else MAX_DATA_SIZE
    where = "" if rev is None else label
    plot.oids[label] = None  # first, in revision order (as_dict lists the revisions in this order)
    if rev is None:
        data = _workspace_file(repo, path, limit)
        if data is None:
            plot.notes.append((label, "no such file in the workspace"))
            return
        plot.add(label, data, where=where)
        return
    item = listed.get(path)
    if item is None:
        got = repo.git.bounded_file_at(rev, repo.git_prefix, path, limit)
        if got is None:
            plot.notes.append((label, f"no such file at {label}"))
            return
        if got[1] is None:
            raise _too_large(path, label, got[0], limit)
        plot.add(label, got[1], where=where)
        return
    pointer = item.pointer
    plot.oids[label] = str(pointer.oid)
    if pointer.kind != "file":
        plot.notes.append((label, "a folder, not a file"))
        return
    if pointer.size > limit:
        raise _too_large(path, label, pointer.size, limit)
    store = repo.store
    if not store.has_file(pointer.oid):
        plot.notes.append((label, "not in the local store (art fetch gets it from a remote)"))
        return
    hasher = ContentHasher()
    blocks = []
    for block in store.iter_file(pointer.oid, pointer.size):
        hasher.update(block)
        blocks.append(block)
        if sum(map(len, blocks)) > limit:
            raise IntegrityError(f"the stored content of {path} at {label} is longer than recorded (run art fsck)")
    if hasher.oid() != Oid(str(pointer.oid)):
        raise IntegrityError(f"the stored content of {path} at {label} does not match its id (run art fsck)")
    plot.add(label, b"".join(blocks), where=where)


def _workspace_file(repo: Repo, path: str, limit: int) -> bytes | None:
    full = repo.abspath(path)
    if not os.path.lexists(full):
        return None
    real = os.path.realpath(full)
    if not inside(repo.root, real) or not os.path.isfile(real):
        raise PlotsError(f"{path} is not a file inside the workspace", hint="plots are files in the workspace")
    try:
        with open(real, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise describe(exc, "read", full) from exc
    if len(data) > limit:
        raise _too_large(path, WORKSPACE, os.path.getsize(real), limit)
    return data


def _too_large(path: str, label: str, size: int, limit: int) -> PlotsError:
    return PlotsError(
        f"plot {path} ({label}) is {size:,} bytes, over the {limit >> 20} MiB limit",
        hint="plot a summary of the data (fewer rows)",
    )
