"""``art import-url``."""

import click

from ._options import common, flags, pass_repo
from ._render import emit_json, human, say


@click.command("import-url")
@click.argument("url")
@click.argument("out", required=False)
@click.option("-f", "--force", is_flag=True, help="Replace OUT (and OUT.art) when they exist.")
@common()
@pass_repo
def cli(repo, url: str, out: str | None, force: bool) -> None:
    """Track an object from a bucket or a file outside the workspace, with its source recorded.

    URL is s3://, gs://, az://, sftp://, file:// or a path. The object is downloaded to OUT (default: its
    name, here) and added; OUT.art records the URL, size and modification time. 'art status' says when the
    object changed; 'art update OUT' downloads it again. Endpoint and credentials come from a configured
    remote on the same bucket, else from the environment.

    \b
    Examples:
      art import-url s3://team-data/raw/events.csv data/events.csv
      art import-url /mnt/share/labels.json
    """
    from ..workspace.import_url import import_url

    path, source, _ = import_url(repo, url, out, force=force)
    if flags().get("json"):
        emit_json({"path": path, "import": source.as_dict(), "size": source.size})
        return
    say(f"imported {path} ({human(source.size)}) from {source.describe()}")
