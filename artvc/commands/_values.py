"""Tables of named values on two sides (``art params diff``, ``art metrics diff``) and the revision pairs they take."""

from __future__ import annotations

import json
import math


def sides(revs: tuple[str, ...], command: str) -> tuple[str, str | None]:
    """The (old, new) revisions of a diff: none given is HEAD against the workspace (None), one is that revision
    against the workspace, two are compared with each other."""
    from ..errors import UsageError

    if len(revs) > 2:
        raise UsageError(f"art {command} takes at most two revisions", hint=f"art {command} [REV [REV]]")
    return (revs[0] if revs else "HEAD"), (revs[1] if len(revs) > 1 else None)


def old_side(repo, rev: str, read):
    """``read(repo, rev)``, except that HEAD before the first commit is an empty side."""
    if rev == "HEAD" and repo.git is not None and repo.git.head_commit() is None:
        return {}
    return read(repo, rev)


def value_text(value) -> str:
    """A value as a table shows it: floats to 6 significant digits (--json has them exactly), absent as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def change_text(row) -> str:
    if not row.changed:
        return "0" if row.change is not None else "-"
    if row.change is None:
        if row.old is None and row.new is not None:
            return "added"
        if row.new is None and row.old is not None:
            return "removed"
        return "-"
    text = f"{row.change:+.6g}"
    if row.change_ratio is not None:
        text += f" ({row.change_ratio * 100:+.3g}%)"
    return text


def table(header: list[str], rows: list[list[str]], *, markdown: bool = False) -> list[str]:
    """Lines of an aligned text table, or of a GitHub markdown table (``|`` in cells escaped)."""
    if markdown:
        cell = [[c.replace("|", "\\|") for c in r] for r in [header, *rows]]
        lines = ["| " + " | ".join(cell[0]) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
        return lines + ["| " + " | ".join(r) + " |" for r in cell[1:]]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]


def label(rev: str | None) -> str:
    return "workspace" if rev is None else rev
