"""``art import``."""

import click

from ._options import common, flags, pass_repo, source_revision
from ._render import emit_json, human, say


@click.command("import")
@click.argument("url")
@click.argument("path")
@click.option("-o", "--out", help="Where to put it in this workspace (default: PATH's base name here).")
@source_revision
@click.option("-f", "--force", is_flag=True, help="Replace OUT (and OUT.art) when they exist.")
@common()
@pass_repo
def cli(repo, url: str, path: str, out: str | None, rev: str | None, version, stage, force: bool) -> None:
    """Import an artifact (or a file or folder inside a tracked folder) from another art repository.

    Like 'art get', plus a pointer OUT.art recording the source (url, rev, commit, path, oid) and the
    .gitignore entry; the objects go to this workspace's store, so checkout, push and gc work as for
    'art add'. 'art status' says when the source has moved on; 'art update OUT' follows it.

    \b
    Examples:
      art import ../registry models/model.bin --version v1.0.0
      git add model.bin.art .gitignore && git commit -m "use model v1.0.0"
    """
    from ..workspace.imports import import_

    got = import_(repo, url, path, out, rev=rev, version=version, stage=stage, force=force)
    if flags().get("json"):
        emit_json(got.as_dict())
        return
    say(f"imported {got.path} ({got.kind}, {human(got.size)}) from {got.source.describe()}")
