"""``art versions``."""

import os

import click

from ._options import common, flags, pass_repo
from ._render import emit_json, human, say


@click.command("versions")
@click.argument("path")
@common()
@pass_repo
def cli(repo, path: str) -> None:
    """List an artifact's named versions and stages (git tags made by 'art tag'), newest first.

    \b
    Examples:
      art versions models/model.pt
      art versions models/model.pt --json
    """
    from ..workspace.registry import versions

    result = versions(repo, os.path.abspath(path))
    rows, history = result.versions, result.stages
    if flags().get("json"):
        emit_json(
            {
                "path": result.path,
                "versions": [
                    {
                        "version": r.version,
                        "stages": r.stages,
                        "commit": r.commit,
                        "oid": r.oid,
                        "kind": r.kind,
                        "size": r.size,
                        "time": r.time,
                        "author": r.author,
                        "message": r.message,
                        "run_oid": r.run_oid,
                    }
                    for r in rows
                ],
                "stages": [
                    {
                        "stage": a.stage,
                        "number": a.number,
                        "commit": a.commit,
                        "time": a.time,
                        "author": a.author,
                        "current": a.current,
                    }
                    for a in history
                ],
            }
        )
        return
    for r in rows:
        stages = f"  [{', '.join(r.stages)}]" if r.stages else ""
        oid = r.oid[:10] if r.oid else "-" * 10
        size = human(r.size) if r.size is not None else "-"
        run = f"  run {r.run_oid[:10]}" if r.run_oid else ""
        say(f"{r.version or '-':<12} {r.commit[:10]}  {oid}  {size:>10}  {r.time}  {r.author}{stages}{run}")
