"""Large files (512 MiB - 10 GiB): add, checkout, push and pull beside their floors, measured in the same run.

For each size and kind (``random``: incompressible; ``csv``: CSV-like text that zstd shrinks about 2x) it
generates one seeded file and, per repeat, times each step as a child process (wall time, user+sys CPU
and peak RSS from ``wait4``, bytes read from ``/proc/self/io`` at exit) right after its floor:

| step | art command | floor timed beside it |
| --- | --- | --- |
| add (disk) | ``art add big`` in a fresh repository | ``cp`` + ``sync`` (fsync) of the file |
| checkout (disk) | ``art checkout big`` after ``big`` was deleted | ``cp`` + ``sync`` of the file (and work, below) |
| push (disk) | ``art push`` to an empty directory remote | ``cp`` + ``sync`` of the file |
| pull (disk) | ``art pull`` in a fresh ``git clone`` (fetch + checkout) | ``cp`` + ``sync`` (and twice, below) |
| pull_lazy (disk) | ``art pull --lazy`` in a fresh clone (the file written once, promised) | ``cp`` + ``sync`` |
| add (tmpfs) | ``art add big`` with repository and file in /dev/shm | ``cp`` on /dev/shm |
| checkout (tmpfs) | ``art checkout big`` there | ``cp`` on /dev/shm |

plus the raw cost of the work with the same libraries art uses (blake3, pyfastcdc, zstandard), on 1 and
on 2 threads: 16 MiB reads, FastCDC over each buffer, blake3 and zstd level 1 of every chunk, the whole
buffer hashed once more (the file hash); on 1 thread each part is timed alone too, and zstd decompression
of every chunk (checkout's work), and, outside the work's wall, the cost of writing as many bytes to a file beside
it (what storing them in a pack adds). Two more floors are printed under their rows: checkout's raw work on 2
threads (zstd decompression of the file's chunks, stored as art stores them, with the whole-file blake3 in
order on the main thread, from memory; prepared for at most 512 MiB of the file and scaled), and pull's
"write twice" floor (``cp f a && cp f b && sync``: a pull that keeps a store on a filesystem without
reflinks writes every byte twice, once into the store and once into the workspace). Times are medians of
``--repeat``; each verdict compares medians of the same run. art runs with its default configuration (no
fsync): its time is what the user waits for; the ``+sync`` column adds an fsync of every file it wrote, for
comparison with the durable floor. art runs as installed: its modules are byte-compiled before the first
timing and its children run without ``PYTHONDONTWRITEBYTECODE`` (else each command compiles art from
source, about 0.1 s of CPU).

    python benchmarks/large_files.py                           # 512M and 4G, random and csv, 3 repeats
    python benchmarks/large_files.py --quick                   # 512M, both kinds, 1 repeat, no tmpfs
    python benchmarks/large_files.py --sizes 512M --kinds random --steps add,checkout
    python benchmarks/large_files.py --json out.json           # also every sample as JSON
    python benchmarks/large_files.py --sizes 4G --kinds random --repeat 3 --work-repeat 1 --shm ''

Run it with a Python that imports ``artvc`` (the default art command is that Python's ``-m artvc``).
``--fresh-fs`` (the default as root with loop devices, ``harness/fresh_fs.py``): every disk sample, floor and
art alike, writes into a new loop-mounted ext4 with a journal (the add's repository with an untimed copy of the
file, the checkout's copy of the repository without the file, each remote, clone and floor copy), dropped right
after it, so no sample inherits the last one's freed blocks or dirty pages. Disk use on the scratch filesystem
peaks at about 7x the largest size with it (the master, repository, remote, clone and pull's two floor copies
in their file systems), 4x without, whatever ``--repeat``: the run refuses to start when that does not fit;
/dev/shm (RAM) at 3x.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness.core import wait_idle  # benchmarks/ is not a package
from harness.fresh_fs import FreshFs, fits, unavailable
from harness.iocount import WRAP, read_counters

MIB = 1 << 20
GIB = 1 << 30
BLOCK = 16 * MIB
STEPS = ("work", "add", "checkout", "push", "pull", "pull_lazy", "add_tmpfs", "checkout_tmpfs")
RSS_GOAL_MB = 150
READ_SLACK = 32 * MIB  # add reads the file once: bytes read <= size + this (Python's own imports, the index)
# step -> (factor, floor name); floors: "cp" is cp+sync on disk or cp on tmpfs, "work2" the raw work on 2 threads.
# add on disk: issue 19 asks for <= 1.15x cp+sync, but on a machine whose 2 cores do the raw work slower than the
# disk copies the file (work2 > cp+sync), that goal is below what any program doing the work can reach: the
# verdict is against the larger of the two, and the "vs cp" column keeps the ratio to cp+sync alone
GOALS = {
    "add": (1.15, "max(work2,cp)"),
    "add_tmpfs": (1.3, "max(work2,cp)"),
    "checkout": (1.2, "cp"),
    "pull": (1.3, "cp"),
    "pull_lazy": (1.3, "cp"),
}

RAW = """\
import json, sys, threading, time, queue
import blake3, zstandard
from pyfastcdc import FastCDC
path, threads, block = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sink = open(sys.argv[4], "wb", buffering=0) if len(sys.argv) > 4 else None  # write what is stored, as a pack
sink_lock = threading.Lock()
parts = dict(read=0.0, fastcdc=0.0, blake3_chunks=0.0, blake3_file=0.0, zstd=0.0, unzstd=0.0, write=0.0)
chunks = stored = 0
pc = time.perf_counter

