"""Root records on a remote: the roots each push relied on, kept by remote gc for the grace period.

A push skips every object the remote already lists, so it may rely on objects in old packs: a clone that
re-adds old data sends nothing at all. The clone that runs ``art gc --remote`` does not know those roots yet
(the other clone's commits are not pushed to git, or not fetched), and the grace period only protects young
packs, not old objects newly relied upon. So, like restic's snapshots, every push writes into the remote
itself what it relied on, after its data and under its shared lock, and remote gc (under its exclusive
lock) keeps everything reachable from the roots recorded within the grace window. Older records are removed
by gc. Layout and format: docs/formats.md (``roots/``); the argument: docs/gc.md.

``roots/<name>.json``: ``name`` is the blake3 of the file's bytes (checked on read, so a damaged record is
never mistaken for a smaller one); the body is JSON ``{"version": 1, "time": T, "host": H, "roots":
{"chunk": [...], "file": [...], "tree": [...], "run": [...]}}`` with sorted lowercase hex ids.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import IntegrityError
from .hashing import hash_bytes
from .objects import Kind
from .oid import Oid, is_oid
from .types import ObjectKey

if TYPE_CHECKING:
    from .store.remote import RemoteStore

ROOTS_DIR = "roots"
MAX_RECORD = 64 << 20  # bytes: about 800,000 roots; a larger file is refused as damaged


def encode_record(roots: Iterable[ObjectKey], *, now: float | None = None) -> bytes:
    by_kind: dict[str, list[str]] = {k.label: [] for k in Kind}
    for oid, kind in set(roots):
        by_kind[Kind(kind).label].append(str(oid))
    body = {
        "version": 1,
        "time": time.time() if now is None else now,
        "host": os.uname().nodename,  # socket.gethostname(), without importing socket
        "pid": os.getpid(),
        "roots": {k: sorted(v) for k, v in by_kind.items()},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def decode_record(name: str, data: bytes) -> tuple[float, set[ObjectKey]]:
    """Check a record against its name and decode it; return (time, roots).

    Raises:
        ValueError: when it is damaged (wrong hash, not JSON, wrong shape, a bad id).
    """
    if str(hash_bytes(data)) != name:
        raise ValueError("its content does not match its name")
    body = json.loads(data)
    if not isinstance(body, dict) or body.get("version") != 1:
        raise ValueError("unknown version")
    when, roots = body.get("time"), body.get("roots")
    if not isinstance(when, int | float) or isinstance(when, bool) or not isinstance(roots, dict):
        raise ValueError("missing time or roots")
    labels = {k.label: k for k in Kind}
    out: set[ObjectKey] = set()
    for label, oids in roots.items():
        if label not in labels or not isinstance(oids, list) or not all(is_oid(o) for o in oids):
            raise ValueError(f"bad roots of kind {label!r}")
        out |= {ObjectKey(Oid(o), labels[label]) for o in oids}
    return float(when), out


def record_roots(store: RemoteStore, roots: Iterable[ObjectKey], *, now: float | None = None) -> str | None:
    """Write a root record to ``store`` (a RemoteStore); return its name (None when there are no roots).

    The caller has published the data first and holds the remote's shared lock.
    """
    roots = set(roots)
    if not roots:
        return None
    data = encode_record(roots, now=now)
    name = str(hash_bytes(data))
    store.publish_bytes(f"{ROOTS_DIR}/{name}.json", data)
    return name


@dataclass(slots=True)
class RecordedRoots:
    """What remote gc read from ``roots/``: the roots of recent records, and the names of expired ones."""

    roots: set[ObjectKey] = field(default_factory=set)
    recent: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)


def recent_roots(store: RemoteStore, cutoff: float) -> RecordedRoots:
    """Read the root records written at or after ``cutoff`` (the remote's time, else the record's own).

    Raises:
        IntegrityError: when a record that may be recent cannot be read or is damaged (gc must not guess
            what it protected).
        StoreIOError: when the remote fails.
    """
    from .gc import remote_times

    out = RecordedRoots()
    sizes = {e.name: e.size for e in store.list_files(ROOTS_DIR)}
    times = remote_times(store, ROOTS_DIR) if sizes else {}
    for file, size in sorted(sizes.items()):
        name = file[:-5]
        if not file.endswith(".json") or not is_oid(name):
            continue
        if times.get(file, cutoff) < cutoff:
            out.expired.append(name)
            continue
        try:
            if size > MAX_RECORD:
                raise ValueError(f"larger than {MAX_RECORD} bytes")
            data = store.transport.read(f"{ROOTS_DIR}/{file}")
            if len(data) > MAX_RECORD:
                raise ValueError(f"larger than {MAX_RECORD} bytes")
            when, roots = decode_record(name, bytes(data))
        except FileNotFoundError:
            continue  # removed meanwhile by a gc that broke our lock as stale: nothing to keep
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise IntegrityError(
                f"remote {store.name!r}: root record {ROOTS_DIR}/{file} is damaged ({exc}); gc cannot tell what "
                "a recent push relied on",
                hint="delete that file from the remote if no push needs it, or push again from the clone that wrote it",
            ) from exc
        if file not in times and when < cutoff:
            out.expired.append(name)
            continue
        out.roots |= roots
        out.recent.append(name)
    return out


def drop_records(store: RemoteStore, names: Iterable[str]) -> None:
    for name in names:
        store.delete_quietly(f"{ROOTS_DIR}/{name}.json")
