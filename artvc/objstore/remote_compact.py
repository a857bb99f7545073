"""Compacting a remote's per-pack indexes into a checkpoint (remote index v2: store/midx.py, docs/remotes.md).

``compact`` is a deterministic function of what it reads — the newest checkpoint's manifests and tables and
the indexes it does not cover — so two clients compacting at once publish byte-identical, content-named
files: no lock between compactors. The caller holds the remote's *shared* lock (like a push): a gc, which
takes it exclusively, never runs at the same time, so a checkpoint never names a pack a gc is removing.
Nothing is deleted here: superseded manifests and tables are removed by gc (``prune``) under its exclusive
lock, and per-pack indexes stay (they are the commit point and what ``rebuild`` starts from).

Publish order: tables first, the manifest last (the checkpoint's commit point). A crash leaves at most
unreferenced tables, which readers never see and gc removes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import FormatError
from .faults import fault_point
from .store.midx import (
    FLAT,
    MIDX,
    Manifest,
    TableRef,
    encode_manifest,
    epoch_days,
    epoch_of,
    idx_source,
    manifest_path,
    order_tables,
    read_table_records,
    table_path,
    table_source,
    tiers,
    write_table,
)
from .store.pack import PackEntry
from .store.remote import RemoteStore
from .store.remote_ckpt import Checkpoints

GROUP = 256  # indexes sorted in memory at a time (~256,000 entries)
AUTO_WINDOW = 64  # a push compacts when it sees at least this many indexes outside the checkpoint


@dataclass(frozen=True, slots=True)
class CompactResult:
    """What a compaction did."""

    manifest: str | None  # the path of the new manifest (None: nothing to do)
    gen: int
    folded: int  # indexes folded in
    tables: int  # tables in the new checkpoint
    written: int  # tables written (the others were reused)
    entries: int

    def as_dict(self) -> dict[str, object]:
        return {
            "manifest": self.manifest,
            "generation": self.gen,
            "indexes_folded": self.folded,
            "tables": self.tables,
            "tables_written": self.written,
            "entries": self.entries,
        }


def compact(
    store: RemoteStore,
    *,
    rebuild: bool = False,
    drop: frozenset[str] = frozenset(),
    staging: str | None = None,
    check: Callable[[], None] | None = None,
) -> CompactResult:
    """Fold the indexes a checkpoint does not cover into a new one (``rebuild``: a new checkpoint from every
    per-pack index; ``drop``: leaving those packs out, for gc — implies a rebuild).

    Args:
        store: the remote.
        rebuild: ignore existing checkpoints.
        drop: packs to leave out (gc removes them next).
        staging: a local folder for temporary table files (default: the system's).
        check: called before publishing (the caller's lock check).

    Raises:
        StoreIOError: when the remote fails.
        FormatError: when an existing table is damaged (use ``rebuild``).
    """
    rebuild = rebuild or bool(drop)
    store.refresh()
    cps = store.checkpoints
    gen = max(cps.generations, default=0) + 1
    if rebuild or not cps.active:
        names = store.list_indexes()
        epochs = {n: store._epochs.get(n, FLAT) for n in names if n not in drop}
        old: list[TableRef] = []
        floor = 0
    else:
        epochs = {n: store._epochs.get(n, FLAT) for n in store.window}
        old = order_tables(cps.tables())
        floor = cps.listed_from
    if not epochs and not rebuild and cps.active:
        return CompactResult(None, gen - 1, 0, len(old), 0, sum(t.entries for t in old))
    order = sorted(epochs)
    newest = max((e for e in epochs.values() if e != FLAT), default=floor)
    listed_from = max(floor, epoch_days(newest, -1)) if newest else floor
    if staging:
        os.makedirs(staging, exist_ok=True)
    import tempfile  # here: most pushes have nothing to compact

    from .tmpowner import token

    # named for its owner, so a killed compaction's folder is removed by the next command (workspace/cleanup.py)
    with tempfile.TemporaryDirectory(dir=staging, prefix=f"compact-{token()}-") as tmp:
        files: dict[str, str] = {}
        folded = 0
        # the new indexes in groups of GROUP: each sorted in memory into a temporary table, then merged on
        # disk, so memory stays bounded however many indexes a rebuild reads
        runs: list[TableRef] = []
        for start in range(0, len(order), GROUP):
            inputs: list[tuple[str, int, Sequence[PackEntry]]] = []
            for name in order[start : start + GROUP]:
                entries = store.read_index(name) if rebuild else (store.packs_in_view(name) or store.read_index(name))
                if entries is not None:
                    inputs.append((name, epochs[name], entries))
            folded += len(inputs)
            if inputs:
                runs.append(_write(tmp, [idx_source(inputs)], files))
        new: TableRef | None
        if len(runs) > 1:
            new = _write(
                tmp, [table_source(_packs(cps, t, files), _records(store, t, tmp, files)) for t in runs], files
            )
        else:
            new = runs[0] if runs else None
        tables = old + ([new] if new else [])
        final: list[TableRef] = []
        written = [new] if new else []
        for group in tiers(tables):
            if len(group) == 1:
                final.append(group[0])
                continue
            sources = [table_source(_packs(cps, t, files), _records(store, t, tmp, files)) for t in group]
            merged = _write(tmp, sources, files)
            final.append(merged)
            written.append(merged)
        final = [t for t in final if t.entries]
        recent = frozenset(
            name for t in final for name, epoch in _packs(cps, t, files) if epoch != FLAT and epoch >= listed_from
        )
        manifest = Manifest(gen, listed_from, tuple(final), recent)
        data = encode_manifest(manifest)
        if check:
            check()
        keep = {t.name for t in final}
        for t in written:
            if t.name in keep:
                fault_point("compact.table")
                store.transport.publish_file(table_path(t.name), files[t.name], movable=True)
        fault_point("compact.manifest")
        from .hashing import hash_bytes

        path = manifest_path(gen, str(hash_bytes(data)))
        store.publish_bytes(path, data)
    store.refresh()
    return CompactResult(path, gen, folded, len(final), len([t for t in written if t.name in keep]), manifest.entries)


def _write(tmp: str, sources: list[Any], files: dict[str, str]) -> TableRef:
    import tempfile

    fd, path = tempfile.mkstemp(dir=tmp, suffix=".tbl")
    with os.fdopen(fd, "w+b") as f:
        ref = write_table(f, sources)
    files[ref.name] = path
    return ref


def _records(store: RemoteStore, table: TableRef, tmp: str, files: dict[str, str]) -> Iterator[bytes]:
    """The records of an existing table: downloaded whole into ``tmp`` and checked block by block."""
    path = files.get(table.name)
    if path is None:
        path = os.path.join(tmp, f"{table.name}.src")
        try:
            store.transport.download(table_path(table.name), path)
        except FileNotFoundError as exc:
            raise FormatError(f"checkpoint table {table.name[:10]} is missing") from exc
        files[table.name] = path
    with open(path, "rb") as f:
        yield from read_table_records(f, table)


def _packs(cps: Checkpoints, table: TableRef, files: dict[str, str]) -> list[tuple[str, int]]:
    path = files.get(table.name)
    if path is None:
        return list(cps.packs(table))
    from .store.midx import PACKREC, TABLE_HEAD, decode_packs

    with open(path, "rb") as f:
        f.seek(TABLE_HEAD.size)
        return decode_packs(f.read(table.packs * PACKREC.size), table)


def prune(store: RemoteStore) -> list[str]:
    """Delete superseded manifests and the tables no current manifest names (gc, under its exclusive lock);
    return the paths deleted."""
    store.checkpoints.load()
    gens = store.checkpoints.generations
    if not gens:
        return []
    newest = max(gens)
    keep = {t.name for t in store.checkpoints.tables()}
    gone = [p for g, paths in gens.items() if g < newest for p in paths]
    for e in store.transport.list(f"{MIDX}/tables"):
        if not e.is_dir and e.name.endswith(".tbl") and e.name[:-4] not in keep:
            gone.append(f"{MIDX}/tables/{e.name}")
    for path in gone:
        fault_point("compact.pruning")
        store.delete_quietly(path)
    return gone


def should_compact(store: RemoteStore) -> bool:
    """Whether a push should compact: many indexes outside the checkpoint, or an epoch folder older than
    yesterday still listed."""
    if len(store.window) >= AUTO_WINDOW:
        return True
    cps = store.checkpoints
    return bool(store.window) and cps.active and cps.listed_from < epoch_days(epoch_of(), -2)