def work(buf, timed, file_hash):
    cdc = FastCDC(64 * 1024, min_size=16 * 1024, max_size=256 * 1024)
    cctx = zstandard.ZstdCompressor(level=1, write_checksum=True)
    dctx = zstandard.ZstdDecompressor()
    t = pc()
    cuts = [c.data for c in cdc.cut_buf(buf)]
    if timed:
        parts["fastcdc"] += pc() - t
    n = s = 0
    for c in cuts:
        t1 = pc()
        blake3.blake3(c).digest()
        t2 = pc()
        z = cctx.compress(c)
        t3 = pc()
        if timed:
            dctx.decompress(z, max_output_size=len(c))
            parts["unzstd"] += pc() - t3
            parts["blake3_chunks"] += t2 - t1
            parts["zstd"] += t3 - t2
        n += 1
        s += min(len(z), len(c))
        if sink is not None:
            with sink_lock:  # one writer at a time, appended in turn (a pack's order is the writers')
                sink.write(z if len(z) < len(c) else c)
    t4 = pc()
    file_hash.update(buf)
    if timed:
        parts["blake3_file"] += pc() - t4
    return n, s

start = pc()
with open(path, "rb", buffering=0) as f:
    if threads == 1:
        file_hash = blake3.blake3()
        buf = bytearray(block)
        while True:
            t = pc()
            got = f.readinto(buf)
            parts["read"] += pc() - t
            if not got:
                break
            n, s = work(memoryview(buf)[:got], True, file_hash)
            chunks += n
            stored += s
    else:
        q = queue.Queue(maxsize=threads)
        free = queue.Queue()
        for _ in range(threads + 1):
            free.put(bytearray(block))
        lock = threading.Lock()
        def worker():
            global chunks, stored
            while (item := q.get()) is not None:
                buf, got = item
                n, s = work(memoryview(buf)[:got], False, blake3.blake3())
                with lock:
                    chunks += n
                    stored += s
                free.put(buf)
        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for p in pool:
            p.start()
        while True:
            buf = free.get()
            got = f.readinto(buf)
            if not got:
                break
            q.put((buf, got))
        for p in pool:
            q.put(None)
        for p in pool:
            p.join()
if sink is not None:
    sink.close()
wall = pc() - start
if threads == 1 and sink is None:  # not in the work's wall: what writing the file's bytes once (a pack) costs beside it
    import os
    out = path + ".write-test"
    buf = bytearray(block)
    left = os.path.getsize(path)
    t = pc()
    with open(out, "wb", buffering=0) as g:
        while left > 0:
            left -= g.write(memoryview(buf)[: min(block, left)])
    parts["write"] = pc() - t
    os.unlink(out)
print(json.dumps(dict(wall=wall, chunks=chunks, stored=stored, parts=parts if threads == 1 else {})))
"""


# checkout's raw work on 2 threads: zstd decompression of the file's chunks (as art stores them: zstd level 1,
# raw when that does not shrink a chunk) on 2 threads, and the whole-file blake3 in order on the main thread
# (checkout verifies the file that way), from memory: no read, no write. The chunks are prepared untimed, for at
# most ``limit`` bytes of the file (memory); the caller scales the times to the whole file.
RAW_BACK = """\
import json, resource, sys, threading, time, queue
import blake3, zstandard
from pyfastcdc import FastCDC
path, block, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cdc = FastCDC(64 * 1024, min_size=16 * 1024, max_size=256 * 1024)
cctx = zstandard.ZstdCompressor(level=1, write_checksum=True)
blocks, done = [], 0
with open(path, "rb", buffering=0) as f:
    while done < limit and (buf := f.read(min(block, limit - done))):
        chunks = []
        for c in cdc.cut_buf(buf):
            z = cctx.compress(c.data)
            chunks.append((z, len(c.data)) if len(z) < len(c.data) else (bytes(c.data), -1))
        blocks.append(chunks)
        done += len(buf)
todo, results = queue.Queue(), [None] * len(blocks)
ready = [threading.Event() for _ in blocks]
for i in range(len(blocks)):
    todo.put(i)
