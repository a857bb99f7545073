"""The Materializer base class and what every materializer shares: type names, previews, untrusting reads.

Standard library only (materializers.py and materializers_data.py build on it).
"""

from __future__ import annotations

import importlib.util
import os
import reprlib
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from .errors import MalformedArtifactError

#: the longest preview a materializer returns, in characters
PREVIEW_MAX = 200
#: protocol of every pickle art writes: fixed, so the bytes (and so the artifact's id) do not depend on the
#: Python version's default
PICKLE_PROTOCOL = 5
#: JSON nesting deeper than this goes to pickle on save (joblib's pure-Python pickler, the fallback, needs the
#: recursion headroom); on load, nesting only meets the JSON decoder's recursion limit
JSON_MAX_DEPTH = 100
#: Python refuses to print or parse ints with more digits than this (sys.int_info.default_max_str_digits)
_INT_MAX_BITS = 4300 * 3


class Materializer:
    """Writes one kind of value into an empty folder and reads it back; subclass it and register the subclass
    with ``@register_materializer(SomeType)``.

    ``name`` is recorded with every artifact it writes and names it again on load, so keep it stable (it
    defaults to ``module.QualName`` of the subclass); bump ``version`` when the files it writes change, since
    it is part of a step's cache key. ``save`` must write the same bytes for equal values: a step's outputs
    are content-addressed, and downstream steps stay cached only when their input ids do not change.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1

    def accepts(self, obj: Any) -> bool:
        """Whether this materializer can store ``obj`` exactly; when False the next candidate is tried."""
        return True

    def save(self, obj: Any, dest: Path) -> dict[str, Any]:
        """Write ``obj`` into the empty folder ``dest``.

        Returns:
            ``{"type": "module.QualName", "preview": "<= 200 characters", **extra}``, recorded with the
            artifact (``extra`` must be JSON-able).
        """
        raise NotImplementedError

    def load(self, src: Path) -> Any:
        """Read back the value whose files ``save`` wrote into ``src``."""
        raise NotImplementedError


def type_name(obj: Any) -> str:
    """``module.QualName`` of the object's class (``builtins.dict``, ``numpy.ndarray``)."""
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def has_module(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


# -- previews ------------------------------------------------------------------------------------------------


class _Repr(reprlib.Repr):
    """reprlib without memory addresses: object's default repr and a failing ``__repr__`` give ``<mod.Type>``."""

    def repr_instance(self, x: Any, level: int) -> str:
        if type(x).__repr__ is object.__repr__:
            return f"<{type_name(x)}>"
        try:
            s = repr(x)
        except Exception:  # a user's __repr__ may raise anything; a preview is not worth failing a step
            return f"<{type_name(x)}>"
        return s if len(s) <= self.maxother else s[: self.maxother - 3] + "..."


_REPR = _Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple = 3, 6, 8, 8
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 80, 120, 60


def clip(text: str) -> str:
    """One line of at most PREVIEW_MAX characters."""
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_MAX else text[: PREVIEW_MAX - 1] + "…"


def repr_head(obj: Any) -> str:
    """A bounded repr (reprlib) that survives a failing ``__repr__``."""
    try:
        return clip(_REPR.repr(obj))
    except Exception:  # a user's __repr__ may raise anything; a preview is not worth failing a step
        return f"<{type_name(obj)}>"


def meta(obj: Any, preview: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_name(obj), "preview": clip(preview), **extra}


# -- reading stored files without trusting them ---------------------------------------------------------------


@contextmanager
def open_regular(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for reading only if it is a regular file (not a symlink, folder or device)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise MalformedArtifactError(f"artifact file {path.name} is missing from {path.parent}") from None
    except OSError as exc:
        raise MalformedArtifactError(f"cannot open artifact file {path}: {exc.strerror or exc}") from exc
    f = os.fdopen(fd, "rb")
    with f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MalformedArtifactError(f"artifact file {path} is not a regular file")
        yield f


def read_all(path: Path) -> bytes:
    with open_regular(path) as f:
        return f.read()


def json_exact(obj: Any) -> bool:
    """Whether JSON gives ``obj`` back equal and of the same types: None, bool, int, float, str, and lists and
    str-keyed dicts of them (exact types: no tuples, no subclasses such as OrderedDict or IntEnum)."""
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        value, depth = stack.pop()
        t = type(value)
        if t is str or t is float or t is bool or value is None:
            continue
        if t is int:
            if value.bit_length() > _INT_MAX_BITS:
                return False
            continue
        if depth >= JSON_MAX_DEPTH:
            return False
        if t is list:
            stack.extend((v, depth + 1) for v in value)
        elif t is dict:
            if not all(type(k) is str for k in value):
                return False
            stack.extend((v, depth + 1) for v in value.values())
        else:
            return False
    return True
