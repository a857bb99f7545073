"""``.gitignore`` upkeep: a tracked artifact is ignored by git in the directory that holds it."""

from __future__ import annotations

from pathlib import Path

from .fileio import atomic_write


def _entry(name: str) -> str:
    escaped = "".join("\\" + c if c in "*?[]!#" else c for c in name)
    return f"/{escaped}"


def ignore(root: Path, path: str) -> bool:
    """Add ``path`` (repo-relative) to the ``.gitignore`` beside it; return True when the file changed."""
    parent, _, name = path.rpartition("/")
    gi = root / parent / ".gitignore" if parent else root / ".gitignore"
    line = _entry(name)
    text = gi.read_text() if gi.exists() else ""
    if line in text.splitlines():
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    atomic_write(gi, text + line + "\n")
    return True


def unignore(root: Path, path: str) -> bool:
    """Remove the entry that ``ignore`` added; return True when the file changed."""
    parent, _, name = path.rpartition("/")
    gi = root / parent / ".gitignore" if parent else root / ".gitignore"
    if not gi.exists():
        return False
    lines = gi.read_text().splitlines()
    kept = [ln for ln in lines if ln != _entry(name)]
    if kept == lines:
        return False
    atomic_write(gi, "".join(f"{ln}\n" for ln in kept))
    return True
