"""``art init``."""

import click

from ._options import common, flags
from ._render import emit_json, say


@click.command("init")
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--no-git", is_flag=True, help="Allow a plain directory (no git work tree).")
@click.option(
    "-f", "--force", is_flag=True, help="Repair .art/ of an existing repository (its config and store are kept)."
)
@common()
def cli(path: str, no_git: bool, force: bool) -> None:
    """Create an art repository (inside a git work tree).

    \b
    Example:
      git init && art init
    """
    from ..workspace.init import init

    result = init(path, no_git=no_git, force=force)
    if flags().get("json"):
        emit_json({"root": str(result.root), "git": result.git})
    else:
        say(f"Initialized art repository in {result.root / '.art'}")
        if result.git:
            say("Commit .art/config and .art/.gitignore: git add .art && git commit -m 'art init'")
