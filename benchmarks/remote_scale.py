"""Remotes at scale: what push and pull cost against a remote holding 10^6 or 10^7 objects (issue 16).

Builds synthetic remotes quickly — index data only: per-pack ``.idx`` files of 1,000 entries written with
art's own encoder (no pack payloads; nothing ever reads them) and, for the v2 layout, the checkpoint table
and manifest written directly in sorted order with art's own encoders (what ``art remote compact`` would
write) — then runs the real ``art`` CLI as a subprocess in a small workspace against each remote and
reports, per operation: requests (the client's count from ``--json``; with ``--s3``, the HTTP requests moto
received, counted by a proxy), index bytes downloaded (growth of the client's remote cache), wall time and
the client's peak RSS.

    python benchmarks/remote_scale.py [--objects 1000000 10000000] [--data-mib 256] [--s3] [--before-max N]

``before``: the same entries as flat v1 indexes without a checkpoint (what every art before the index v2
read: all of them, into memory). Run only up to ``--before-max`` objects (default 10^6: at 10^7 the old
client needs ~5 GB of RAM). ``after``: v2, a checkpoint plus the day's epoch folder.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from blake3 import blake3

from artvc.objstore.hashing import hash_bytes
from artvc.objstore.store import midx
from artvc.objstore.store.pack import ENTRY, IDX_MAGIC

PER_PACK = 1000
OLD_EPOCH = 20260101
GOALS = {"noop_requests": 4, "noop_seconds": 1.0, "rss_mb": 150, "index_share": 0.01}


def synthesize(root: Path, objects: int, *, v2: bool, seed: int = 1) -> dict:
    """Write a remote of ``objects`` synthetic index entries under ``root``; return what was written."""
    t0 = time.perf_counter()
    packs = max(1, objects // PER_PACK)
    rng = random.Random(seed)
    step = (1 << 64) // objects
    tables: list[bytearray] = [bytearray() for _ in range(packs)]
    oids: list[bytes] = []
    for i in range(objects):  # oids increase with i (the prefix), so the whole set is sorted by construction
        oid = struct.pack(">Q", i * step) + rng.randbytes(24)
        oids.append(oid)
        p = i % packs
        tables[p] += ENTRY.pack(oid, 0, 0, 8 + (i // packs) * 64, 64, 64)
    names = [str(hash_bytes(bytes(t))) for t in tables]
    folder = root / "index" / str(OLD_EPOCH) if v2 else root / "index"
    folder.mkdir(parents=True, exist_ok=True)
    idx_bytes = 0
    for name, table in zip(names, tables, strict=True):
        (folder / f"{name}.idx").write_bytes(IDX_MAGIC + table)
        idx_bytes += len(IDX_MAGIC) + len(table)
    del tables
    out = {"objects": objects, "packs": packs, "idx_bytes": idx_bytes}
    if v2:
        order = sorted(range(packs), key=lambda p: names[p])
        rank = {p: r for r, p in enumerate(order)}
        tdir = root / midx.MIDX / "tables"
        tdir.mkdir(parents=True, exist_ok=True)
        tmp = tdir / "building"
        pack_list = b"".join(midx.PACKREC.pack(bytes.fromhex(names[p]), OLD_EPOCH) for p in order)
        blocks = []
        h = blake3()
        with open(tmp, "wb") as f:
            head = midx.TABLE_HEAD.pack(midx.TABLE_MAGIC, packs, objects)
            f.write(head + pack_list)
            h.update(head + pack_list)
            for start in range(0, objects, midx.BLOCK_ENTRIES):
                block = b"".join(
                    midx.REC.pack(oids[i], 0, 0, rank[i % packs], 8 + (i // packs) * 64, 64, 64)
                    for i in range(start, min(objects, start + midx.BLOCK_ENTRIES))
                )
                blocks.append((block[: midx.KEY], str(hash_bytes(block))))
                f.write(block)
                h.update(block)
        name = h.hexdigest()
        tmp.rename(tdir / f"{name}.tbl")
        ref = midx.TableRef(name, str(hash_bytes(pack_list)), objects, packs, tuple(blocks))
        listed_from = midx.epoch_days(OLD_EPOCH, 1)  # as a compaction the day after would have set it
        manifest = midx.encode_manifest(midx.Manifest(1, listed_from, (ref,), frozenset()))
        (root / midx.manifest_path(1, str(hash_bytes(manifest)))).write_bytes(manifest)
        out["checkpoint_bytes"] = len(manifest) + (tdir / f"{name}.tbl").stat().st_size
        out["manifest_bytes"] = len(manifest)
    out["build_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def art(ws: Path, *args: str) -> tuple[dict, float, float]:
    """Run ``art ARGS --json`` in ``ws``; return (its JSON, seconds, peak RSS of the art process in MB)."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stderr.write(p.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(p.stdout)\n"
        "sys.exit(p.returncode)\n"
    )
    exe = str(Path(sys.executable).parent / "art")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", wrapper, exe, *args, "--json"], cwd=ws, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"art {' '.join(args)} failed: {proc.stderr}")
    rss, _, body = proc.stdout.partition("\n")
    return json.loads(body), took, int(rss) / 1024


