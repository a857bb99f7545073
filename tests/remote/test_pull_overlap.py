"""A pull checks out a folder that is not there beside its fetch (workspace/pull_overlap.py): files are written
as their packs arrive, planned from the trees the fetch verified (none read from the store), and put in place
only once the fetch ended whole: a damaged pack or an interrupt still leaves the workspace as it was."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from artvc.workspace import add
from tests.conftest import Workspace
from tests.remote.conftest import add_remote, art_json, clone, files_under

WAIT = 60  # seconds a test waits for the checkout beside the fetch (a guard: it takes milliseconds)


def _two_packs(ws: Workspace, tmp_path: Path) -> Workspace:
    """One folder added and pushed to a directory remote in two steps (two packs of chunks there: 600 tiny
    files, then 600 of 1.5-2 KB, the larger pack); return a fresh clone."""
    rng = random.Random(30)
    add_remote(ws, str(tmp_path / "bucket"))
    ws.gen({"d0": {f"f{i:04d}.bin": rng.randbytes(rng.randint(1, 200)) for i in range(600)}})
    ws.art("add", "d0")
    assert art_json(ws, "push")["missing"] == []
    ws.gen({"d0": {f"f{i:04d}.bin": rng.randbytes(rng.randint(1500, 2000)) for i in range(600, 1200)}})
    ws.art("add", "d0")
    assert art_json(ws, "push")["missing"] == []
    return clone(ws, tmp_path / "clone")


def _watch_writes(monkeypatch) -> tuple[list[str], threading.Event]:
    """Note every file the checkout writes from the store (its path: ``materialize._write_run`` writes a run
    of one-chunk files), and set the event once the first run is written."""
    from artvc.objstore import materialize

    written: list[str] = []
    first = threading.Event()
    real = materialize._write_run

    def write(store, files, *args, **kwargs):
        landed = real(store, files, *args, **kwargs)
        written.extend(files[i][0] for i, _ in landed)
        first.set()
        return landed

    monkeypatch.setattr(materialize, "_write_run", write)
    return written, first


def _imports(monkeypatch, before_last=None) -> list[str]:
    """Note each pack the fetch adopts whole; ``before_last`` runs before the second (the last) is adopted."""
    from artvc.objstore.store.local import LocalStore

    names: list[str] = []
    real = LocalStore.import_pack

    def import_pack(self, path, name, entries):
        names.append(name)
        if len(names) == 2 and before_last is not None:
            before_last()
        return real(self, path, name, entries)

    monkeypatch.setattr(LocalStore, "import_pack", import_pack)
    return names


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if "art-tmp" in p.name)


@pytest.mark.long
def test_a_pulled_folder_is_written_while_its_last_pack_is_still_coming(ws, tmp_path, monkeypatch):
    """The files of the first pack are written before the second pack is adopted (the old code wrote none
    before the whole fetch ended: this waited in vain), into the private staging folder, which appears as
    the folder only at the end."""
    other = _two_packs(ws, tmp_path)
    written, first = _watch_writes(monkeypatch)
    seen: dict[str, object] = {}

    def before_last() -> None:
        seen["wrote"] = first.wait(WAIT)
        seen["files"] = len(written)
        seen["in place"] = (other.root / "d0").exists()

    names = _imports(monkeypatch, before_last)
    pulled = art_json(other, "pull")
    assert len(names) == 2 and not pulled["problems"]
    assert seen["wrote"] is True and isinstance(seen["files"], int) and seen["files"] >= 1
    assert seen["in place"] is False  # written in the staging folder, not yet in the workspace
    assert pulled["files_written"] == 1200 and len(written) == 1200
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    assert _leftovers(other.root) == []
    assert "unchanged" in other.art("status").stdout


@pytest.mark.long
def test_the_checkout_beside_the_fetch_reads_no_tree_from_the_store(ws, tmp_path, monkeypatch):
    """The plan and the apply step read the trees the fetch verified (the old code read the folder's tree back
    from the store, where the fetch had just stored it)."""
    from artvc.objstore.objects import Kind
    from artvc.objstore.store.local import LocalStore

    other = _two_packs(ws, tmp_path)
    trees: list[str] = []
    real = LocalStore.get

    def get(self, oid, kind, *args, **kwargs):
        if Kind(kind) == Kind.TREE:
            trees.append(oid)
        return real(self, oid, kind, *args, **kwargs)

    monkeypatch.setattr(LocalStore, "get", get)
    assert art_json(other, "pull")["files_written"] == 1200
    assert trees == []
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")


def test_a_damaged_pack_leaves_nothing_written_though_files_were_written_beside_the_fetch(ws, tmp_path, monkeypatch):
    """The larger pack (the second) is damaged on the remote: the checkout beside the fetch had written the
    first pack's files into its staging folder, which is removed; the pull fails with exit 3 and the workspace
    holds neither the folder nor a staging folder."""
    other = _two_packs(ws, tmp_path)
    pack = max((tmp_path / "bucket").rglob("*.pack"), key=lambda p: p.stat().st_size)
    damaged = bytearray(pack.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    pack.unlink()  # maybe a hard link to the first workspace's pack: write a new file
    pack.write_bytes(bytes(damaged))
    written, first = _watch_writes(monkeypatch)
    _imports(monkeypatch, lambda: first.wait(WAIT))
    result = other.art("pull", code=3)
    assert result.stderr.startswith("art: error: ") and "failed verification" in result.stderr
    assert written  # the first pack's files were written beside the fetch
    assert not (other.root / "d0").exists()
    assert _leftovers(other.root) == []


@pytest.mark.long
def test_an_interrupted_fetch_leaves_nothing_of_the_checkout_beside_it(ws, tmp_path, monkeypatch):
    """Ctrl-C while the last pack is adopted: the checkout beside the fetch stops, its staging folder is
    removed, and nothing is in place; a pull afterwards completes the folder."""
    from artvc.workspace.pull import pull

    other = _two_packs(ws, tmp_path)
    written, first = _watch_writes(monkeypatch)

    def interrupt() -> None:
        first.wait(WAIT)
        raise KeyboardInterrupt

    _imports(monkeypatch, interrupt)
    with other.repo() as repo, pytest.raises(KeyboardInterrupt):
        pull(repo)
    assert written and not (other.root / "d0").exists()
    assert _leftovers(other.root) == []
    monkeypatch.undo()
    assert art_json(other, "pull")["restored"] == ["d0"]
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")


def test_a_nested_folder_with_links_and_modes_is_pulled_beside_the_fetch(ws, tmp_path, monkeypatch):
    """Sub-folders, an executable file and a symlink in a folder checked out beside the fetch come out as they
    went in, and the next status reads the remembered folder signatures (nothing hashed again)."""
    import os

    rng = random.Random(31)
    ws.gen({"d1": {f"s{k}": {f"f{i}.bin": rng.randbytes(rng.randint(1, 300)) for i in range(40)} for k in range(5)}})
    (ws.root / "d1" / "s0" / "f0.bin").chmod(0o755)
    os.symlink("s1/f1.bin", ws.root / "d1" / "link")
    ws.art("add", "d1")
    add_remote(ws, str(tmp_path / "bucket"))
    assert art_json(ws, "push")["missing"] == []
    other = clone(ws, tmp_path / "clone")
    from artvc.workspace import pull_overlap

    beside: list[int] = []
    real = pull_overlap.apply_plan
    monkeypatch.setattr(pull_overlap, "apply_plan", lambda *a, **k: beside.append(1) or real(*a, **k))
    written, _ = _watch_writes(monkeypatch)
    assert art_json(other, "pull")["restored"] == ["d1"]
    assert beside == [1] and len(written) == 200  # checked out beside the fetch
    assert files_under(other.root / "d1") == files_under(ws.root / "d1")
    assert os.access(other.root / "d1" / "s0" / "f0.bin", os.X_OK)
    assert os.readlink(other.root / "d1" / "link") == "s1/f1.bin"
    assert _leftovers(other.root) == []
    assert art_json(other, "status")["artifacts"][0]["state"] == "unchanged"


@pytest.mark.long
def test_a_failure_of_the_checkout_beside_the_fetch_is_said_under_verbose(ws, tmp_path, monkeypatch):
    """A bug in the checkout beside the fetch is not silently a lost overlap: the folder is still checked out
    after the fetch (nothing was put in place beside it), and ``-v`` says what stopped it, in one line (the old
    code kept the exception in ``Overlap.error`` and said nothing)."""
    from artvc.workspace import pull_overlap

    other = _two_packs(ws, tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("planted failure\nsecond line")

    monkeypatch.setattr(pull_overlap, "apply_plan", broken)
    said = other.art("-v", "pull").stderr.splitlines()
    assert [line for line in said if "beside the fetch" in line] == [
        "the checkout beside the fetch stopped (RuntimeError: planted failure); checked out after the fetch"
    ]
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    third = clone(ws, tmp_path / "third")
    quiet = third.art("pull")  # without -v: not said
    assert "planted" not in quiet.stdout + quiet.stderr
    assert files_under(third.root / "d0") == files_under(ws.root / "d0")


# -- the files left once the fetch ended, in two processes (workspace/forked_writes.py) --------------------------

ART = [sys.executable, "-m", "artvc"]


def _many(ws: Workspace, tmp_path: Path, n: int = 6000) -> Workspace:
    """One folder of ``n`` tiny files (over ``FORK_AT``) added and pushed to a directory remote; return a fresh
    clone that writes with two processes (``core.jobs`` 2, whatever this machine's cores)."""
    rng = random.Random(34)
    add_remote(ws, str(tmp_path / "bucket"))
    ws.gen({"d0": {f"f{i:05d}.bin": rng.randbytes(rng.randint(1, 64)) for i in range(n)}})
    ws.art("add", "d0")
    assert art_json(ws, "push")["missing"] == []
    other = clone(ws, tmp_path / "clone")
    other.art("config", "core.jobs", "2")
    return other


def _held_pull(other: Workspace, faults: str, **popen: object) -> tuple[subprocess.Popen, Path, Path]:
    """``art pull`` started in ``other`` with ``ART_FAULT`` = ``faults`` (a ``block`` among them waits until the
    returned release file exists), its fault points logged to the returned log file; stderr piped."""
    log, release = other.root.parent / "faults.log", other.root.parent / "release"
    env = {**os.environ, "ART_FAULT": faults, "ART_FAULT_RELEASE": str(release), "ART_FAULT_LOG": str(log)}
    proc = subprocess.Popen([*ART, "pull"], cwd=other.root, env=env, stderr=subprocess.PIPE, text=True, **popen)
    return proc, log, release


def _pull_after_fetch(other: Workspace, faults: str = "") -> tuple[subprocess.CompletedProcess, list[str]]:
    """``art pull`` as a process whose checkout beside the fetch waits, before its first file, until the fetch
    has stored its last objects (the trees, stored last): then the files are all left to write when the fetch
    ends, whatever the machine's speed. Returns the process and the fault points it passed, in order (the
    forked writer's too: it appends to the same log)."""
    proc, log, release = _held_pull(
        other, ",".join(["checkout.planned:block", *filter(None, [faults])]), stdout=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + WAIT
        while proc.poll() is None and time.monotonic() < deadline:
            if log.exists() and "store.pack-renamed" in log.read_text().split():
                break
            time.sleep(0.01)
        release.touch()
        out, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), log.read_text().split()


@pytest.mark.long
def test_a_pulled_folder_is_written_in_two_processes_once_the_fetch_ended(ws, tmp_path):
    """The 6,000 files left when the fetch ended are written by this process and a forked child (the old code
    wrote them in this thread alone, one core idle: it never forked in a pull); the folder is the same bytes,
    fsck is clean and the next status hashes nothing."""
    other = _many(ws, tmp_path)
    done, points = _pull_after_fetch(other)
    assert done.returncode == 0, done.stderr
    assert points.count("checkout.forked") == 1  # the child, after the fetch stored its last pack
    assert points.index("store.pack-renamed") < points.index("checkout.forked")
    assert points.count("materialize.file-writing") == 6000  # each file written once, by one of the two
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    assert _leftovers(other.root) == []
    assert "ok:" in other.art("fsck").stdout
    with other.repo() as repo:
        from artvc.workspace import status

        assert status(repo).clean
        assert add(repo, ["d0"]).stats.hashed == 0  # the child's files are in the stat cache as this process's


@pytest.mark.long
@pytest.mark.parametrize(("fault", "code"), [("interrupt", 130), ("kill", -signal.SIGKILL)])
def test_a_failure_of_the_forked_writer_leaves_the_workspace_as_it_was(ws, tmp_path, fault, code):
    """The child fails as it starts (``checkout.forked``, reached by the child alone): Ctrl-C there stops the
    pull (exit 130: the old code never forked, so it finished) and a kill there kills it; the folder is not in
    place, the interrupted pull removed its staging folder, and the next pull completes it (after a kill it also
    removes the staging folder left)."""
    other = _many(ws, tmp_path)
    done, points = _pull_after_fetch(other, f"checkout.forked:{fault}")
    assert done.returncode == code, done.stderr
    assert "checkout.forked" in points
    assert not (other.root / "d0").exists()
    if fault == "interrupt":
        assert _leftovers(other.root) == []
    again = subprocess.run([*ART, "pull"], cwd=other.root, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    assert _leftovers(other.root) == []
    assert "ok:" in other.art("fsck").stdout


def test_an_interrupt_while_the_pull_waits_for_its_checkout_leaves_nothing(ws, tmp_path):
    """Ctrl-C once the fetch ended, while the pull waits for the checkout beside it (here held at its first file,
    in its staging folder): that checkout is cancelled, stops before its next job and removes its staging
    folder, and only then does the pull end, interrupted (the old code raised at once, in ``Thread.join``, and
    the process ended with that thread still writing: its staging folder stayed). The next pull completes."""
    other = _many(ws, tmp_path, 1200)
    proc, log, release = _held_pull(other, "materialize.file-writing:block")

    def reached(point: str) -> bool:
        deadline = time.monotonic() + WAIT
        while proc.poll() is None and time.monotonic() < deadline:
            if log.exists() and point in log.read_text().split():
                return True
            time.sleep(0.01)
        return False

    try:
        assert reached("pull.checkout-waiting")  # the fetch ended; the checkout is held at its first file
        proc.send_signal(signal.SIGINT)
        cancelled = reached("pull.checkout-cancelled")
        release.touch()
        err = proc.communicate(timeout=WAIT)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert cancelled and proc.returncode == 130, err
    assert not (other.root / "d0").exists()
    assert _leftovers(other.root) == []
    assert art_json(other, "pull")["restored"] == ["d0"]
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")


# -- a writer process forked as the pull starts (forked_writes.Writer) ------------------------------------------


def _many_in_two_packs(ws: Workspace, tmp_path: Path, n: int = 3000) -> Workspace:
    """One folder of ``2 * n`` tiny files (over ``FORK_AT``) added and pushed to a directory remote in two steps
    (two packs of chunks there: the first ``n`` names of 1-64 bytes, then the next ``n`` of 1.5-2 KB, the largest
    pack); return a fresh clone that writes with two processes (``core.jobs`` 2)."""
    rng = random.Random(35)
    add_remote(ws, str(tmp_path / "bucket"))
    for part, (low, high) in enumerate([(1, 64), (1500, 2000)]):
        names = range(part * n, (part + 1) * n)
        ws.gen({"d0": {f"f{i:05d}.bin": rng.randbytes(rng.randint(low, high)) for i in names}})
        ws.art("add", "d0")
        assert art_json(ws, "push")["missing"] == []
    other = clone(ws, tmp_path / "clone")
    other.art("config", "core.jobs", "2")
    return other


@pytest.mark.long
def test_the_writer_process_writes_a_large_folder_while_the_fetch_still_goes_on(ws, tmp_path):
    """The fetch is held right after it adopted the first of the two packs: the writer process (forked as the pull
    started) writes that pack's files meanwhile (the old code forked only once the fetch had ended, and wrote
    them in the fetch's own process); then the pull ends with the same bytes, a clean fsck, and every file in the
    stat cache (the writer's reports recorded by the pull: the next add hashes nothing)."""
    other = _many_in_two_packs(ws, tmp_path)
    proc, log, release = _held_pull(other, "fetch.pack-imported@1:block")
    seen: list[str] = []
    try:
        deadline = time.monotonic() + WAIT
        while proc.poll() is None and time.monotonic() < deadline:
            seen = log.read_text().split() if log.exists() else []
            if seen.count("materialize.file-writing") >= 1024:
                break
            time.sleep(0.01)
        release.touch()
        err = proc.communicate(timeout=WAIT)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert seen.count("fetch.pack-imported") == 1  # held after the first pack: the second is not adopted yet
    assert "checkout.forked" in seen and seen.count("materialize.file-writing") >= 1024
    points = log.read_text().split()
    assert points.count("checkout.forked") == 1 and points.count("materialize.file-writing") == 6000
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    assert _leftovers(other.root) == []
    assert "ok:" in other.art("fsck").stdout
    with other.repo() as repo:
        from artvc.workspace import status

        assert status(repo).clean
        assert add(repo, ["d0"]).stats.hashed == 0


@pytest.mark.long
def test_a_damaged_pack_stops_the_writer_process_and_leaves_the_workspace_as_it_was(ws, tmp_path):
    """The second pack is damaged on the remote: the writer process had written the first pack's files into the
    staging folder; it is stopped, the staging folder removed, the pull fails with exit 3 and nothing is in
    place. Once the remote's pack is whole again, the next pull completes the folder."""
    other = _many_in_two_packs(ws, tmp_path)
    packs = sorted((tmp_path / "bucket").rglob("*.pack"), key=lambda p: p.stat().st_size)
    good = packs[-1].read_bytes()  # the second push's pack of chunks
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0xFF
    packs[-1].unlink()
    packs[-1].write_bytes(bytes(damaged))
    log = other.root.parent / "faults.log"
    env = {**os.environ, "ART_FAULT_LOG": str(log)}
    done = subprocess.run([*ART, "pull"], cwd=other.root, env=env, capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert "failed verification" in done.stderr
    points = log.read_text().split()
    assert "checkout.forked" in points and "materialize.file-writing" in points  # the first pack's files
    assert not (other.root / "d0").exists()
    assert _leftovers(other.root) == []
    packs[-1].unlink()
    packs[-1].write_bytes(good)
    again = subprocess.run([*ART, "pull"], cwd=other.root, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert files_under(other.root / "d0") == files_under(ws.root / "d0")
    assert "ok:" in other.art("fsck").stdout


def test_the_checkout_beside_the_fetch_keeps_at_most_its_budget_of_decoded_trees(ws, tmp_path, monkeypatch):
    """The plan beside the fetch keeps decoded trees for the apply step up to ``KEPT_ENTRIES`` entries in all
    (it lives beside the fetch's memory: 1M files in folders of 100 peaked at 154 MB with a checkout's budget);
    the trees past it are decoded again from what the fetch verified, and the folder comes out the same."""
    from artvc.workspace import pull_overlap

    rng = random.Random(32)
    ws.gen({"d2": {f"s{k}": {f"f{i}.bin": rng.randbytes(rng.randint(1, 300)) for i in range(40)} for k in range(6)}})
    ws.art("add", "d2")
    add_remote(ws, str(tmp_path / "bucket"))
    assert art_json(ws, "push")["missing"] == []
    other = clone(ws, tmp_path / "clone")
    monkeypatch.setattr(pull_overlap, "KEPT_ENTRIES", 100)
    kept: list[int] = []
    real_keep = pull_overlap.VerifiedTrees.keep

    def keep(self, tree):
        before = len(self)
        real_keep(self, tree)
        if len(self) > before:
            kept.append(len(tree.entries))

    monkeypatch.setattr(pull_overlap.VerifiedTrees, "keep", keep)
    written, _ = _watch_writes(monkeypatch)
    assert art_json(other, "pull")["restored"] == ["d2"]
    assert len(written) == 240  # all checked out beside the fetch
    assert kept and sum(kept) <= 100 and len(kept) < 7  # two trees of 40 kept; the others decoded again
    assert files_under(other.root / "d2") == files_under(ws.root / "d2")
    assert _leftovers(other.root) == []
