"""Pointer files ``PATH.art``: the small TOML text that git versions in place of the data."""

from __future__ import annotations

from typing import NamedTuple

from ..errors import FormatError, WorkspaceError
from ..objstore import codec
from ..objstore.fileio import atomic_write
from ..objstore.oid import Oid, is_oid

SUFFIX = ".art"
KINDS = ("file", "dir")
_HEADER = "# art pointer: the data lives in the art store, not in git; 'art checkout' restores it\n"


class PointerError(WorkspaceError):
    pass


class Pointer(NamedTuple):
    """What one tracked artifact is: its id, kind, total size and number of files."""

    oid: Oid
    kind: str
    size: int
    files: int
    source: Source | UrlSource | None = None  # where an imported artifact comes from (``art import``/``import-url``)

    def to_text(self) -> str:
        text = (
            f'{_HEADER}version = 1\nid = "{self.oid}"\nkind = "{self.kind}"\nsize = {self.size}\nfiles = {self.files}\n'
        )
        return text + (self.source.to_text() if self.source else "")

    def as_dict(self) -> dict:
        out = {"oid": str(self.oid), "kind": self.kind, "size": self.size, "files": self.files}
        if self.source:
            out["import"] = self.source.as_dict()
        return out


class Source(NamedTuple):
    """The ``[source]`` table of an imported artifact's pointer: the repository ``url`` it came from, the
    revision asked for (``rev``, "" for the source's default branch), the ``commit`` it resolved to, the
    ``path`` there, and the ``oid`` that path had (the artifact itself, or a file inside a tracked folder).
    An import by named version or stage (``art import --version/--stage``) also records the ``version`` or
    ``stage`` asked for (absent otherwise; ``rev`` is then "")."""

    url: str
    rev: str
    commit: str
    path: str
    oid: Oid
    version: str = ""
    stage: str = ""

    def to_text(self) -> str:
        import tomli_w

        return "\n[source]\n" + tomli_w.dumps(self.as_dict())

    def as_dict(self) -> dict:
        out = {"url": self.url, "rev": self.rev, "commit": self.commit, "path": self.path, "oid": str(self.oid)}
        return out | ({"version": self.version} if self.version else {}) | ({"stage": self.stage} if self.stage else {})

    def describe(self) -> str:
        at = f"version {self.version}" if self.version else f"stage {self.stage}" if self.stage else self.rev or "HEAD"
        return f"{self.url} {self.path} at {at} (commit {self.commit[:10]})"


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
    extra = set(data) - {"version", "id", "kind", "size", "files", "source"}
    source = _source(data.get("source")) if "source" in data else None
    ok = (
        ("source" not in data or source is not None)
        and data.get("version") == 1
        and is_oid(data.get("id"))
        and data.get("kind") in KINDS
        and _nonneg(data.get("size"))
        and _nonneg(data.get("files"))
        and not extra
    )
    return Pointer(Oid(data["id"]), data["kind"], data["size"], data["files"], source) if ok else None


class UrlSource(NamedTuple):
    """The ``[source]`` table of an artifact imported from a URL (``art import-url``): the object's ``url``, and
    what the storage said of it when it was read (``size``, ``modified``: ISO 8601 UTC, "" when unknown), which
    ``art status`` compares to see whether it changed; ``oid`` is the content read."""

    url: str
    size: int
    modified: str
    oid: Oid

    def to_text(self) -> str:
        import tomli_w

        return "\n[source]\n" + tomli_w.dumps(
            {"url": self.url, "size": self.size, "modified": self.modified, "oid": str(self.oid)}
        )

    def as_dict(self) -> dict:
        out = {"url": self.url, "size": self.size, "oid": str(self.oid)}
        return out | ({"modified_at": self.modified} if self.modified else {})  # absent when the storage did not say

    def describe(self) -> str:
        return f"{self.url} ({self.size} bytes, modified {self.modified or 'at an unknown time'})"


_COMMIT = frozenset("0123456789abcdef")


def _source(value: object) -> Source | UrlSource | None:
    if isinstance(value, dict) and set(value) == {"url", "size", "modified", "oid"}:
        url, size, modified, oid = (value[k] for k in ("url", "size", "modified", "oid"))
        ok = isinstance(url, str) and 0 < len(url) <= 4096 and "\0" not in url and _nonneg(size)
        if ok and isinstance(modified, str) and len(modified) <= 64 and is_oid(oid):
            return UrlSource(url, size, modified, Oid(oid))
        return None
    required = {"url", "rev", "commit", "path", "oid"}
    if not isinstance(value, dict) or not required <= set(value) or set(value) - required - {"version", "stage"}:
        return None
    url, rev, commit, path, oid = (value[k] for k in ("url", "rev", "commit", "path", "oid"))
    version, stage = value.get("version", ""), value.get("stage", "")
    texts = (url, rev, commit, path, version, stage)
    if not all(isinstance(v, str) and len(v) <= 4096 and "\0" not in v for v in texts) or (version and stage):
        return None
    if not url or not path or len(commit) not in (40, 64) or not set(commit) <= _COMMIT or not is_oid(oid):
        return None
    return Source(url, rev, commit, path, Oid(oid), version, stage)


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
