"""``art demo``: a guided tour on a throwaway repository (add, dedup, checkout, status, diff, ls).

Needs nothing beyond the core install: git is driven through pygit2 (workspace/scm.py), the data is
generated, and everything stays on the embedded local store. The pipeline, Python-pipeline and remote parts
live in ``_demo_pipeline.py`` / ``_demo_python.py`` / ``_demo_remote.py``; each exposes
``demo_*(root: Path, say) -> dict | None``, where ``say(line)`` prints one line of the tour and the returned
dict (if any) joins the ``--json`` summary.
"""

from __future__ import annotations

import filecmp
import importlib
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import click

from ._options import common, flags
from ._render import emit_json, human, say

RACY_NS = 100_000_000  # workspace/state.py; not imported here to keep 'art --help' light

CSV_ROWS, CSV_MORE_ROWS, SAMPLES = 60_000, 1_500, 200
EDITED_SAMPLE = "sample-042.json"


@click.command("demo")
@click.option(
    "--keep",
    "keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build the demo repository in DIR (new or empty) and keep it afterwards.",
)
@common()
def cli(keep: Path | None) -> None:
    """Show what art does, on a throwaway git repository with generated data.

    Builds a git repository, runs 'art init', adds a CSV of a few MiB and a folder of small files, commits
    the pointers, changes the data, adds it again, and reports what was stored and deduplicated. Then it
    deletes the data, restores it with 'art checkout', checks it byte for byte, and shows status, diff and
    ls. Needs no network and no git binary; the directory is removed at the end unless --keep is given.

    \b
    Examples:
      art demo
      art demo --keep /tmp/art-demo && cd /tmp/art-demo && art ls
      art demo --json
    """
    from ..errors import UsageError

    if keep is not None:
        if keep.exists() and any(keep.iterdir()):
            raise UsageError(f"{keep} is not empty", hint="give a new or empty directory to --keep")
        keep.mkdir(parents=True, exist_ok=True)
        summary = _tour(keep.resolve(), kept=True)
    else:
        with tempfile.TemporaryDirectory(prefix="art-demo-") as tmp:
            summary = _tour(Path(tmp).resolve(), kept=False)
    if flags().get("json"):
        emit_json(summary)


def _tour(root: Path, *, kept: bool) -> dict:
    from ..workspace.init import init
    from ..workspace.repo import Repo
    from ..workspace.scm import Git

    git = Git.init(root)
    init(root)
    say(f"art demo: a throwaway repository in {root}" + ("" if kept else " (removed at the end; --keep DIR keeps it)"))
    csv, samples = root / "data" / "table.csv", root / "data" / "samples"
    _write_csv(csv, 0, CSV_ROWS)
    _write_samples(samples)
    say(
        f"  git init, art init; generated data/table.csv ({human(csv.stat().st_size)}, {CSV_ROWS:,} rows) "
        f"and data/samples/ ({SAMPLES} JSON files)"
    )
    # Let the new files age past the racy-clean window (docs/concepts.md), as data on disk normally has:
    # otherwise the stat cache may not vouch for them and the second add would re-read them all.
    time.sleep(2 * RACY_NS / 1e9)
    summary: dict = {"root": str(root), "kept": kept}
    with Repo(root) as repo:
        summary["v1"] = _add(repo, "v1", [csv, samples])
        git.commit_all("data v1")
        say('    git commit -m "data v1"   (git gets the pointers data/table.csv.art, data/samples.art)')
        _write_csv(csv, CSV_ROWS, CSV_MORE_ROWS, append=True)
        (samples / EDITED_SAMPLE).write_text('{"id": 42, "label": "relabelled", "reviewed": true}\n')
        say(f"v2  appended {CSV_MORE_ROWS:,} rows to data/table.csv, edited data/samples/{EDITED_SAMPLE}")
        summary["v2"] = _add(repo, "  ", [csv, samples])
        git.commit_all("data v2")
        say('    git commit -m "data v2"')
        summary["store"] = _store_summary(repo, summary)
        summary["restore"] = _restore(repo, root)
        summary.update(_inspect(repo))
    for part in ("pipeline", "python", "remote"):
        result = _optional_part(part, root)
        if result is not None:
            summary[part] = result
    say("Next: docs/getting-started.md to use art on your own data; docs/concepts.md for how it works.")
    return summary


# -- the steps ---------------------------------------------------------------------------------------------


def _add(repo, label: str, paths: list[Path]) -> dict:
    from ..workspace.add import add

    t0 = time.monotonic()
    result = add(repo, [str(p) for p in paths])
    seconds = time.monotonic() - t0
    s = result.stats
    say(f"{label}  art add data/table.csv data/samples")
    skipped = f", the stat cache vouched for {s.files - s.hashed}" if s.files > s.hashed else ""
    say(
        f"      read {human(s.bytes_read)} ({s.hashed} of {s.files} files{skipped}) in {seconds:.2f} s; "
        f"stored {human(s.new_bytes)} in {s.new_objects} new objects"
    )
    return {
        "files": s.files,
        "files_read": s.hashed,
        "read_size": s.bytes_read,
        "new_objects": s.new_objects,
        "new_size": s.new_bytes,
        "duration": round(seconds, 3),
        "artifacts": [{"path": a.path, **a.pointer.as_dict()} for a in result.artifacts],
    }


