"""``art fetch``."""

import click

from ._options import absolute, common, flags, pass_repo
from ._render import Progress, count, emit_json, human, say


@click.command("fetch")
@click.argument("targets", nargs=-1)
@click.option("-r", "--remote", help="Remote name (default: core.remote).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), help="Concurrent downloads.")
@click.option("--all-commits", is_flag=True, help="Fetch what every commit of every branch and tag references.")
@click.option(
    "--exps", is_flag=True, help="Fetch what the experiments (refs/exps/*) reference instead of the workspace."
)
@click.option(
    "--all-runs", is_flag=True, help="Fetch every run record on the remote, not only the runs the workspace names."
)
@click.option(
    "--run",
    "run_refs",
    metavar="RUN",
    multiple=True,
    help="Also fetch this run record (an id or its first digits) and its lineage; repeatable.",
)
@click.option(
    "--promised",
    is_flag=True,
    help="Fetch the files a lazy pull left promised by the remote (-r: by that remote only), so that the "
    "local store is complete again.",
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
    all_runs: bool,
    run_refs: tuple[str, ...],
    promised: bool,
) -> None:
    """Download missing objects into the local store (the workspace is not touched).

    Only the needed parts of remote packs are read, and every object is verified against its id before it
    is stored. Run records: those the workspace names (art.lock, the runs that made what is fetched) and
    the runs that made their inputs, recursively; --all-runs fetches every run on the remote.

    \b
    Examples:
      art fetch
      art fetch models/ -r backup
      art fetch --run 91354936e2   # one run record and its lineage (for art lineage)
      art fetch --exps         # after git fetch origin 'refs/exps/*:refs/exps/*', before 'art exp apply'
      art fetch --promised     # what 'art pull --lazy' left on the remote
    """
    if promised:
        from ..workspace.lazy_fetch import fetch_promised

        if targets or all_commits or exps or all_runs or run_refs:
            raise click.UsageError("--promised fetches every promised file: give no paths and no other selection")
        with Progress("fetching", noun="objects") as progress:
            files, objects = fetch_promised(repo, remote, jobs=jobs, progress=progress)
        if flags().get("json"):
            emit_json({"promised_files": files, "objects": objects})
        elif files:
            say(f"fetched {count(files, 'promised file')} ({count(objects, 'object')})")
        else:
            say("nothing is promised: the local store is complete")
        return
    from ..workspace.fetch import fetch

    revs = None
    if exps:
        from ..pipeline.exps import experiments

        if targets or all_commits:
            raise click.UsageError("--exps fetches the experiments: give no paths and no --all-commits")
        revs = [e.commit for e in experiments(repo, queued=False)]
    with Progress("fetching", noun="objects") as progress:
        result = fetch(
            repo,
            absolute(targets) or None,
            remote=remote,
            jobs=jobs,
            all_commits=all_commits,
            revs=revs,
            progress=progress,
            all_runs=all_runs,
            runs=run_refs,
        )
    if flags().get("json"):
        emit_json(result.as_dict())
    elif result.objects:
        say(f"fetched {count(result.objects, 'object')} ({human(result.bytes)}) from {result.remote}")
    else:
        say("everything is already in the local store")
