"""``art fsck``."""

import click

from ._options import common, flags, pass_repo
from ._render import Progress, count, emit_json, say


@click.command("fsck")
@click.option("--remote", "remote", metavar="NAME", help="Check a remote's indexes and packs instead.")
@click.option("--read-data", is_flag=True, help="With --remote: download and verify every object.")
@click.option(
    "--repair",
    is_flag=True,
    help="Repair what can be repaired: rewrite damaged packs' intact objects into new packs; with "
    "--remote, also upload intact local copies of what the remote lost or has damaged.",
)
@common()
@pass_repo
def cli(repo, remote: str | None, read_data: bool, repair: bool) -> None:
    """Re-hash every stored object and check that every pointer resolves. Exits 3 on problems.

    \b
    Examples:
      art fsck
      art fsck --remote origin              # indexes against packs (a listing, no data)
      art fsck --remote origin --read-data  # download and verify every object
      art fsck --remote origin --read-data --repair  # re-upload what it lost or has damaged
    """
    if read_data and not remote:
        from ..errors import UsageError

        raise UsageError("--read-data needs --remote NAME", hint="the local store is always read in full by 'art fsck'")
    if remote:
        from .remote import run_remote_fsck

        return run_remote_fsck(repo, remote, read_data, repair)
    from ..errors import IntegrityError
    from ..workspace.fsck import fsck

    with Progress("verifying", noun="objects") as progress:
        result = fsck(repo, progress=progress, repair=repair)
    as_json = flags().get("json")
    if as_json:
        emit_json(
            {
                "objects": result.objects,
                "artifacts": result.artifacts,
                "reindexed": result.reindexed,
                "promised": result.promised,
                "problems": [p.as_dict() for p in result.problems],
            }
        )
    else:
        for p in result.problems:
            click.echo(f"{p.kind:6} {p.oid[:10]}  {p.detail}")
        if not result.problems:
            say(
                f"ok: {count(result.objects, 'object')} verified, {count(result.artifacts, 'artifact')} "
                f"resolve{'s' if result.artifacts == 1 else ''}"
                + (
                    f"; {count(result.promised, 'file')} promised by a remote (art fetch --promised)"
                    if result.promised
                    else ""
                )
            )
    if result.problems:
        hint = (
            "re-add the data or fetch it again with 'art pull' (damaged objects are quarantined until "
            "then); 'art fsck --repair' rewrites damaged packs"
        )
        if all(p.kind == "pointer" for p in result.problems):  # the store is fine: only pointers are wrong
            hint = "restore the pointers from git ('git checkout -- PATH.art') or re-add their data; the store is fine"
        error = IntegrityError(
            f"fsck found {count(len(result.problems), 'problem')}", problems=result.problems, hint=hint
        )
        error.reported = bool(as_json)  # the JSON result above already lists the problems
        raise error
