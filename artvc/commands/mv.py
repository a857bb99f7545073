"""``art mv``."""

import os

import click

from ._options import common, flags, pass_repo
from ._render import emit_json, say


@click.command("mv")
@click.argument("src")
@click.argument("dest")
@common()
@pass_repo
def cli(repo, src: str, dest: str) -> None:
    """Move an artifact: its data, PATH.art and the .gitignore entry (git mv for the pointer when git tracks it).

    DEST is the artifact's full new path; it must not exist (art never moves onto a path). Missing folders
    are created. Stages that name the old path in art.toml are not edited.

    \b
    Examples:
      art mv data/raw.csv data/archive/raw-2026.csv
    """
    from ..workspace.mv import mv

    result = mv(repo, os.path.abspath(src), os.path.abspath(dest))
    if flags().get("json"):
        emit_json(
            {
                "path": result.path,
                "new_path": result.new_path,
                "moved_data": result.moved_data,
                **result.pointer.as_dict(),
                "git": result.git,
            }
        )
        return
    what = "" if result.moved_data else " (pointer only: the data is not in the workspace)"
    say(f"moved: {result.path} -> {result.new_path}{what}")
    if result.git:
        say(f"Staged in git: {' '.join(result.git)} (commit when ready)")
