"""``art push``."""

import click

from ._options import common, pass_repo


@click.command("push")
@click.argument("targets", nargs=-1)
@click.option("-r", "--remote", help="Remote name (default: core.remote).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), help="Concurrent uploads.")
@click.option("--all-commits", is_flag=True, help="Push what every commit of every branch and tag references.")
@click.option(
    "--exps",
    is_flag=True,
    help="Push what the experiments (refs/exps/*) reference instead of the workspace (--all-commits covers them too).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Check every object against the remote's indexes, even under roots the remote already has "
    "(repairs a remote that lost index files).",
)
@common()
@pass_repo
def cli(
    repo,
    targets: tuple[str, ...],
    remote: str | None,
    jobs: int | None,
    all_commits: bool,
    exps: bool,
    full: bool,
) -> None:
    """Send the objects of tracked artifacts (and their runs) that the remote lacks.

    Objects travel in packs with an index; only what no remote index lists is sent, so a second push sends
    nothing and an interrupted push resumes.

    \b
    Examples:
      art push
      art push data/images -r backup -j 8
      art push --all-commits
      art push --exps          # the experiments' outputs ('git push origin "refs/exps/*"' shares the refs)
      art push --full          # after 'art fsck --remote' found objects missing on the remote
    """
    revs = None
    if exps:
        from ..pipeline.exps import experiments

        if targets or all_commits:
            raise click.UsageError("--exps pushes the experiments: give no paths and no --all-commits")
        revs = [e.commit for e in experiments(repo, queued=False)]
    from ._push import run

    run(repo, targets, remote=remote, jobs=jobs, all_commits=all_commits, revs=revs, full=full)
