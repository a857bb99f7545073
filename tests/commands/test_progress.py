"""Progress bars: live on a terminal (stderr on a pseudo-terminal here), absent when piped, with -q or --json.

Each command runs as a real process with its stderr on a pty, as a person at a terminal sees it. The bar is
redrawn whenever its whole percentage changes, so what it shows does not depend on timing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.builders import write_random_file
from tests.conftest import git
from tests.ptyrun import ESC, percentages, run_pty

MiB = 1 << 20


def art_piped(cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "artvc", *args], cwd=cwd, capture_output=True, text=True)


def advanced(raw: str, total: str) -> None:
    """The bar showed at least two different percentages, ending at 100, and the total amount."""
    seen = percentages(raw)
    assert len(set(seen)) >= 2 and max(seen) == 100, seen
    assert total in ESC.sub("", raw), ESC.sub("", raw)[-400:]


def test_add_of_a_large_file_shows_a_bar_that_advances_with_total_rate_and_eta(ws):
    write_random_file(ws.root / "big.bin", 24 * MiB)
    code, out, err = run_pty(ws.root, "add", "big.bin")
    assert code == 0, err
    advanced(err, "/ 24.0 MiB")
    plain = ESC.sub("", err)
    assert "adding" in plain and "MiB/s" in plain and "ETA" in plain and "1/1 files" in plain
    assert "added: big.bin" in out and "\x1b" not in out  # the bar is on stderr only


def test_add_of_a_folder_counts_files_against_the_stat_walks_total(ws):
    ws.gen({"data": {f"f{i:02}.bin": os.urandom(64 << 10) for i in range(40)}})
    code, _out, err = run_pty(ws.root, "add", "data")
    assert code == 0, err
    advanced(err, "/40 files")
    assert "/ 2.5 MiB" in ESC.sub("", err)


def test_piped_add_prints_no_bar_and_no_escape_codes(ws):
    write_random_file(ws.root / "big.bin", 4 * MiB)
    r = art_piped(ws.root, "add", "big.bin")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "\x1b" not in r.stdout and "%" not in r.stdout and "added: big.bin" in r.stdout


@pytest.mark.parametrize("flag", ["-q", "--json"])
def test_quiet_or_json_on_a_terminal_draw_nothing(ws, flag):
    write_random_file(ws.root / "big.bin", 4 * MiB)
    code, out, err = run_pty(ws.root, "add", flag, "big.bin")
    assert code == 0, err
    assert err == ""
    assert ("big.bin" in out) == (flag == "--json")


@pytest.mark.slow
def test_add_of_a_256_mib_sparse_file_reports_while_it_streams(ws):
    with open(ws.root / "sparse.bin", "wb") as f:
        f.truncate(256 * MiB)
    code, _out, err = run_pty(ws.root, "add", "sparse.bin")
    assert code == 0, err
    advanced(err, "/ 256.0 MiB")
    assert len(set(percentages(err))) > 25  # the large-file path reports each 8 MiB buffer as it is read


def test_checkout_bar_counts_bytes_and_files_from_the_plan(ws):
    write_random_file(ws.root / "big.bin", 16 * MiB)
    ws.gen({"data": {f"f{i}.txt": f"{i}\n" * 1000 for i in range(5)}})
    ws.art("add", "big.bin", "data")
    (ws.root / "big.bin").unlink()
    (ws.root / "data" / "f3.txt").unlink()
    code, out, err = run_pty(ws.root, "checkout")
    assert code == 0, err
    advanced(err, "checking out")
    plain = ESC.sub("", err)
    assert "/2 files" in plain  # big.bin, and only the one file of data/ that differs
    assert (ws.root / "big.bin").stat().st_size == 16 * MiB and "restored: big.bin" in out


def test_fsck_bar_counts_every_indexed_object(ws):
    write_random_file(ws.root / "big.bin", 8 * MiB)
    ws.art("add", "big.bin")
    with ws.repo() as repo:
        objects = repo.store.stats()["objects"]
    code, _out, err = run_pty(ws.root, "fsck")
    assert code == 0, err
    advanced(err, f"/{objects} objects")
    assert "verifying" in ESC.sub("", err)


def test_push_and_pull_bars_with_a_directory_remote(ws, tmp_path):
    for i in range(3):  # three adds, three local packs: the push publishes them one by one
        write_random_file(ws.root / f"m{i}.bin", 4 * MiB, seed=i)
        ws.art("add", f"m{i}.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "data")
    code, out, err = run_pty(ws.root, "push")
    assert code == 0, err
    advanced(err, "/ 12.0 MiB")
    assert "pushing" in ESC.sub("", err) and "objects" in ESC.sub("", err)

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(ws.root), str(clone))
    code, out, err = run_pty(clone, "pull")
    assert code == 0, err
    plain = ESC.sub("", err)
    assert "fetching" in plain and " objects" in plain and "checking out" in plain and "/3 files" in plain
    assert 100 in percentages(err) and len(set(percentages(err))) >= 2
    assert (clone / "m2.bin").read_bytes() == (ws.root / "m2.bin").read_bytes()

    code, out, err = run_pty(ws.root, "fsck", "--remote", "origin", "--read-data")
    assert code == 0, err
    advanced(err, "verifying remote")
    assert "/ 12.0 MiB" in ESC.sub("", err)  # the indexes list the stored bytes: the total before any read


def test_remote_gc_bar_counts_the_live_objects_it_copies(ws, tmp_path):
    ws.gen({"keep.bin": os.urandom(3 * MiB), "drop.bin": os.urandom(3 * MiB)})
    ws.art("add", "keep.bin", "drop.bin")
    ws.art("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    ws.art("push")  # one remote pack holding both
    (ws.root / "drop.bin.art").unlink()
    code, out, err = run_pty(ws.root, "gc", "--remote", "origin", "--grace", "0s")
    assert code == 0, err
    plain = ESC.sub("", err)
    assert "copying live objects" in plain and "/ 3.0 MiB" in plain
    assert 100 in percentages(err) and len(set(percentages(err))) >= 2
    assert "rewritten; 6.0 MiB -> 3.0 MiB" in out


def test_gc_bar_counts_the_live_objects_it_copies(ws):
    ws.gen({"keep.bin": os.urandom(3 * MiB), "drop.bin": os.urandom(3 * MiB)})
    ws.art("add", "keep.bin", "drop.bin")  # one pack holding both
    (ws.root / "drop.bin.art").unlink()
    code, out, err = run_pty(ws.root, "gc", "--grace", "0s")
    assert code == 0, err
    plain = ESC.sub("", err)
    assert "rewriting packs" in plain and "objects" in plain
    assert 100 in percentages(err) and len(set(percentages(err))) >= 2
    assert "rewritten; 6.0 MiB -> 3.0 MiB" in out


def test_repro_numbers_the_stages_of_a_pipeline(ws):
    ws.gen(
        {
            "art.toml": '[stages.a]\ncmd = "echo a > a.txt"\nouts = ["a.txt"]\n'
            '[stages.b]\ncmd = "cat a.txt > b.txt"\ndeps = ["a.txt"]\nouts = ["b.txt"]\n'
            '[stages.c]\ncmd = "cat b.txt > c.txt"\ndeps = ["b.txt"]\nouts = ["c.txt"]\n'
        }
    )
    r = art_piped(ws.root, "repro")  # piped: the numbers are part of the lines, not of a bar
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "[1/3] Running stage a: echo a > a.txt" in lines
    assert any(line.startswith("[3/3] Ran stage c (") for line in lines), lines
    ws.gen({"art.toml": (ws.root / "art.toml").read_text().replace("echo a", "echo A")})
    one = art_piped(ws.root, "repro", "a").stdout.splitlines()
    assert "Running stage a: echo A > a.txt" in one  # one stage: no number


def test_piped_add_does_not_even_import_rich(ws):
    ws.gen({"small.txt": "x\n"})
    probe = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: print('RICH', 'rich' in sys.modules, file=sys.stderr))\n"
        "sys.argv = ['art', 'add', 'small.txt']\n"
        "runpy.run_module('artvc', run_name='__main__')\n"
    )
    r = subprocess.run([sys.executable, "-c", probe], cwd=ws.root, capture_output=True, text=True)
    assert "RICH False" in r.stderr, r.stderr
    assert (ws.root / "small.txt.art").exists()