def worker():
    dctx = zstandard.ZstdDecompressor()
    while True:
        try:
            i = todo.get_nowait()
        except queue.Empty:
            return
        results[i] = [z if n < 0 else dctx.decompress(z, max_output_size=n) for z, n in blocks[i]]
        ready[i].set()
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c0, t0 = cpu(), time.perf_counter()
pool = [threading.Thread(target=worker) for _ in range(2)]
for p in pool:
    p.start()
h = blake3.blake3()
for i in range(len(blocks)):
    ready[i].wait()
    for piece in results[i]:
        h.update(piece)
    results[i] = None
for p in pool:
    p.join()
print(json.dumps(dict(wall=time.perf_counter() - t0, cpu=cpu() - c0, bytes=done)))
"""


@dataclass
class Run:
    wall: float
    cpu: float = 0.0
    rss_mb: float = 0.0
    rchar: int = 0
    read_bytes: int = 0
    sync: float = 0.0  # fsync of what the command wrote, after it returned
    extra: dict = field(default_factory=dict)


@dataclass
class Ctx:
    python: str
    art: list[str]
    env: dict[str, str]
    base: Path
    pause: float
    rows: dict[tuple[str, str, str], list[Run]] = field(default_factory=dict)  # (case, step, who) -> runs
    fs: FreshFs | None = None  # --fresh-fs: every sample writes into a new file system
    work_repeat: int = 0  # samples of the raw work (CPU only, no disk), 0: --repeat

    def add(self, case: str, step: str, who: str, run: Run) -> None:
        self.rows.setdefault((case, step, who), []).append(run)


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": MIB, "G": GIB}.get(text[-1:], 1)
    return int(float(text.rstrip("KMG")) * mult)


def size_label(n: int) -> str:
    return f"{n // GIB}G" if n % GIB == 0 else f"{n // MIB}M"


def generate(path: Path, size: int, kind: str, seed: int) -> None:
    """Seeded data: blake3's XOF stream (random), or that stream mapped onto a CSV-like alphabet."""
    import blake3

    alphabet = (b"0123456789" * 20 + b"," * 24 + b"." * 11 + b"\n" * 6 + b"-" * 5 + b"abcdefghij") * 2
    table = alphabet[:256]
    with open(path, "wb") as f:
        for i in range(0, size, BLOCK):
            n = min(BLOCK, size - i)
            data = blake3.blake3(f"{seed}:{i}".encode()).digest(length=n)
            f.write(data if kind == "random" else data.translate(table))
        os.fsync(f.fileno())


def file_hash(path: Path) -> str:
    import blake3

    h = blake3.blake3(max_threads=2)  # read, not mapped: the harness's RSS would show in its children's (wait4)
    buf = bytearray(BLOCK)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(memoryview(buf)[:n])
    return h.hexdigest()


def fsync_paths(paths: list[Path]) -> None:
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def new_files(root: Path, since: float) -> list[Path]:
    out = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = Path(dirpath, name)
            try:
                if p.stat().st_mtime >= since:
                    out.append(p)
            except FileNotFoundError:
                pass
    return out


def run_timed(ctx: Ctx, cmd: list[str], cwd: Path, *, disk: bool, wrote: list[Path] | None = None) -> Run:
    """Run ``cmd`` as a child after the disk went quiet; fsync ``wrote`` (files, or folders to scan for files
    written during the run) afterwards and time that apart. art commands go through WRAP for /proc/self/io."""
    if disk:
        wait_idle(ctx.base, ctx.pause, 0.5)
    io_file = None
    if cmd and cmd[0] == "ART":
        fd, io_file = tempfile.mkstemp(prefix="art-io-")
        os.close(fd)
        cmd = [*ctx.art[:1], "-c", WRAP, io_file, *cmd[1:]] if ctx.art[1:] == ["-m", "artvc"] else [*ctx.art, *cmd[1:]]
    since = time.time() - 1
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=ctx.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if proc.stderr:
        proc.stderr.close()
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    run = Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
    if io_file:
        io = read_counters(io_file)
        os.unlink(io_file)
        run.rchar, run.read_bytes = io.get("rchar", 0), io.get("read_bytes", 0)
    if code != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {code}: {err.decode(errors='replace').strip()[-600:]}")
    if disk and wrote:
        files = [f for p in wrote for f in (new_files(p, since) if p.is_dir() else [p])]
        t = time.perf_counter()
        fsync_paths(files)
        run.sync = time.perf_counter() - t
    return run


