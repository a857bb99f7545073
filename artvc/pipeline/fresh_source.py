"""Stage code is imported from its source as it is now, never from a cached ``.pyc``.

Python trusts a ``__pycache__`` file when the source's modification time, in whole seconds, and its size match
what the ``.pyc`` recorded. An edit that keeps a module's size (``SUFFIX = "!"`` to ``SUFFIX = "?"``, a changed
digit of a learning rate) made within the same second as the last import, or whose time was set back (``cp
-p``, ``rsync -t``, ``touch -d``), is then not seen: the old bytecode runs. art hashes a stage's code from its
source, so the run record and the run cache would file the old code's outputs under the new code's key, and the
wrong result would be restored from the cache from then on.

``install(root)`` puts a path hook in front of the interpreter's own for the folders under the workspace root:
their modules are compiled from the source every time and no bytecode is written for them. Folders of installed
libraries and environments (``site-packages``, ``dist-packages``, ``.venv``, ``__pypackages__``, the running
interpreter's prefix), the folders whose code ``codehash`` does not hash either, keep the ordinary import and
its cache. Call stages (``runner``), Python steps run in another process (``executors.stepmain``)
and Python pipelines run in art's process (``flow.target``) all install it before they import the user's code.
"""

from __future__ import annotations

import os
import sys
from importlib import machinery

# what is not user code (as ``codehash`` decides it): installed libraries, virtual environments
_LIBRARY_DIRS = frozenset({"site-packages", "dist-packages", ".venv", "__pypackages__"})


class _SourceOnlyLoader(machinery.SourceFileLoader):
    """A source loader without bytecode: with no stats of the source, ``SourceLoader.get_code`` neither reads
    nor writes a ``.pyc`` and compiles the source it reads."""

    def path_stats(self, path: str) -> dict:
        raise OSError("art imports workspace modules from source")


def _workspace_hook(root: str):
    prefix = root.rstrip(os.sep) + os.sep
    loaders = [
        (machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),
        (_SourceOnlyLoader, machinery.SOURCE_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES),
    ]

    def hook(path: str) -> machinery.FileFinder:
        where = os.path.abspath(path or os.getcwd())
        inside = where == prefix[:-1] or where.startswith(prefix)
        if not inside or _library(where, prefix):
            raise ImportError("not a workspace folder")  # the next hook (the interpreter's) takes it
        return machinery.FileFinder(where, *loaders)

    hook.art_root = prefix  # type: ignore[attr-defined]
    return hook


def _library(where: str, prefix: str) -> bool:
    if any(part in _LIBRARY_DIRS for part in where[len(prefix) :].split(os.sep)):
        return True
    return any(
        where == p.rstrip(os.sep) or where.startswith(p.rstrip(os.sep) + os.sep)
        for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}
    )


def install(root: str | os.PathLike[str]) -> None:
    """Import modules found under ``root`` from their source from now on (idempotent per root)."""
    base = os.path.abspath(os.fspath(root))
    prefix = base.rstrip(os.sep) + os.sep
    sys.path_hooks[:] = [h for h in sys.path_hooks if getattr(h, "art_root", None) in (None, prefix)]
    if not any(getattr(h, "art_root", None) == prefix for h in sys.path_hooks):
        sys.path_hooks.insert(0, _workspace_hook(base))
    # finders made before the hook for workspace folders would keep reading bytecode
    for key in list(sys.path_importer_cache):
        where = os.path.abspath(key or os.getcwd())
        if where == base or where.startswith(prefix):
            del sys.path_importer_cache[key]
