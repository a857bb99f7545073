"""``art lineage``."""

import click

from ._options import absolute, common, flags, pass_repo
from ._render import emit_json, say


@click.command("lineage")
@click.argument("path")
@common()
@pass_repo
def cli(repo, path: str) -> None:
    """Show where an artifact comes from: the run that made it, the runs that made its inputs, down to the
    added source data — with commands, code hashes and git commits.

    \b
    Examples:
      art lineage metrics.json
      art lineage models/model.pkl --json
    """
    from ..pipeline.lineage import lineage

    node = lineage(repo, absolute([path])[0])
    if flags().get("json"):
        emit_json(node.as_dict())
        return
    for line in _lines(node, "", None):
        say(line)


def _describe(run) -> str:
    git = run.get("git") or {}
    commit = (git.get("commit") or "no commit")[:10] + (" (dirty)" if git.get("dirty") else "")
    when = run.get("started", "?")
    if run.get("kind") == "add":
        return f"added by {run.get('user', '?')} at {when}, git {commit}, run {run.oid[:10]}"
    what = run.get("cmd") or f"call {run.get('call')}"
    return (
        f"stage {run.get('stage')}: {what}\n    run {run.oid[:10]}, code {str(run.get('code_hash'))[:10]}, "
        f"git {commit}, {when}, {run.get('duration', 0)} s"
    )


def _lines(node, prefix: str, last: bool | None):
    connector = "" if last is None else ("└── " if last else "├── ")
    inner = prefix if last is None else prefix + ("    " if last else "│   ")
    head = f"{prefix}{connector}{node.path}  {(node.oid or 'missing')[:10]}"
    if node.run is None:
        yield head + "  (source: not produced by a recorded run)"
    elif node.seen:
        yield head + f"  (run {node.run.oid[:10]}, see above)"
    else:
        yield head
        bar = "│   " if node.inputs else "    "
        for i, text in enumerate(_describe(node.run).splitlines()):
            yield f"{inner}{bar}{'  ' if i else ''}{text.strip()}"
    for i, child in enumerate(node.inputs):
        yield from _lines(child, inner, i == len(node.inputs) - 1)