def floor_cp(ctx: Ctx, src: Path | list[Path], dst: Path, *, disk: bool) -> Run:
    """cp (+ fsync on disk) of ``src`` to ``dst``, or of several files into the new folder ``dst``."""
    if isinstance(src, list):
        dst.mkdir()
        run = run_timed(ctx, ["cp", *map(str, src), str(dst)], dst.parent, disk=disk, wrote=[dst])
        shutil.rmtree(dst)
    else:
        run = run_timed(ctx, ["cp", str(src), str(dst)], dst.parent, disk=disk, wrote=[dst])
        dst.unlink()
    run.wall += run.sync  # the floor is cp + sync
    return run


def floor_cp2(ctx: Ctx, src: Path | list[Path], root: Path) -> Run:
    """The floor of a pull that keeps a store on a filesystem without reflinks: the bytes written twice,
    ``cp src a && cp src b`` + sync of both."""
    srcs = shlex.join(map(str, src if isinstance(src, list) else [src]))
    a, b = root / "copy-a", root / "copy-b"
    a.mkdir()
    b.mkdir()
    run = run_timed(ctx, ["sh", "-c", f"cp {srcs} {a} && cp {srcs} {b}"], root, disk=True, wrote=[a, b])
    shutil.rmtree(a)
    shutil.rmtree(b)
    run.wall += run.sync
    return run


BACK_LIMIT = 512 * MIB  # raw_back prepares at most this much of the file (its compressed chunks stay in memory)


def raw_back(ctx: Ctx, path: Path, size: int) -> Run:
    """checkout's raw work on 2 threads (``RAW_BACK``), scaled to the whole file."""
    proc = subprocess.run(
        [ctx.python, "-c", RAW_BACK, str(path), str(BLOCK), str(BACK_LIMIT)], env=ctx.env, capture_output=True
    )
    if proc.returncode:
        raise RuntimeError(f"raw checkout work failed: {proc.stderr.decode(errors='replace')[-600:]}")
    info = json.loads(proc.stdout)
    scale = size / max(1, info["bytes"])
    return Run(info["wall"] * scale, info["cpu"] * scale, extra=info)


def raw_work(ctx: Ctx, path: Path, threads: int, stored: Path | None = None) -> Run:
    """The raw work (``RAW``) on ``threads`` threads over the file at ``path``; with ``stored``, the workers also
    write the bytes an add stores (each chunk compressed, or raw when that does not shrink it) to that file, one
    after the other."""
    cmd = [ctx.python, "-c", RAW, str(path), str(threads), str(BLOCK), *([str(stored)] if stored else [])]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=ctx.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()
    if proc.returncode:
        raise RuntimeError(f"raw work failed: {err.decode(errors='replace')[-600:]}")
    info = json.loads(out)
    run = Run(info["wall"], usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, extra=info)
    run.extra["process_wall"] = wall
    return run


def git(ctx: Ctx, cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=ctx.env, check=True, stdout=subprocess.DEVNULL)


def art(ctx: Ctx, cwd: Path, *args: str) -> None:
    subprocess.run([*ctx.art, *args], cwd=cwd, env=ctx.env, check=True, stdout=subprocess.DEVNULL)


def fresh_dir(ctx: Ctx, path: Path, size: int, disk: bool = True) -> Path:
    """``path`` new and empty: on the disk under ``--fresh-fs``, a new file system of ``size`` bytes mounted
    there (the last one dropped), else a new folder."""
    clear(ctx, path)
    if ctx.fs is not None and disk:
        return ctx.fs.make(path.name, size, at=path)
    path.mkdir(parents=True)
    return path


def clear(ctx: Ctx, path: Path) -> None:
    """Delete ``path``: drop its file system if it is a fresh one, else remove it."""
    if ctx.fs is not None and path in ctx.fs.mounted:
        ctx.fs.drop(path)
    elif path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def floor_place(ctx: Ctx, root: Path, size: int):
    """Where a floor writes its copies: a new file system per sample under ``--fresh-fs``, else ``root``."""
    if ctx.fs is None:
        yield root
        return
    where = fresh_dir(ctx, root / "floor", 2 * size + 512 * MIB)
    try:
        yield where
    finally:
        clear(ctx, where)


def fresh_repo(ctx: Ctx, repo: Path, size: int = 0, disk: bool = True) -> None:
    fresh_dir(ctx, repo, 2 * size + 512 * MIB, disk)
    git(ctx, repo, "init", "-q")
    art(ctx, repo, "init")


def check_file(path: Path, digest: str, what: str) -> None:
    if not path.is_file() or file_hash(path) != digest:
        raise RuntimeError(f"{what}: {path} is missing or differs from the original")


