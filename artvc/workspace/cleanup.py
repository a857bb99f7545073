"""Leftovers of killed commands, removed by the next command that takes the repository lock.

Temp files and folders name their owner (``objstore/tmpowner``: pid and start time). When a command takes the
lock, whatever belongs to a process that is no longer running is settled here:

* temp files beside checked-out files and atomically written small files (``.NAME.*.art-tmp``,
  ``.NAME.art-link``) and staging folders (``.NAME.art-tmp-dir``), which their writer notes in
  ``.art/tmp/owned-<owner>.list`` before creating them.
* ``.art/tmp/stash-*``: outputs a killed ``art repro`` had moved aside while their stage ran. Each output the
  workspace no longer has is put back (the stage never replaced it); one the killed run did produce again is
  kept, and the stashed copy is discarded. A notice names every output put back.
* ``.art/tmp/flow-*``: the input and output folders of the steps of a killed Python pipeline (and of a
  killed ``artvc.load``).
* owned ``.*.art-tmp`` temps of atomic writes in ``.art`` and the store's ``workspaces/`` registry, which
  can be written before the journal exists.
* temp packs and imports in the store's ``tmp/`` (also removed by every store writer), packs staged for a
  remote in ``.art/tmp/push`` and ``.art/tmp/gc``, a killed remote compaction's tables in ``.art/tmp/compact``,
  the temp file of ``.art/cache/last-repro.json`` and atomically written files in ``.art/cache/remotes/*``.

A live owner's temps are never touched, however old; nothing outside ``.art`` and the store is deleted.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ArtError
from ..objstore.oserrors import notice, writable
from ..objstore.tmpowner import sweep, sweep_journals
from .paths import check_relpath, ensure_inside

STASH_INDEX = "paths.json"  # in a stash folder: {entry number: the output path it was moved from}
STORE_TEMPS = ("pack-*.tmp", "import-*.tmp", "config-*.tmp")
WORKSPACE_TEMP_SUFFIXES = (".art-tmp", ".art-tmp-dir", ".art-link")


def _workspace_temp(root: Path, art_dir: Path, path: Path) -> bool:
    """Only art's own temp names are removed: in the workspace (not through a symlink) or in ``.art`` itself
    (the temps of atomic config and cache writes)."""
    if not path.name.startswith(".") or not path.name.endswith(WORKSPACE_TEMP_SUFFIXES):
        return False
    parent = Path(os.path.realpath(path.parent))
    if parent.is_relative_to(Path(os.path.realpath(art_dir))):
        return True
    try:
        ensure_inside(root, path)
    except ArtError:
        return False
    return parent.is_relative_to(root.resolve())


def sweep_leftovers(root: Path, art_dir: Path, store_dir: Path | None) -> list[str]:
    """Settle what killed processes left in ``art_dir`` and ``store_dir``; return the names removed."""
    removed: list[str] = []
    tmp = art_dir / "tmp"
    if tmp.is_dir() and writable(tmp):
        removed += sweep_journals(tmp, lambda path: _workspace_temp(root, art_dir, path))
        removed += sweep(tmp, ("stash-*",), recover=lambda folder: restore_stash(root, folder))
        removed += sweep(tmp, ("flow-*",), legacy=False)  # a killed Python pipeline's step inputs and outputs
        if (tmp / "stage").is_dir():  # files a killed pull was writing as it fetched them (objstore/stage.py)
            removed += sweep(tmp / "stage", ("file-*.tmp",), legacy=False)
        for staging in ("push", "gc"):  # packs staged for a remote by a killed push or gc
            if (tmp / staging).is_dir():
                removed += sweep(tmp / staging, ("pack-*.tmp",), legacy=False)
        if (tmp / "compact").is_dir():  # the tables of a killed compaction of a remote's indexes
            removed += sweep(tmp / "compact", ("compact-*",), legacy=False)
    cache = art_dir / "cache"
    if cache.is_dir() and writable(cache):
        removed += sweep(cache, (".last-repro.*",))
        remotes = cache / "remotes"  # a remote's cached files written atomically (its run-marker list)
        for cached in sorted(remotes.iterdir()) if remotes.is_dir() else ():
            if cached.is_dir() and not cached.is_symlink() and writable(cached):
                removed += sweep(cached, (".*.art-tmp",), legacy=False)
    # atomic_write's temps where a write may run before the journal exists (init, the store's registry)
    for folder in (art_dir, store_dir / "workspaces" if store_dir is not None else None):
        if folder is not None and folder.is_dir() and writable(folder):
            removed += sweep(folder, (".*.art-tmp",), legacy=False)
    if store_dir is not None and (store_dir / "tmp").is_dir() and writable(store_dir / "tmp"):
        removed += sweep(store_dir / "tmp", STORE_TEMPS)
    return removed


def restore_stash(root: Path, folder: Path) -> list[str]:
    """Put back each stashed output whose path is empty in the workspace; return the paths put back."""
    import json  # here: every command that takes the lock sweeps, and finds a stash only after a killed run
    import shutil

    try:
        index = json.loads((folder / STASH_INDEX).read_text())
    except (OSError, ValueError):
        return []  # killed before anything was moved (the index is written first)
    if not isinstance(index, dict):
        return []
    back = []
    for entry in sorted(os.listdir(folder)):
        path = index.get(entry)
        if not entry.isdigit() or not isinstance(path, str):
            continue
        try:
            rel = check_relpath(path, where=f"{folder.name}/{STASH_INDEX}")
            full = ensure_inside(root, root / rel)
        except ArtError:
            continue
        if os.path.lexists(full):
            continue  # the killed run produced it again: keep the workspace's, drop the stashed one
        full.parent.mkdir(parents=True, exist_ok=True)
        ensure_inside(root, full)
        shutil.move(folder / entry, full)
        back.append(rel)
    if back:
        notice(f"put back {', '.join(back)}: the previous output of a stage whose 'art repro' was killed")
    return back
