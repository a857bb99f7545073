"""``art repack``."""

import click

from ._options import common, flags, pass_repo
from ._render import Progress, count, emit_json, human, say


@click.command("repack")
@click.option("--level", type=int, metavar="N", help="Also recompress full chunks at this zstd level (1-19).")
@click.option(
    "--depth", type=int, metavar="N", help="The longest delta chain to make, 1-4 (default: core.delta_depth)."
)
@common()
@pass_repo
def cli(repo, level: int | None, depth: int | None) -> None:
    """Rewrite the local store's packs, storing chunks as deltas against similar chunks.

    Every chunk's encoding is chosen afresh, newest first: the newest version is mostly stored in full
    and older versions become deltas on it (chains of at most --depth) when that is clearly smaller.
    Nothing is removed (use 'art gc' for that). With --level, chunks stored in full are recompressed at
    that zstd level when it saves space. A killed repack leaves every object readable.

    \b
    Examples:
      art repack
      art repack --level 9 --json
    """
    from ..workspace.repack import repack_store

    with Progress("repacking", noun="objects", unit="objects") as progress:
        result = repack_store(repo, level=level, depth=depth, progress=progress)
    if flags().get("json"):
        emit_json(result.as_dict())
        return
    say(
        f"repacked {count(result.objects, 'object')}: {count(result.deltas_made, 'delta')}, "
        f"{result.recompressed} recompressed; {count(result.packs_before, 'pack')} -> {result.packs_after}, "
        f"{human(result.bytes_before)} -> {human(result.bytes_after)}"
    )
