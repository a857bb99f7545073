"""art: content-addressed artifact versioning for ML and data pipelines (import namespace ``artvc``)."""

from typing import Any

from .errors import ArtError

__version__ = "0.1.0"
# open and read are not in __all__: ``from artvc import *`` must not shadow the built-in open
__all__ = ["ArtError", "Materializer", "__version__", "register_materializer"]

#: names exported lazily (module ``__getattr__``): ``import artvc`` stays light, the pipeline layer is imported
#: on first use of one of them
_LAZY = {
    "Materializer": "artvc.pipeline.materializers",
    "register_materializer": "artvc.pipeline.materializers",
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
