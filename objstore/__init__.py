"""The content-addressed store ("plumbing"): no workspace, no config files, no git, no click.

Vocabulary (docs/glossary.md):
  object     immutable bytes in a store, named by its oid (blake3, 64 hex digits)
  chunk      a content-defined slice of a file (FastCDC, 16/64/256 KiB); id = blake3(bytes)
  file       a manifest: ordered (chunk id, length) list; id = blake3 of the whole file (== b3sum)
  tree       a directory: sorted entries (name, kind, executable, id, size); id = derive-key blake3
  run        a lineage record: what one execution consumed and produced
  pack       many objects in one immutable file, sealed with an index; named by its blake3
  store      an object database: packs plus an index (LocalStore on disk, FsspecStore on a bucket)
"""

from .errors import ArtError
from .lineage import Run
from .objects import FileManifest, Kind, Tree, TreeEntry
from .oid import Oid
from .store import LocalStore, ObjectStore

__all__ = ["ArtError", "FileManifest", "Kind", "LocalStore", "ObjectStore", "Oid", "Run", "Tree", "TreeEntry"]
