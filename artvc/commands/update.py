"""``art update``."""

import click

from ._options import absolute, common, flags, pass_repo
from ._render import emit_json, say


@click.command("update")
@click.argument("paths", nargs=-1)
@click.option("--rev", help="Move the import to this branch, tag or commit of its source (recorded from then on).")
@click.option("--version", "version", help="Move the import to this named version of its source artifact (art tag).")
@click.option(
    "--stage", help="Move the import to this stage of its source artifact; it follows the stage from then on."
)
@click.option("-f", "--force", is_flag=True, help="Replace workspace copies that were modified.")
@common()
@pass_repo
def cli(repo, paths: tuple[str, ...], rev: str | None, version, stage, force: bool) -> None:
    """Bring imports up to date with their source (all imports, or PATHS).

    Without --rev, --version or --stage an import follows what it was made at: a branch or a stage moves,
    a tag, commit or version does not.

    \b
    Examples:
      art update model.bin --rev v1.1.0
      art update model.bin --version v1.1.0
      art update            # every import
    """
    from ..workspace.imports import update

    done = update(repo, absolute(paths) or None, rev=rev, version=version, stage=stage, force=force)
    if flags().get("json"):
        emit_json({"updated": [g.as_dict() for g in done]})
        return
    for g in done:
        what = "updated" if g.changed else "up to date"
        say(f"{what}: {g.path} from {g.source.describe()}")
    if not done:
        say("no imports (use 'art import URL PATH')")
