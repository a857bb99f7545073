"""TEMPORARY stand-in for ``artvc/pipeline/codehash.function_closure``: deleted when that lands."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from ...objstore.hashing import hash_bytes


def function_closure(fn: Callable, root: Path) -> tuple[str, dict[str, str]]:
    source = inspect.getsource(fn)
    piece = str(hash_bytes(source.encode()))
    return str(hash_bytes(piece.encode())), {f"{fn.__module__}:{fn.__qualname__}": piece}