def cache_bytes(ws: Path) -> int:
    folder = ws / ".art" / "cache" / "remotes"
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def workspace(path: Path, url: str, options: dict, data_mib: int | None, *, compact: bool = True) -> Path:
    path.mkdir(parents=True)
    for cmd in (["git", "init", "-q"], ["git", "config", "user.email", "b@x"], ["git", "config", "user.name", "b"]):
        subprocess.run(cmd, cwd=path, check=True)
    exe = str(Path(sys.executable).parent / "art")
    subprocess.run([exe, "init", "-q"], cwd=path, check=True)
    if not compact:  # "before": a v1 remote stays without a checkpoint, read the way art read every remote
        subprocess.run([exe, "config", "core.compact", "false"], cwd=path, check=True, capture_output=True)
    opts = [x for k, v in options.items() for x in ("-o", f"{k}={json.dumps(v) if not isinstance(v, str) else v}")]
    subprocess.run([exe, "remote", "add", "origin", url, "-d", *opts], cwd=path, check=True, capture_output=True)
    if data_mib:
        with open(path / "data.bin", "wb") as f:
            for _ in range(data_mib):
                f.write(os.urandom(1 << 20))
        subprocess.run([exe, "add", "-q", "data.bin"], cwd=path, check=True)
        subprocess.run(["git", "add", "-A"], cwd=path, check=True)
        subprocess.run(["git", "commit", "-qm", "data"], cwd=path, check=True)
    return path


def scenario(tmp: Path, label: str, url: str, options: dict, data_mib: int, counter=None) -> list[dict]:
    v1 = "-v1-" in label
    rows = []

    def measure(op: str, ws: Path, *args: str, data: int = 0) -> None:
        before = cache_bytes(ws)
        if counter:
            counter.reset()
        got, took, rss = art(ws, *args)
        requests = len(counter.requests) if counter else got.get("requests")
        index = cache_bytes(ws) - before
        rows.append(
            {
                "remote": label,
                "op": op,
                "requests": requests,
                "index_bytes": index,
                "index_share": round(index / data, 4) if data else None,
                "seconds": round(took, 2),
                "rss_mb": round(rss),
            }
        )

    src = workspace(tmp / f"{label}-src", url, options, data_mib, compact=not v1)
    measure("push new data", src, "push", data=data_mib << 20)
    measure("no-op push", src, "push")
    clone = tmp / f"{label}-clone"
    subprocess.run(["git", "clone", "-q", str(src), str(clone)], check=True)
    exe = str(Path(sys.executable).parent / "art")
    opts = [x for k, v in options.items() for x in ("-o", f"{k}={json.dumps(v) if not isinstance(v, str) else v}")]
    subprocess.run([exe, "remote", "add", "origin", url, "-d", "-f", *opts], cwd=clone, check=True, capture_output=True)
    measure("fresh clone pull", clone, "pull", data=data_mib << 20)
    measure("no-op pull", clone, "pull")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--data-mib", type=int, default=256)
    parser.add_argument("--before-max", type=int, default=1_000_000)
    parser.add_argument("--s3", action="store_true", help="also on moto S3 (10^6 only: moto keeps it in memory)")
    args = parser.parse_args()
    rows: list[dict] = []
    builds = []
    with tempfile.TemporaryDirectory(prefix="art-rscale-") as tmpdir:
        tmp = Path(tmpdir)
        for n in args.objects:
            for v2 in (False, True):
                if not v2 and n > args.before_max:
                    continue
                label = f"{n:.0e} {'v2' if v2 else 'v1'} dir"
                root = tmp / f"remote-{n}-{int(v2)}"
                builds.append({"remote": label, **synthesize(root, n, v2=v2)})
                rows += scenario(tmp, label.replace(" ", "-"), str(root), {}, args.data_mib)
                shutil.rmtree(root)
            if args.s3 and n <= 1_000_000:
                rows += s3_rows(tmp, n, args.data_mib, builds)
    print("\nsynthetic remotes:")
    for b in builds:
        print("  " + ", ".join(f"{k}={v}" for k, v in b.items()))
    print(f"\n{'remote':<22}{'operation':<20}{'requests':>9}{'index bytes':>14}{'idx/data':>10}{'s':>8}{'RSS MB':>8}")
    for r in rows:
        share = "" if r["index_share"] is None else f"{r['index_share']:.2%}"
        print(
            f"{r['remote']:<22}{r['op']:<20}{r['requests']!s:>9}{r['index_bytes']:>14,}{share:>10}"
            f"{r['seconds']:>8}{r['rss_mb']:>8}"
        )
    print(f"\ngoals: no-op push/pull <= {GOALS['noop_requests']} index requests (plus the push's lock and root")
    print(
        f"record) and <= {GOALS['noop_seconds']} s; RSS <= {GOALS['rss_mb']} MB; fresh-clone index bytes <= 1% of data"
    )
    print(json.dumps({"builds": builds, "rows": rows}))


def s3_rows(tmp: Path, n: int, data_mib: int, builds: list) -> list[dict]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.servers import RequestCounter, start_moto

    server = start_moto(tmp / "moto")
    rows = []
    try:
        fs = server.filesystem()
        for v2 in (False, True):
            label = f"{n:.0e} {'v2' if v2 else 'v1'} s3"
            bucket = f"rscale-{int(v2)}"
            fs.mkdir(bucket)
            local = tmp / f"s3src-{int(v2)}"
            builds.append({"remote": label, **synthesize(local, n, v2=v2)})
            fs.put(str(local) + "/", f"{bucket}/root/", recursive=True)
            shutil.rmtree(local)
            with RequestCounter(server.port) as counter:
                rows += scenario(
                    tmp,
                    label.replace(" ", "-"),
                    f"s3://{bucket}/root",
                    server.options_for_port(counter.port),
                    data_mib,
                    counter,
                )
    finally:
        server.stop()
    return rows


if __name__ == "__main__":
    main()
