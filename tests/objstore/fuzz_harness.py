"""One entry point per decoder of stored or remote data, used the way art's readers use the result, plus a
valid sample of each format to mutate. Shared by the fuzz tests and the crash-corpus replay.

A decoder may only raise ``ArtError`` (art's own errors): anything else is a crash (exit 70).
"""

from __future__ import annotations

import atexit
import io
import shutil
import struct
import tempfile
from pathlib import Path

from artvc.objstore.hashing import hash_bytes, hash_object
from artvc.objstore.lineage import Run
from artvc.objstore.objects import FileManifest, Kind, Tree, TreeEntry
from artvc.objstore.store import pack
from artvc.objstore.store.remote_read import check_index, verify_payload
from artvc.pipeline import spec
from artvc.workspace.config import Config
from artvc.workspace.lockfile import lock_outputs, parse_lock_text
from artvc.workspace.pointers import Pointer, parse_pointer

OID = hash_bytes(b"fuzz")
_DIRS: list[Path] = []


def _dir() -> Path:
    """A scratch folder for the decoders that read files, made on first use (so under the temp folder the
    test session chose) and removed when the process exits."""
    if not _DIRS:
        _DIRS.append(Path(tempfile.mkdtemp(prefix="art-fuzz-")))
        atexit.register(shutil.rmtree, _DIRS[0], True)
    return _DIRS[0]


def manifest(data: bytes) -> None:
    m = FileManifest.from_bytes(OID, data)
    assert all(len(c.digest) == 32 for c, _ in m.chunks) and sum(n for _, n in m.chunks) == m.size


def tree(data: bytes) -> None:
    # the id is taken from the data itself, so the structure behind the hash check is what gets fuzzed
    t = Tree.from_bytes(hash_object("tree", data), data)
    for e in t.entries:
        e.name.encode()
        e.oid.digest  # noqa: B018 - what checkout does with it
        (e.target or "").encode()


def run(data: bytes) -> None:
    r = Run.from_bytes(hash_object("run", data), data)
    # what workspace/runs.py, pipeline/lineage.py, pipeline/executor.py and commands/lineage.py read
    [(o["oid"], o["path"], o["kind"], o["size"], o.get("files", 1)) for o in r.get("outputs", [])]
    [(i.get("run"), i.get("path", "?"), i.get("oid")) for i in r.get("inputs", [])]
    (r.get("git") or {}).get("commit")
    str(r.get("run_key", "")), r.get("exit_status", 0) == 0, r.get("packages")


def index(data: bytes) -> None:
    for e in pack.decode_index(data):
        Kind(e.kind)
    entries = check_index(hash_bytes(data[len(pack.IDX_MAGIC) :]), data)
    [Kind(e.kind) for e in entries or []]


def trailer(data: bytes) -> None:
    for e in pack.read_trailer(io.BytesIO(data), len(data)):
        Kind(e.kind)


def payload(data: bytes) -> None:
    """kind (1 byte), codec (1 byte), claimed raw length (u32 LE), then the stored bytes."""
    if len(data) < 6:
        return
    kind, codec, raw = data[0], data[1], int.from_bytes(data[2:6], "little")
    stored = data[6:]
    verify_payload(pack.PackEntry(OID, kind, codec, 8, len(stored), raw), stored)


def payload_unchecked(data: bytes) -> None:
    """``unpack_payload`` alone (the local store's path), for every kind."""
    if len(data) < 6:
        return
    pack.unpack_payload(data[1], data[6:], int.from_bytes(data[2:6], "little"), data[0] % 4)


def pointer(data: bytes) -> None:
    parse_pointer(data, where="fuzz.art")


def lock(data: bytes) -> None:
    for path, p, stage in lock_outputs(parse_lock_text(data)):
        path.encode(), p.oid.digest, stage.encode()


def arttoml(data: bytes) -> None:
    root = _dir() / "pipeline"
    root.mkdir(exist_ok=True)
    (root / spec.PIPELINE_NAME).write_bytes(data)
    spec.load(root, check_deps=False)


def config(data: bytes) -> None:
    art = _dir() / "art"
    art.mkdir(exist_ok=True)
    (art / "config").write_bytes(data)
    c = Config(art)
    [c.core(k) for k in ("jobs", "remote", "fsync", "store", "gc_grace")]
    [dict(r) for r in c.remotes.values()]


