"""Materializers: how a Python step's output is written into a folder of files and read back.

The registry picks one per object by its type (the most specific registered class in its MRO; a user's
registration beats a built-in one for the same class), else pickles it. The formats are in
docs/python-pipelines.md#materializers. Only the standard library is imported here at import time: numpy,
pandas, pyarrow and joblib are imported when an object of theirs is saved or an artifact of theirs is loaded.
"""

from __future__ import annotations

import io
import json
import pickle
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import MalformedArtifactError, MaterializerError
from .materializer_base import (
    PICKLE_PROTOCOL,
    PREVIEW_MAX,
    Materializer,
    has_module,
    json_exact,
    meta,
    open_regular,
    read_all,
    repr_head,
    type_name,
)
from .materializers_data import NumpyMaterializer, PandasMaterializer, describe, numpy_types, pandas_types

__all__ = [
    "PREVIEW_MAX",
    "MaterializerError",
    "Materializer",
    "materializer_for",
    "materializer_named",
    "register_materializer",
    "type_name",
]


_USER: dict[type, type[Materializer]] = {}
_BUILTIN: dict[type, type[Materializer]] = {}
_NAMES: dict[str, type[Materializer]] = {}
_BUILTIN_NAMES: set[str] = set()
#: modules whose types have built-in materializers, registered once the module has been imported by someone
_PENDING: dict[str, Callable[[], dict[type, type[Materializer]]]] = {}


def register_materializer(*types_: type) -> Callable[[type[Materializer]], type[Materializer]]:
    """Register a Materializer subclass for values of the given classes (and their subclasses).

    For a value, the first class of its MRO that has a materializer decides; a registration for a class
    replaces any earlier one for the same class (the last one wins, as re-running a notebook cell expects), and
    beats the built-in materializer of that class. Abstract classes that are not in the MRO (ABCs,
    ``collections.abc.Mapping``) match through ``isinstance`` after every class of the MRO but ``object``.

    Raises:
        MaterializerError: no class given, a non-class given, the decorated class is not a Materializer, or
            its ``name`` is taken by another materializer (the built-in names are reserved).
    """
    if not types_ or not all(isinstance(t, type) for t in types_):
        raise MaterializerError(
            f"register_materializer takes one or more classes, got {', '.join(map(repr, types_)) or 'nothing'}",
            hint="write @register_materializer(MyType) above a Materializer subclass",
        )

    def decorate(cls: type[Materializer]) -> type[Materializer]:
        if not (isinstance(cls, type) and issubclass(cls, Materializer)):
            raise MaterializerError(
                f"@register_materializer decorates a subclass of artvc.Materializer, not {cls!r}",
                hint="class MyMaterializer(artvc.Materializer): name = ...; def save(...); def load(...)",
            )
        if "name" not in cls.__dict__:
            cls.name = f"{cls.__module__}.{cls.__qualname__}"
        _claim_name(cls)
        for t in types_:
            _USER[t] = cls
        return cls

    return decorate


def _claim_name(cls: type[Materializer]) -> None:
    name = cls.name
    if not isinstance(name, str) or not name:
        raise MaterializerError(f"materializer {cls.__qualname__} has an empty or non-text name: {name!r}")
    old = _NAMES.get(name)
    same = old is not None and (old.__module__, old.__qualname__) == (cls.__module__, cls.__qualname__)
    if old is not None and old is not cls and (name in _BUILTIN_NAMES or not same):
        raise MaterializerError(
            f"materializer name {name!r} is already used by {old.__module__}.{old.__qualname__}",
            hint="give your Materializer subclass its own name = '...' (the name is recorded with each artifact)",
        )
    _NAMES[name] = cls  # the same class defined again (a reloaded module, a re-run cell) replaces the old one


def _builtin(*types_: type) -> Callable[[type[Materializer]], type[Materializer]]:
    def decorate(cls: type[Materializer]) -> type[Materializer]:
        _NAMES[cls.name] = cls
        _BUILTIN_NAMES.add(cls.name)
        for t in types_:
            _BUILTIN[t] = cls
        return cls

    return decorate


def _resolve_pending() -> None:
    for module in [m for m in _PENDING if m in sys.modules]:
        register = _PENDING.pop(module, None)  # steps save outputs from several threads
        if register is not None:
            _BUILTIN.update(register())


def materializer_for(obj: Any, annotation: Any = None) -> Materializer:
    """Choose the materializer that stores ``obj``.

    The object's runtime type decides, not ``annotation`` (accepted for the step's return annotation, unused):
    the first class in ``type(obj).__mro__`` with a registered materializer that ``accepts`` it (a user's
    before the built-in one for each class; registered ABCs just before ``object``), else pickle — joblib's
    when joblib is installed.

    Raises:
        MaterializerError: nothing takes ``obj`` and it cannot be pickled either (a lambda or local function,
            a generator, an open file, a module); the hint says how to register a materializer. An object
            whose pickling fails for another reason (one holding a lock) raises the same error from ``save``.
    """
    _resolve_pending()
    mro = type(obj).__mro__
    abcs = [t for t in reversed(_USER) if t not in mro and isinstance(obj, t)]
    for klass in [*mro[:-1], *abcs, object]:
        for table in (_USER, _BUILTIN):
            cls = table.get(klass)
            if cls is not None:
                candidate = cls()
                if candidate.accepts(obj):
                    return candidate
    reason = _unpicklable(obj)
    if reason:
        name = type_name(obj)
        raise MaterializerError(f"no materializer can store a {name}: {reason}", type_name=name)
    return JoblibMaterializer() if has_module("joblib") else PickleMaterializer()


