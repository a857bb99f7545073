"""``art remote add | list | remove | default | modify``."""

import click

from ._errors import SuggestingGroup
from ._options import common, flags, pass_repo
from ._render import count, emit_json, say, warn


def _options(pairs: tuple[str, ...]) -> dict:
    from ..workspace.remote import parse_option

    return dict(parse_option(p) for p in pairs)


def _report(change, verb: str) -> None:
    for w in change.warnings:
        warn(w)
    if flags().get("json"):
        emit_json({**change.remote.as_dict(), "secret_options": change.local_keys, "warnings": change.warnings})
        return
    say(f"{verb} remote {change.remote.name}: {change.remote.url}" + (" (default)" if change.remote.default else ""))
    if change.local_keys:
        keys = change.local_keys
        what = f"secret option {keys[0]} was" if len(keys) == 1 else f"secret options {', '.join(keys)} were"
        say(f"{what} written to .art/config.local (git-ignored)")


@click.group("remote", cls=SuggestingGroup)
def cli() -> None:
    """Manage remotes: where 'art push' sends objects and 'art pull' gets them.

    A remote is any fsspec URL: s3://bucket/prefix, gs://bucket/prefix, az://container/prefix,
    sftp://user@host/path, file:///abs/path, or a plain directory path. Options (endpoint_url, profile,
    ...) go to .art/config; secrets (key, secret, password, token, connection_string, ...) only to
    .art/config.local, which git ignores.

    \b
    Examples:
      art remote add origin s3://my-bucket/art     # the first remote added is the default
      art remote add minio s3://data/art -o endpoint_url=http://127.0.0.1:9000 -o key=AK -o secret=SK
      art remote list
      art remote default minio
    """


@cli.command("add")
@click.argument("name")
@click.argument("url")
@click.option(
    "-d",
    "--default",
    "make_default",
    is_flag=True,
    help="Make it the default remote (core.remote); the first remote added is the default anyway.",
)
@click.option(
    "-o",
    "--option",
    "opts",
    multiple=True,
    metavar="KEY=VALUE",
    help="A backend option (repeatable); JSON values are decoded. Secrets go to .art/config.local.",
)
@click.option("-f", "--force", is_flag=True, help="Replace a remote of the same name.")
@common()
@pass_repo
def add_cmd(repo, name: str, url: str, make_default: bool, opts: tuple[str, ...], force: bool) -> None:
    """Add a remote NAME at URL (the default remote when it is the first, or with --default).

    \b
    Examples:
      art remote add origin s3://my-bucket/projects/churn
      art remote add backup /mnt/nas/art
      art remote add gcs gs://bucket/art -o project=my-project
      art remote add box sftp://me@host.example/srv/art -o client_keys='["~/.ssh/id_ed25519"]'
    """
    from ..workspace.remote import remote_add

    _report(remote_add(repo, name, url, options=_options(opts), default=make_default, force=force), "added")


@cli.command("modify")
@click.argument("name")
@click.option("--url", help="A new URL.")
@click.option("-o", "--option", "opts", multiple=True, metavar="KEY=VALUE", help="Set an option (repeatable).")
@click.option("-u", "--unset", multiple=True, metavar="KEY", help="Remove an option (repeatable).")
@common()
@pass_repo
def modify_cmd(repo, name: str, url: str | None, opts: tuple[str, ...], unset: tuple[str, ...]) -> None:
    """Change a remote's URL or options.

    \b
    Examples:
      art remote modify origin -o endpoint_url=https://s3.eu-central-1.wasabisys.com
      art remote modify origin --url s3://other-bucket/art -u profile
    """
    from ..workspace.remote import remote_modify

    _report(remote_modify(repo, name, url=url, options=_options(opts), unset=list(unset)), "modified")


@cli.command("compact")
@click.argument("name", required=False)
@click.option("--rebuild", is_flag=True, help="Write the checkpoint again from every per-pack index.")
@common()
@pass_repo
def compact_cmd(repo, name: str | None, rebuild: bool) -> None:
    """Fold the remote's per-pack indexes into a checkpoint (remote index v2), so that clients find objects
    with a few ranged reads instead of loading every index. Pushes do this on their own when many indexes
    have piled up (core.compact = false turns that off); run it by hand after a migration from an older
    art, or with --rebuild when fsck reports a damaged checkpoint. Safe while others push.

    \b
    Examples:
      art remote compact
      art remote compact origin --rebuild --json
    """
    from ..workspace.compact import compact_remote

    result = compact_remote(repo, name, rebuild=rebuild)
    if flags().get("json"):
        emit_json(result.as_dict())
    elif result.manifest is None:
        say(f"nothing to compact: checkpoint generation {result.gen} covers every index ({result.entries} objects)")
    else:
        say(
            f"checkpoint generation {result.gen}: {result.folded} indexes folded in, "
            f"{result.entries} objects in {result.tables} tables ({result.written} written)"
        )


@cli.command("list")
@click.option("--show-secrets", is_flag=True, help="Print secret option values instead of ***.")
@common()
@pass_repo
def list_cmd(repo, show_secrets: bool) -> None:
    """List the configured remotes (the default is marked with *).

    \b
    Example:
      art remote list --json
    """
    from ..workspace.remote import list_remotes

    remotes = list_remotes(repo)
    if flags().get("json"):
        emit_json({"remotes": [r.as_dict(show_secrets=show_secrets) for r in remotes]})
        return
    if not remotes:
        say("no remotes (add one with 'art remote add NAME URL')")
    for r in remotes:
        opts = " ".join(f"{k}={v}" for k, v in r.as_dict(show_secrets=show_secrets)["options"].items())
        say(f"{'*' if r.default else ' '} {r.name}\t{r.url}" + (f"\t{opts}" if opts else ""))


