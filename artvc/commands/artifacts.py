"""``art artifacts`` and ``art artifacts show NAME``."""

import click

from ._errors import SuggestingGroup
from ._options import common, flags, pass_repo
from ._render import emit_json, human, say


@click.group("artifacts", cls=SuggestingGroup, invoke_without_command=True)
@common()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """List the artifacts Python pipelines made (PIPELINE/STEP/OUTPUT), with their number of versions.

    \b
    Examples:
      art artifacts
      art artifacts show digits_pipeline/svc_trainer/output
      art artifacts show digits_pipeline/svc_trainer/output --version 1 --json
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(_list)


@pass_repo
def _list(repo) -> None:
    from ..pipeline.flow.artifacts import names

    found = names(repo)
    if flags().get("json"):
        emit_json({"artifacts": [{"name": n, "versions": v, "started": t} for n, v, t in found]})
        return
    if not found:
        say("No artifacts yet: run a Python pipeline (art run MODULE:PIPELINE).")
        return
    width = max(len(n) for n, _, _ in found)
    say(f"{'NAME':<{width}}  VERSIONS  LATEST RUN")
    for n, v, t in found:
        say(f"{n:<{width}}  {v:>8}  {t}")


@cli.command("show")
@click.argument("name")
@click.option("--version", "number", type=click.IntRange(1), help="Only version N (default: every version).")
@common()
@pass_repo
def show(repo, name: str, number: int | None) -> None:
    """Show the versions of artifact NAME: id, type, materializer, size, preview, the run that made it, its
    metadata and its inputs (lineage).

    \b
    Examples:
      art artifacts show digits_pipeline/svc_trainer/output
      art artifacts show digits_pipeline/evaluator/output --version 2 --json
    """
    from ..pipeline.flow.artifacts import find_version, versions

    chosen = [find_version(repo, name, number)] if number else versions(repo, name)
    if flags().get("json"):
        emit_json({"name": name, "versions": [v.as_dict() for v in chosen]})
        return
    for v in chosen:
        d = v.as_dict()
        say(f"{name} version {v.number}  {d['oid'][:10]}")
        say(f"    type: {d['type'] or '?'}  materializer: {d['materializer'] or '?'}  size: {human(d['size'])}")
        say(f"    preview: {d['preview']}")
        git = d["git"] or {}
        commit = (git.get("commit") or "no commit")[:10] + (" (dirty)" if git.get("dirty") else "")
        say(f"    made by run {str(d['run_oid'])[:10]} at {d['started']}, git {commit}")
        if d["metadata"]:
            say("    metadata: " + ", ".join(f"{k}={val}" for k, val in sorted(d["metadata"].items())))
        for i in d["inputs"]:
            say(f"    input {i['name']}  {str(i['oid'])[:10]}  (run {str(i['run_oid'])[:10]})")
