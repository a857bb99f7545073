"""Every command with --json speaks one vocabulary (docs/cli.md, "JSON output"), before or after the command.

The commands are enumerated from the click group: a new command with --json and no case here fails
``test_every_json_command_has_a_case``, and one whose top-level keys are not in the docs table fails the run.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import click
import pytest

from tests.builders import csv_bytes, random_bytes
from tests.conftest import Workspace, git

ROOT = Path(__file__).resolve().parents[2]

# commands with output but no --json, and why
NO_JSON = {
    "completion": "prints a shell script",
    "hook": "what git hooks run; talks to git, not to scripts",
    "cat": "prints the artifact's bytes",
    "fsmonitor run": "the daemon itself, in the foreground (hidden)",
}

HEX64 = re.compile(r"[0-9a-f]{64}")
FORBIDDEN = {"id", "status", "returncode", "bytes", "seconds", "time_ns", "mtime"}
STATES = {
    # artifacts (status), stages (status, dag, repro), artifacts against a remote (status --remote)
    "unchanged",
    "modified",
    "missing",
    "not-in-store",
    "conflict",
    "up-to-date",
    "stale",
    "ran",
    "cached",
    "failed",
    "not-run",
    "executed",
    "skipped",
    "synced",
    "not-pushed",
    "not-fetched",
    "added",
    "removed",
    "queued",  # experiments (exp run, exp show)
    "done",
    "behind",
    "unknown",
    "partial",
}
COUNTS = {"files", "objects", "packs", "commits", "roots", "requests", "indexes", "hashed", "runs"}


def _is_time(key: str) -> bool:
    return key in ("time", "started") or key.endswith(("_time", "_at"))


def check_vocabulary(value, where: str = "$") -> None:
    """Fail on any key or value that breaks the documented vocabulary."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            check_vocabulary(item, f"{where}[{i}]")
        return
    if not isinstance(value, dict):
        return
    for key, v in value.items():
        at = f"{where}.{key}"
        assert key not in FORBIDDEN, f"{at}: use the documented name instead of {key!r}"
        assert not key.endswith("_id") and "bytes" not in key and not key.endswith("_seconds"), at
        if key == "oid" or key.endswith("_oid"):
            assert v is None or (isinstance(v, str) and HEX64.fullmatch(v)), f"{at}: {v!r} is not an object id"
        elif _is_time(key):
            assert isinstance(v, str), f"{at}: times are ISO 8601 strings, not {v!r}"
            assert datetime.fromisoformat(v).tzinfo is not None, f"{at}: {v!r} has no Z or offset"
        elif key == "size" or key.endswith("_size") or "_size_" in key:
            assert v is None or (type(v) is int and v >= 0), f"{at}: sizes are byte counts, not {v!r}"
        elif key == "files" and isinstance(v, list) and "diff" in where:
            pass  # art diff: a folder's file-level changes (documented), not a count
        elif key in COUNTS or key.endswith("_objects"):
            assert type(v) is int and v >= 0, f"{at}: counts are ints, not {v!r}"
        elif key == "state":
            assert v is None or v in STATES, f"{at}: unknown state {v!r}"
        elif key == "path":
            assert isinstance(v, str) and not v.startswith("/") and "\\" not in v, f"{at}: {v!r}"
        elif key == "duration" or key.endswith("_duration"):
            assert isinstance(v, (int, float)) and v >= 0, f"{at}: {v!r}"
        elif key.endswith("_ratio"):
            assert v is None or isinstance(v, (int, float)), f"{at}: {v!r}"
        check_vocabulary(v, at)


def json_commands() -> dict[str, click.Command]:
    """Every command path of the CLI ("remote add", ...) -> its command, enumerated from the click group."""
    from artvc.commands import _available, cli

    _available()
    ctx = click.Context(cli)
    found: dict[str, click.Command] = {}

    def walk(group: click.Group, prefix: str) -> None:
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            path = f"{prefix}{name}"
            if isinstance(cmd, click.Group):
                walk(cmd, path + " ")
                if cmd.invoke_without_command:  # `art runs`, `art artifacts`: the group itself lists
                    found[path] = cmd
            else:
                found[path] = cmd

    walk(cli, "")
    return found


