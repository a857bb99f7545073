"""The run record: what one execution (a pipeline stage, or an ``art add``) consumed and produced.

Format: ["run", 1, {field: value, ...}] in canonical msgpack; id = derive-key blake3 ("run" context).
Fields (docs/formats.md): kind ("stage" | "add"), stage, cmd, code_hash, code (path -> id of what was
hashed), params, inputs [{path, oid, kind, run}], outputs [{path, oid, kind, size}], run_key, exit_status,
started (UTC ISO 8601), duration, git {commit, dirty}, user, host, platform, python, art, packages (oid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import codec
from .errors import FormatError
from .hashing import hash_object
from .oid import Oid


@dataclass(frozen=True, slots=True)
class Run:
    """A lineage record. ``fields`` holds the documented keys; unknown keys survive a round trip."""

    fields: dict[str, Any]
    _oid: list = field(default_factory=list, compare=False, repr=False)

    def to_bytes(self) -> bytes:
        return codec.encode(["run", 1, self.fields])

    @property
    def oid(self) -> Oid:
        if not self._oid:
            self._oid.append(hash_object("run", self.to_bytes()))
        return self._oid[0]

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @classmethod
    def from_bytes(cls, oid: Oid, data: bytes) -> Run:
        """Decode and check a run record.

        Raises:
            FormatError: when the payload is malformed or does not hash to ``oid``.
        """
        value = codec.decode(data, what=f"run {oid[:10]}")
        if not (isinstance(value, list) and len(value) == 3 and value[:2] == ["run", 1]
                and isinstance(value[2], dict)):
            raise FormatError(f"run {oid[:10]} is malformed")
        if hash_object("run", data) != oid:
            raise FormatError(f"run {oid[:10]} does not match its id")
        return cls(value[2], [oid])