def run_case(ctx: Ctx, size: int, kind: str, repeat: int, steps: set[str], scratch: Path, shm: Path | None) -> None:
    case = f"{size_label(size)} {kind}"
    root = scratch / f"{size_label(size)}-{kind}"
    root.mkdir()
    master = root / "master.bin"
    t = time.perf_counter()
    generate(master, size, kind, seed=size)
    digest = file_hash(master)
    log(f"[{case}] generated in {time.perf_counter() - t:.1f} s")
    repo, remote, clone = root / "repo", root / "remote", root / "clone"
    big = repo / "big.bin"

    def record(step: str, floor: Run, run: Run) -> None:
        ctx.add(case, step, "floor", floor)
        ctx.add(case, step, "art", run)
        log(
            f"[{case}] {step}: art {run.wall:.2f} s (+sync {run.sync:.2f}), cpu {run.cpu:.2f} s, "
            f"{run.rss_mb:.0f} MiB, read {run.rchar / MIB:.0f} MiB | floor {floor.wall:.2f} s"
        )

    # raw work: on tmpfs when there is one (no disk in the way), else on the disk copy (likely cached)
    work_src = master
    if shm is not None and "work" in steps:
        work_src = shm / "work.bin"
        shutil.copyfile(master, work_src)
    for _ in range((ctx.work_repeat or repeat) if "work" in steps else 0):
        for threads in (1, 2):
            r = raw_work(ctx, work_src, threads)
            ctx.add(case, f"work{threads}", "work", r)
            log(f"[{case}] raw work on {threads} thread(s): {r.wall:.2f} s")
        if shm is not None and "add_tmpfs" in steps:  # the floor of an add that keeps what it stores, on tmpfs
            stored = work_src.with_suffix(".stored")
            r = raw_work(ctx, work_src, 2, stored)
            stored.unlink()
            ctx.add(case, "work2w", "work", r)
            log(f"[{case}] raw work on 2 threads, writing what it stores: {r.wall:.2f} s")
    if work_src != master:
        work_src.unlink()

    room = 2 * size + 512 * MIB  # a fresh file system holding the store and the file
    for _ in range(repeat):  # add: a fresh repository per repeat; the file is a hard link to the master
        fresh_repo(ctx, repo, size)
        if ctx.fs is not None:  # another file system: a copy, untimed (the wait for a quiet disk follows)
            shutil.copyfile(master, big)
        else:
            os.link(master, big)
        with floor_place(ctx, root, size) as where:
            floor = floor_cp(ctx, master, where / "copy.bin", disk=True)
        run = run_timed(ctx, ["ART", "add", "-q", "big.bin"], repo, disk=True, wrote=[repo / ".art"])
        record("add", floor, run)
    for _ in range((ctx.work_repeat or repeat) if "checkout" in steps else 0):
        r = raw_back(ctx, master, size)
        ctx.add(case, "back2", "work", r)
        log(
            f"[{case}] checkout's raw work on 2 threads (unzstd + blake3, from memory): {r.wall:.2f} s, cpu {r.cpu:.2f}"
        )
    master.unlink()  # ``big`` holds the data from here on
    # Random data: the store's packs hold as many bytes as the file, so the floors copy them and ``big`` exists
    # only while an art step needs it: the disk peak stays at 2x the size (else 2.5x)
    packs = list((repo / ".art" / "store" / "packs").rglob("*.pack"))
    packed = sum(p.stat().st_size for p in packs) > size * 3 // 4
    source: Path | list[Path] = packs if packed else big
    if packed:
        big.unlink()
    if "checkout" in steps:
        for _ in range(repeat):
            with floor_place(ctx, root, size) as where:
                floor = floor_cp(ctx, source, where / "copy.bin", disk=True)
            where = repo
            if ctx.fs is not None:  # a copy of the repository but the file (untimed) in a new file system
                where = fresh_dir(ctx, root / "co", room) / "repo"
                shutil.copytree(repo, where, symlinks=True, ignore=shutil.ignore_patterns("big.bin"))
            else:
                big.unlink(missing_ok=True)
            run = run_timed(ctx, ["ART", "checkout", "big.bin"], where, disk=True, wrote=[where / "big.bin"])
            check_file(where / "big.bin", digest, "checkout")
            record("checkout", floor, run)
            if where != repo:
                clear(ctx, where.parent)
            elif packed:
                big.unlink()
    if steps & {"push", "pull", "pull_lazy"}:  # the pulls need the remote a push fills
        fresh_dir(ctx, remote, size + 512 * MIB)
        art(ctx, repo, "remote", "add", "bench", str(remote), "--default")
        git(ctx, repo, "add", "-A")
        git(ctx, repo, "commit", "-q", "-m", "bench")
        for i in range(repeat if "push" in steps else 1):
            if i:
                fresh_dir(ctx, remote, size + 512 * MIB)
            with floor_place(ctx, root, size) as where:
                floor = floor_cp(ctx, source, where / "copy.bin", disk=True)
            run = run_timed(ctx, ["ART", "push"], repo, disk=True, wrote=[remote])
            if "push" in steps:
                record("push", floor, run)
    if steps & {"pull", "pull_lazy"}:
        for _ in range(repeat):
            if "pull" in steps:
                fresh_dir(ctx, clone, room)
                git(ctx, root, "clone", "-q", str(repo), str(clone))
                with floor_place(ctx, root, size) as where:
                    floor = floor_cp(ctx, source, where / "copy.bin", disk=True)
                with floor_place(ctx, root, size) as where:
                    twice = floor_cp2(ctx, source, where)
                ctx.add(case, "pull", "twice", twice)
                log(f"[{case}] pull's floor with a store (cp, cp, sync): {twice.wall:.2f} s, cpu {twice.cpu:.2f}")
                run = run_timed(ctx, ["ART", "pull"], clone, disk=True, wrote=[clone / ".art", clone / "big.bin"])
                check_file(clone / "big.bin", digest, "pull")
                record("pull", floor, run)
            if "pull_lazy" in steps:  # promised objects: the file written once, its manifest stored
                fresh_dir(ctx, clone, room)
                git(ctx, root, "clone", "-q", str(repo), str(clone))
                with floor_place(ctx, root, size) as where:
                    floor = floor_cp(ctx, source, where / "copy.bin", disk=True)
                wrote = [clone / ".art", clone / "big.bin"]
                run = run_timed(ctx, ["ART", "pull", "--lazy"], clone, disk=True, wrote=wrote)
                check_file(clone / "big.bin", digest, "pull --lazy")
                record("pull_lazy", floor, run)
        big.unlink(missing_ok=True)
        clear(ctx, remote)
        source = clone / "big.bin"
    elif packed:
        art(ctx, repo, "checkout", "big.bin")  # the tmpfs steps copy it
        source = big
    assert isinstance(source, Path)
    if shm is not None and steps & {"add_tmpfs", "checkout_tmpfs"}:
        trepo = shm / "repo"
        tbig = trepo / "big.bin"
        tmaster = shm / "master.bin"
        shutil.copyfile(source, tmaster)
        for p in (remote, repo, clone):
            clear(ctx, p)
        for _ in range(repeat):
            fresh_repo(ctx, trepo, disk=False)
            os.link(tmaster, tbig)
            floor = floor_cp(ctx, tmaster, shm / "copy.bin", disk=False)
            run = run_timed(ctx, ["ART", "add", "-q", "big.bin"], trepo, disk=False)
            record("add_tmpfs", floor, run)
        tmaster.unlink()
        if "checkout_tmpfs" in steps:
            for _ in range(repeat):
                floor = floor_cp(ctx, tbig, shm / "copy.bin", disk=False)
                tbig.unlink()
                run = run_timed(ctx, ["ART", "checkout", "big.bin"], trepo, disk=False)
                check_file(tbig, digest, "checkout on tmpfs")
                record("checkout_tmpfs", floor, run)
        shutil.rmtree(trepo)
    for p in (remote, repo, clone):
        clear(ctx, p)
    shutil.rmtree(root)


