"""A repository on disk ("porcelain" for data): the same operations as the CLI, as Python functions.

    from artvc.workspace import Repo, add, status, checkout
    with Repo.find() as repo:
        add(repo, ["data/train.csv"])
        print(status(repo).clean)

``artvc.workspace.<verb>`` is always the function of that verb; its module is
``importlib.import_module("artvc.workspace.<verb>")``. Everything loads on first use, so a command imports
only what it runs (CLI start-up time).
"""

import importlib
import sys
import types

_EXPORTS = {
    "AddResult": "add",
    "add": "add",
    "CheckoutResult": "checkout",
    "checkout": "checkout",
    "diff": "diff",
    "FsckResult": "fsck",
    "fsck": "fsck",
    "InitResult": "init",
    "init": "init",
    "ls": "ls",
    "Repo": "repo",
    "StatusResult": "status",
    "status": "status",
}
__all__ = sorted(_EXPORTS)


class _Package(types.ModuleType):
    """Keeps verb names bound to functions when the import system binds submodules of the same name."""

    def __setattr__(self, name, value):
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return  # the submodule stays reachable through sys.modules
        super().__setattr__(name, value)

    def __getattr__(self, name):
        if name in _EXPORTS:
            value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
            super().__setattr__(name, value)
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


sys.modules[__name__].__class__ = _Package