def materializer_named(name: str) -> Materializer:
    """The materializer recorded as ``name`` with an artifact, to load it.

    Raises:
        MaterializerError: no materializer of that name is registered in this process.
    """
    cls = _NAMES.get(name)
    if cls is None:
        raise MaterializerError(
            f"no materializer named {name!r} is registered",
            hint="import the module that registers it (usually the pipeline's own module) before loading",
        )
    return cls()


_UNPICKLABLE = (
    (types.GeneratorType, "a generator is consumed as it runs and cannot be stored"),
    (types.CoroutineType, "a coroutine cannot be stored: await it and return its result"),
    (types.AsyncGeneratorType, "an async generator cannot be stored"),
    (io.IOBase, "an open file or stream cannot be stored: return its content or its path"),
    (types.ModuleType, "a module cannot be stored"),
)


def _unpicklable(obj: Any) -> str | None:
    for t, reason in _UNPICKLABLE:
        if isinstance(obj, t):
            return reason
    if isinstance(obj, types.FunctionType) and ("<lambda>" in obj.__qualname__ or "<locals>" in obj.__qualname__):
        return "pickle stores a function by its importable name, and a lambda or local function has none"
    return None


# -- built-ins: JSON values, bytes, pickle ---------------------------------------------------------------------


@_builtin(type(None), bool, int, float, str, list, dict)
class JsonMaterializer(Materializer):
    """None, bool, int, float, str and (nested) lists and str-keyed dicts of them, as one JSON document.

    Keys are sorted and the output is ASCII with fixed separators, so equal values give equal bytes (a dict
    comes back with its keys in sorted order). Non-finite floats are written as ``NaN``, ``Infinity`` and
    ``-Infinity``, which Python's json module (not strict JSON) reads back.
    """

    name = "builtin.json"
    FILE = "value.json"

    def accepts(self, obj: Any) -> bool:
        return json_exact(obj)

    def save(self, obj: Any, dest: Path) -> dict[str, Any]:
        text = json.dumps(obj, sort_keys=True, ensure_ascii=True, allow_nan=True, separators=(",", ":"))
        (dest / self.FILE).write_bytes(text.encode("ascii") + b"\n")
        extra = {"length": len(obj)} if isinstance(obj, list | dict | str) else {}
        return meta(obj, repr_head(obj), **extra)

    def load(self, src: Path) -> Any:
        raw = read_all(src / self.FILE)
        try:
            return json.loads(raw.decode("ascii"))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise MalformedArtifactError(f"artifact file {src / self.FILE} is not valid JSON: {exc}") from exc


@_builtin(bytes)
class BytesMaterializer(Materializer):
    """``bytes`` as a raw file, byte for byte."""

    name = "builtin.bytes"
    FILE = "data.bin"

    def accepts(self, obj: Any) -> bool:
        return type(obj) is bytes

    def save(self, obj: Any, dest: Path) -> dict[str, Any]:
        (dest / self.FILE).write_bytes(obj)
        return meta(obj, f"bytes ({len(obj)} B) {obj[:48]!r}", size=len(obj))

    def load(self, src: Path) -> Any:
        return read_all(src / self.FILE)


class PickleMaterializer(Materializer):
    """Anything else, pickled (protocol 5). Loading a pickle runs code chosen by whoever wrote the file."""

    name = "pickle"
    FILE = "object.pkl"

    def _dump(self, obj: Any, path: Path) -> None:
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=PICKLE_PROTOCOL)

    def _load(self, path: Path) -> Any:
        with open_regular(path) as f:
            return pickle.load(f)

    def save(self, obj: Any, dest: Path) -> dict[str, Any]:
        path = dest / self.FILE
        try:
            self._dump(obj, path)
        except (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError) as exc:
            path.unlink(missing_ok=True)
            name = type_name(obj)
            raise MaterializerError(
                f"no materializer can store a {name}: pickling it failed: {exc}", type_name=name
            ) from exc
        return meta(
            obj, describe(obj) or repr_head(obj), format=self.name, warning="loading this artifact runs pickled code"
        )

    def load(self, src: Path) -> Any:
        try:
            return self._load(src / self.FILE)
        except MaterializerError:
            raise
        except (ImportError, AttributeError) as exc:
            raise MaterializerError(
                f"cannot load pickled artifact {src.name}: {exc}",
                hint="the class it holds must be importable (same module and name as when it was saved)",
            ) from exc
        except Exception as exc:  # unpickling runs arbitrary reducers: any error means a bad file
            raise MalformedArtifactError(f"artifact file {src / self.FILE} is not a valid pickle: {exc!r}") from exc


class JoblibMaterializer(PickleMaterializer):
    """Like pickle, through joblib (large numpy arrays inside objects written efficiently); still a pickle."""

    name = "joblib"
    FILE = "object.joblib"

    def _dump(self, obj: Any, path: Path) -> None:
        import joblib

        joblib.dump(obj, path, protocol=PICKLE_PROTOCOL)

    def _load(self, path: Path) -> Any:
        if not has_module("joblib"):
            raise MaterializerError(
                f"artifact {path.parent.name} was stored with joblib, which is not installed",
                hint="pip install joblib",
            )
        import joblib

        with open_regular(path) as f:
            return joblib.load(f)


_NAMES["pickle"] = PickleMaterializer
_NAMES["joblib"] = JoblibMaterializer
_BUILTIN_NAMES.update({"pickle", "joblib"})


_builtin()(NumpyMaterializer)
_builtin()(PandasMaterializer)
_PENDING["numpy"] = numpy_types
_PENDING["pandas"] = pandas_types