def med(runs: list[Run], attr: str = "wall") -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def report(ctx: Ctx, cases: list[tuple[int, str]]) -> tuple[str, list[dict]]:
    head = (
        f"{'case':<11} | {'step':<14} | {'art s':>6} | {'+sync':>6} | {'cpu s':>6} | {'MiB/s':>6} | "
        f"{'floor s':>7} | {'fl cpu':>6} | {'work2 s':>7} | {'vs cp':>5} | {'cpu/w2':>6} | {'ratio':>5} | "
        f"{'goal':>20} | {'result':<6} | "
        f"{'RSS MB':>6} | {'read/size':>9} | {'disk/size':>9}"
    )
    lines = [head, "-" * len(head)]
    out = []
    for size, kind in cases:
        case = f"{size_label(size)} {kind}"
        w1, w2 = ctx.rows.get((case, "work1", "work")), ctx.rows.get((case, "work2", "work"))
        work2 = med(w2) if w2 else float("nan")
        work2_cpu = med(w2, "cpu") if w2 else float("nan")
        for step in STEPS:
            runs, floors = ctx.rows.get((case, step, "art")), ctx.rows.get((case, step, "floor"))
            if not runs or not floors:
                continue
            art_s, floor_s = med(runs), med(floors)
            factor, base_name = GOALS.get(step, (None, "cp"))
            base = max(work2, floor_s) if base_name.startswith("max") and w2 else floor_s
            ratio = art_s / base
            cpu_ratio = med(runs, "cpu") / work2_cpu  # CPU against the raw work's CPU: steadier on a busy machine
            rss = max(r.rss_mb for r in runs)
            rss_mb = rss * 1.048576
            rchar = med(runs, "rchar") / size
            from_disk = med(runs, "read_bytes") / size  # a cold source: read from the disk, not the page cache
            read_ok = not step.startswith("add") or rchar * size <= size + READ_SLACK  # nothing read twice
            ok = rss_mb <= RSS_GOAL_MB and read_ok and (factor is None or ratio <= factor)
            goal = f"<={factor}x {base_name}" if factor else "RSS only"
            result = "pass" if ok else "FAIL"
            lines.append(
                f"{case:<11} | {step:<14} | {art_s:>6.2f} | {art_s + med(runs, 'sync'):>6.2f} | "
                f"{med(runs, 'cpu'):>6.2f} | {size / MIB / art_s:>6.0f} | {floor_s:>7.2f} | "
                f"{med(floors, 'cpu'):>6.2f} | {work2:>7.2f} | {art_s / floor_s:>5.2f} | {cpu_ratio:>6.2f} | "
                f"{ratio:>5.2f} | {goal:>20} | {result:<6} | {rss_mb:>6.0f} | {rchar:>9.2f} | {from_disk:>9.2f}"
            )
            out.append(
                dict(
                    case=case, step=step, art_s=art_s, art_sync_s=art_s + med(runs, "sync"),
                    cpu_s=med(runs, "cpu"), floor_s=floor_s, floor_cpu_s=med(floors, "cpu"), work2_s=work2,
                    ratio=ratio, ratio_cp=art_s / floor_s, cpu_per_work2_cpu=cpu_ratio, goal=goal,
                    result=result, rss_mb=rss_mb, read_per_size=rchar, disk_read_per_size=from_disk,
                    samples=[r.__dict__ for r in runs], floor_samples=[r.__dict__ for r in floors],
                )
            )  # fmt: skip
            extra = _floor_line(ctx, case, step, runs)
            if extra:
                lines.append(f"{case:<11} | {extra[0]}")
                out.append(dict(case=case, step=f"{step} floor", **extra[1]))
        if w1:
            parts = {k: statistics.median(r.extra["parts"][k] for r in w1) for k in w1[0].extra["parts"]}
            stored = w1[0].extra["stored"] / size
            lines.append(
                f"{case:<11} | raw work: 1 thread {med(w1):.2f} s (cpu {med(w1, 'cpu'):.2f}), 2 threads {work2:.2f} s"
                f" (cpu {work2_cpu:.2f}; {statistics.median(r.extra['process_wall'] for r in w2):.2f} s with the"
                " interpreter's start); parts on 1 thread: "
                + ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
                + f" s; zstd-1 keeps {stored:.0%}"
            )
            out.append(
                dict(
                    case=case, step="work", work1_s=med(w1), work2_s=work2, work1_cpu_s=med(w1, "cpu"),
                    work2_cpu_s=med(w2, "cpu") if w2 else None, parts=parts, stored=stored,
                )
            )  # fmt: skip
    return "\n".join(lines), out


