"""``.gitignore`` upkeep: a tracked artifact is ignored by git in the directory that holds it.

Each entry is ``/NAME`` with NAME escaped by gitignore's rules (git's ``Documentation/gitignore.txt``): a
backslash quotes the next character, so ``\\``, ``*``, ``?``, ``[``, ``]``, ``!`` and ``#`` are written as
``\\X`` and trailing spaces (which git would strip) as ``\\ ``. A newline cannot be expressed at all, and git
drops a carriage return at the end of a line: such names are refused (``check_ignorable``) before anything
is written. Callers hold the repository lock: the file is read, changed and replaced as one step.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UnsafePathError
from ..objstore.fileio import atomic_write

_SPECIAL = frozenset("\\*?[]!#")


def check_ignorable(path: str) -> str:
    """Return ``path`` when its last component can be written as a ``.gitignore`` entry.

    Raises:
        UnsafePathError: for a name with a newline, or ending with a carriage return.
    """
    name = path.rpartition("/")[2]
    if "\n" in name or name.endswith("\r"):
        raise UnsafePathError(
            f"cannot track {path!r}: git's .gitignore cannot name a file whose name has a "
            "newline or ends with a carriage return",
            path=path,
            hint="rename the file; its data would otherwise be committed to git",
        )
    return path


def entry(name: str) -> str:
    """The ``.gitignore`` line that matches exactly the file or directory ``name`` beside it."""
    check_ignorable(name)
    escaped = "".join("\\" + c if c in _SPECIAL else c for c in name)
    body = escaped.rstrip(" ")
    return "/" + body + "\\ " * (len(escaped) - len(body))


def _file(root: Path, path: str) -> tuple[Path, bytes]:
    parent, _, name = path.rpartition("/")
    gi = root / parent / ".gitignore" if parent else root / ".gitignore"
    # bytes throughout: a carriage return inside a name must survive, and names need not be UTF-8
    return gi, entry(name).encode("utf-8", "surrogateescape")


def _lines(gi: Path) -> list[bytes] | None:
    try:
        data = gi.read_bytes()
    except FileNotFoundError:
        return None
    return data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n") if data else []


def ignore(root: Path, path: str) -> bool:
    """Add ``path`` (repo-relative) to the ``.gitignore`` beside it; return True when the file changed.

    Raises:
        UnsafePathError: when the name cannot be expressed in a ``.gitignore`` (``check_ignorable``).
    """
    gi, line = _file(root, path)
    lines = _lines(gi) or []
    if line in lines or line + b"\r" in lines:
        return False
    atomic_write(gi, b"".join(ln + b"\n" for ln in [*lines, line]))
    return True


def unignore(root: Path, path: str) -> bool:
    """Remove the entry that ``ignore`` added; return True when the file changed."""
    gi, line = _file(root, path)
    lines = _lines(gi)
    if lines is None:
        return False
    kept = [ln for ln in lines if ln not in (line, line + b"\r")]
    if kept == lines:
        return False
    atomic_write(gi, b"".join(ln + b"\n" for ln in kept))
    return True
