"""``art cat``."""

import click

from ._options import common
from ._render import warn


@click.command("cat")
@click.argument("path")
@click.option("--rev", help="A git revision (branch, tag, commit); default: what the pointers name now.")
@click.option("--version", "version", help="A named version of the artifact (art tag).")
@click.option("--stage", help="The version currently in this stage (art tag --stage).")
@click.option("-r", "--remote", help="Read missing chunks from this remote (default: the default remote).")
@click.option(
    "--repo",
    "url",
    help="Read from another art repository (git URL or path) and its default remote; no workspace needed.",
)
@common(json_output=False)
def cli(path: str, rev, version, stage, remote, url) -> None:
    """Write a tracked file's content to stdout, streamed from the store (or the remote), without checkout.

    PATH may be a file inside a tracked directory. Chunks the local store lacks are read from the remote with
    ranged reads, each verified; nothing is stored. With --repo URL, PATH is a path in that repository and
    --rev/--version/--stage name its commits and tags.

    \b
    Examples:
      art cat data/train.csv | head
      art cat data/images/005.png --rev HEAD~3 > old.png
      art cat models/model.pt --stage prod > model.pt
      art cat models/model.pt --repo ../registry --version v1.2.0 > model.pt
    """
    import shutil
    import sys

    from ..workspace.reading import open_artifact
    from ..workspace.repo import Repo

    if url is not None:
        with open_artifact(path, rev, version, stage, remote, repo=url) as f:
            shutil.copyfileobj(f, sys.stdout.buffer, 1 << 20)
    else:
        with Repo.find() as repo:
            for warning in repo.config.warnings:
                warn(warning)
            with open_artifact(path, rev, version, stage, remote, workspace=repo) as f:
                shutil.copyfileobj(f, sys.stdout.buffer, 1 << 20)
    sys.stdout.buffer.flush()
