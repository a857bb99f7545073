"""Local store at 1 M chunks (100 GiB of 64 KiB chunks): index open time, lookup time, index size, memory.

Fills a store's index with N synthetic pack entries (no payload is written), reopens it and times lookups:
an index lookup must not scan, and opening the store must not load every entry into Python objects.

    python benchmarks/store_scale.py [--chunks 1000000]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

from artvc.objstore.oid import Oid
from artvc.objstore.store.local import LocalStore
from artvc.objstore.store.pack import PackEntry

PER_PACK = 10_000


def fill(root: str, chunks: int) -> list[PackEntry]:
    store = LocalStore(root)
    sample: list[PackEntry] = []
    for p in range(max(1, chunks // PER_PACK)):
        entries = [PackEntry(Oid(os.urandom(32).hex()), 0, 0, 8 + i * 65536, 65536, 65536) for i in range(PER_PACK)]
        store._index_pack(f"{p:064x}", PER_PACK * 65536, entries)
        sample.extend(entries[:: PER_PACK // 10])
    store.close()
    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="art-scale-") as root:
        t = time.perf_counter()
        sample = fill(root, args.chunks)
        filled = time.perf_counter() - t
        t = time.perf_counter()
        store = LocalStore(root)
        opened = time.perf_counter() - t
        t = time.perf_counter()
        hits = sum(store.has(e.oid, 0) for e in sample)
        misses = sum(store.has(Oid(os.urandom(32).hex()), 0) for _ in range(len(sample)))
        looked = time.perf_counter() - t
        size = os.path.getsize(os.path.join(root, "index.db"))
        store.close()
    n = 2 * len(sample)
    print(f"chunks indexed      {args.chunks:,} in {filled:.1f} s")
    print(f"open store          {opened * 1000:.1f} ms")
    print(f"lookup (hit, miss)  {looked / n * 1e6:.1f} us each over {n:,} lookups ({hits} hits, {misses} false hits)")
    print(f"index.db            {size / 2**20:.0f} MiB")
    print(f"peak RSS            {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
