"""Stored bytes on real revisions: art with deltas, art without deltas, git gc --aggressive, zstd --long.

Corpora are the data files inside successive releases of public packages, fetched once with
``python -m pip download --no-deps`` into a cache (``--cache``, default ``~/.cache/art-bench/delta``):

| corpus | releases | files |
| --- | --- | --- |
| pycountry | 20.7.3, 22.1.10, 22.3.5, 23.12.11, 24.6.1 | ``pycountry/databases/*.json`` and ``pycountry/locales/**`` |
| certifi | 2022.12.7, 2023.5.7, 2023.7.22, 2024.2.2, 2024.8.30 | ``certifi/cacert.pem`` |

For each corpus, in one run: each release is copied into ``data/`` of a fresh git repository and added and
committed in turn — once with ``core.delta = false`` (art without deltas), once with deltas (art's default),
once committed to git itself (then ``git gc --aggressive --prune=now``). Then every release is checked out
again from each art repository and compared byte for byte with the release, and ``art fsck`` must pass.
Reported: whole-file bytes (the sum over releases), the bytes of art's packs (``.art/store/packs``; the
sqlite index beside them in its own column), git's ``.git/objects`` bytes, and zstd with a long window over
all releases concatenated (informational). Also in the same run: ``art add`` throughput on random data,
delta on and off, and ``art checkout`` of the newest release into an empty place, delta against no delta.

Art that does not know ``core.delta`` (before deltas existed) is measured too: its numbers show as "art
without deltas" and the delta columns say "n/a".

    python benchmarks/delta_corpus.py                       # both corpora, 256 MiB of random data
    python benchmarks/delta_corpus.py --corpora certifi --random-mb 64 --repeat 1     # a quick look
    python benchmarks/delta_corpus.py --art "art" --json out.json

Standard library only (zstandard is used for the informational column when it can be imported).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

CORPORA: dict[str, tuple[str, list[str], tuple[str, ...]]] = {
    # name: (package, releases oldest first, path prefixes inside the package folder)
    "pycountry": (
        "pycountry",
        ["20.7.3", "22.1.10", "22.3.5", "23.12.11", "24.6.1"],
        ("databases/", "locales/"),
    ),
    "certifi": ("certifi", ["2022.12.7", "2023.5.7", "2023.7.22", "2024.2.2", "2024.8.30"], ("cacert.pem",)),
}
ADD_LOSS_GOAL = 0.10  # add on random data with deltas may be at most 10% slower
CHECKOUT_GOAL = 1.2  # checkout of the newest release with deltas at most 1.2x the time without


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- corpora ------------------------------------------------------------------------------------------------


def fetch(cache: Path, corpus: str) -> list[tuple[str, Path]]:
    """Download (once) and extract (once) every release of ``corpus``; return [(version, folder)]."""
    package, versions, prefixes = CORPORA[corpus]
    out = []
    for version in versions:
        folder = cache / "extract" / corpus / version
        if not (folder / ".done").exists():
            dist = cache / "dist" / f"{package}-{version}"
            dist.mkdir(parents=True, exist_ok=True)
            if not any(dist.iterdir()):
                log(f"  downloading {package}=={version}")
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "download",
                        "-q",
                        "--no-deps",
                        "-d",
                        str(dist),
                        f"{package}=={version}",
                    ],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
            archive = next(p for p in dist.iterdir() if p.name.endswith((".whl", ".tar.gz", ".zip")))
            if folder.exists():
                shutil.rmtree(folder)
            _extract(archive, folder, package, prefixes)
            (folder / ".done").write_text("")
        out.append((version, folder))
    return out


def _extract(archive: Path, folder: Path, package: str, prefixes: tuple[str, ...]) -> None:
    """Copy the package's files under ``prefixes`` (relative to the ``package/`` folder) into ``folder``."""

    def wanted(name: str) -> str | None:
        parts = name.split("/")
        if package not in parts[:3]:
            return None
        rel = "/".join(parts[parts.index(package) + 1 :])
        return rel if rel and not name.endswith("/") and rel.startswith(prefixes) and ".." not in rel else None

    folder.mkdir(parents=True)
    if archive.name.endswith(".tar.gz"):
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                rel = wanted(member.name)
                if rel and member.isfile():
                    dest = folder / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    assert src is not None
                    dest.write_bytes(src.read())
    else:
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                rel = wanted(name)
                if rel:
                    dest = folder / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(z.read(name))
    if not any(folder.rglob("*")):
        raise SystemExit(f"{archive.name}: no files under {prefixes}")


