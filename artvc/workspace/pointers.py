"""Pointer files ``PATH.art``: the small TOML text that git versions in place of the data."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FormatError, WorkspaceError
from ..objstore import codec
from ..objstore.fileio import atomic_write
from ..objstore.oid import Oid, is_oid

SUFFIX = ".art"
KINDS = ("file", "dir")
_HEADER = "# art pointer: the data lives in the art store, not in git; 'art checkout' restores it\n"


class PointerError(WorkspaceError):
    pass


@dataclass(frozen=True, slots=True)
class Pointer:
    """What one tracked artifact is: its id, kind, total size and number of files."""

    oid: Oid
    kind: str
    size: int
    files: int

    def to_text(self) -> str:
        return (
            f'{_HEADER}version = 1\nid = "{self.oid}"\nkind = "{self.kind}"\nsize = {self.size}\nfiles = {self.files}\n'
        )

    def as_dict(self) -> dict:
        return {"oid": str(self.oid), "kind": self.kind, "size": self.size, "files": self.files}


def parse_pointer(text: bytes | str, *, where: str) -> Pointer:
    """Parse and validate pointer text.

    Raises:
        PointerError: when it is not valid TOML or a field is missing, unknown or out of range.
    """
    hint = f"restore it with 'git checkout -- {where}', or re-add the data with 'art add'"
    try:
        data = codec.toml_loads(text, what=f"pointer {where}", kind="pointer")
    except FormatError as exc:
        raise PointerError(exc.message, path=where, hint=hint) from exc
    pointer = pointer_from_fields(data)
    if pointer is None:
        raise PointerError(f"pointer {where} is malformed", path=where, hint=hint)
    return pointer


def pointer_from_fields(data: dict) -> Pointer | None:
    """Validate pointer fields (a pointer file's table, or an art.lock out entry); None when malformed."""
    extra = set(data) - {"version", "id", "kind", "size", "files"}
    ok = (
        data.get("version") == 1
        and is_oid(data.get("id"))
        and data.get("kind") in KINDS
        and _nonneg(data.get("size"))
        and _nonneg(data.get("files"))
        and not extra
    )
    return Pointer(Oid(data["id"]), data["kind"], data["size"], data["files"]) if ok else None


def _nonneg(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_pointer(path, *, where: str) -> Pointer:
    try:
        with open(path, "rb") as f:
            data = f.read(codec.MAX_TOML_BYTES["pointer"] + 1)
    except OSError as exc:
        raise PointerError(f"cannot read pointer {where}: {exc.strerror}", path=where) from exc
    return parse_pointer(data, where=where)


def write_pointer(path, pointer: Pointer) -> None:
    atomic_write(path, pointer.to_text())
