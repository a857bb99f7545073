"""``art gc``."""

import click

from ._options import common, flags, pass_repo
from ._render import Progress, count, emit_json, human, say


@click.command("gc")
@click.option("--keep-last", type=int, metavar="N", help="Per branch/tag keep only the newest N commits' artifacts.")
@click.option("--keep-within", metavar="DURATION", help="Keep the artifacts of commits newer than this (30d, 12h).")
@click.option("--all-branches", is_flag=True, help="Keep history of branches (local and remote-tracking).")
@click.option("--all-tags", is_flag=True, help="Keep history of tags.")
@click.option("--remote", "remote", metavar="NAME", help="Collect this remote instead of the local store.")
@click.option("-n", "--dry-run", is_flag=True, help="Only show what would be removed, and how many bytes.")
@click.option(
    "--grace", metavar="DURATION", help="Never remove objects younger than this (default: core.gc_grace, 1h)."
)
@click.option(
    "--forget-workspace",
    "forget",
    metavar="PATH",
    multiple=True,
    help="Drop a workspace that shared the store and is gone (moved or deleted) from the store's list.",
)
@common()
@pass_repo
def cli(repo, keep_last, keep_within, all_branches, all_tags, remote, dry_run, grace, forget) -> None:
    """Remove stored objects that no kept commit, the workspace or a kept run needs.

    By default everything reachable from the workspace and from every branch and tag (all their history)
    is kept, with the runs of those art.lock files and the lineage of kept artifacts. --all-branches and
    --all-tags narrow the refs to those groups; --keep-last and --keep-within narrow the history (each
    ref's tip is always kept). Objects younger than the grace period are never removed. A store shared
    with other workspaces (core.store) keeps what every one of them needs.

    \b
    Examples:
      art gc --dry-run
      art gc --keep-last 3
      art gc --all-branches --keep-within 30d
      art gc --remote origin --dry-run
      art gc --forget-workspace ../old-clone
    """
    from ..workspace.gc import Retention, gc, parse_duration

    retention = Retention(
        keep_last=keep_last,
        keep_within=parse_duration(keep_within) if keep_within is not None else None,
        branches=all_branches,
        tags=all_tags,
    )
    with Progress("collecting", noun="objects", unit="objects") as progress:
        result = gc(repo, retention, grace=grace, dry_run=dry_run, remote=remote, progress=progress, forget=forget)
    if flags().get("json"):
        emit_json(result.as_dict())
        return
    where = f"remote {remote}" if remote else "the local store"
    if flags().get("verbose") or dry_run:
        for oid, kind, size in result.removed[:1000]:
            say(f"{'would remove' if dry_run else 'removed'} {kind:5} {oid[:10]} {human(size)}")
        if len(result.removed) > 1000:
            say(f"... and {len(result.removed) - 1000} more")
    verb = "would remove" if dry_run else "removed"
    for path in result.details.get("forgotten_workspaces", []):
        say(f"{'would forget' if dry_run else 'forgot'} workspace {path}")
    sharing = len(result.details.get("workspaces", []))
    also = f" and {sharing} other workspace{'s' if sharing != 1 else ''} sharing the store" if sharing else ""
    say(
        f"{verb} {count(len(result.removed), 'object')} ({human(result.removed_bytes)}) from {where}; "
        f"kept {count(result.live, 'object')} of {count(result.commits, 'commit')} and the workspace{also}"
    )
    if result.spared:
        say(f"spared {count(result.spared, 'unreferenced object')} younger than the grace period")
    if not dry_run and result.packs_removed:
        say(
            f"packs: {result.packs_removed} removed, {result.packs_rewritten} rewritten; "
            f"{human(result.pack_bytes_before)} -> {human(result.pack_bytes_after)}"
        )
