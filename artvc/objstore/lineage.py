"""The run record: what one execution (a pipeline stage, or an ``art add``) consumed and produced.

Format: ["run", 1, {field: value, ...}] in canonical msgpack; id = derive-key blake3 ("run" context).
Fields (docs/formats.md): kind ("stage" | "add" | "step" | "pipeline"), stage, cmd, code_hash, code (path ->
id of what was hashed), params, inputs [{path, oid, kind, run}], outputs [{path, oid, kind, size}], run_key,
exit_status, started (UTC ISO 8601), duration, git {commit, dirty}, user, host, pid (stage runs), platform, python,
art, packages (oid); Python pipelines add pipeline, error, metadata and (pipeline runs) steps [{stage, run, status}].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import FormatError
from . import codec
from .hashing import hash_object
from .oid import Oid, is_oid
from .types import Kind


@dataclass(frozen=True, slots=True)
class Run:
    """A lineage record. ``fields`` holds the documented keys; unknown keys survive a round trip."""

    fields: dict[str, Any]
    _oid: list[Oid] = field(default_factory=list, compare=False, repr=False)

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
        what = f"run {oid[:10]}"
        if hash_object("run", data) != oid:
            raise FormatError(f"{what} does not match its id")
        value = codec.decode_canonical(data, what=what)
        if not (
            isinstance(value, list)
            and len(value) == 3
            and value[0] == "run"
            and codec.is_int(value[1], 1, 1)
            and isinstance(value[2], dict)
        ):
            raise FormatError(f"{what} is malformed")
        bad = next((k for k, v in value[2].items() if not _valid(k, v)), None)
        if bad is not None:
            raise FormatError(f"{what} is malformed: field {str(bad)[:40]!r} has the wrong type")
        return cls(value[2], [oid])


def run_children(run: Run) -> list[tuple[Oid, Kind]]:
    """The objects a run record reaches: its package list and, for a step run (Python pipelines), its outputs,
    which live only in the store (push, fetch and gc follow them; a stage's outputs are workspace artifacts)."""
    packages = run.get("packages")
    found: list[tuple[Oid, Kind]] = [(Oid(packages), Kind.CHUNK)] if is_oid(packages) else []
    if run.get("kind") == "step":
        for o in run.get("outputs", []):
            found.append((Oid(o["oid"]), Kind.TREE if o["kind"] == "dir" else Kind.FILE))
    return found


_STR_FIELDS = frozenset(
    {
        "kind",
        "stage",
        "cmd",
        "call",
        "code_hash",
        "run_key",
        "started",
        "user",
        "host",
        "platform",
        "python",
        "art",
        "pipeline",
        "error",
    }
)


def _opt_str(value: object) -> bool:
    return value is None or isinstance(value, str)


def _valid(key: object, value: object) -> bool:
    """The documented fields have their documented types (readers rely on them); others are free."""
    if not isinstance(key, str):
        return False
    if key in _STR_FIELDS:
        return isinstance(value, str)
    if key == "packages":
        return is_oid(value)
    if key == "pid":
        return codec.is_int(value)
    if key == "exit_status":
        return codec.is_int(value, -(1 << 63))
    if key == "duration":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if key == "metadata":
        return isinstance(value, dict)
    if key == "steps":
        return isinstance(value, list) and all(
            isinstance(s, dict)
            and codec.is_str(s.get("stage"), empty=False)
            and (s.get("run") is None or is_oid(s.get("run")))
            and s.get("status") in ("executed", "cached", "failed", "skipped")
            for s in value
        )
    if key in ("code", "params"):
        return isinstance(value, dict) and (key == "params" or all(isinstance(v, str) for v in value.values()))
    if key == "git":
        return (
            isinstance(value, dict)
            and _opt_str(value.get("commit"))
            and (value.get("dirty") is None or isinstance(value.get("dirty"), bool))
        )
    if key == "inputs":
        return isinstance(value, list) and all(
            isinstance(i, dict)
            and isinstance(i.get("path"), str)
            and all(_opt_str(i.get(k)) for k in ("oid", "kind", "run"))
            for i in value
        )
    if key == "outputs":
        return isinstance(value, list) and all(
            isinstance(o, dict)
            and codec.is_str(o.get("path"), empty=False)
            and is_oid(o.get("oid"))
            and o.get("kind") in ("file", "dir")
            and codec.is_int(o.get("size"))
            and ("files" not in o or codec.is_int(o["files"]))
            for o in value
        )
    return True
