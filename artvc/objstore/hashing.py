"""blake3 lives here only: plain hashes for content, derive-key hashes for structured objects."""

from __future__ import annotations

import blake3

from .oid import Oid

# Context strings for structured objects (blake3 derive-key mode). A tree's id can never collide with a
# chunk or file id of the same bytes, and a format change gets a new context.
CONTEXTS = {
    "tree": "art 2026-11 tree v1",
    "run": "art 2026-11 run v1",
}

# Inputs above this size are hashed with blake3's own threads (both cores).
_THREADED_MIN = 1 << 20


def hash_bytes(data: bytes | memoryview) -> Oid:
    """Return the id of raw content (a chunk, or a whole file): the same as ``b3sum``."""
    return Oid(blake3.blake3(data).digest().hex())  # bytes.hex: 1.6k instructions less than hexdigest


def digest_of(data: bytes | memoryview) -> bytes:
    """The 32 bytes of ``hash_bytes(data)``'s id (``forked_reads`` sends ids as bytes)."""
    return blake3.blake3(data).digest()


def hashes_to(data: bytes | memoryview, oid: str) -> bool:
    """True when raw content ``data`` has id ``oid`` (``hash_bytes(data) == oid`` without making an ``Oid``: the
    check a checkout makes once per small file)."""
    return blake3.blake3(data).digest().hex() == oid


def digest_is(data: bytes | memoryview, digest: bytes) -> bool:
    """Whether ``data`` hashes to ``digest`` (32 bytes): ``hashes_to`` without a hex string on either side."""
    return blake3.blake3(data).digest() == digest


def hash_object(kind: str, payload: bytes) -> Oid:
    """Return the id of a structured object's canonical encoding (derive-key mode, one context per kind)."""
    return Oid(blake3.blake3(payload, derive_key_context=CONTEXTS[kind]).digest().hex())


class ObjectHasher:
    """Incremental ``hash_object``: the id of an encoding fed piece by piece (a tree hashed as it is encoded)."""

    __slots__ = ("_h",)

    def __init__(self, kind: str) -> None:
        self._h = blake3.blake3(derive_key_context=CONTEXTS[kind])

    def update(self, data: bytes | memoryview) -> None:
        self._h.update(data)

    def oid(self) -> Oid:
        return Oid(self._h.hexdigest())


class ContentHasher:
    """Incremental hash of a whole file, fed chunk by chunk; ``oid()`` equals ``b3sum`` of the file."""

    __slots__ = ("_h",)

    def __init__(self, *, threaded: bool = False) -> None:
        self._h = blake3.blake3(max_threads=blake3.blake3.AUTO if threaded else 1)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._h.update(data)

    def oid(self) -> Oid:
        return Oid(self._h.digest().hex())

    def digest(self) -> bytes:
        return self._h.digest()

    def copy(self) -> ContentHasher:
        """An independent hasher in this one's state (what was fed so far)."""
        out = ContentHasher.__new__(ContentHasher)
        out._h = self._h.copy()
        return out


def hash_file(path: str, *, bufsize: int = 1 << 22) -> Oid:
    """Hash a file's content in a streaming pass (a file smaller than ``bufsize`` in one read, with no buffer
    to fill first: most files of a folder of many small ones)."""
    with open(path, "rb", buffering=0) as f:
        data = f.read(bufsize)
        more = f.read(bufsize) if len(data) == bufsize else b""
        if not more:
            threads = blake3.blake3.AUTO if len(data) >= _THREADED_MIN else 1
            return Oid(blake3.blake3(data, max_threads=threads).digest().hex())
        h = ContentHasher(threaded=True)
        h.update(data)
        h.update(more)
        del data, more
        buf = bytearray(bufsize)
        view = memoryview(buf)
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.oid()


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data`` in hex, from CPython's own module when there is one: hashlib loads OpenSSL, ~11 M
    instructions of the start of every command that opens the store or writes a temp file (tmpowner)."""
    import importlib

    for name in ("_sha2", "_sha256"):  # Python 3.12+, 3.11
        try:
            return str(importlib.import_module(name).sha256(data).hexdigest())
        except (ImportError, AttributeError):
            continue
    import hashlib

    return hashlib.sha256(data).hexdigest()
