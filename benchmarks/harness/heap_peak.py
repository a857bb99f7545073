"""Where an art command's memory goes at its peak: runs art in this process under ``tracemalloc`` and takes a
snapshot each time the resident set grew by ``--step`` MB since the last one; prints the last (the peak's)
grouped by the allocating line, with the traced total and the peak RSS beside it.

    python benchmarks/harness/heap_peak.py [--step 10] [--top 25] [--frames 6] -- pull
    (run inside the repository, as art would be)

tracemalloc sees Python's allocations only (not a C library's own, nor fragmentation): the gap between the
traced total and RSS is the interpreter, the imported modules' code, sqlite's page cache and zstd's contexts.
It also slows the command several-fold and adds ~10% to its memory: for where, not how much.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import tracemalloc


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def rss_parts() -> str:
    """The resident set by kind (anonymous, file-backed: mapped packs or libraries, shared memory: tmpfs maps)."""
    with open("/proc/self/status") as f:
        parts = dict(line.split(":", 1) for line in f if line.startswith(("RssAnon", "RssFile", "RssShmem")))
    return ", ".join(f"{k[3:].lower()} {int(v.split()[0]) / 1024:.0f} MiB" for k, v in parts.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--step", type=float, default=10.0, help="MB of growth between snapshots (default 10)")
    parser.add_argument("--top", type=int, default=25, help="lines to print (default 25)")
    parser.add_argument("--frames", type=int, default=6, help="frames kept per allocation (default 6)")
    parser.add_argument("--group", choices=("lineno", "traceback"), default="lineno")
    parser.add_argument("art", nargs=argparse.REMAINDER, help="the art command line, after --")
    args = parser.parse_args()
    argv = args.art[1:] if args.art[:1] == ["--"] else args.art
    tracemalloc.start(args.frames)
    best: dict = {"rss": 0.0, "snap": None, "traced": 0, "parts": ""}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            now = rss_mb()
            if now >= best["rss"] + args.step:
                parts = rss_parts()
                best.update(rss=now, snap=tracemalloc.take_snapshot(), traced=tracemalloc.get_traced_memory()[0])
                best["parts"] = parts

    threading.Thread(target=watch, daemon=True).start()
    sys.argv = ["art", *argv]
    t = time.perf_counter()
    code = 0
    try:
        from artvc.commands import main as art_main

        art_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        done.set()
        peak_traced = tracemalloc.get_traced_memory()[1]
        import resource

        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out = sys.stderr
        print(
            f"\nheap_peak: art {' '.join(argv)} exited {code} in {time.perf_counter() - t:.1f} s; peak RSS "
            f"{peak_rss:.0f} MiB; traced peak {peak_traced / 2**20:.0f} MiB; last snapshot at RSS "
            f"{best['rss']:.0f} MB ({best['parts']}) with {best['traced'] / 2**20:.0f} MiB traced",
            file=out,
        )
        if best["snap"] is not None:
            snap = best["snap"].filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            for stat in snap.statistics(args.group)[: args.top]:
                where = stat.traceback.format(limit=args.frames) if args.group == "traceback" else [
                    str(stat.traceback[0])
                ]  # fmt: skip
                print(f"{stat.size / 2**20:8.1f} MiB {stat.count:>9,} blocks  {where[-1].strip()}", file=out)
                for line in where[:-1] if args.group == "traceback" else []:
                    print(f"{'':30}{line.strip()}", file=out)
    sys.exit(code)


if __name__ == "__main__":
    main()
