"""TEMPORARY stand-in for ``artvc/pipeline/materializers.py`` (same names, minimal): deleted when that lands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from ...errors import ArtError


class MaterializerError(ArtError):
    pass


class Materializer:
    name: ClassVar[str]
    version: ClassVar[int] = 1

    def save(self, obj: Any, dest: Path) -> dict[str, Any]:
        raise NotImplementedError

    def load(self, src: Path) -> Any:
        raise NotImplementedError


_REGISTRY: dict[type, type[Materializer]] = {}
_BY_NAME: dict[str, type[Materializer]] = {}


def register_materializer(*types: type) -> Callable[[type[Materializer]], type[Materializer]]:
    def deco(cls: type[Materializer]) -> type[Materializer]:
        for t in types:
            _REGISTRY[t] = cls
        _BY_NAME[cls.name] = cls
        return cls

    return deco


def _type_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


class JsonMaterializer(Materializer):
    name = "builtin.json"

    def save(self, obj: Any, dest: Path) -> dict[str, Any]:
        text = json.dumps(obj, sort_keys=True)
        (dest / "data.json").write_text(text)
        return {"type": _type_name(obj), "preview": text[:200]}

    def load(self, src: Path) -> Any:
        return json.loads((src / "data.json").read_text())


class NumpyMaterializer(Materializer):
    name = "numpy.npy"

    def save(self, obj: Any, dest: Path) -> dict[str, Any]:
        import numpy as np

        np.save(dest / "array.npy", obj, allow_pickle=False)
        return {"type": _type_name(obj), "preview": f"array{obj.shape} {obj.dtype}"[:200]}

    def load(self, src: Path) -> Any:
        import numpy as np

        return np.load(src / "array.npy", allow_pickle=False)


class PickleMaterializer(Materializer):
    name = "pickle"

    def save(self, obj: Any, dest: Path) -> dict[str, Any]:
        import pickle

        (dest / "object.pkl").write_bytes(pickle.dumps(obj, protocol=4))
        return {"type": _type_name(obj), "preview": repr(obj)[:200]}

    def load(self, src: Path) -> Any:
        import pickle

        return pickle.loads((src / "object.pkl").read_bytes())


for _cls in (JsonMaterializer, PickleMaterializer, NumpyMaterializer):
    _BY_NAME[_cls.name] = _cls


def materializer_for(obj: Any, annotation: Any = None) -> Materializer:
    for t in type(obj).__mro__:
        if t in _REGISTRY:
            return _REGISTRY[t]()
    if type(obj).__module__ == "numpy" and type(obj).__name__ == "ndarray" and obj.dtype != object:
        return NumpyMaterializer()
    try:
        if obj is None or isinstance(obj, bool | int | float | str | list | dict):
            json.dumps(obj)
            return JsonMaterializer()
    except (TypeError, ValueError):
        pass
    try:
        import pickle

        pickle.dumps(obj)
    except Exception as exc:
        raise MaterializerError(
            f"no materializer can store a {_type_name(obj)}: {exc}",
            hint="register one: @register_materializer(YourType) on a Materializer subclass",
        ) from exc
    return PickleMaterializer()


def materializer_named(name: str) -> Materializer:
    try:
        return _BY_NAME[name]()
    except KeyError:
        raise MaterializerError(f"unknown materializer {name!r}", hint="import the module that registers it") from None
