"""Kill art with SIGKILL at its named fault points (and at random moments), then check that nothing was lost.

For each scenario (a command on a prepared repository) the harness:

1. runs the command once with ``ART_FAULT_LOG`` to list the fault points it passes, with their counts;
2. for a seeded sample of (point, n) pairs, restores the prepared state, runs the command with
   ``ART_FAULT=point@n:kill`` (or kills it after a random delay), and then checks the invariants:
   the user's files are intact (each is byte-identical to a version it may legitimately have), ``art fsck``
   passes, the same command run again succeeds and reaches the expected end state, nothing is left behind
   (temp files, partial packs, staging folders, stash folders), and for remote commands the remote passes
   ``art fsck --remote --read-data``.

Run it directly for the table in the closing note::

    python -m tests.chaos --cases 12 --seed 1          # every scenario, up to 12 point-kills + 4 timed kills each

``tests/e2e/test_chaos.py`` runs a smaller sample in the slow tier.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.builders import b3

ART = [sys.executable, "-m", "artvc"]
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Chaos",
    "GIT_AUTHOR_EMAIL": "chaos@example.com",
    "GIT_COMMITTER_NAME": "Chaos",
    "GIT_COMMITTER_EMAIL": "chaos@example.com",
}
LEFTOVER_SUFFIXES = (".art-tmp", ".art-tmp-dir", ".art-link")


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ART_FAULT")}
    return {**base, **GIT_ENV, **extra}


def art(cwd: Path, *args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
    r = subprocess.run([*ART, *args], cwd=cwd, capture_output=True, text=True, env=env(**extra))
    if check and r.returncode != 0:
        raise AssertionError(f"art {' '.join(args)} exited {r.returncode}: {r.stderr.strip()[-500:]}")
    return r


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env())


def tree_digest(root: Path) -> dict[str, str]:
    """Every regular file under ``root`` (outside .git/.art) -> blake3, for before/after comparisons."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] in (".git", ".art") or not p.is_file() or p.is_symlink():
            continue
        out[rel.as_posix()] = b3(p)
    return out


def write_random(path: Path, size: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))


def write_csv(path: Path, rows: int, seed: int) -> None:
    r = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id,v,w\n" + "".join(f"{i},{r.random():.6f},{r.randrange(999)}\n" for i in range(rows)))