def _floor_line(ctx: Ctx, case: str, step: str, runs: list[Run]) -> tuple[str, dict] | None:
    """The second floor of checkout (its raw work on 2 threads), pull (the bytes written twice) and the add on
    tmpfs (the raw work writing what it stores), if timed."""
    if step == "checkout" and (back := ctx.rows.get((case, "back2", "work"))):
        w, c = med(back), med(back, "cpu")
        text = f"checkout's raw work on 2 threads (unzstd + blake3, from memory) {w:.2f} s (cpu {c:.2f})"
        return f"{text}; art/that: wall {med(runs) / w:.2f}, cpu {med(runs, 'cpu') / c:.2f}", dict(
            back2_s=w, back2_cpu_s=c, ratio=med(runs) / w, cpu_ratio=med(runs, "cpu") / c
        )
    if step == "add_tmpfs" and (wrote := ctx.rows.get((case, "work2w", "work"))):
        w, c = med(wrote), med(wrote, "cpu")
        started = statistics.median(r.extra["process_wall"] for r in wrote)
        text = (
            f"add's floor on tmpfs: the raw work on 2 threads writing what it stores {w:.2f} s (cpu {c:.2f}; "
            f"{started:.2f} s with the interpreter's start)"
        )
        return (
            f"{text}; art/that: wall {med(runs) / w:.2f} ({med(runs) / started:.2f}), cpu {med(runs, 'cpu') / c:.2f}",
            dict(
                work2w_s=w,
                work2w_cpu_s=c,
                work2w_started_s=started,
                ratio=med(runs) / w,
                ratio_started=med(runs) / started,
                cpu_ratio=med(runs, "cpu") / c,
            ),
        )
    if step == "pull" and (twice := ctx.rows.get((case, "pull", "twice"))):
        w, c = med(twice), med(twice, "cpu")
        text = f"pull's floor with a store: cp, cp, sync {w:.2f} s (cpu {c:.2f})"
        return f"{text}; art/that: wall {med(runs) / w:.2f}, cpu {med(runs, 'cpu') / c:.2f}", dict(
            twice_s=w, twice_cpu_s=c, ratio=med(runs) / w, cpu_ratio=med(runs, "cpu") / c
        )
    return None


