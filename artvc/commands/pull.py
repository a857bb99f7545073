"""``art pull``."""

import click

from ._options import common, pass_repo


@click.command("pull")
@click.argument("targets", nargs=-1)
@click.option("-r", "--remote", help="Remote name (default: core.remote).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), help="Concurrent downloads.")
@click.option("-f", "--force", is_flag=True, help="Overwrite local changes that are not added.")
@click.option(
    "--all-runs", is_flag=True, help="Fetch every run record on the remote, not only the runs the workspace names."
)
@click.option(
    "--lazy/--no-lazy",
    default=None,
    help="Write large files straight into the workspace and store only their manifests, promised by the "
    "remote (one write instead of two; see 'art fetch --promised'). Default: core.lazy_pull (false).",
)
@common()
@pass_repo
def cli(
    repo,
    targets: tuple[str, ...],
    remote: str | None,
    jobs: int | None,
    force: bool,
    all_runs: bool,
    lazy: bool | None,
) -> None:
    """Fetch missing objects from a remote, then check the artifacts out.

    Every object is verified before it is stored, and every file before it replaces anything.

    With --lazy, a file of more than one chunk is streamed from the remote's packs into the workspace and
    proved by its whole-file hash, and the local store keeps only its manifest: the remote *promises* the
    rest (as a promisor remote does for git's partial clone). A checkout that needs such a file again
    fetches it from that remote; 'art fetch --promised' makes the store complete; a push to another remote
    refuses until then.

    \b
    Examples:
      git clone https://example.com/team/project.git && cd project
      art pull
      art pull data/raw -r backup
      art pull --lazy          # large files written once, promised by the remote
    """
    from ._pull import run

    run(repo, targets, remote=remote, jobs=jobs, force=force, all_runs=all_runs, lazy=lazy)