def leftovers(root: Path) -> list[str]:
    """Temp files, staging folders, partial packs and stashes that a finished command must not leave."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if rel.parts[:1] == (".git",):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            if name.endswith(LEFTOVER_SUFFIXES) or name.startswith("stash-"):
                found.append((rel / name).as_posix())
        if rel.parts[-1:] == ("tmp",) and rel.parts[:1] == (".art",):
            found.extend((rel / n).as_posix() for n in filenames if not n.startswith("."))
    return found


# --------------------------------------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    """A command on a prepared repository, and what must hold after it was killed and run again."""

    name: str
    args: list[str]
    prepare: Callable[[Path], None]  # builds the state in an empty folder (the workspace is <folder>/ws)
    # file -> the set of digests it may have at any moment (old or new version); checked after the kill
    allowed: Callable[[Path], dict[str, set[str]]] = lambda root: {}
    final: Callable[[Path], None] = lambda root: None  # asserts the end state after the re-run
    remote: bool = False
    missing_ok: bool = False  # right after the kill, objects may be not yet fetched (not damaged)


def _init(root: Path) -> Path:
    ws = root / "ws"
    ws.mkdir()
    git(ws, "init", "-q")
    art(ws, "init")
    return ws


def _commit(ws: Path, message: str) -> None:
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", message)


def prep_add(root: Path) -> None:
    ws = _init(root)
    write_random(ws / "big.bin", 12 << 20, 1)
    write_csv(ws / "table.csv", 60_000, 2)
    for i in range(150):
        write_random(ws / "imgs" / f"{i // 50}" / f"{i:04d}.png", 2000 + 37 * i, 100 + i)


def digests_now(root: Path) -> dict[str, set[str]]:
    return {k: {v} for k, v in tree_digest(root / "ws").items() if not k.endswith(".art")}


def final_add(root: Path) -> None:
    ws = root / "ws"
    st = art(ws, "status", "--json")
    assert '"modified"' not in st.stdout and '"missing"' not in st.stdout, st.stdout
    assert f'id = "{b3(ws / "big.bin")}"' in (ws / "big.bin.art").read_text()


def prep_tracked(root: Path) -> None:
    """A committed workspace with data v1, then v2 of big.bin added (both versions in the store)."""
    prep_add(root)
    ws = root / "ws"
    art(ws, "add", "big.bin", "table.csv", "imgs")
    _commit(ws, "v1")


def prep_checkout_missing(root: Path) -> None:
    prep_tracked(root)
    ws = root / "ws"
    (root / "expected").mkdir()
    for name in ("big.bin", "table.csv"):
        shutil.copy2(ws / name, root / "expected" / name)
        (ws / name).unlink()
    shutil.rmtree(ws / "imgs")


def final_checkout(root: Path) -> None:
    ws = root / "ws"
    for name in ("big.bin", "table.csv"):
        assert b3(ws / name) == b3(root / "expected" / name), name
    art(ws, "status", "--check")


def prep_checkout_force(root: Path) -> None:
    prep_tracked(root)
    ws = root / "ws"
    (root / "expected").mkdir()
    for name in ("big.bin", "table.csv"):
        shutil.copy2(ws / name, root / "expected" / name)
    write_random(ws / "big.bin", 12 << 20, 9)  # an edit the user chose to throw away (--force)


def allowed_force(root: Path) -> dict[str, set[str]]:
    ws = root / "ws"
    return {"big.bin": {b3(ws / "big.bin"), b3(root / "expected" / "big.bin")}, "table.csv": {b3(ws / "table.csv")}}


def prep_push(root: Path) -> None:
    prep_tracked(root)
    ws = root / "ws"
    (root / "remote").mkdir()
    art(ws, "remote", "add", "origin", str(root / "remote"), "--default")
    _commit(ws, "remote")


def final_push(root: Path) -> None:
    ws = root / "ws"
    art(ws, "fsck", "--remote", "origin", "--read-data")
    clone = root / "clone-check"
    shutil.rmtree(clone, ignore_errors=True)
    git(root, "clone", "-q", str(ws), str(clone))
    # the committed config names the template's remote (the case is a copy of it): use this case's remote
    shutil.copy2(ws / ".art" / "config", clone / ".art" / "config")
    art(clone, "pull")
    assert tree_digest(clone) == {k: v for k, v in tree_digest(ws).items()}, "clone differs from origin"


def prep_pull(root: Path) -> None:
    prep_push(root)
    ws = root / "ws"
    art(ws, "push")
    git(root, "clone", "-q", str(ws), str(root / "clone"))


def final_pull(root: Path) -> None:
    clone = root / "clone"
    assert tree_digest(clone) == tree_digest(root / "ws"), "pulled data differs"
    art(clone, "status", "--check")


def prep_gc(root: Path) -> None:
    prep_tracked(root)
    ws = root / "ws"
    write_random(ws / "big.bin", 12 << 20, 5)
    art(ws, "add", "big.bin")
    write_random(ws / "scratch.bin", 4 << 20, 6)
    art(ws, "add", "scratch.bin")  # never committed: garbage once its pointer is gone
    (ws / "scratch.bin.art").unlink()
    (ws / "scratch.bin").unlink()
    _commit(ws, "v2")


def final_gc(root: Path) -> None:
    ws = root / "ws"
    for rev in ("HEAD~1", "HEAD"):  # everything a commit names is still there
        git(ws, "checkout", "-q", rev, "--", ".")
        art(ws, "checkout", "--force")
        art(ws, "status", "--check")
    git(ws, "checkout", "-q", "HEAD", "--", ".")
    art(ws, "checkout", "--force")


def prep_repro(root: Path) -> None:
    ws = _init(root)
    write_csv(ws / "raw.csv", 30_000, 3)
    (ws / "params.toml").write_text("[prep]\nscale = 3\n")
    (ws / "art.toml").write_text(
        "[stages.prep]\ncmd = \"python3 -c \\\"import sys; d=open('raw.csv').read(); "
        'open(\'prep.csv\',\'w\').write(d*3)\\""\ndeps = ["raw.csv"]\nouts = ["prep.csv"]\n'
        'params = ["params.toml:prep.scale"]\n\n'
        "[stages.model]\ncmd = \"python3 -c \\\"import os; os.makedirs('model', exist_ok=True); "
        "d=open('prep.csv').read(); [open(f'model/p{i}.txt','w').write(d[i::7]) for i in range(7)]\\\"\"\n"
        'deps = ["prep.csv"]\nouts = ["model"]\n\n'
        "[stages.report]\ncmd = \"python3 -c \\\"import os; open('report.txt','w').write(str(sorted("
        'os.listdir(\'model\'))))\\""\ndeps = ["model"]\nouts = ["report.txt"]\n'
    )
    _commit(ws, "pipeline")


def final_repro(root: Path) -> None:
    ws = root / "ws"
    art(ws, "status", "--check")
    assert (ws / "prep.csv").read_text() == (ws / "raw.csv").read_text() * 3
    assert len(list((ws / "model").iterdir())) == 7
    lock = (ws / "art.lock").read_text()
    assert all(f"[stages.{s}]" in lock or f'"{s}"' in lock or f"{s}" in lock for s in ("prep", "model", "report"))


SCENARIOS = [
    Scenario("add", ["add", "big.bin", "table.csv", "imgs"], prep_add, digests_now, final_add),
    Scenario("checkout", ["checkout"], prep_checkout_missing, lambda r: {}, final_checkout),
    Scenario("checkout --force", ["checkout", "--force"], prep_checkout_force, allowed_force, final_checkout),
    Scenario("push", ["push"], prep_push, digests_now, final_push, remote=True),
    Scenario("pull", ["pull"], prep_pull, lambda r: {}, final_pull, missing_ok=True),
    Scenario("gc", ["gc", "--grace", "0"], prep_gc, digests_now, final_gc),
    Scenario("repro", ["repro"], prep_repro, lambda r: {"raw.csv": {b3(r / "ws" / "raw.csv")}}, final_repro),
]


def workdir_of(s: Scenario, root: Path) -> Path:
    return root / ("clone" if s.name == "pull" else "ws")


# ------------------------------------------------------------------------------------------------ runner


@dataclass
class Outcome:
    scenario: str
    how: str  # "point NAME@N" or "timer 0.123s"
    killed: bool
    failure: str | None = None
    data_lost: bool = False


def list_points(s: Scenario, template: Path, scratch: Path) -> collections.Counter:
    root = _fresh(template, scratch)
    log = scratch / "points.log"
    log.unlink(missing_ok=True)
    art(workdir_of(s, root), *s.args, ART_FAULT_LOG=str(log))
    names = log.read_text().split() if log.exists() else []
    return collections.Counter(names)


def _fresh(template: Path, scratch: Path) -> Path:
    root = scratch / "case"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(template, root, symlinks=True)
    _fix_remote_urls(root, template)
    return root


def _fix_remote_urls(root: Path, template: Path) -> None:
    """The template's remote URL names the template's folder: re-point it at the copy's own remote."""
    for ws in (root / "ws", root / "clone"):
        cfg = ws / ".art" / "config"
        if cfg.exists():
            text = cfg.read_text()
            if str(template) in text:
                cfg.write_text(text.replace(str(template), str(root)))