def _store_summary(repo, summary: dict) -> dict:
    stats = repo.store.stats()
    logical = sum(a["size"] for v in ("v1", "v2") for a in summary[v]["artifacts"])
    dedup = logical / max(stats["raw_bytes"], 1)
    compression = stats["raw_bytes"] / max(stats["stored_bytes"], 1)
    say(f"store  2 versions, {human(logical)} of data -> {human(stats['raw_bytes'])} unique (dedup {dedup:.2f}x)")
    say(
        f"       -> {human(stats['stored_bytes'])} after zstd ({compression:.2f}x): "
        f"{stats['objects']} objects in {stats['packs']} pack files"
    )
    from ..workspace.du import store_sizes

    return {
        **store_sizes(stats),
        "logical_size": logical,
        "dedup_ratio": round(dedup, 3),
        "compression_ratio": round(compression, 3),
    }


def _restore(repo, root: Path) -> dict:
    """Move the data out of the workspace, restore it with checkout, compare byte for byte with the original."""
    from ..errors import ArtError
    from ..workspace.checkout import checkout

    with tempfile.TemporaryDirectory(prefix="art-demo-original-") as scratch:
        original = Path(scratch) / "data"
        original.mkdir()
        for name in ("table.csv", "samples"):
            shutil.move(str(root / "data" / name), original / name)
        t0 = time.monotonic()
        result = checkout(repo)
        seconds = time.monotonic() - t0
        compared, size = _compare(original, root / "data")
    if compared is None:
        raise ArtError(
            "the restored data differs from the original",
            hint="please report this as a bug, with the output of 'art demo --keep DIR'",
        )
    say(f"restore  deleted the data; art checkout wrote {result.files_written} files in {seconds:.2f} s,")
    say(f"         all {compared} byte-for-byte identical to the originals")
    return {
        "files_written": result.files_written,
        "duration": round(seconds, 3),
        "files_compared": compared,
        "compared_size": size,
        "identical": True,
    }


def _compare(original: Path, restored: Path) -> tuple[int | None, int]:
    """Compare two trees byte for byte; return (files compared, bytes), or (None, 0) on any difference."""
    count = size = 0
    for dirpath, dirnames, filenames in os.walk(original):
        dirnames.sort()
        rel = os.path.relpath(dirpath, original)
        theirs = restored / rel
        if not theirs.is_dir() or sorted(
            p.name for p in theirs.iterdir() if p.name != ".gitignore" and not p.name.endswith(".art")
        ) != sorted(dirnames + filenames):
            return None, 0
        for name in filenames:
            if not filecmp.cmp(os.path.join(dirpath, name), theirs / name, shallow=False):
                return None, 0
            count += 1
            size += os.path.getsize(os.path.join(dirpath, name))
    return count, size


def _inspect(repo) -> dict:
    from ..workspace.diff import diff
    from ..workspace.ls import ls
    from ..workspace.status import status
    from .diff import text_lines

    states = status(repo).artifacts
    say("art status      " + ", ".join(f"{a.path} {a.state}" for a in states))
    head = diff(repo, "HEAD")
    say(f"art diff HEAD    {'no changes: the workspace matches the last commit' if not head else len(head)}")
    changes = diff(repo, "HEAD~1", "HEAD")
    say("art diff HEAD~1 HEAD")
    for line in text_lines(changes):
        say(f"  {line}")
    listed = ls(repo)
    say("art ls")
    for i in listed:
        p = i.pointer
        files = f"{p.files:>3} file{'s' if p.files != 1 else ' '}"
        say(f"  {p.oid[:10]}  {p.kind:4}  {human(p.size):>9}  {files}  {i.path}")
    return {
        "states": [a.as_dict() for a in states],
        "diff_head": [c.as_dict() for c in head],
        "diff": [c.as_dict() for c in changes],
        "ls": [i.as_dict() for i in listed],
    }


def _optional_part(part: str, root: Path):
    """Run the pipeline, Python-pipeline or remote part of the tour when its module is installed (a bug in it
    still surfaces)."""
    try:
        module = importlib.import_module(f"artvc.commands._demo_{part}")
    except ImportError:
        return None
    return getattr(module, f"demo_{part}")(root, say)


# -- deterministic data ------------------------------------------------------------------------------------


def _write_csv(path: Path, start: int, rows: int, *, append: bool = False) -> None:
    """Write (or append) sensor readings; row ``i`` is the same bytes in every run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sensors = ("north", "south", "east", "west", "roof", "cellar")
    with open(path, "a" if append else "w", newline="") as f:
        if not append:
            f.write("id,timestamp,sensor,temperature,humidity,pressure,label\n")
        lines = []
        for i in range(start, start + rows):
            rng = random.Random(i)
            lines.append(
                f"{i},2026-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z,"
                f"{sensors[i % 6]},{rng.gauss(18, 6):.3f},{rng.uniform(20, 95):.2f},"
                f"{rng.gauss(1013, 8):.1f},{'ok' if rng.random() < 0.9 else 'alert'}\n"
            )
            if len(lines) == 4096:
                f.write("".join(lines))
                lines.clear()
        f.write("".join(lines))


def _write_samples(folder: Path) -> None:
    """Write small JSON annotation files, one to a few KiB each."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(SAMPLES):
        rng = random.Random(f"sample-{i}")
        boxes = ", ".join(
            f"[{rng.randrange(640)}, {rng.randrange(480)}, {rng.randrange(8, 200)}, {rng.randrange(8, 200)}]"
            for _ in range(rng.randrange(10, 80))
        )
        (folder / f"sample-{i:03d}.json").write_text(
            f'{{"id": {i}, "label": "{rng.choice(["cat", "dog"])}", "boxes": [{boxes}]}}\n'
        )
