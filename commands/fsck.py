"""``art fsck``."""

import click

from ._options import common, flags, pass_repo
from ._render import Progress, emit_json, say


@click.command("fsck")
@common()
@pass_repo
def cli(repo) -> None:
    """Re-hash every stored object and check that every pointer resolves. Exits 3 on problems.

    \b
    Example:
      art fsck
    """
    from ..objstore.errors import IntegrityError
    from ..workspace.fsck import fsck

    with Progress("verifying") as progress:
        result = fsck(repo, progress=progress)
    as_json = flags().get("json")
    if as_json:
        emit_json({"objects": result.objects, "artifacts": result.artifacts, "reindexed": result.reindexed,
                   "problems": [p.as_dict() for p in result.problems]})
    else:
        for p in result.problems:
            click.echo(f"{p.kind:6} {p.oid[:10]}  {p.detail}")
        if not result.problems:
            say(f"ok: {result.objects} objects verified, {result.artifacts} artifacts resolve")
    if result.problems:
        error = IntegrityError(f"fsck found {len(result.problems)} problem(s)",
                               problems=result.problems, hint="fetch damaged objects again with 'art pull'")
        error.reported = bool(as_json)  # the JSON result above already lists the problems
        raise error
