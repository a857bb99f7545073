"""``art tag``."""

import os

import click

from ._options import common, flags, pass_repo
from ._render import emit_json, say


@click.command("tag")
@click.argument("path")
@click.argument("version", required=False)
@click.option("--stage", help="Assign a stage (prod, staging, ...) instead of naming a version.")
@click.option("--delete", "delete", metavar="VERSION", help="Delete a version tag (locally).")
@click.option("-m", "--message", help="The tag's message.")
@click.option("--rev", help="A git revision, or a version of PATH (for --stage); default HEAD.")
@common()
@pass_repo
def cli(repo, path: str, version, stage, delete, message, rev) -> None:
    """Name a version of an artifact, or assign it a stage, as git tags (push them with git push --tags).

    \b
    Examples:
      art tag models/model.pt v1.2.0 -m "more data"
      art tag models/model.pt --stage prod --rev v1.2.0
      art tag models/model.pt --delete v1.2.0
    """
    from ..errors import UsageError
    from ..workspace import registry

    chosen = [x for x in (version, stage, delete) if x is not None]
    if len(chosen) != 1:
        raise UsageError("give one of VERSION, --stage STAGE and --delete VERSION", hint="see 'art tag --help'")
    full = os.path.abspath(path)
    if version is not None:
        result = registry.tag_version(repo, full, version, message=message, rev=rev)
        text = f"tagged {result.path} {result.version} at {result.commit[:10]} ({result.tag})"
    elif stage is not None:
        result = registry.assign_stage(repo, full, stage, rev=rev, message=message)
        text = f"{result.path} at {result.commit[:10]} is now in stage {stage} ({result.tag})"
    else:
        result = registry.delete_version(repo, full, delete)
        text = f"deleted {result.path} {result.version} ({result.tag}; on a remote: git push --delete origin TAG)"
    if flags().get("json"):
        emit_json(
            {
                "path": result.path,
                "tag": result.tag,
                "commit": result.commit,
                "version": result.version,
                "stage": result.stage,
                "deleted": delete is not None,
            }
        )
        return
    say(text)
    if delete is None:
        say("Publish it with: git push --tags")