def run_case(s: Scenario, template: Path, scratch: Path, how: str, fault: str | None, delay: float | None) -> Outcome:
    root = _fresh(template, scratch)
    cwd = workdir_of(s, root)
    allowed = s.allowed(root)
    extra = {"ART_FAULT": fault} if fault else {}
    proc = subprocess.Popen(
        [*ART, *s.args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env(**extra)
    )
    if delay is not None:
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    killed = proc.returncode == -signal.SIGKILL
    out = Outcome(s.name, how, killed)
    if proc.returncode not in (0, -signal.SIGKILL):
        out.failure = f"exited {proc.returncode} instead of dying: {err.decode(errors='replace').strip()[-300:]}"
        return out
    try:
        now = tree_digest(cwd)
        for path, digests in allowed.items():
            if now.get(path) not in digests:
                out.data_lost = True
                raise AssertionError(f"{path} lost: it is neither the old nor the new version")
        _fsck_after_kill(cwd, s.missing_ok)
        art(cwd, "status", check=False)  # must not hang on the dead process's lock
        art(cwd, *s.args)
        s.final(root)
        art(cwd, "fsck")
        left = leftovers(cwd)
        if left:
            raise AssertionError(f"left behind: {', '.join(left[:5])}")
        if s.remote:
            art(cwd, "fsck", "--remote", "origin", "--read-data")
    except AssertionError as exc:
        out.failure = str(exc)
    return out


def _fsck_after_kill(cwd: Path, missing_ok: bool) -> None:
    r = art(cwd, "fsck", check=False)
    if r.returncode == 0:
        return
    problems = [ln for ln in r.stdout.splitlines() if ln.strip()]
    if missing_ok and problems and all("is not in the store" in ln for ln in problems):
        return
    raise AssertionError(f"art fsck exited {r.returncode}: {(r.stdout + r.stderr).strip()[-400:]}")


def run(scenarios: list[Scenario], cases: int, timed: int, seed: int, log=print) -> list[Outcome]:
    rng = random.Random(seed)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="art-chaos-") as tmp:
        for s in scenarios:
            base = Path(tmp) / s.name.replace(" ", "_")
            template, scratch = base / "template", base / "scratch"
            template.mkdir(parents=True)
            scratch.mkdir()
            s.prepare(template)
            points = list_points(s, template, scratch)
            t0 = time.monotonic()
            _fresh(template, scratch)
            art(workdir_of(s, scratch / "case"), *s.args)
            duration = time.monotonic() - t0
            # the first and last hit of every point, then random other hits, up to ``cases`` in all
            ends = [(name, n) for name, count in sorted(points.items()) for n in sorted({1, count})]
            rest = [(name, n) for name, count in sorted(points.items()) for n in range(2, count)]
            rng.shuffle(ends)
            rng.shuffle(rest)
            chosen = sorted((ends + rest)[:cases])
            for name, n in chosen:
                o = run_case(s, template, scratch, f"point {name}@{n}", f"{name}@{n}:kill", None)
                if not o.killed and o.failure is None:
                    o.failure = "the point was not reached"
                outcomes.append(o)
                log(_line(o))
            for _ in range(timed):
                delay = rng.uniform(0.05, max(0.1, duration))
                o = run_case(s, template, scratch, f"timer {delay:.3f}s", None, delay)
                outcomes.append(o)
                log(_line(o))
    return outcomes


def _line(o: Outcome) -> str:
    state = "FAIL " + (o.failure or "") if o.failure else ("ok (killed)" if o.killed else "ok (finished first)")
    return f"{o.scenario:18} {o.how:45} {state}"


def table(outcomes: list[Outcome]) -> str:
    rows = collections.OrderedDict()
    for o in outcomes:
        r = rows.setdefault(o.scenario, [0, 0, 0, 0])
        r[0] += 1
        r[1] += o.killed
        r[2] += o.failure is not None
        r[3] += o.data_lost
    lines = ["| scenario | cases | killed | failures | data lost |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {a} | {b} | {c} | {d} |" for k, (a, b, c, d) in rows.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=12, help="point kills per scenario")
    p.add_argument("--timed", type=int, default=4, help="kills after a random delay per scenario")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--only", nargs="*", help="scenario names")
    a = p.parse_args(argv)
    chosen = [s for s in SCENARIOS if not a.only or s.name in a.only]
    outcomes = run(chosen, a.cases, a.timed, a.seed)
    print()
    print(table(outcomes))
    return 1 if any(o.failure for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