def documented_keys() -> dict[str, set[str]]:
    """The per-command rows of docs/cli.md's "JSON output" table: command -> the top-level keys it lists."""
    text = (ROOT / "docs/cli.md").read_text()
    section = text.split("## JSON output", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        m = re.match(r"\| `art ([a-z -]+?)( [A-Z-].*?)?` \|(.*)\|\s*$", line)  # `art lineage --run RUN`
        if m:
            rows.setdefault(m.group(1), set()).update(re.findall(r"`([a-z0-9_]+)`", m.group(3)))
    return rows


def test_every_json_command_has_a_case() -> None:
    commands = json_commands()
    with_json = {p for p, c in commands.items() if any("--json" in o.opts for o in c.params)}
    assert with_json | set(NO_JSON) == set(commands), "a command has neither --json nor a reason in NO_JSON"
    assert with_json == set(CASES), "every command with --json needs a case in CASES (and a docs row)"
    assert set(documented_keys()) >= with_json, "every command with --json needs a row in docs/cli.md"


# command path -> (args for `art --json ARGS`, args for `art ARGS --json`); None: that form is not run
CASES: dict[str, list[tuple[list[str] | None, list[str] | None]]] = {}


def _case(path: str, before: list[str] | None, after: list[str] | None = ...) -> tuple[str, tuple]:
    return path, (before, before if after is ... else after)


SCORE = """echo '{"rows": 2, "time": "now", "nested": {"size": "big"}}' > m.json"""


def _script(remote: str) -> list[tuple[str, tuple]]:
    """The commands, in the order they run on one workspace (each form must succeed)."""
    return [
        _case("init", ["init"], ["init", "--force"]),
        _case("add", ["add", "data", "params.csv"]),
        ("git commit", ()),
        _case(
            "stage add",
            ["stage", "add", "copy", "-f", "-d", "params.csv", "-o", "out.csv", "--", "cp params.csv out.csv"],
        ),
        _case(
            "stage add",
            ["stage", "add", "score", "-f", "-d", "out.csv", "-p", "n", "-m", "m.json", "--", SCORE],
        ),
        _case("repro", ["repro"]),
        ("git commit", ()),
        _case("params diff", ["params", "diff", "--all"]),
        _case("metrics show", ["metrics", "show", "HEAD"]),
        _case("metrics diff", ["metrics", "diff", "--all"]),
        _case("exp run", ["exp", "run", "--name", "j1"], ["exp", "run", "--name", "j2"]),
        _case("exp show", ["exp", "show"]),
        _case("exp diff", ["exp", "diff", "j1", "j2"]),
        _case("exp branch", ["exp", "branch", "j1", "jb1"], ["exp", "branch", "j1", "jb2"]),
        _case("exp apply", ["exp", "apply", "j1"]),
        _case("exp remove", ["exp", "remove", "j1"], ["exp", "remove", "j2"]),
        _case("status", ["status"]),
        _case("ls", ["ls"]),
        _case("log", ["log", "data"]),
        _case("lineage", ["lineage", "out.csv"]),
        _case("lineage", ["lineage", "--used-by", "params.csv"]),
        _case("lineage", ["lineage", "--run", "{run}"]),
        _case("lineage", ["lineage", "--run", "{run}", "--packages"]),
        _case("tag", ["tag", "data", "v1.0.0"], ["tag", "data", "--stage", "prod"]),
        _case("versions", ["versions", "data"]),
        _case("dag", ["dag"]),
        _case("plots show", ["plots", "show", "params.csv"]),
        _case("plots diff", ["plots", "diff", "--target", "out.csv"]),
        _case("du", ["du"]),
        _case("fsmonitor start", ["fsmonitor", "start"]),
        _case("fsmonitor status", ["fsmonitor", "status"]),
        _case("fsmonitor stop", ["fsmonitor", "stop"]),
        _case("config", ["config", "core.jobs", "2"]),
        _case("config", ["config", "core.jobs"]),
        _case("config", ["config", "--list"]),
        _case("config", ["config", "--unset", "core.jobs"], None),
        _case("config", None, ["config", "core.jobs", "3"]),
        _case("config", None, ["config", "--unset", "core.jobs"]),
        _case("remote add", ["remote", "add", "origin", remote, "--default", "-f"]),
        _case("remote add", ["remote", "add", "tmp1", remote], ["remote", "add", "tmp2", remote]),
        _case("remote remove", ["remote", "remove", "tmp1"], ["remote", "remove", "tmp2"]),
        _case("remote modify", ["remote", "modify", "origin", "-o", "timeout=30"]),
        _case("remote list", ["remote", "list"]),
        _case("remote default", ["remote", "default"]),
        _case("push", ["push"]),
        _case("remote compact", ["remote", "compact"]),
        ("git commit", ()),
        _case("get", ["get", ".", "data/a.bin", "-o", "got.bin", "-f"]),
        _case("import", ["import", ".", "data/t.csv", "-o", "imp.csv", "-f"]),
        _case("update", ["update", "imp.csv"]),
        _case("import-url", ["import-url", "params.csv", "url.csv", "-f"]),
        _case("ls", ["ls", ".", "data"]),
        _case("status", ["status", "imp.csv"]),
        _case("status", ["status", "--remote"]),
        _case("fetch", ["fetch"]),
        ("modify data", ()),
        _case("diff", ["diff"]),
        _case("checkout", ["checkout", "--force"]),
        _case("pull", ["pull"]),
        _case("fsck", ["fsck"]),
        _case("fsck", ["fsck", "--remote", "origin", "--read-data"]),
        _case("gc", ["gc", "--dry-run"]),
        _case("gc", ["gc", "--remote", "origin", "--dry-run"]),
        _case("repack", ["repack"]),
        _case("install", ["install"]),
        ("write flow", ()),
        _case("run", ["run", "flowmod:p"]),
        _case("runs", ["runs"]),
        _case("runs", ["runs", "--stage", "double", "--branch", "nosuchbranch"]),
        _case("runs show", ["runs", "show", "{pipeline_run}"]),
        _case("runs show", ["runs", "show", "{run}"]),
        _case("artifacts", ["artifacts"]),
        _case("artifacts show", ["artifacts", "show", "p/double/output"]),
        _case("mv", ["mv", "data", "moved/data"], ["mv", "moved/data", "data"]),
        _case("rm", ["rm", "data"], ["rm", "params.csv", "--delete"]),
        _case("ui", ["ui", "--export", "../site1"], ["ui", "--export", "../site2"]),  # serving: tests/ui
        _case("demo", None, ["demo"]),  # 3-6 s: one form (the global flag is the same code for every command)
    ]


for _path, _forms in _script("R"):
    if _forms:
        CASES.setdefault(_path, []).append(_forms)


@pytest.mark.long
def test_every_json_command_speaks_the_vocabulary(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    git(root, "init", "-q")
    ws = Workspace(root)
    ws.gen(
        {
            "data": {"a.bin": random_bytes(30_000), "t.csv": csv_bytes(20_000)},
            "params.csv": "x,y\n1,2\n",
            "params.yaml": "n: 3\n",
        }
    )
    remote = str(tmp_path / "remote")
    docs = documented_keys()
    seen: set[str] = set()
    for path, forms in _script(remote):
        if path == "git commit":
            ws.git("add", "-A")
            ws.git("commit", "-qm", "step")
            continue
        if path == "write flow":
            (root / "flowmod.py").write_text(FLOW)
            continue
        if path == "modify data":
            (root / "data" / "a.bin").write_bytes(random_bytes(30_000, 7))
            continue
        before, after = forms
        for args in (["--json", *before] if before else None, _json_last(after) if after else None):
            if args is None:
                continue
            args = [a.replace("{run}", _stage_run(root)) for a in args]
            if "{pipeline_run}" in args:
                args = [a.replace("{pipeline_run}", _pipeline_run(ws)) for a in args]
            r = ws.art(*args)
            payload = json.loads(r.stdout)  # one JSON document, nothing else on stdout
            assert isinstance(payload, dict), (args, payload)
            check_vocabulary(payload, f"art {' '.join(args)}")
            if path != "config":  # config prints the keys it was asked about
                extra = set(payload) - docs[path]
                assert not extra, f"art {path}: keys {extra} are not in docs/cli.md's JSON output table"
            seen.add(path)
    assert seen == set(CASES)


def _pipeline_run(ws: Workspace) -> str:
    """The newest pipeline run's id (for `art runs show`)."""
    runs = json.loads(ws.art("runs", "--json", "-n", "1").stdout)["pipeline_runs"]
    return runs[0]["oid"][:12] if runs else "none"


def _stage_run(root: Path) -> str:
    """The run id of the first stage in art.lock (for `art lineage --run`)."""
    import tomllib

    stages = tomllib.loads((root / "art.lock").read_text())["stages"] if (root / "art.lock").exists() else {}
    return next((s["run"] for s in stages.values()), "none")


FLOW = """
from artvc import pipeline, step


@step
def double(x: int) -> int:
    return 2 * x


@pipeline
def p(x: int = 2):
    double(x)
"""


def _json_last(args: list[str]) -> list[str]:
    """ARGS with --json after the command's own options (before a ``--`` that starts a stage's command)."""
    cut = args.index("--") if "--" in args else len(args)
    return [*args[:cut], "--json", *args[cut:]]


def test_errors_have_one_envelope(ws) -> None:
    for args in (["--json", "ls", "--rev", "no-such-rev"], ["status", "nothere", "--json"]):
        r = ws.art(*args, code=1)
        payload = json.loads(r.stdout)
        assert set(payload) == {"error"} and set(payload["error"]) == {"type", "message", "hint", "exit_status"}
        assert payload["error"]["exit_status"] == 1
        check_vocabulary(payload)


def test_the_validator_catches_the_old_vocabulary() -> None:
    """The checks above can fail: each old spelling is refused."""
    import pytest

    bad = [
        {"id": "a" * 64},
        {"stages": [{"name": "s", "status": "ran"}]},
        {"old_id": None},
        {"time": 1795992736},
        {"started": "2026-11-29 22:52:16"},
        {"oid": "abc"},
        {"logical_bytes": 1},
        {"size": "1 KiB"},
        {"state": "fine"},
        {"path": "/abs/path"},
    ]
    for payload in bad:
        with pytest.raises(AssertionError):
            check_vocabulary(payload)
