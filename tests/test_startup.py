"""`art status` stays fast to start: it must not import the heavy modules other commands need."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("zstandard", "pyfastcdc", "fsspec", "pygit2", "rich", "concurrent.futures", "multiprocessing")

PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("LOADED", *[m for m in {heavy!r} if m in sys.modules], file=sys.stderr))
sys.argv = ["art", *{args!r}]
runpy.run_module("artvc", run_name="__main__")
"""


def loaded_by(cwd, *args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    r = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=heavy, args=args)], cwd=cwd, capture_output=True, text=True
    )
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("LOADED"))
    return line.split()[1:]


@pytest.mark.parametrize("args", [["status"], ["status", "--json"], ["status", "--check"]])
def test_status_imports_no_heavy_module(ws, args):
    ws.gen(
        {
            "data": {"a.csv": "a,b\n1,2\n", "sub": {"b.txt": "b"}},
            "model.bin": b"\0" * 300_000,
            "params.toml": "[train]\nlr = 0.1\n",
            "art.toml": '[stages.train]\ncmd = "true"\ndeps = ["data"]\nparams = ["train.lr"]\n',
        }
    )
    ws.art("add", "data", "model.bin")
    assert loaded_by(ws.root, *args) == []


DATA_ONLY = (
    "hashlib",
    "tomli_w",
    "artvc.pipeline.staleness",
    "artvc.pipeline.spec",
    "artvc.workspace.partial",
    "tomllib",  # pointers and a new config are read by codec.plain_toml
    "artvc.objstore.store.local_writer",  # the store's writing side: status writes nothing
    "artvc.objstore.store.packer",
    "dataclasses",  # it imports inspect; each frozen dataclass compiles its methods (docs/style.md)
    "inspect",
    "artvc.objstore.lineage",
    "threading",  # the store's locks are _thread's; ``leave`` asks threading only when something imported it
    "copy",  # with weakref: the config's copies are plain (TOML data), the lock file's only when there is one
    "weakref",
    "signal",  # its enums: a fault point imports it when it must kill
)


def test_status_of_a_workspace_of_data_alone_loads_no_pipeline_module(ws):
    """Without art.toml and art.lock, a clean status needs neither the pipeline modules nor a TOML writer or
    parser, nor OpenSSL (hashlib) to check the store's registration, nor the store's writer."""
    ws.gen({"data": {"a.csv": "a,b\n1,2\n", "sub": {"b.txt": "b"}}, "model.bin": b"\0" * 3000})
    ws.art("add", "data", "model.bin")
    r = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=DATA_ONLY, args=["status"])],
        cwd=ws.root,
        capture_output=True,
        text=True,
    )
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("LOADED"))
    assert line.split()[1:] == []


CLICK = ("click", "artvc.commands._cli", "artvc.commands._errors", "artvc.commands._options")


@pytest.mark.parametrize("args", [["status"], ["-q", "status", "--json"], ["status", "--check", "data"]])
def test_plain_status_runs_without_click(ws, args):
    """A plain ``art status`` (flags -q -v --json --check and paths) is run by ``_fast``: click, the root group
    and the click helpers are never imported (they were a third of a no-change status's start-up)."""
    ws.gen({"data": {"a.csv": "a,b\n1,2\n"}})
    ws.art("add", "data")
    assert loaded_by(ws.root, *args, heavy=CLICK) == []


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--help"],
        ["status", "--remote"],
        ["status", "--debug"],
        ["add", "x"],
        ["checkout", "--debug"],
        ["checkout", "-fq"],
        ["push", "--full"],
        ["--check", "status"],
        ["add"],
        ["add", "-j", "0", "x"],
        ["add", "--jobs=2", "x"],
        ["add", "-j4", "x"],
        ["add", "-j"],
        ["add", "--", "x"],
        ["pull", "-r"],
        ["pull", "-r", "-q"],
        ["pull", "--lazy", "--debug"],
        ["pull", "-j", "65"],
    ],
)
def test_other_command_lines_go_through_click(ws, args):
    assert "click" in loaded_by(ws.root, *args, heavy=CLICK)


STORE = ("sqlite3", "dataclasses", "zstandard", "msgpack", "artvc.objstore.store", "artvc.workspace.repo")


@pytest.mark.parametrize("command", ["add", "checkout", "push", "pull", "status"])
def test_a_commands_help_opens_no_store(ws, command):
    """``art COMMAND --help`` imports the command's click definition only, not what running it needs."""
    assert loaded_by(ws.root, command, "--help", heavy=STORE) == []


