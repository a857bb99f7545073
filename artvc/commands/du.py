"""``art du``: logical, unique (deduplicated) and stored (compressed) sizes of artifacts and of the store."""

import click

from ._options import common, flags, pass_repo
from ._render import count, emit_json, human, say


@click.command("du")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--rev", help="Measure the artifacts of this git revision instead of the workspace.")
@common()
@pass_repo
def cli(repo, paths: tuple[str, ...], rev: str | None) -> None:
    """Show how big the tracked artifacts are, and what deduplication and compression save.

    \b
    For each artifact (or those under PATHS):
      logical  the bytes of its files
      unique   the bytes of its distinct chunks (deduplicated)
      stored   what its chunks, manifests and trees take in packs (compressed)
    The total counts chunks shared between artifacts once; the last line is the whole local store.

    \b
    Examples:
      art du
      art du data/ --rev v1.0
      art du --json
    """
    from ..workspace.du import du

    result = du(repo, list(paths) or None, rev=rev)
    if flags().get("json"):
        emit_json(result.as_dict())
        return
    say(f"{'logical':>10} {'unique':>10} {'stored':>10} {'dedup':>7} {'zstd':>7}  path")
    for u in [*result.artifacts, result.total]:
        say(_row(u, u.path if u is not result.total else "total (shared chunks counted once)"))
    s = result.store
    ratio = f"{s['raw_bytes'] / s['stored_bytes']:.2f}x" if s["stored_bytes"] else "-"
    say(
        f"{'':>10} {human(s['raw_bytes']):>10} {human(s['stored_bytes']):>10} {'':>7} {ratio:>7}  "
        f"the whole store: {count(s['objects'], 'object')} in {count(s['packs'], 'pack')}, "
        f"{human(s['pack_bytes'])} on disk"
    )
    missing = result.total.missing
    if missing:
        say(
            f"{missing} object{'s' if missing != 1 else ''} not in the local store: unique and stored sizes "
            "count only what is here (run 'art fetch' for the full figures)",
            err=True,
        )


def _ratio(x: float | None) -> str:
    return f"{x:.2f}x" if x is not None else "-"


def _row(u, label: str) -> str:
    return (
        f"{human(u.logical):>10} {human(u.unique):>10} {human(u.stored):>10} {_ratio(u.dedup_ratio):>7} "
        f"{_ratio(u.compression_ratio):>7}  {label}"
    )
