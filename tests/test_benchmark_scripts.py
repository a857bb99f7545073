"""The issue 18/19 benchmark scripts run end to end in tiny sizes, with and without fresh file systems per sample
(``--fresh-fs``: root with loop devices, as in CI; skipped elsewhere), and never leave a mount behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from benchmarks.harness.fresh_fs import FreshFs, unavailable

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "benchmarks" / "small_files.py"
LARGE = ROOT / "benchmarks" / "large_files.py"
QUICK = ["--settle", "0", "--pause", "0", "--reuse-wait", "0", "--no-dvc", "--repeat", "1", "--checkout-rounds", "1"]


def mounts_under(path: Path) -> list[str]:
    """Mount points and loop devices' images below ``path``: what a run must not leave behind."""
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(str(path))]
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout if os.geteuid() == 0 else ""
    return points + [line for line in loops.splitlines() if str(path) in line]


def fresh_ok(tmp_path: Path) -> None:
    if reason := unavailable(tmp_path):
        pytest.skip(f"fresh file systems: {reason}")


def small(
    tmp_path: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess, list[dict]]:
    out = tmp_path / "rows.json"
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    argv = [sys.executable, str(SMALL), "--files", "120", "--tmp", str(scratch), "--json", str(out), *QUICK, *extra]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env)
    return proc, json.loads(out.read_text()) if out.exists() else []


@pytest.mark.long
@pytest.mark.parametrize("mode", ["--no-fresh-fs", "--fresh-fs"])
def test_small_files_times_every_step_and_its_floor_in_tiny_size(tmp_path, mode):
    if mode == "--fresh-fs":
        fresh_ok(tmp_path)
    proc, rows = small(tmp_path, "--layouts", "flat", "--steps", "add,status,checkout,push,pull", mode)
    assert proc.returncode in (0, 1), proc.stderr  # 1: a goal missed at this size, not a failure
    by_step = {r["step"]: r for r in rows}
    assert set(by_step) == {"add", "status", "checkout", "push", "pull"}, proc.stderr
    for step, row in by_step.items():
        assert not row["errors"], (step, row["errors"])
        assert len(row["art"]) == 1 and len(row["floor"]) == 1, step
        assert row["art"][0]["rc"] == 0 and row["floor"][0]["rc"] == 0, step
    fresh = "fresh file systems:" in proc.stderr
    assert fresh == (mode == "--fresh-fs"), proc.stderr
    assert ("a fresh ext4 per sample" in proc.stdout) == fresh
    assert not mounts_under(tmp_path)
    assert not list((tmp_path / "scratch").iterdir())  # images and mount points deleted


def test_small_files_stopped_by_sigterm_or_ctrl_c_leaves_no_mount(tmp_path):
    fresh_ok(tmp_path)
    for sig in (signal.SIGTERM, signal.SIGINT):
        scratch = tmp_path / f"scratch-{sig.name}"
        scratch.mkdir()
        argv = [sys.executable, str(SMALL), "--files", "300", "--tmp", str(scratch), *QUICK, "--steps", "add"]
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        assert proc.stderr is not None
        for line in proc.stderr:  # the source's file system and the repository's are mounted by now
            if "generated" in line:
                break
        assert mounts_under(scratch), "nothing was mounted: the test would prove nothing"
        proc.send_signal(sig)
        proc.communicate(timeout=120)
        assert not mounts_under(scratch), sig.name
        assert not list(scratch.iterdir()), sig.name