def log(msg: str) -> None:
    print(f"[large] {msg}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512M,4G", help="comma-separated sizes (512M, 4G, ...)")
    parser.add_argument("--kinds", default="random,csv", help="comma-separated: random, csv")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated among {', '.join(STEPS)}")
    parser.add_argument("--repeat", type=int, default=3, help="repeats per step (median reported)")
    parser.add_argument(
        "--work-repeat",
        type=int,
        default=0,
        help="samples of the raw work (CPU only: 1 is enough for several samples of each 4G disk step; "
        "default --repeat)",
    )
    parser.add_argument("--quick", action="store_true", help="512M only, 1 repeat, no tmpfs steps")
    parser.add_argument("--python", default=sys.executable, help="a Python that imports artvc, blake3, ...")
    parser.add_argument("--art", default=None, help="art command (default: --python -m artvc, with I/O counts)")
    parser.add_argument("--tmp", default=None, help="scratch parent directory on the disk under test")
    parser.add_argument("--shm", default="/dev/shm", help="tmpfs directory ('' to skip the tmpfs steps)")
    parser.add_argument("--pause", type=float, default=5.0, help="max wait for a quiet disk before each timing")
    parser.add_argument("--json", default=None, help="also write every sample and verdict here")
    parser.add_argument(
        "--fresh-fs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="every repository, remote, clone and floor copy in a new loop-mounted ext4 per sample (default: on "
        "when root with loop devices)",
    )
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",") if s]
    steps = {s for s in args.steps.split(",") if s}
    if unknown := steps - set(STEPS):
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    repeat = args.repeat
    if args.quick:
        sizes, repeat, steps = [512 * MIB], 1, steps - {"add_tmpfs", "checkout_tmpfs"}
    kinds = [k for k in args.kinds.split(",") if k]
    art_cmd = shlex.split(args.art) if args.art else [args.python, "-m", "artvc"]
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "b@b",
        "LC_ALL": "C",
    }
    # art runs as installed, from cached bytecode (an install compiles it): without this, an environment that
    # sets PYTHONDONTWRITEBYTECODE makes every art command compile its modules from source (~0.1 s of CPU)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not args.art:  # compiled before the first timing, not by it
        compile_art = "import artvc, compileall, os; compileall.compile_dir(os.path.dirname(artvc.__file__), quiet=1)"
        subprocess.run([args.python, "-c", compile_art], env=env, check=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed run still deletes its gigabytes
    scratch = Path(tempfile.mkdtemp(prefix="art-large-", dir=args.tmp))
    fs = None
    if args.fresh_fs is not False:
        if reason := unavailable(scratch):
            log(f"fresh file systems unavailable ({reason}): samples share the scratch's file system")
        else:
            fs = FreshFs(scratch)
    # the disk's peak: the master, the repository (store and file), the remote, a clone (store and file) and
    # pull's floor (two copies), each in a file system of its own; 4x the size in one folder without --fresh-fs
    need = max(sizes) * (7 if fs else 4) + GIB
    shm_need = max(sizes) * 3 if args.shm and steps & {"work", "add_tmpfs", "checkout_tmpfs"} else 0
    refusal = fits(scratch, need) or (fits(Path(args.shm), shm_need) if shm_need else None)
    if refusal:
        shutil.rmtree(scratch, ignore_errors=True)
        sys.exit(f"large_files: the largest size ({size_label(max(sizes))}) {refusal}; free some space, pass "
                 "--tmp elsewhere or smaller --sizes")  # fmt: skip
    shm = Path(tempfile.mkdtemp(prefix="art-large-", dir=args.shm)) if args.shm else None
    ctx = Ctx(args.python, art_cmd, env, scratch, args.pause, fs=fs, work_repeat=args.work_repeat)
    cases = [(s, k) for s in sizes for k in kinds]
    try:
        for size, kind in cases:
            try:
                run_case(ctx, size, kind, repeat, steps, scratch, shm)
            except (RuntimeError, subprocess.CalledProcessError) as exc:
                log(f"[{size_label(size)} {kind}] FAILED: {exc}")
            if fs is not None:
                fs.close()  # what a failed case left mounted
            for p in (scratch, shm):
                if p is not None:
                    for child in p.iterdir():
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
    finally:
        if fs is not None:
            fs.close()
            log(f"fresh file systems: {fs.made} made and dropped in {fs.seconds:.1f} s (not timed)")
        shutil.rmtree(scratch, ignore_errors=True)
        if shm is not None:
            shutil.rmtree(shm, ignore_errors=True)
    table, data = report(ctx, cases)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs")
    print("every sample in a fresh ext4 (--fresh-fs)" if fs else "every sample on the scratch's file system")
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1, default=str))


if __name__ == "__main__":
    main()