@cli.command("remove")
@click.argument("name")
@common()
@pass_repo
def remove_cmd(repo, name: str) -> None:
    """Forget a remote (nothing on the remote itself is deleted).

    \b
    Example:
      art remote remove old-bucket
    """
    from ..workspace.remote import remote_remove

    info = remote_remove(repo, name)
    if flags().get("json"):
        emit_json({"removed": info.name})
    else:
        say(f"removed remote {info.name}")


@cli.command("default")
@click.argument("name", required=False)
@click.option("--unset", is_flag=True, help="Clear the default remote.")
@common()
@pass_repo
def default_cmd(repo, name: str | None, unset: bool) -> None:
    """Show or set the default remote (used when -r is not given).

    \b
    Examples:
      art remote default            # show it
      art remote default origin     # set it
      art remote default --unset
    """
    from ..workspace.remote import remote_default

    if unset:
        remote_default(repo, None)
        current = None
    elif name:
        current = remote_default(repo, name)
    else:
        current = repo.config.core("remote") or None
    if flags().get("json"):
        emit_json({"default": current})
    else:
        say(current or "no default remote")


# -- views used by 'art status --remote' and 'art fsck --remote' ---------------------------------------------


def show_remote_status(repo, name: str | None, paths: list[str] | None, check: bool) -> None:
    """Print what is not yet pushed / not yet fetched (``art status --remote [NAME]``)."""
    from ..errors import StaleError
    from ..workspace.push import NOT_FETCHED, NOT_PUSHED, remote_status

    result = remote_status(repo, name or None, paths)
    if flags().get("json"):
        emit_json(
            {
                "remote": result.remote,
                "url": result.url,
                "artifacts": [a.as_dict() for a in result.artifacts],
                "counts": {s: result.count(s) for s in ("synced", "not-pushed", "not-fetched", "missing")},
            }
        )
    else:
        for a in result.artifacts:
            extra = f" ({count(a.objects_to_push, 'object')})" if a.state == NOT_PUSHED else ""
            say(f"{a.state:>12}  {a.path}{extra}")
        say(
            f"remote {result.remote}: {result.count(NOT_PUSHED)} not pushed, {result.count(NOT_FETCHED)} not "
            f"fetched, {result.count('missing')} missing, {result.count('synced')} in sync"
        )
    out_of_sync = [a.path for a in result.artifacts if a.state != "synced"]
    if check and out_of_sync:
        raise StaleError(
            f"{count(len(out_of_sync), 'artifact')} not in sync with {result.remote}: {', '.join(out_of_sync[:5])}",
            items=out_of_sync,
            hint="run 'art push' (not pushed) or 'art pull' (not fetched)",
        )


def run_remote_fsck(repo, name: str, read_data: bool, repair: bool = False) -> None:
    """``art fsck --remote NAME [--read-data] [--repair]``."""
    from ..errors import IntegrityError
    from ..workspace.fsck import fsck_remote
    from ._render import Progress, human

    with Progress("verifying remote", noun="objects") as progress:
        result = fsck_remote(repo, name, read_data=read_data, progress=progress, repair=repair)
    done, remaining = result.repair or {}, result.remaining or []  # (both set with ``repair``)
    as_json = flags().get("json")
    if as_json:
        emit_json(
            {
                "remote": result.remote,
                "url": result.url,
                "packs": result.packs,
                "indexes": result.indexes,
                "objects": result.objects,
                "read_size": result.bytes_read,
                "read_data": read_data,
                "garbage": result.garbage,
                "markers": result.markers,
                "problems": [p.as_dict() for p in result.problems],
                **({"repair": result.repair, "remaining": [p.as_dict() for p in remaining]} if repair else {}),
            }
        )
    else:
        for p in result.problems:
            click.echo(f"{p.kind:6} {p.oid[:10]}  {p.detail}")
        if result.garbage:
            say(
                f"note: {count(len(result.garbage), 'pack')} without an index (left by an interrupted push; "
                "invisible to readers, removable by gc)"
            )
        if not result.problems:
            what = (
                f"{count(result.objects, 'object')} verified ({human(result.bytes_read)} read)"
                if read_data
                else f"{count(result.objects, 'object')} indexed"
            )
            say(
                f"ok: remote {result.remote}: {count(result.packs, 'pack')}, "
                f"{count(result.indexes, 'index', 'indexes')}, {what}, {count(result.markers, 'run marker')}"
            )
        if repair:
            say(
                f"repaired: {count(done['uploaded'] + done['pushed'], 'object')} uploaded again, {done['salvaged']} "
                f"salvaged from damaged packs, {count(len(done['reindexed']), 'index', 'indexes')} rewritten, "
                f"{count(len(done['retired']), 'bad pack')} retired"
            )
            for p in remaining:
                click.echo(f"{p.kind:6} {p.oid[:10]}  {p.detail}")
    if repair and result.remaining:
        error = IntegrityError(
            f"{count(len(result.remaining), 'object')} on remote {result.remote} could not be repaired from this clone",
            problems=result.remaining,
            hint=f"run 'art fsck --remote {result.remote} --repair' in a clone that has them",
        )
        error.reported = bool(as_json)
        raise error
    if result.problems and not repair:
        error = IntegrityError(
            f"fsck found {count(len(result.problems), 'problem')} on remote {result.remote}",
            problems=result.problems,
            hint=f"repair it from a clone that has the data intact: "
            f"art fsck --remote {result.remote} --repair" + (" --read-data" if read_data else ""),
        )
        error.reported = bool(as_json)
        raise error
