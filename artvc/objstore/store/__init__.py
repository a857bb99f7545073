"""Object stores: the abstract core, packs, the local store and (remote.py) fsspec-backed stores."""

from .base import ObjectStore, StoreWriter
from .local import LocalStore

__all__ = ["LocalStore", "ObjectStore", "StoreWriter"]
