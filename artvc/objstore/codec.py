"""The one validating layer between stored bytes and art's values: msgpack and TOML decoding, format limits.

msgpack lives here only: the canonical encoding shared by every structured object. Canonical means equal
values always encode to equal bytes: maps are written with sorted keys, strings as UTF-8 ``str``, binary as
``bin``, integers in their shortest form. ``decode`` refuses anything over the format limits below, and
``decode_canonical`` also refuses an encoding that art would not have written.

Every decoder of stored data (objects, pack entries, pointers, ``art.lock``, ``art.toml``, configs) goes
through here or checks the limits named here; every failure is a ``FormatError`` (or the caller's own
``ArtError`` subclass), never another exception. The limits are documented in docs/formats.md. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from ..errors import ArtError, FormatError

# --- format limits (docs/formats.md#limits) -------------------------------------------------------------------
MAX_CHUNK_SIZE = 16 << 20  # the largest chunk FastCDC can cut (pyfastcdc's own upper bound on max_size)
MAX_METADATA_SIZE = 256 << 20  # a file manifest, tree or run, uncompressed
MAX_PACK_ENTRIES = 1 << 20  # objects in one pack (writers start a new pack first)
MAX_NAME_BYTES = 255  # one name in a tree (NAME_MAX)
MAX_TARGET_BYTES = 4096  # a symlink target (PATH_MAX)
MAX_STR_LEN = 1 << 20  # any msgpack string
MAX_SIZE = (1 << 63) - 1  # any size field
MAX_TOML_BYTES = {
    "pointer": 64 << 10,
    "config": 1 << 20,
    "store config": 64 << 10,
    "art.toml": 16 << 20,
    "art.lock": 256 << 20,
}


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def encode(value: Any, *, maps: bool = True) -> bytes:
    """Encode ``value`` canonically (sorted map keys, bin for bytes).

    ``maps=False`` is for values without maps (manifests, trees), encoded as they are, without the pass that
    sorts map keys (as ``decode_canonical`` checks them).

    Raises:
        FormatError: when the encoding would exceed ``MAX_METADATA_SIZE`` (art could not read it back).
    """
    import msgpack  # on first use: ``art status`` encodes and decodes nothing

    data: bytes = msgpack.packb(_canonical(value) if maps else value, use_bin_type=True)
    if len(data) > MAX_METADATA_SIZE:
        raise FormatError(f"object of {len(data)} bytes exceeds the format limit of {MAX_METADATA_SIZE} bytes")
    return data


def item_encoder() -> Callable[[Any], bytes]:
    """``encode`` of one value without maps and without the size check, for a caller that writes a large array
    item by item (``array_header``, then each item): the bytes are those ``encode`` gives the whole array."""
    import msgpack

    pack: Callable[[Any], bytes] = msgpack.Packer(use_bin_type=True).pack
    return pack


def array_header(n: int) -> bytes:
    """The canonical header of an array of ``n`` items."""
    import msgpack

    header: bytes = msgpack.Packer().pack_array_header(n)
    return header


def iter_canonical_array(data: bytes, *, what: str, head: int, batch: int = 1024) -> Iterator[Any]:
    """Decode ``data``, an array of ``head`` values and then one array, as ``decode_canonical`` with
    ``maps=False`` would, a part at a time: yield the ``head`` values, then the inner array's items in lists of
    up to ``batch``, each list checked to be canonically encoded (one re-encoding) before it is yielded (a tree
    of a million entries is never decoded whole).

    Raises:
        FormatError: when ``data`` is not such an array, within the limits, canonically encoded.
    """
    import msgpack

    n = len(data)
    if n > MAX_METADATA_SIZE:
        raise FormatError(f"{what} has {n} bytes, over the limit of {MAX_METADATA_SIZE}")
    up = msgpack.Unpacker(
        raw=False, strict_map_key=True, use_list=True, max_str_len=min(n, MAX_STR_LEN), max_bin_len=n,
        max_array_len=n, max_map_len=n, max_ext_len=0,
    )  # fmt: skip
    whole = memoryview(data) if isinstance(data, bytes | bytearray) else data  # or read by slices (pulled_tree)
    fed = min(n, _FEED)
    up.feed(whole[:fed])  # a window at a time: the unpacker's buffer never holds a second copy of a large array

    def unpack() -> Any:
        nonlocal fed
        while True:
            try:
                return up.unpack()
            except msgpack.OutOfData:
                if fed >= n:
                    raise
                up.feed(whole[fed : fed + _FEED])
                fed += _FEED

    try:
        if up.read_array_header() != head + 1:
            raise FormatError(f"{what} is malformed")
        values = [unpack() for _ in range(head)]
        yield from values
        count = up.read_array_header()
        pos = up.tell()
        if data[:pos] != array_header(head + 1) + b"".join(map(item_encoder(), values)) + array_header(count):
            raise FormatError(f"{what} is not canonically encoded")
        pack = item_encoder()
        while count:
            items = [unpack() for _ in range(min(batch, count))]
            count -= len(items)
            end = up.tell()
            encoded = pack(items)  # the list's own header, then its items as they must be encoded
            if memoryview(encoded)[len(array_header(len(items))) :] != whole[pos:end]:
                raise FormatError(f"{what} is not canonically encoded")
            pos = end
            yield items
    except (ValueError, msgpack.UnpackException, TypeError, RecursionError) as exc:
        raise FormatError(f"{what} is not valid msgpack: {_reason(exc)}") from exc
    if pos != n:
        raise FormatError(f"{what} is not valid msgpack: extra data after it")


_FEED = 64 << 10  # bytes handed to the streaming decoder at a time


def decode(data: bytes | memoryview, *, what: str = "object") -> Any:
    """Decode one msgpack value within the format limits (str/bin/array/map lengths, no ext types, str keys).

    Raises:
        FormatError: when ``data`` is not a single valid msgpack value within the limits.
    """
    n = len(data)
    if n > MAX_METADATA_SIZE:
        raise FormatError(f"{what} has {n} bytes, over the limit of {MAX_METADATA_SIZE}")
    import msgpack

    try:
        # every element takes at least one byte, so no count can exceed the payload's length
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=min(n, MAX_STR_LEN),
            max_bin_len=n,
            max_array_len=n,
            max_map_len=n,
            max_ext_len=0,
        )
    except (ValueError, msgpack.UnpackException, TypeError, RecursionError) as exc:
        raise FormatError(f"{what} is not valid msgpack: {_reason(exc)}") from exc


def decode_canonical(data: bytes | memoryview, *, what: str = "object", maps: bool = True) -> Any:
    """Decode like ``decode`` and check that art would encode the value to exactly these bytes.

    ``maps=False`` is for formats without maps (manifests, trees: their checkers refuse a map anywhere), where
    re-encoding the decoded value as it is (in C, without sorting) is the whole check.

    Raises:
        FormatError: when the value is invalid or not canonically encoded.
    """
    value = decode(data, what=what)
    import msgpack

    try:
        same = msgpack.packb(_canonical(value) if maps else value, use_bin_type=True) == bytes(data)
    except (ValueError, TypeError, RecursionError):
        same = False
    if not same:
        raise FormatError(f"{what} is not canonically encoded")
    return value


def is_int(value: object, lo: int = 0, hi: int = MAX_SIZE) -> bool:
    """True for an ``int`` (not a bool) in [lo, hi]."""
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def is_str(value: object, max_bytes: int = MAX_STR_LEN, *, empty: bool = True) -> bool:
    """True for a ``str`` of at most ``max_bytes`` UTF-8 bytes (and not empty unless ``empty``)."""
    if not isinstance(value, str) or (not empty and not value) or len(value) > max_bytes:
        return False
    return len(value) * 4 <= max_bytes or len(value.encode("utf-8", "surrogatepass")) <= max_bytes


def is_digest(value: object) -> bool:
    """True for a raw 32-byte blake3 digest."""
    return isinstance(value, bytes) and len(value) == 32


def toml_loads(
    data: bytes | str, *, what: str, kind: str, error: type[ArtError] = FormatError, hint: str | None = None
) -> dict[str, Any]:
    """Parse TOML text of a stored file of ``kind`` (a key of ``MAX_TOML_BYTES``), bounded in size and depth.

    Raises:
        ``error``: when the text is too large, not UTF-8, not valid TOML or nested too deeply.
    """
    limit = MAX_TOML_BYTES[kind]
    if len(data) > limit:
        raise error(f"{what} is too large ({len(data)} bytes, the limit is {limit})", hint=hint)
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not valid TOML: not UTF-8 text ({_reason(exc)})", hint=hint) from exc
    plain = plain_toml(text)
    if plain is not None:
        return plain
    import tomllib  # on first use: the files art writes itself (pointers, a new config) are read by plain_toml

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} is not valid TOML: {exc}", hint=hint) from exc
    except RecursionError as exc:
        raise error(f"{what} is not valid TOML: nested too deeply", hint=hint) from exc


_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def plain_toml(text: str) -> dict[str, Any] | None:
    """What ``tomllib.loads`` gives for the plain TOML art writes (pointers, a new ``.art/config``), or None for
    anything else (then tomllib decides): lines that are blank, a comment, a ``[table]`` or ``[table.sub]`` header
    (the remotes of ``.art/config``), or
    ``key = value`` where the key is bare and the value a decimal integer without sign or a one-line string
    without escapes or quotes; every key and table at most once. Importing tomllib (which compiles its regular
    expressions) was ~6% of the instructions of ``art status``."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")  # CRLF ends a line too; a lone CR is not TOML
        if "\r" in text:
            return None
    out: dict[str, Any] = {}
    table = out
    for line in text.split("\n"):
        line = line.strip(" \t")
        if not line or line[0] == "#":
            if not _text(line):
                return None  # a comment holding a control character is not TOML
            continue
        if line[0] == "[":
            name = line[1:-1].strip(" \t")
            if line[-1] != "]" or not name:
                return None
            *parents, last = name.split(".")  # ``[remotes.origin]``: a table in a table
            table = out
            for part in parents:
                table = table.setdefault(part, {})
                if not isinstance(table, dict) or not _BARE.issuperset(part) or not part:
                    return None
            if not last or not _BARE.issuperset(last) or last in table:
                return None  # (a table defined before, even implicitly by a dotted header: tomllib decides)
            table[last] = table = {}
            continue
        key, eq, value = line.partition("=")
        key, value = key.rstrip(" \t"), value.strip(" \t")
        if not eq or not key or not _BARE.issuperset(key) or key in table or not value:
            return None
        if value[0] == '"' and len(value) >= 2 and value[-1] == '"':
            inner = value[1:-1]
            if '"' in inner or "\\" in inner or not _text(inner):
                return None
            table[key] = inner
        elif value.isascii() and value.isdigit() and (value == "0" or value[0] != "0"):
            table[key] = int(value)
        else:
            return None
    return out


def _text(s: str) -> bool:
    """True when ``s`` holds no control character but tabs (what TOML allows in comments and strings)."""
    return s.isprintable() or all(c == "\t" or " " <= c != "\x7f" for c in s)


def read_limited(
    f: BinaryIO, *, what: str, kind: str, error: type[ArtError] = FormatError, hint: str | None = None
) -> bytes:
    """Read an open binary file of ``kind`` whole, refusing one over its limit without reading it all."""
    limit = MAX_TOML_BYTES[kind]
    data = f.read(limit + 1)
    if len(data) > limit:
        raise error(f"{what} is too large (over {limit} bytes)", hint=hint)
    return data


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
