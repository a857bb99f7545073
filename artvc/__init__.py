"""art: content-addressed artifact versioning for ML and data pipelines (import namespace ``artvc``)."""

from typing import Any

from ._version import __version__
from .errors import ArtError

# open and read are not in __all__: ``from artvc import *`` must not shadow the built-in open
__all__ = [
    "ArtError",
    "Materializer",
    "__version__",
    "load",
    "log_metadata",
    "pipeline",
    "register_materializer",
    "step",
]

#: names exported lazily (module ``__getattr__``): ``import artvc`` stays light, the pipeline layer is imported
#: on first use of one of them. ``pipeline`` is the ``artvc.pipeline`` package itself, which is callable as the
#: ``@pipeline`` decorator (``artvc/pipeline/__init__.py``).
_LAZY = {
    "Materializer": "artvc.pipeline.materializers",
    "register_materializer": "artvc.pipeline.materializers",
    "step": "artvc.pipeline.flow",
    "load": "artvc.pipeline.flow",
    "log_metadata": "artvc.pipeline.flow",
    "open": "artvc.workspace.reading",  # artvc.open(path, rev=None, version=None, stage=None, remote=None)
    "read": "artvc.workspace.reading",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'artvc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
