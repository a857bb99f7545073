"""``art log``."""

import time

import click

from ._options import absolute, common, flags, pass_repo
from ._render import emit_json, human, say


@click.command("log")
@click.argument("path")
@click.option(
    "-n",
    "--max-count",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Look at most at this many commits.",
)
@common()
@pass_repo
def cli(repo, path: str, max_count: int) -> None:
    """List the versions of an artifact across git history (newest first).

    Reads PATH.art (added data) or art.lock (pipeline outputs) at each commit reachable from HEAD; commits
    that did not change the artifact's id are folded into the version they carry. For an artifact of a Python
    pipeline (PIPELINE/STEP/OUTPUT) it lists its versions with the run that first made each.

    \b
    Examples:
      art log data/train.csv
      art log models/model.pkl --json
    """
    from ..pipeline.lineage import artifact_log, log

    if repo.state.artifact_versions(path):  # an artifact of a Python pipeline: its versions from the run index
        versions = artifact_log(repo, path)[:max_count]
    else:
        versions = log(repo, absolute([path])[0], limit=max_count)
    if flags().get("json"):
        emit_json({"path": path, "versions": [v.as_dict() for v in versions]})
        return
    for v in versions:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(v.time))
        say(f"{(v.commit or '-')[:10]:<10}  {when}  {v.oid[:10]}  {human(v.size):>9}  {v.summary}")