CLICK_PATH = "import sys; sys.argv[0] = 'art'; from artvc.commands._cli import cli; cli(prog_name='art')"


def both_ways(cwd, *args: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """(``art ARGS`` as installed: ``_fast`` when it takes them; the same through the click group)."""
    fast = subprocess.run([sys.executable, "-m", "artvc", *args], cwd=cwd, capture_output=True, text=True)
    slow = subprocess.run([sys.executable, "-c", CLICK_PATH, *args], cwd=cwd, capture_output=True, text=True)
    return fast, slow


@pytest.mark.long  # each parameter runs art twice (fast path, click): the long tier
@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "--json"],
        ["-q", "status"],
        ["status", "-v", "data"],
        ["status", "--check"],
        ["status", "--check", "--json"],
        ["status", "model.bin"],
        ["status", "nowhere"],
    ],
)
def test_fast_status_says_what_the_click_group_says(ws, args):
    ws.gen({"data": {"a.csv": "a,b\n1,2\n", "b.txt": "b"}, "model.bin": b"\0" * 3000})
    ws.art("add", "data", "model.bin")
    (ws.root / "data" / "b.txt").write_text("changed")
    (ws.root / "model.bin").unlink()
    fast, slow = both_ways(ws.root, *args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)
    assert fast.returncode in (0, 1, 4)  # 4: --check with changes; 1: a path that is not tracked
    if "--check" in args:
        assert fast.returncode == 4


def test_fast_status_outside_a_repository_fails_as_the_click_group_does(tmp_path):
    fast, slow = both_ways(tmp_path, "status", "--json")
    assert fast.returncode == slow.returncode == 10
    assert (fast.stdout, fast.stderr) == (slow.stdout, slow.stderr)
    assert fast.stderr.startswith("art: error: ")


def test_help_lists_every_command():
    from artvc.commands import COMMANDS, cli

    shown = {name for name in COMMANDS if not cli.get_command(None, name).hidden}
    assert len(shown) > 30
    r = subprocess.run([sys.executable, "-m", "artvc", "--help"], capture_output=True, text=True, check=True)
    listed = {ln.split()[0] for ln in r.stdout.split("Commands:")[1].splitlines() if ln.startswith("  ")}
    assert listed == shown


OPENSSL_ASYNC = ("hashlib", "asyncio", "ssl")


def test_add_push_and_pull_to_a_directory_remote_load_no_openssl_nor_asyncio(ws, tmp_path):
    """hashlib (OpenSSL) for a temp file's owner token, and asyncio (with ssl) for a timeout class, were ~80 M
    instructions of every push and pull; a directory remote needs neither."""
    ws.gen({"data": {"a.csv": "a,b\n1,2\n"}})
    ws.art("remote", "add", "r", str(tmp_path / "remote"), "--default")
    assert loaded_by(ws.root, "add", "data", heavy=OPENSSL_ASYNC) == []
    assert loaded_by(ws.root, "push", heavy=OPENSSL_ASYNC) == []
    assert loaded_by(ws.root, "pull", heavy=OPENSSL_ASYNC) == []
    assert (ws.root / "data.art").exists() and any((tmp_path / "remote").iterdir())


UNNEEDED = ("tempfile", "socket", "_strptime", "tomllib")


def test_add_checkout_push_and_pull_load_no_module_they_do_not_need(ws, tmp_path):
    """tempfile (with shutil, random, bz2, lzma) for a pack's temp file, socket for a host name, _strptime
    (regular expressions compiled on first use) to check a remote folder's date, and tomllib for a config
    with a ``[remotes.NAME]`` table cost every add, checkout, push and pull a few milliseconds each."""
    ws.gen({"data": {"a.csv": "a,b\n1,2\n"}, "b.txt": "b"})
    ws.art("remote", "add", "r", str(tmp_path / "remote"), "--default")
    assert loaded_by(ws.root, "add", "data", heavy=UNNEEDED) == []
    ws.art("add", "b.txt")
    (ws.root / "b.txt").unlink()
    assert loaded_by(ws.root, "checkout", "b.txt", heavy=UNNEEDED) == []
    assert loaded_by(ws.root, "push", heavy=UNNEEDED) == []
    assert any((tmp_path / "remote").iterdir())
    (ws.root / "b.txt").unlink()
    assert loaded_by(ws.root, "pull", "b.txt", heavy=UNNEEDED) == []
    assert (ws.root / "b.txt").read_text() == "b"


