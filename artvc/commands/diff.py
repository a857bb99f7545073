"""``art diff``."""

import click

from ._options import common, flags, pass_repo
from ._render import count, emit_json, human, say

_INDENT = " " * 11
TEXT_KEYS = 10  # changed keys shown per file (--json has more)


@click.command("diff")
@click.argument("revs", nargs=-1)
@common()
@pass_repo
def cli(repo, revs: tuple[str, ...]) -> None:
    """Show artifacts added, removed or modified between revisions, and what changed in them.

    With no revision: HEAD against the workspace. With one: that revision against the workspace.
    With two: the first against the second.

    For each change: the sizes, the bytes added and removed (counted on chunks), the files changed
    inside a folder, and for CSV/TSV, JSON, TOML and YAML up to 16 MiB a short summary of the content
    (rows added and removed, keys changed with their old and new values).

    \b
    Examples:
      art diff
      art diff HEAD~1
      art diff v1.0 v2.0 --json
    """
    from ..errors import UsageError
    from ..workspace.diff import diff

    if len(revs) > 2:
        raise UsageError("art diff takes at most two revisions", hint="art diff [REV [REV]]")
    changes = diff(repo, revs[0] if revs else None, revs[1] if len(revs) > 1 else None)
    totals = _totals(changes)
    if flags().get("json"):
        emit_json({"changes": [c.as_dict() for c in changes], **totals})
        return
    if not changes:
        say("no changes")
        return
    for line in text_lines(changes):
        say(line)
    counts = totals["counts"]
    parts = [count(counts[s], "artifact") + f" {s}" for s in ("added", "removed", "modified") if counts[s]]
    delta = (
        f"; +{human(totals['added_size'])}, -{human(totals['removed_size'])}"
        if totals["added_size"] is not None
        else ""
    )
    say(", ".join(parts) + delta)


def text_lines(changes) -> list[str]:
    """The text output of ``art diff`` for ``changes``, without its closing totals line (also ``art demo``)."""
    out: list[str] = []
    for c in changes:
        out.append(f"{c.state:>9}  {c.path}{'/' if c.kind == 'dir' else ''}  ({_sizes(c)})")
        for f in c.files or []:
            out.append(f"{_INDENT}{f.state:>9}  {c.path}/{f.path}  ({_sizes(f)})")
            out.extend(_summary_lines(f.summary, _INDENT * 2))
        out.extend(_summary_lines(c.summary, _INDENT))
    return out


def _totals(changes) -> dict:
    added = [c.added_size for c in changes]
    removed = [c.removed_size for c in changes]
    known = None not in added and None not in removed
    return {
        "counts": {s: sum(1 for c in changes if c.state == s) for s in ("added", "removed", "modified")},
        "added_size": sum(added) if known else None,
        "removed_size": sum(removed) if known else None,
    }


def _sizes(c) -> str:
    if c.state == "added":
        return human(c.new.size)
    if c.state == "removed":
        return human(c.old.size)
    text = f"{human(c.old.size)} -> {human(c.new.size)}"
    if c.files is not None:
        n = {s: sum(1 for f in c.files if f.state == s) for s in ("added", "removed", "modified")}
        text += "; " + ", ".join(f"{v} {s}" for s, v in n.items() if v)
    if c.added_size is not None and c.removed_size is not None:
        text += f"; +{human(c.added_size)}, -{human(c.removed_size)}"
    return text


def _value(v) -> str:
    import json

    return json.dumps(v, default=str) if not isinstance(v, str) else v


def _summary_lines(summary, indent: str) -> list[str]:
    if not summary:
        return []
    if "skipped" in summary:
        return [f"{indent}(no content summary: {summary['skipped']})"]
    if "rows_added" in summary:
        s = summary
        out = [f"{indent}rows: {s['rows_old']} -> {s['rows_new']} (+{s['rows_added']}, -{s['rows_removed']})"]
        for label in ("columns_added", "columns_removed"):
            if s.get(label):
                out.append(f"{indent}{label.replace('_', ' ')}: {', '.join(s[label])}")
        return out
    out = []
    for k in summary["keys"][:TEXT_KEYS]:
        name = k["key"] or "(document)"
        if k["state"] == "added":
            out.append(f"{indent}+ {name}: {_value(k['new'])}")
        elif k["state"] == "removed":
            out.append(f"{indent}- {name}: {_value(k['old'])}")
        else:
            change = f" ({k['change']:+g})" if "change" in k else ""
            out.append(f"{indent}{name}: {_value(k['old'])} -> {_value(k['new'])}{change}")
    more = summary["keys_changed"] - min(TEXT_KEYS, len(summary["keys"]))
    if more:
        out.append(f"{indent}... and {count(more, 'more key')} changed (--json lists up to 50)")
    return out