def files_of(folder: Path) -> dict[str, Path]:
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".done"}


def tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in files_of(folder).values())


def same_tree(a: Path, b: Path) -> str | None:
    """None when the two folders hold the same files with the same bytes; else the first difference."""
    fa, fb = files_of(a), files_of(b)
    if fa.keys() != fb.keys():
        return f"file lists differ: {sorted(set(fa) ^ set(fb))[:3]}"
    for rel, p in fa.items():
        if p.read_bytes() != fb[rel].read_bytes():
            return f"{rel} differs"
    return None


# -- running ------------------------------------------------------------------------------------------------


@dataclass
class Timing:
    wall: float
    cpu: float


def run(cmd: list[str], cwd: Path, env: dict[str, str], *, check: bool = True) -> tuple[int, str, Timing]:
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    timing = Timing(time.perf_counter() - t, usage.ru_utime + usage.ru_stime)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {proc.returncode} in {cwd}:\n{out[-2000:]}")
    return proc.returncode, out, timing


class Art:
    def __init__(self, cmd: str) -> None:
        self.cmd = shlex.split(cmd)
        self.env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b")
        self.env.update(GIT_COMMITTER_EMAIL="b@b")

    def __call__(self, cwd: Path, *args: str, check: bool = True) -> tuple[int, str, Timing]:
        return run([*self.cmd, *args], cwd, self.env, check=check)

    def git(self, cwd: Path, *args: str) -> str:
        return run(["git", *args], cwd, self.env)[1]

    def new_repo(self, path: Path, delta: bool | None) -> None:
        """A git repository with art initialised; ``delta`` None: leave art's default alone."""
        path.mkdir(parents=True)
        self.git(path, "init", "-q")
        self(path, "init")
        if delta is not None:
            self(path, "config", "core.delta", "true" if delta else "false")

    def knows_delta(self, scratch: Path) -> bool:
        probe = scratch / "probe"
        path = probe / "repo"
        path.mkdir(parents=True)
        self.git(path, "init", "-q")
        self(path, "init")
        code = self(path, "config", "core.delta", check=False)[0]
        shutil.rmtree(probe)
        return code == 0


def replace_data(repo: Path, release: Path) -> None:
    data = repo / "data"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(release, data, ignore=shutil.ignore_patterns(".done"))


def dir_bytes(folder: Path, suffix: str = "") -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name.endswith(suffix))


@dataclass
class ArtResult:
    packs: int = 0
    index: int = 0
    add_s: float = 0.0
    roundtrip: str = "ok"
    fsck: str = "ok"
    commits: list[str] = field(default_factory=list)


def art_corpus(art: Art, repo: Path, releases: list[tuple[str, Path]], delta: bool | None) -> ArtResult:
    art.new_repo(repo, delta)
    res = ArtResult()
    for version, folder in releases:
        replace_data(repo, folder)
        _, _, t = art(repo, "add", "data")
        res.add_s += t.wall
        art.git(repo, "add", "-A", "data.art", ".gitignore", ".art")
        art.git(repo, "commit", "-q", "-m", version)
        res.commits.append(art.git(repo, "rev-parse", "HEAD").strip())
    return check_art(art, repo, releases, res)


def repacked(
    art: Art, src: Path, repo: Path, releases: list[tuple[str, Path]], before: ArtResult, level: int
) -> ArtResult:
    """A copy of the repository at ``src`` after ``art repack --level LEVEL``."""
    shutil.copytree(src, repo, symlinks=True)
    _, _, t = art(repo, "repack", "--level", str(level))
    return check_art(art, repo, releases, ArtResult(add_s=t.wall, commits=before.commits))


