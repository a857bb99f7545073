"""Where the CPU of one ``art add`` of a large file goes, by stage, from a ``perf record`` of it.

    perf record -e cpu-clock -F 1999 -g -o add.data python -m artvc add big.bin
    python benchmarks/perf_stages.py add.data --hz 1999

Each sample is put in the first stage its call stack shows, leaf first: blake3, FastCDC or zstd by the library
the frame is in (blake3 split by thread: the reader's is the whole-file hash, the pool's the chunk ids); then,
in the kernel, page faults, the read of the file (``do_preadv`` / ``ksys_read`` / ``ksys_pread64``: the copy
into the ring), the pack write (``do_writev`` / ``ksys_write`` / ``ksys_pwrite64``: the copy into the page
cache), writeback requests, ``fadvise``, futex waits and scheduling, sqlite, other kernel work; the interpreter
(split at the first read of the reader thread: before it, start-up); and the rest (libc, ...). Samples of child
processes (``git status``) are counted apart. The reader thread is the one, other than the main thread, with the
most samples in file reads. ms are samples / hz: perf's own overhead (-g) is in them, so compare shares.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
from collections.abc import Iterator

READ = ("do_preadv", "ksys_pread64", "ksys_read")
WRITE = ("do_writev", "ksys_pwrite64", "ksys_write")


def samples(path: str) -> Iterator[tuple[str, int, float, list[str]]]:
    """(command, thread id, time, frames leaf first) of each sample."""
    fields = "tid,comm,time,ip,sym,dso"
    out = subprocess.run(["perf", "script", "-i", path, "-F", fields], capture_output=True, text=True, check=True)
    for block in out.stdout.split("\n\n"):
        lines = [line for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        head = lines[0].split()
        frames = [(line.strip().split(None, 1) + [""])[1] for line in lines[1:]]
        yield head[0], int(head[1]), float(head[2].rstrip(":")), frames


def stage(comm: str, frames: list[str]) -> str:
    if not comm.startswith("python"):
        return "child processes (git status)"
    for frame in frames:
        low = frame.lower()
        for lib, name in (("blake3", "blake3"), ("fastcdc", "FastCDC"), ("zstd", "zstd"), ("zstandard", "zstd")):
            if lib in low:
                return name
    text = " | ".join(frames)
    kernel = bool(frames) and "[kernel" in frames[0]
    if "asm_exc_page_fault" in text:
        return "page faults"
    if any(s in text for s in READ):
        return "read (the kernel's copy)"
    if any(s in text for s in WRITE):
        return "pack write (the kernel's copy)"
    for marker, name in (
        ("sync_file_range", "writeback requests"),
        ("fadvise", "fadvise"),
        ("futex", "futex, scheduling"),
    ):
        if marker in text:
            return name
    if "schedule" in text:
        return "futex, scheduling"
    if "sqlite" in text:
        return "sqlite"
    if kernel:
        return "other kernel"
    if "libpython" in text or "/bin/python" in text:
        return "Python"
    return "other (libc, ...)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="perf.data of one art add")
    parser.add_argument("--hz", type=float, default=1999, help="the -F of the record")
    args = parser.parse_args()
    rows = [(comm, tid, t, frames, stage(comm, frames)) for comm, tid, t, frames in samples(args.data)]
    main_tid = next(tid for comm, tid, _, _, _ in rows if comm.startswith("python"))
    reads = collections.Counter(tid for _, tid, _, _, k in rows if k.startswith("read") and tid != main_tid)
    reader = reads.most_common(1)[0][0] if reads else None
    first_read = min((t for _, tid, t, _, k in rows if k.startswith("read") and tid == reader), default=0.0)
    count: collections.Counter[str] = collections.Counter()
    for _, tid, t, _, k in rows:
        if k == "blake3":
            k = "blake3, whole file (reader)" if tid == reader else "blake3, chunks (pool)"
        elif k == "Python" and t < first_read:
            k = "Python, start-up (before the first read)"
        count[k] += 1
    total = sum(count.values())
    for k, n in count.most_common():
        print(f"{k:45s} {n * 1000 / args.hz:7.0f} ms  {100 * n / total:5.1f}%")
    print(f"{'total':45s} {total * 1000 / args.hz:7.0f} ms")


if __name__ == "__main__":
    main()
