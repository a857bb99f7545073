"""The workspaces that use a store: ``<store>/workspaces/<id>``, one small file per workspace naming its root.

Several workspaces may share one store (``core.store``), and ``art gc`` in any of them must keep what every
one of them needs. So the store keeps the list of its users, as git keeps its worktree list: a workspace
registers itself on ``art init`` and on first use (``Repo.store``), under the store lock. gc reads every
registered workspace and refuses when one cannot be read (moved or deleted), until it is forgotten with
``art gc --forget-workspace PATH``.

An entry is TOML (``root = "/abs/path"``); its name is derived from the root, so registering is idempotent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from ..objstore.fileio import atomic_write
from ..objstore.hashing import sha256_hex

WORKSPACES = "workspaces"
MAX_ENTRY = 4096  # bytes; an entry is one path
HEADER = "# a workspace that uses this store: 'art gc' in any of them keeps what this one needs\n"


class Entry(NamedTuple):
    """One registered workspace: ``root`` is None when the entry cannot be decoded (``problem`` says why)."""

    id: str
    file: Path
    root: str | None
    problem: str | None = None


def entry_id(root: Path) -> str:
    return sha256_hex(os.fsencode(str(root)))[:32]


def is_registered(store_root: Path, root: Path) -> bool:
    return (store_root / WORKSPACES / entry_id(root)).is_file()


def register(store_root: Path, root: Path) -> None:
    """Record that the workspace at ``root`` (absolute, resolved) uses the store at ``store_root``.

    The caller holds the store lock; an existing entry is left alone.
    """
    d = store_root / WORKSPACES
    path = d / entry_id(root)
    if path.is_file():
        return
    d.mkdir(exist_ok=True)
    atomic_write(path, HEADER + f"root = {_toml_string(str(root))}\n")


def unregister(store_root: Path, root: Path) -> None:
    """Forget the workspace at ``root`` (a temporary experiment workspace that art itself removed)."""
    (store_root / WORKSPACES / entry_id(root)).unlink(missing_ok=True)


def _toml_string(text: str) -> str:
    import tomli_w

    return tomli_w.dumps({"r": text})[len("r = ") :].strip()


def entries(store_root: Path) -> list[Entry]:
    """Every registered workspace of the store, sorted by root (undecodable entries carry a ``problem``)."""
    out = []
    d = store_root / WORKSPACES
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        return []
    import tomllib  # here: every command checks its registration, few list the entries

    for name in names:
        if name.startswith("."):
            continue  # an atomic write in progress
        path = d / name
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_ENTRY + 1)
            if len(data) > MAX_ENTRY:
                raise ValueError(f"larger than {MAX_ENTRY} bytes")
            root = tomllib.loads(data.decode())["root"]
            if not isinstance(root, str) or not os.path.isabs(root):
                raise ValueError("root is not an absolute path")
            out.append(Entry(name, path, root))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, ValueError, RecursionError) as exc:
            out.append(Entry(name, path, None, f"entry {path} cannot be read: {exc}"))
    return sorted(out, key=lambda e: (e.root or "", e.id))