@pytest.mark.long
def test_small_files_runs_art_from_bytecode_compiled_once_without_pythondontwritebytecode(tmp_path, monkeypatch):
    """A shell that sets ``PYTHONDONTWRITEBYTECODE`` (as the team's does) made every ``art`` the benchmark timed
    compile art's modules from source. The script byte-compiles art's package once, untimed, and its tools
    (art, DVC, the walk floor) run in an environment without the variable. Here art is a copy of the package
    with no bytecode, run with the variable set around the script."""
    from benchmarks.small_files import environment, parse

    copy = tmp_path / "code"
    shutil.copytree(ROOT / "artvc", copy / "artvc", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(copy)}
    proc, rows = small(tmp_path, "--layouts", "flat", "--steps", "add,status", "--no-fresh-fs", env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert {r["step"] for r in rows} == {"add", "status"} and all(r["art"][0]["rc"] == 0 for r in rows), rows
    assert f"byte-compiled {copy / 'artvc'}" in proc.stderr
    sources = {p.relative_to(copy).with_suffix("") for p in (copy / "artvc").rglob("*.py")}
    compiled = {(p.parent.parent / p.name.split(".")[0]).relative_to(copy) for p in copy.rglob("__pycache__/*.pyc")}
    assert sources and sources == compiled  # every module, not only those an add and a status import
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    tools_env = environment(parse([]), tmp_path)
    assert "PYTHONDONTWRITEBYTECODE" not in tools_env and tools_env["HOME"] == str(tmp_path / "home")


def test_a_fresh_fs_is_empty_sized_and_gone_after_an_exception(tmp_path):
    fresh_ok(tmp_path)
    with pytest.raises(KeyboardInterrupt), FreshFs(tmp_path) as fs:
        a = fs.make("a", 256 << 20, inodes=50_000)
        b = fs.make("b", 128 << 20, at=tmp_path / "here")
        assert b == tmp_path / "here"
        assert os.listdir(a) == [] and os.listdir(b) == []
        st = os.statvfs(a)
        assert st.f_files >= 50_000 and st.f_blocks * st.f_frsize > 200 << 20
        assert os.stat(a).st_dev not in (os.stat(tmp_path).st_dev, os.stat(b).st_dev)
        (a / "x").write_bytes(b"x" * 4096)
        raise KeyboardInterrupt
    assert not mounts_under(tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_template_copy_reads_through_the_host_cache_then_writes_with_direct_io(tmp_path):
    """A copy of a kept file system is attached without direct I/O (its first read comes from the host's cache,
    where the copy left it) and keeps its content; ``direct_io`` then switches its loop device to direct I/O, as
    a fresh file system's is, and the file system stays mounted and writable."""
    fresh_ok(tmp_path)

    def dio(fs: FreshFs, mnt: Path) -> str:
        dev = fs.mounted[mnt][0]
        return Path(f"/sys/block/{Path(dev).name}/loop/dio").read_text().strip()

    with FreshFs(tmp_path) as fs:
        first = fs.make("first", 64 << 20)
        assert dio(fs, first) == "1"
        (first / "data").write_bytes(b"d" * 10000)
        template = fs.keep(first)
        copy = fs.make("copy", 0, template=template)
        assert dio(fs, copy) == "0" and (copy / "data").read_bytes() == b"d" * 10000
        fs.direct_io(copy)
        assert dio(fs, copy) == "1"
        (copy / "more").write_bytes(b"m" * 8192)
        assert (copy / "more").read_bytes() == b"m" * 8192
    assert not mounts_under(tmp_path)


@pytest.mark.long
def test_large_files_runs_add_and_checkout_in_tiny_size(tmp_path):
    out = tmp_path / "rows.json"
    argv = [
        sys.executable, str(LARGE), "--sizes", "3M", "--kinds", "csv", "--repeat", "1", "--steps", "add,checkout",
        "--shm", "", "--pause", "0", "--tmp", str(tmp_path), "--json", str(out),
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = {r["step"]: r for r in json.loads(out.read_text())}
    assert {"add", "checkout"} <= set(rows), proc.stderr
    assert rows["add"]["floor_s"] > 0 and rows["checkout"]["floor_s"] > 0
    assert not mounts_under(tmp_path)


@pytest.mark.long
def test_large_files_times_the_add_on_tmpfs_beside_the_raw_work_that_writes_what_it_stores(tmp_path):
    """``add_tmpfs`` with ``work``: beside the raw work on 1 and 2 threads, the raw work on 2 threads writing the
    bytes it would store (compressed chunks, or raw ones) is timed as a second floor of the add on tmpfs, and
    reported under its row with art's ratios against it; nothing is left in the tmpfs folder."""
    shm = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="art-bench-test-"))
    out = tmp_path / "rows.json"
    try:
        argv = [
            sys.executable, str(LARGE), "--sizes", "3M", "--kinds", "csv", "--repeat", "1", "--steps",
            "work,add_tmpfs", "--shm", str(shm), "--pause", "0", "--tmp", str(tmp_path), "--json", str(out),
        ]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        rows = {r["step"]: r for r in json.loads(out.read_text())}
        floor = rows["add_tmpfs floor"]
        assert 0 < floor["work2w_s"] <= floor["work2w_started_s"]
        assert floor["ratio"] == pytest.approx(rows["add_tmpfs"]["art_s"] / floor["work2w_s"])
        assert "writing what it stores" in proc.stdout + proc.stderr
        assert list(shm.iterdir()) == []
    finally:
        shutil.rmtree(shm, ignore_errors=True)


def test_large_files_refuses_a_size_the_disk_cannot_hold(tmp_path):
    argv = [sys.executable, str(LARGE), "--sizes", "100000G", "--kinds", "random", "--tmp", str(tmp_path)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "needs" in proc.stderr and "GiB free" in proc.stderr and "100000G" in proc.stderr, proc.stderr
    assert not list(tmp_path.iterdir())  # refused before writing anything


@pytest.mark.slow  # two runs of the script with fresh file systems: ~16 s
def test_small_files_copies_one_generated_image_and_reuses_it_from_data_dir(tmp_path):
    """Under ``--fresh-fs`` the data is generated once into an image; each repository's file system is a copy of
    it (no ``cp -a`` of every file); with ``--data-dir`` a second run generates nothing, and ``--inline-data``
    gives the file systems ext4's ``inline_data`` (a 16-64 B file takes no data block)."""
    fresh_ok(tmp_path)
    data = tmp_path / "data"
    argv = ["--layouts", "flat", "--steps", "add,status", "--fresh-fs", "--min-size", "16", "--max-size", "64"]
    first, rows = small(tmp_path, *argv, "--inline-data", "--data-dir", str(data))
    assert first.returncode in (0, 1), first.stderr
    assert "flat 120: generated" in first.stderr
    assert {r["step"] for r in rows} == {"add", "status"}
    assert all(not r["errors"] and r["art"][0]["rc"] == 0 for r in rows), rows
    images = sorted(p.name for p in data.iterdir())
    assert images == ["flat-120-16-64-inline.done", "flat-120-16-64-inline.img"]
    features = subprocess.run(["dumpe2fs", "-h", str(data / images[1])], capture_output=True, text=True).stdout
    assert "inline_data" in features
    second, rows = small(tmp_path, *argv, "--inline-data", "--data-dir", str(data))
    assert second.returncode in (0, 1), second.stderr
    assert "flat 120: generated" not in second.stderr and "the generated data of an earlier run" in second.stderr
    assert all(not r["errors"] and r["art"][0]["rc"] == 0 for r in rows), rows
    assert not mounts_under(tmp_path)
    assert sorted(p.name for p in data.iterdir()) == images  # kept for the next run
    assert not list((tmp_path / "scratch").iterdir())
