"""``art get``."""

import click

from ._options import common, flags, source_revision
from ._render import emit_json, human, say


@click.command("get")
@click.argument("url")
@click.argument("path")
@click.option("-o", "--out", help="Where to write it (default: PATH's base name in the current directory).")
@source_revision
@click.option("-f", "--force", is_flag=True, help="Replace OUT when it exists.")
@common()
def cli(url: str, path: str, out: str | None, rev: str | None, version, stage, force: bool) -> None:
    """Download one artifact, or a file or folder inside a tracked folder, from another art repository.

    URL is a git URL or the path of a git repository; the data comes from the default remote in its
    committed .art/config, verified. Nothing is tracked here (see 'art import' for that).

    \b
    Examples:
      art get ../registry models/model.bin
      art get https://example.com/team/registry.git data/images/005.png -o 005.png --rev v1.0.0
      art get ../registry models/model.bin --stage prod
    """
    from ..workspace.imports import get

    got = get(url, path, out, rev=rev, version=version, stage=stage, force=force)
    if flags().get("json"):
        emit_json(got.as_dict(where="out"))
        return
    say(f"{got.path}: {got.kind}, {human(got.size)} from {got.source.describe()}")
