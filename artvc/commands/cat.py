"""``art cat``."""

import click

from ._options import common, pass_repo


@click.command("cat")
@click.argument("path")
@click.option("--rev", help="A git revision (branch, tag, commit); default: what the pointers name now.")
@click.option("--version", "version", help="A named version of the artifact (art tag).")
@click.option("--stage", help="The version currently in this stage (art tag --stage).")
@click.option("-r", "--remote", help="Read missing chunks from this remote (default: the default remote).")
@common(json_output=False)
@pass_repo
def cli(repo, path: str, rev, version, stage, remote) -> None:
    """Write a tracked file's content to stdout, streamed from the store (or the remote), without checkout.

    PATH may be a file inside a tracked directory. Chunks the local store lacks are read from the remote with
    ranged reads, each verified; nothing is stored.

    \b
    Examples:
      art cat data/train.csv | head
      art cat data/images/005.png --rev HEAD~3 > old.png
      art cat models/model.pt --stage prod > model.pt
    """
    import shutil
    import sys

    from ..workspace.reading import open_artifact

    with open_artifact(path, rev, version, stage, remote, workspace=repo) as f:
        shutil.copyfileobj(f, sys.stdout.buffer, 1 << 20)
    sys.stdout.buffer.flush()