NO_CHILD = """
import subprocess, platform
def refuse(*a, **k):
    raise AssertionError(f"a child process: {a}")
subprocess.Popen = refuse
from artvc.workspace.provenance import environment
print(environment()["platform"])
"""


def test_the_run_records_environment_starts_no_child_process():
    """``platform.platform()`` runs ``uname -p`` (a fork and exec at the end of every add) for a field it drops
    on Linux; ``provenance.platform_name`` gives the same text without it."""
    r = subprocess.run([sys.executable, "-c", NO_CHILD], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import platform

    assert r.stdout.strip() == platform.platform()


TEARDOWN = """
import atexit, runpy, sys, threading, time
class Sentinel:
    def __del__(self):
        print("TEARDOWN", file=sys.stderr)
keep = Sentinel()  # freed only by the interpreter's teardown
atexit.register(lambda: print("ATEXIT", file=sys.stderr))
if {late!r}:
    def late():
        time.sleep(0.3)
        open({late!r}, "w").write("done")
    threading.Thread(target=late).start()  # not a daemon: the process waits for it
sys.argv = ["art", *{args!r}]
runpy.run_module("artvc", run_name="__main__", alter_sys=True)  # art as the program, as ``python -m artvc``
"""


@pytest.mark.parametrize("args", [["status"], ["add", "data"], ["checkout", "--json"], ["status", "--nope"]])
def test_a_finished_command_leaves_without_the_interpreters_teardown(ws, args):
    """Freeing every object and module at exit was ~150 M instructions after a checkout of 5,000 files;
    ``leave`` runs the atexit functions, flushes stdout and stderr and ends the process, with the command's
    exit status."""
    ws.gen({"data": {"a.csv": "a,b\n1,2\n"}})
    code = subprocess.run([sys.executable, "-m", "artvc", *args], cwd=ws.root, capture_output=True).returncode
    r = subprocess.run(
        [sys.executable, "-c", TEARDOWN.format(late="", args=args)], cwd=ws.root, capture_output=True, text=True
    )
    assert r.returncode == code and "ATEXIT" in r.stderr and "TEARDOWN" not in r.stderr
    assert (r.returncode == 2) == ("--nope" in args)
    assert not list((ws.root / ".art" / "tmp").glob("owned-*.list"))  # the journal's atexit removal ran


def test_a_thread_still_running_gets_the_ordinary_exit(ws, tmp_path):
    late = tmp_path / "late.txt"
    r = subprocess.run(
        [sys.executable, "-c", TEARDOWN.format(late=str(late), args=["status"])],
        cwd=ws.root,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and late.read_text() == "done" and "TEARDOWN" in r.stderr


PROFILED = """
import cProfile, runpy, sys
sys.argv = ["art", "status"]
cProfile.run("runpy.run_module('artvc', run_name='__main__')", {out!r})  # it takes SystemExit
print("AFTER")
"""


def test_art_run_by_another_program_exits_as_before(ws, tmp_path):
    """Under a profiler (or any program that runs art's main module and goes on after it) the command ends with
    ``SystemExit`` as before: the caller still writes its results."""
    out = tmp_path / "status.prof"
    r = subprocess.run(
        [sys.executable, "-c", PROFILED.format(out=str(out))], cwd=ws.root, capture_output=True, text=True
    )
    assert r.returncode == 0 and r.stdout.endswith("AFTER\n") and out.stat().st_size > 0, r.stderr


@pytest.mark.parametrize(
    "args", [["checkout"], ["-q", "checkout", "--json", "-f", "data"], ["push"], ["push", "--json"]]
)
def test_plain_checkout_and_push_run_without_click(ws, tmp_path, args):
    ws.gen({"data": {"a.csv": "a,b\n1,2\n"}})
    ws.art("remote", "add", "r", str(tmp_path / "remote"), "--default")
    ws.art("add", "data")
    assert loaded_by(ws.root, *args, heavy=CLICK) == []
    assert (ws.root / "data" / "a.csv").read_text() == "a,b\n1,2\n"


def copies(ws, tmp_path) -> tuple[Path, Path]:
    """Two copies of the workspace, each with a directory remote of its own (``../remote``)."""
    import shutil

    ws.gen({"data": {"a.csv": "a,b\n1,2\n", "b.txt": "b"}, "model.bin": b"\0" * 3000})
    ws.art("add", "data", "model.bin")
    ws.art("remote", "add", "r", "../remote", "--default")
    (ws.root / "data" / "b.txt").write_text("changed")
    (ws.root / "model.bin").unlink()
    roots = tmp_path / "one" / "ws", tmp_path / "two" / "ws"
    for root in roots:
        shutil.copytree(ws.root, root, symlinks=True)
    return roots


@pytest.mark.long  # each parameter runs art twice (fast path, click): the long tier
@pytest.mark.parametrize(
    "args",
    [
        ["checkout"],
        ["checkout", "--json"],
        ["-q", "checkout", "model.bin"],
        ["checkout", "-f"],
        ["checkout", "--force", "data", "-v"],
        ["checkout", "nowhere"],
        ["push"],
        ["push", "--json"],
        ["push", "model.bin"],
        ["push", "nowhere"],
    ],
)
def test_fast_checkout_and_push_say_what_the_click_group_says(ws, tmp_path, args):
    one, two = copies(ws, tmp_path)
    fast = subprocess.run([sys.executable, "-m", "artvc", *args], cwd=one, capture_output=True, text=True)
    slow = subprocess.run([sys.executable, "-c", CLICK_PATH, *args], cwd=two, capture_output=True, text=True)
    said = [
        (r.returncode, r.stdout.replace(str(c.parent), "~"), r.stderr.replace(str(c.parent), "~"))
        for r, c in ((fast, one), (slow, two))
    ]
    assert said[0] == said[1]
    refused = "nowhere" in args or (args[-1] in ("checkout", "--json") and "push" not in args)  # b.txt changed
    assert fast.returncode == (1 if refused else 0), fast.stderr
    if "push" in args and "nowhere" not in args:
        assert any((one.parent / "remote").iterdir())


@pytest.mark.parametrize(
    "args",
    [
        ["add", "data"],
        ["-q", "add", "--json", "data", "-j", "2"],
        ["pull"],
        ["pull", "--lazy", "-r", "r", "--jobs", "2", "-f", "--all-runs"],
        ["-v", "pull", "--no-lazy", "data"],
        ["push", "-r", "r", "-j", "3"],
    ],
)
def test_plain_add_and_pull_run_without_click(ws, tmp_path, args):
    """A plain add or pull (and push with -r/-j) is run by ``_fast``: click was ~37 M instructions of each (fails
    before h/fastcli: add and pull imported click)."""
    ws.gen({"data": {"a.csv": "a,b\n1,2\n"}})
    ws.art("remote", "add", "r", str(tmp_path / "remote"), "--default")
    ws.art("add", "data")
    ws.art("push")
    a_csv, pointer = ws.root / "data" / "a.csv", (ws.root / "data.art").read_bytes()
    if "add" in args:
        a_csv.write_text("changed\n")
    else:
        a_csv.unlink()
    lazy = ("artvc.workspace.lazy_pull",)  # a lazy pull's own module, for a lazy pull only
    assert loaded_by(ws.root, *args, heavy=CLICK + lazy) == (list(lazy) if "--lazy" in args else [])
    assert ((ws.root / "data.art").read_bytes() != pointer) == ("add" in args)  # the add ran
    assert a_csv.exists() == ("push" not in args)  # the pull restored it


def outcome(root: Path) -> dict:
    """What a command left: every file outside .art, and the objects the store holds or was promised."""
    import sqlite3

    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    db = root / ".art" / "store" / "index.db"
    rows: dict = {}
    if db.exists():
        with sqlite3.connect(db) as con:
            # a run record holds its own time: each add writes a different one
            rows["objects"] = sorted(con.execute("SELECT oid, kind FROM objects WHERE kind != 3"))
            rows["runs"] = len(list(con.execute("SELECT oid FROM objects WHERE kind = 3")))
            rows["promised"] = sorted(con.execute("SELECT oid, remote FROM promised"))
    return {"files": {k: v for k, v in files.items() if not k.startswith((".art/", ".git/"))}, "store": rows}


def same_both_ways(one: Path, two: Path, args: list[str]) -> subprocess.CompletedProcess:
    """Run ``art ARGS`` the fast way in ``one`` and through click in ``two`` (copies); assert the same exit status,
    output (the copies' own paths aside) and outcome; return the fast run."""
    fast = subprocess.run([sys.executable, "-m", "artvc", *args], cwd=one, capture_output=True, text=True)
    slow = subprocess.run([sys.executable, "-c", CLICK_PATH, *args], cwd=two, capture_output=True, text=True)
    said = [
        (
            r.returncode,
            re.sub(r'"run_oid": "\w+"', "RUN", r.stdout.replace(str(c.parent), "~")),  # a run record holds its time
            r.stderr.replace(str(c.parent), "~"),
        )
        for r, c in ((fast, one), (slow, two))
    ]
    assert said[0] == said[1]
    assert outcome(one) == outcome(two)
    return fast


@pytest.mark.long  # each parameter runs art twice (fast path, click): the long tier
@pytest.mark.parametrize(
    "args",
    [
        ["add", "data"],
        ["add", "--json", "data", "model.bin"],
        ["-q", "add", "model.bin", "-j", "2"],
        ["add", "-v", "data/a.csv", "--jobs", "64"],
        ["add", "nowhere"],
        ["add", "data", "nowhere"],
        ["add", "../outside.txt"],
    ],
)
def test_fast_add_says_and_stores_what_the_click_group_does(ws, tmp_path, args):
    import shutil

    ws.gen({"data": {"a.csv": "a,b\n1,2\n", "b.txt": "b"}, "model.bin": b"\0" * 3000})
    roots = tmp_path / "one" / "ws", tmp_path / "two" / "ws"
    for root in roots:
        shutil.copytree(ws.root, root, symlinks=True)
        (root.parent / "outside.txt").write_text("outside")
    fast = same_both_ways(*roots, args)
    refused = "nowhere" in args or "../outside.txt" in args
    assert fast.returncode == (10 if "../outside.txt" in args else 1 if refused else 0), fast.stderr
    first = next(a for a in args[args.index("add") + 1 :] if not a.startswith("-"))
    assert (roots[0] / f"{first}.art").exists() != refused


@pytest.fixture
def pulled(ws, tmp_path) -> tuple[Path, Path]:
    """Two clones of a workspace whose data (a small folder, a file of several chunks) is on a directory remote."""
    import random

    from tests.remote.conftest import clone

    ws.gen({"data": {"a.csv": "a,b\n1,2\n", "b.txt": "b"}, "big.bin": random.Random(1).randbytes(1 << 20)})
    ws.art("add", "data", "big.bin")
    ws.art("remote", "add", "r", str(tmp_path / "remote"), "--default")
    ws.art("push")
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    return clone(ws, tmp_path / "one" / "ws").root, clone(ws, tmp_path / "two" / "ws").root


@pytest.mark.long  # each parameter runs art twice (fast path, click): the long tier
@pytest.mark.parametrize(
    ("config", "args"),
    [
        ("", ["pull"]),
        ("", ["pull", "--json"]),
        ("", ["-q", "pull", "data"]),
        ("", ["pull", "--lazy"]),
        ("true", ["pull"]),
        ("true", ["pull", "--no-lazy", "-v"]),
        ("false", ["pull", "--lazy", "--no-lazy", "--lazy"]),
        ("", ["pull", "-r", "r", "-j", "2", "-f", "--all-runs", "big.bin"]),
        ("", ["pull", "nowhere"]),
        ("", ["pull", "--remote", "nope"]),
    ],
)
def test_fast_pull_says_and_stores_what_the_click_group_does(pulled, config, args):
    """core.lazy_pull (set, unset, overridden either way) is honoured the same; errors are told the same."""
    from tests.conftest import Workspace

    if config:
        for root in pulled:
            Workspace(root).art("config", "core.lazy_pull", config)
    fast = same_both_ways(*pulled, args)
    assert fast.returncode == (0 if "nowhere" not in args and "nope" not in args else 1), fast.stderr
    lazy = ("--no-lazy" not in args and config == "true") or args[-1] == "--lazy" or args == ["pull", "--lazy"]
    assert bool(outcome(pulled[0])["store"].get("promised")) == (lazy and fast.returncode == 0)


def test_fast_add_and_pull_fail_as_the_click_group_does_without_a_repository_or_a_remote(ws, tmp_path):
    (tmp_path / "bare").mkdir()
    for args in (["add", "x"], ["pull"]):
        fast, slow = both_ways(tmp_path / "bare", *args)
        assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)
        assert fast.returncode == 10 and fast.stderr.startswith("art: error: ")
    ws.gen({"a.txt": "a"})
    ws.art("add", "a.txt")
    (ws.root / "a.txt").unlink()
    fast, slow = both_ways(ws.root, "pull", "--json")
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)
    assert fast.returncode == 1 and "remote" in fast.stderr
