"""``art rm``."""

import click

from ._options import absolute, common, flags, pass_repo
from ._render import emit_json, say


@click.command("rm")
@click.argument("paths", nargs=-1, required=True)
@click.option("--delete", is_flag=True, help="Also delete the data from the workspace (it stays in the store).")
@click.option("-f", "--force", is_flag=True, help="With --delete: delete data the store does not hold.")
@common()
@pass_repo
def cli(repo, paths: tuple[str, ...], delete: bool, force: bool) -> None:
    """Stop tracking artifacts: remove PATH.art and the .gitignore entry (and the pointer from git's index).

    The data stays in the workspace (now visible to git) unless --delete is given; its objects stay in the
    store until 'art gc'. A pipeline output is not removed this way: edit its stage in art.toml.

    \b
    Examples:
      art rm data/old.csv
      art rm models/tmp.pt --delete
    """
    from ..workspace.rm import rm

    result = rm(repo, absolute(paths), delete=delete, force=force)
    if flags().get("json"):
        emit_json(
            {
                "artifacts": [{"path": a.path, "deleted": a.deleted, **a.pointer.as_dict()} for a in result.artifacts],
                "git": result.git,
            }
        )
        return
    for a in result.artifacts:
        say(f"removed: {a.path}" + (" (data deleted)" if a.deleted else " (data kept in the workspace)"))
    kept = [a.path for a in result.artifacts if not a.deleted]
    if kept and repo.git is not None:
        say("The data kept is no longer ignored by git; delete it or add it to git yourself.")
    if result.git:
        say(f"Staged in git: {' '.join(result.git)} (commit when ready)")
