"""The content-addressed store ("plumbing"): no workspace, no config files, no git, no click.

Vocabulary (docs/glossary.md):
  object     immutable bytes in a store, named by its oid (blake3, 64 hex digits)
  chunk      a content-defined slice of a file (FastCDC, 16/64/256 KiB); id = blake3(bytes)
  file       a manifest: ordered (chunk id, length) list; id = blake3 of the whole file (== b3sum)
  tree       a directory: sorted entries (name, kind, executable, id, size); id = derive-key blake3
  run        a lineage record: what one execution consumed and produced
  pack       many objects in one immutable file, sealed with an index; named by its blake3
  store      an object database: packs plus an index (LocalStore on disk, RemoteStore over a transport)

Names are imported lazily so that importing one module of the store stays cheap (CLI start-up time).
The error hierarchy lives in ``artvc.errors`` (``artvc.ArtError``).
"""

import importlib

_EXPORTS = {
    "ArtError": "..errors",
    "Run": ".lineage",
    "FileManifest": ".objects",
    "Kind": ".objects",
    "Tree": ".objects",
    "TreeEntry": ".objects",
    "Oid": ".oid",
    "LocalStore": ".store",
    "ObjectStore": ".store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