def storeconfig(data: bytes) -> None:
    from artvc.objstore.store.local import LocalStore

    root = _dir() / "store"
    root.mkdir(exist_ok=True)
    (root / "config").write_bytes(data)
    LocalStore(root).close()


DECODERS = {
    "manifest": manifest,
    "tree": tree,
    "run": run,
    "index": index,
    "trailer": trailer,
    "payload": payload,
    "payload_unchecked": payload_unchecked,
    "pointer": pointer,
    "lock": lock,
    "arttoml": arttoml,
    "config": config,
    "storeconfig": storeconfig,
}
MSGPACK = ("manifest", "tree", "run")
TOML = ("pointer", "lock", "arttoml", "config", "storeconfig")


def _sample_pack() -> bytes:
    import zstandard

    buf = io.BytesIO()
    w = pack.PackWriter(buf)
    z = zstandard.ZstdCompressor(write_checksum=True).compress(b"a" * 1000)
    w.add(hash_bytes(b"a" * 1000), 0, pack.ZSTD, z, 1000)
    w.add(hash_bytes(b"q"), 2, pack.RAW, b"0123456789", 10)
    w.seal()
    return buf.getvalue()


def seeds() -> dict[str, list[bytes]]:
    """A valid encoding of each format (what mutations start from)."""
    import zstandard

    t = Tree.build(
        [
            TreeEntry("b.txt", "file", hash_bytes(b"b"), 1, executable=True),
            TreeEntry("sub", "dir", OID, 10),
            TreeEntry("link", "symlink", hash_bytes(b"a"), 0, target="a"),
        ]
    )
    m = FileManifest(OID, 30, ((OID, 10), (hash_bytes(b"y"), 20)))
    r = Run(
        {
            "kind": "stage",
            "stage": "s",
            "cmd": "x",
            "started": "2026-11-25T14:51:03.120Z",
            "duration": 0.5,
            "outputs": [{"path": "a", "oid": OID, "kind": "file", "size": 3, "files": 1}],
            "inputs": [{"path": "b", "oid": OID, "kind": "file", "run": None}],
            "params": {"p": {"q": 1.5}},
            "code": {"x.py": OID},
            "exit_status": 0,
            "git": {"commit": None, "dirty": False},
            "packages": OID,
        }
    )
    packed = _sample_pack()
    (length,) = struct.unpack("<Q", packed[-16:-8])
    z = zstandard.ZstdCompressor(write_checksum=True).compress(b"a" * 1000)
    lock_text = (
        f'version = 1\n[stages.a]\ncmd = "x"\ncode_hash = "h"\nrun = "{OID}"\n'
        f'[[stages.a.deps]]\npath = "in"\nid = "{OID}"\nkind = "file"\n'
        f'[[stages.a.outs]]\npath = "d"\nid = "{OID}"\nkind = "dir"\nsize = 1\nfiles = 1\n'
    ).encode()
    return {
        "manifest": [m.to_bytes()],
        "tree": [t.to_bytes()],
        "run": [r.to_bytes()],
        "index": [pack.IDX_MAGIC + packed[-16 - length : -16]],
        "trailer": [packed],
        "payload": [
            bytes([0, 1]) + (1000).to_bytes(4, "little") + z,
            bytes([2, 0]) + len(t.to_bytes()).to_bytes(4, "little") + t.to_bytes(),
        ],
        "payload_unchecked": [bytes([0, 1]) + (1000).to_bytes(4, "little") + z],
        "pointer": [Pointer(OID, "file", 3, 1).to_text().encode()],
        "lock": [lock_text],
        "arttoml": [b'[stages.a]\ncmd = "x"\ndeps = ["a"]\nouts = ["b"]\nparams = ["p"]\ncode = ["c.py"]\n'],
        "config": [b'[core]\njobs = 2\nremote = "origin"\n[remotes.origin]\nurl = "/tmp/x"\n[gc]\n[hooks]\n'],
        "storeconfig": [b'format = 1\ncompression = "zstd"\nmin_size = 16384\navg_size = 65536\nmax_size = 262144\n'],
    }
