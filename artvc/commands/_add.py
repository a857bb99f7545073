"""The work of ``art add`` (``add.py`` is its click command): no click here, so ``_fast`` runs a plain add
without loading click."""

from __future__ import annotations

from ._context import absolute, flags
from ._render import Progress, count, emit_json, human, say


def run(repo, paths: tuple[str, ...], jobs: int | None) -> None:
    """Add ``paths`` (at least one) and report each artifact and what was stored."""
    import gc

    from ..workspace.add import add

    # The objects loaded so far (modules) live as long as the command: the collector need not visit them
    # again, and it runs less often (an add of many files allocates and keeps many small containers: 5% of
    # the CPU of an add of 100k files went to collections, half of it to full ones). These thresholds replace
    # main()'s: full collections are rarer still, since an add keeps most of what it allocates.
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)
    targets = absolute(paths)
    reader = _fork_reader(repo, targets, jobs)  # before the progress bar's thread starts
    try:
        with Progress("adding") as progress:
            result = add(repo, targets, progress=progress, jobs=jobs, reader=reader)
    except BaseException:
        if reader is not None:
            reader.kill()
        raise
    if reader is not None:
        reader.close()
    s = result.stats
    if flags().get("json"):
        emit_json(
            {
                "artifacts": [{"path": a.path, "changed": a.changed, **a.pointer.as_dict()} for a in result.artifacts],
                "files": s.files,
                "hashed": s.hashed,
                "read_size": s.bytes_read,
                "new_objects": s.new_objects,
                "new_size": s.new_bytes,
                "run_oid": result.run,
            }
        )
        return
    for a in result.artifacts:
        what = f"{count(a.pointer.files, 'file')}, " if a.pointer.kind == "dir" else ""
        say(f"{'added' if a.changed else 'unchanged'}: {a.path} ({what}{human(a.pointer.size)})")
    say(
        f"stored {count(s.new_objects, 'new object')} ({human(s.new_bytes)}); "
        f"read {s.hashed} of {count(s.files, 'file')}"
    )
    changed = [a for a in result.artifacts if a.changed]
    # outside git (init --no-git) there is nothing to tell git (the run's facts say; pygit2 only when unknown)
    if changed and (result.in_git if result.in_git is not None else repo.git is not None):
        ignores = sorted({f"{a.path.rpartition('/')[0]}/.gitignore".lstrip("/") for a in changed})
        pointers = " ".join(f"{a.path}.art" for a in changed)
        say(f"To track the changes with git: git add {pointers} {' '.join(ignores)}")


def _fork_reader(repo, targets, jobs: int | None):
    """An add's reading process (``objstore/forked_reads.Reader``), forked now: None unless this process may fork
    (Linux, one thread), ``--jobs`` or ``core.jobs`` is at least 2, and one of ``targets`` (absolute paths) is a
    folder (its new folders' files are read and hashed there while this process stores them)."""
    import os

    from ..objstore import forking

    if not forking.AVAILABLE or (jobs or int(repo.config.core("jobs"))) < 2:
        return None
    if not any(os.path.isdir(p) for p in targets):
        return None
    from ..objstore.forked_reads import Reader

    return Reader.fork()