def check_art(art: Art, repo: Path, releases: list[tuple[str, Path]], res: ArtResult) -> ArtResult:
    """Measure the store; check out every release again and compare it; fsck. The newest release stays out."""
    store = repo / ".art" / "store"
    res.packs = dir_bytes(store / "packs", ".pack")
    res.index = dir_bytes(store, ".db")
    for (version, folder), commit in zip(releases, res.commits, strict=True):
        art.git(repo, "checkout", "-q", commit)
        shutil.rmtree(repo / "data")
        art(repo, "checkout", "data")
        diff = same_tree(repo / "data", folder)
        if diff:
            res.roundtrip = f"{version}: {diff}"
            break
    code, out, _ = art(repo, "fsck", check=False)
    if code:
        res.fsck = out.strip().splitlines()[-1] if out.strip() else f"exit {code}"
    return res


def knows_repack(art: Art, repo: Path) -> bool:
    return art(repo, "repack", "--help", check=False)[0] == 0


def git_corpus(art: Art, repo: Path, releases: list[tuple[str, Path]]) -> tuple[int, float]:
    repo.mkdir(parents=True)
    art.git(repo, "init", "-q")
    for version, folder in releases:
        replace_data(repo, folder)
        art.git(repo, "add", "-A", "data")
        art.git(repo, "commit", "-q", "-m", version)
    t = time.perf_counter()
    art.git(repo, "gc", "-q", "--aggressive", "--prune=now")
    return dir_bytes(repo / ".git" / "objects"), time.perf_counter() - t


def zstd_long(releases: list[tuple[str, Path]]) -> int | None:
    """zstd level 9 with a 128 MiB long-distance window (``zstd -9 --long=27``) over every release
    concatenated, file by file."""
    try:
        import zstandard
    except ImportError:
        return None
    params = zstandard.ZstdCompressionParameters.from_level(9, window_log=27, enable_ldm=True)
    cctx = zstandard.ZstdCompressor(compression_params=params)
    size = 0
    with tempfile.TemporaryFile() as out:
        with cctx.stream_writer(out, closefd=False) as w:
            for _, folder in releases:
                for _, p in files_of(folder).items():
                    w.write(p.read_bytes())
        size = out.tell()
    return size


# -- cost ---------------------------------------------------------------------------------------------------


def random_data(folder: Path, mb: int) -> None:
    rng = random.Random(17)
    folder.mkdir(parents=True)
    per = max(1, mb // 4)
    for i in range(0, mb, per):
        with open(folder / f"r{i:04d}.bin", "wb") as f:
            for _ in range(min(per, mb - i)):
                f.write(rng.randbytes(1 << 20))


def add_cost(art: Art, scratch: Path, mb: int, repeat: int, delta_ok: bool) -> dict[str, float | None]:
    """Median wall and CPU seconds of ``art add`` of ``mb`` MiB of random data, delta off and on, alternating."""
    src = scratch / "random"
    random_data(src, mb)
    samples: dict[str, list[Timing]] = {"off": [], "on": []}
    for r in range(repeat):
        for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
            if mode == "on" and not delta_ok:
                continue
            repo = scratch / f"add-{mode}"
            if repo.exists():
                shutil.rmtree(repo)
            art.new_repo(repo, (mode == "on") if delta_ok else None)
            os.rename(src, repo / "data")
            try:
                subprocess.run(["sync"], check=False)
                samples[mode].append(art(repo, "add", "data")[2])
            finally:
                os.rename(repo / "data", src)
            shutil.rmtree(repo)
    shutil.rmtree(src)
    out: dict[str, float | None] = {}
    for mode, ts in samples.items():
        out[f"{mode}_wall"] = statistics.median(t.wall for t in ts) if ts else None
        out[f"{mode}_cpu"] = statistics.median(t.cpu for t in ts) if ts else None
    return out


def checkout_cost(art: Art, repos: dict[str, Path], repeat: int) -> dict[str, Timing]:
    """Median wall and CPU seconds of ``art checkout data`` into an empty place, per repository, alternating."""
    samples: dict[str, list[Timing]] = {k: [] for k in repos}
    for r in range(repeat):
        for name in list(repos) if r % 2 == 0 else list(reversed(repos)):
            repo = repos[name]
            shutil.rmtree(repo / "data")
            subprocess.run(["sync"], check=False)
            samples[name].append(art(repo, "checkout", "data")[2])
    return {
        k: Timing(statistics.median(t.wall for t in v), statistics.median(t.cpu for t in v)) for k, v in samples.items()
    }


# -- report -------------------------------------------------------------------------------------------------


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / (1 << 20):.2f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB"


def ratio(n: int | None, whole: int) -> str:
    return "n/a" if n is None else f"{n / whole:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--art", default=f"{shlex.quote(sys.executable)} -m artvc", help="art command")
    ap.add_argument("--corpora", default=",".join(CORPORA), help="comma-separated: " + ", ".join(CORPORA))
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "art-bench" / "delta"))
    ap.add_argument("--random-mb", type=int, default=256, help="random data for the add cost (0: skip)")
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the timed steps (median)")
    ap.add_argument("--repack-level", type=int, default=9, help="zstd level of 'art repack --level' (default 9)")
    ap.add_argument("--tmp", default=None, help="scratch parent directory")
    ap.add_argument("--json", default=None, help="also write the results as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)
    corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    for c in corpora:
        if c not in CORPORA:
            ap.error(f"unknown corpus {c!r}")
    art = Art(args.art)
    cache = Path(args.cache)
    scratch = Path(tempfile.mkdtemp(prefix="art-delta-bench-", dir=args.tmp))
    rows: list[dict[str, object]] = []
    try:
        delta_ok = art.knows_delta(scratch)
        if not delta_ok:
            log("this art does not know core.delta: measuring it as 'art without deltas'")
        checkout_repos: dict[str, Path] = {}
        for corpus in corpora:
            log(f"{corpus}: fetching")
            releases = fetch(cache, corpus)
            whole = sum(tree_bytes(f) for _, f in releases)
            row: dict[str, object] = {"corpus": corpus, "releases": [v for v, _ in releases], "whole": whole}
            log(f"{corpus}: art without deltas")
            plain = art_corpus(art, scratch / corpus / "art-plain", releases, False if delta_ok else None)
            delta = repack = None
            if delta_ok:
                log(f"{corpus}: art with deltas")
                delta = art_corpus(art, scratch / corpus / "art-delta", releases, True)
                if knows_repack(art, scratch / corpus / "art-delta"):
                    log(f"{corpus}: art with deltas, then art repack --level {args.repack_level}")
                    repack = repacked(
                        art,
                        scratch / corpus / "art-delta",
                        scratch / corpus / "art-repack",
                        releases,
                        delta,
                        args.repack_level,
                    )
            log(f"{corpus}: git gc --aggressive")
            git_bytes, git_s = git_corpus(art, scratch / corpus / "git", releases)
            log(f"{corpus}: zstd --long")
            row.update(
                plain=plain.__dict__ | {"commits": None},
                delta=delta.__dict__ | {"commits": None} if delta else None,
                repack=repack.__dict__ | {"commits": None} if repack else None,
                git=git_bytes,
                git_gc_s=git_s,
                zstd_long=zstd_long(releases),
            )
            rows.append(row)
            if corpus == corpora[0]:
                checkout_repos["off"] = scratch / corpus / "art-plain"
                if delta_ok:
                    checkout_repos["on"] = scratch / corpus / "art-delta"
                if repack:
                    checkout_repos["repack"] = scratch / corpus / "art-repack"
        checkout = {}
        if checkout_repos:
            log(f"checkout of the newest {corpora[0]} release, {args.repeat} repeats")
            checkout = checkout_cost(art, checkout_repos, args.repeat)
        add = {}
        if args.random_mb:
            log(f"add of {args.random_mb} MiB of random data, {args.repeat} repeats")
            add = add_cost(art, scratch, args.random_mb, args.repeat, delta_ok)
    finally:
        if args.keep:
            log(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(render(rows, checkout, add, args, corpora, delta_ok))
    if args.json:
        doc = {
            "corpora": rows,
            "checkout": {k: v.__dict__ for k, v in checkout.items()},
            "add_random": add,
            "random_mb": args.random_mb,
            "delta_available": delta_ok,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2))
    failed = any(
        r["plain"]["roundtrip"] != "ok"  # type: ignore[index]
        or r["plain"]["fsck"] != "ok"  # type: ignore[index]
        or any(
            r[k] and (r[k]["roundtrip"] != "ok" or r[k]["fsck"] != "ok")  # type: ignore[index]
            for k in ("delta", "repack")
        )
        for r in rows
    )
    return 1 if failed else 0


def render(
    rows: list[dict[str, object]],
    checkout: dict[str, Timing],
    add: dict[str, float | None],
    args: argparse.Namespace,
    corpora: list[str],
    delta_ok: bool,
) -> str:
    """The tables. Verdicts on cost use CPU time (user + sys of art and its children): the machine is shared,
    wall time is printed beside it."""
    lines = [
        "| corpus | releases | whole files | art without deltas | art with deltas (add) | after art repack --level"
        f" {args.repack_level} | git gc --aggressive | zstd -9 --long (info) | art/git (add, repack)"
        " | round trip + fsck | result |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        whole = int(r["whole"])  # type: ignore[call-overload]
        git = int(r["git"])  # type: ignore[call-overload]
        variants: list[dict | None] = [r["plain"], r["delta"], r["repack"]]  # type: ignore[list-item,type-arg]
        checks = [v for v in variants if v]
        ok = all(c["roundtrip"] == "ok" and c["fsck"] == "ok" for c in checks)
        trip = "ok" if ok else "; ".join(f"{c['roundtrip']} / fsck {c['fsck']}" for c in checks)

        def cell(res: dict | None, whole: int = whole) -> str:  # type: ignore[type-arg]
            if res is None:
                return "n/a"
            return f"{fmt_bytes(res['packs'])} ({ratio(res['packs'], whole)}) + index {fmt_bytes(res['index'])}"

        ratios = ", ".join(f"{v['packs'] / git:.2f}" if v else "n/a" for v in variants[1:])
        if not delta_ok:
            verdict = "n/a (no deltas)" if ok else "FAIL"
        elif not ok:
            verdict = "FAIL"
        else:
            verdict = ", ".join(
                f"{name}: {'pass' if v['packs'] < git else 'fail'}"
                for name, v in (("add", variants[1]), ("repack", variants[2]))
                if v
            )
        lines.append(
            f"| {r['corpus']} | {len(r['releases'])} | {fmt_bytes(whole)} | "  # type: ignore[arg-type]
            + " | ".join(cell(v) for v in variants)
            + f" | {fmt_bytes(git)} ({ratio(git, whole)}) | "
            f"{fmt_bytes(r['zstd_long'])} ({ratio(r['zstd_long'], whole)}) | "  # type: ignore[arg-type]
            f"{ratios} | {trip} | {verdict} |"
        )
    lines += [
        "",
        f"| cost (median of {args.repeat}; verdict on CPU) | without deltas | with deltas | ratio | goal | result |",
        "|---|---|---|---|---|---|",
    ]
    off = checkout.get("off")
    for name, label in (("on", "deltas as added"), ("repack", "after art repack")):
        on = checkout.get(name)
        if off is None:
            break
        if on is None:
            if name == "on":
                lines.append(
                    f"| checkout newest {corpora[0]}, {label} | {off.wall:.2f} s (CPU {off.cpu:.2f} s) | n/a | n/a"
                    f" | <= {CHECKOUT_GOAL}x | n/a |"
                )
            continue
        q = on.cpu / off.cpu
        lines.append(
            f"| checkout newest {corpora[0]}, {label} | {off.wall:.2f} s (CPU {off.cpu:.2f} s)"
            f" | {on.wall:.2f} s (CPU {on.cpu:.2f} s) | {q:.2f}x CPU, {on.wall / off.wall:.2f}x wall"
            f" | <= {CHECKOUT_GOAL}x | {'pass' if q <= CHECKOUT_GOAL else 'fail'} |"
        )
    if add:
        off_w, on_w, off_c, on_c = add["off_wall"], add["on_wall"], add["off_cpu"], add["on_cpu"]
        assert off_w is not None and off_c is not None
        base = f"{args.random_mb / off_w:.0f} MiB/s ({off_w:.2f} s, CPU {off_c:.2f} s)"
        if on_w is not None and on_c is not None:
            loss = on_c / off_c - 1
            cell2 = f"{args.random_mb / on_w:.0f} MiB/s ({on_w:.2f} s, CPU {on_c:.2f} s)"
            q2 = f"{loss * 100:+.1f}% CPU, {(on_w / off_w - 1) * 100:+.1f}% wall"
            res = "pass" if loss <= ADD_LOSS_GOAL else "fail"
        else:
            cell2, q2, res = "n/a", "n/a", "n/a"
        lines.append(
            f"| add {args.random_mb} MiB random | {base} | {cell2} | {q2}"
            f" | at most {ADD_LOSS_GOAL:.0%} slower | {res} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
