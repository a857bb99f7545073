"""The data layer of ``art ui`` (artvc/ui/data.py) on a real repository built by the CLI: a Python pipeline run
twice, ``art add``, an ``art repro`` pipeline with params, metrics and plots, two ``art exp run``s, a failed
repro, a push to a local remote. Each data function's JSON is what the matching CLI ``--json`` prints, every
run kind is listed, edges come from new and old records, output tails are recorded and bounded, and calling
every data function writes nothing under the repository (not even with a missing run index)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from blake3 import blake3

from tests.conftest import GIT_ENV, Workspace

pytestmark = pytest.mark.slow  # builds a repository of every run kind once (~6 s; the slow tier, which CI runs)

FLOW = """
import sys

from artvc import pipeline, step


@step
def load() -> list:
    print("loading rows")
    return [1, 2, 3]


@step
def train(data: list, k: int = 1) -> dict:
    for i in range(100):
        print(f"train line {i} " + "x" * 100)
        print(f"train err {i}", file=sys.stderr)
    return {"k": k, "n": len(data)}


@step
def evaluate(model: dict, data: list) -> float:
    return model["k"] * 0.1 + len(data)


@pipeline
def p(k: int = 1):
    data = load()
    model = train(data, k=k)
    evaluate(model, data)
"""

STAGES = """
[stages.prep]
cmd = "python3 prep.py"
deps = ["data/table.csv", "prep.py"]
params = ["train.C"]
outs = ["prep.txt"]

[stages.train]
cmd = "python3 train.py"
deps = ["prep.txt", "train.py"]
metrics = ["metrics.json"]
plots = ["loss.csv"]
"""

PREP = """
import yaml
print("prep out")
open("prep.txt", "w").write(str(yaml.safe_load(open("params.yaml"))["train"]["C"]))
"""

TRAIN = """
import json, sys
c = float(open("prep.txt").read())
if c < 0:
    print("bad C", file=sys.stderr)
    sys.exit(3)
json.dump({"acc": c / 10}, open("metrics.json", "w"))
open("loss.csv", "w").write("step,loss\\n1,0.5\\n2,0.3\\n")
for i in range(50):
    print(f"stage out {i} " + "y" * 300)
print("trained", file=sys.stderr)
"""


def png_bytes() -> bytes:
    """A valid 2x2 RGB PNG."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class Repo(Workspace):
    """The workspace, with the CLI run as a real process (Python pipelines import the workspace's modules)."""

    def __init__(self, root: Path, home: Path) -> None:
        super().__init__(root)
        self.env = {**os.environ, **GIT_ENV, "HOME": str(home)}

    def run(self, *args: str, code: int = 0) -> subprocess.CompletedProcess:
        r = subprocess.run(
            [sys.executable, "-m", "artvc", *args], cwd=self.root, env=self.env, capture_output=True, text=True
        )
        assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
        return r

    def sh(self, *args: str) -> None:
        subprocess.run(args, cwd=self.root, env=self.env, check=True, capture_output=True)

    def json(self, *args: str, code: int = 0) -> dict:
        """``art ARGS --json`` in process (reading commands only: quicker than a process per call)."""
        return json.loads(self.art(*args, "--json", code=code).stdout)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Repo:
    root = tmp_path_factory.mktemp("uidata") / "ws"
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[user]\n\tname = T\n\temail = t@example.com\n")
    root.mkdir()
    r = Repo(root, home)
    r.sh("git", "init", "-q")
    r.run("init", "-q")
    r.gen(
        {
            "flowmod.py": FLOW,
            "data": {"table.csv": "a,b\n1,2\n3,4\n"},
            "notes.json": '{"b": [1, 2], "a": "x"}\n',
            "img.png": png_bytes(),
        }
    )
    r.run("add", "-q", "data/table.csv", "notes.json", "img.png")
    r.sh("git", "add", "-A")
    r.sh("git", "commit", "-qm", "data")
    r.run("run", "-q", "flowmod:p")
    r.sh("git", "checkout", "-q", "-b", "feature")
    r.run("run", "-q", "flowmod:p", "-p", "k=2")
    r.gen({"art.toml": STAGES, "prep.py": PREP, "train.py": TRAIN, "params.yaml": "train:\n  C: 1\n"})
    r.run("repro", "-q")
    r.sh("git", "add", "-A")
    r.sh("git", "commit", "-qm", "pipeline")
    r.run("exp", "run", "-q", "-S", "train.C=2", "-n", "e2")
    r.run("exp", "run", "-q", "-S", "train.C=3", "-n", "e3")
    r.gen({"params.yaml": "train:\n  C: -1\n"})
    r.run("repro", "-q", code=5)  # train fails: its tails go into the pipeline-run record
    r.gen({"params.yaml": "train:\n  C: 1\n"})
    r.run("repro", "-q")  # back to the committed state
    remote = tmp_path_factory.mktemp("remote")
    r.run("remote", "add", "origin", str(remote), "--default")
    r.run("push", "-q")
    return r


def open_ro(repo: Repo):
    from artvc.ui.data import open_repo

    return open_repo(repo.root)


def snapshot(root: Path) -> dict[str, tuple]:
    """(size, mtime_ns, blake3) of every file, and every folder's and link's presence, under ``root``."""
    out: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(folder, name)
            st = os.lstat(p)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    out[p] = (st.st_size, st.st_mtime_ns, blake3(f.read()).hexdigest())
            else:
                out[p] = ("dir" if name in dirs else "link", st.st_mtime_ns)
    return out


def every_page(repo: Repo, *, plain: bool = False) -> list[dict]:
    """Call every data function, for every run and every artifact, as the dashboard does: through
    ``open_repo``, or (``plain``) given an ordinary ``Repo`` as ``art ui``'s server opens per request."""
    from artvc.ui import data
    from artvc.workspace import Repo as ArtRepo

    pages = []
    with ArtRepo(repo.root) if plain else open_ro(repo) as ro:
        runs = data.runs_data(ro)
        pages.append(runs)
        pages += [data.runs_data(ro, stage="train"), data.runs_data(ro, branch="main", limit=2)]
        pages += [data.run_data(ro, r["oid"]) for r in runs["pipeline_runs"]]
        arts = data.artifacts_data(ro)
        pages.append(arts)
        pages += [data.artifact_data(ro, a["name"]) for a in arts["artifacts"]]
        pages += [data.experiments_data(ro), data.store_data(ro)]
    return pages


# -- the runs list ------------------------------------------------------------------------------------------


def test_runs_data_is_art_runs_json_with_every_kind_newest_first(repo):
    from artvc.ui.data import runs_data

    with open_ro(repo) as ro:
        every = runs_data(ro)["pipeline_runs"]
        assert runs_data(ro, limit=20) == repo.json("runs")
        for options, kwargs in [
            (["--stage", "train"], {"stage": "train"}),
            (["--branch", "main"], {"branch": "main"}),
            (["--pipeline", "p"], {"pipeline": "p"}),
            (["--stage", "load", "--branch", "feature"], {"stage": "load", "branch": "feature"}),
        ]:
            assert runs_data(ro, limit=20, **kwargs) == repo.json("runs", *options), options
    kinds = [r["kind"] for r in every]
    assert set(kinds) == {"pipeline", "repro", "exp", "add"}
    assert kinds.count("pipeline") == 2 and kinds.count("exp") == 2 and kinds.count("repro") == 3
    started = [r["started"] for r in every]
    assert started == sorted(started, reverse=True)
    exps = {r["experiment"] for r in every if r["kind"] == "exp"}
    assert exps == {"e2", "e3"}
    add = next(r for r in every if r["kind"] == "add")
    assert sorted(add["paths"]) == ["data/table.csv", "img.png", "notes.json"]
    first, second = [r for r in every if r["kind"] == "pipeline"][::-1]
    assert first["branch"] == "main" and second["branch"] == "feature"
    assert second["cached"] == 1 and second["executed"] == 2
    assert [s["name"] for s in second["steps"]] == ["load", "train", "evaluate"]
    assert all(r["user"] for r in every)
    failed = [r for r in every if r["kind"] == "repro" and r["failed"]]
    assert len(failed) == 1 and failed[0]["exit_status"] == 5


def test_filters_keep_only_matching_runs(repo):
    from artvc.ui.data import runs_data

    with open_ro(repo) as ro:
        by_stage = runs_data(ro, stage="prep")["pipeline_runs"]
        by_branch = runs_data(ro, branch="feature")["pipeline_runs"]
        by_pipeline = runs_data(ro, pipeline="art.toml")["pipeline_runs"]
    assert by_stage and all(any(s["name"] == "prep" for s in r["steps"]) for r in by_stage)
    assert {r["kind"] for r in by_stage} == {"repro", "exp"}
    assert by_branch and all(r["branch"] == "feature" for r in by_branch)
    assert {r["kind"] for r in by_pipeline} == {"repro", "exp"}
    assert runs_data(open_ro(repo), branch="no-such-branch") == {"pipeline_runs": []}


# -- one run ------------------------------------------------------------------------------------------------


def test_run_data_is_art_runs_show_json_and_takes_a_prefix(repo):
    from artvc.ui.data import run_data, runs_data

    with open_ro(repo) as ro:
        runs = runs_data(ro)["pipeline_runs"]
        for r in runs:
            page = run_data(ro, r["oid"])
            assert page == repo.json("runs", "show", r["oid"][:8]), r["kind"]
            assert page["run"] == r
            assert [n["name"] for n in page["dag"]["nodes"]] == list(page["steps"])


def test_python_pipeline_run_page_has_the_recorded_edges_states_and_details(repo):
    from artvc.ui.data import run_data, runs_data

    with open_ro(repo) as ro:
        second = next(r for r in runs_data(ro)["pipeline_runs"] if r["kind"] == "pipeline")
        page = run_data(ro, second["oid"])
    assert sorted(map(tuple, page["dag"]["edges"])) == [("load", "evaluate"), ("load", "train"), ("train", "evaluate")]
    states = {n["name"]: n["state"] for n in page["dag"]["nodes"]}
    assert states == {"load": "cached", "train": "executed", "evaluate": "executed"}
    train = page["steps"]["train"]
    assert train["params"] == {"k": 2}
    assert len(train["code_hash"]) == 64
    assert train["command"] == "flowmod:train"
    assert [i["name"] for i in train["inputs"]] == ["p/load/output"]
    assert train["inputs"][0]["producer"] == page["steps"]["load"]["run_oid"]
    assert train["inputs"][0]["size"] > 0  # from the producing run's outputs
    assert train["outputs"][0]["name"] == "p/train/output" and train["outputs"][0]["size"] > 0
    assert train["env"]["git"]["branch"] == "feature" and train["env"]["user"]
    assert page["steps"]["load"]["stdout_tail"] == ["loading rows"]


def test_repro_run_page_edges_and_failed_stage_tails(repo):
    from artvc.ui.data import run_data, runs_data

    with open_ro(repo) as ro:
        runs = runs_data(ro)["pipeline_runs"]
        failed = next(r for r in runs if r["kind"] == "repro" and r["failed"])
        page = run_data(ro, failed["oid"])
        ok = run_data(ro, next(r for r in runs if r["kind"] == "repro" and not r["failed"])["oid"])
    assert page["dag"]["edges"] == [["prep", "train"]]
    assert {n["name"]: n["state"] for n in page["dag"]["nodes"]} == {"prep": "executed", "train": "failed"}
    train = page["steps"]["train"]
    assert train["exit_status"] == 3 and train["stderr_tail"] == ["bad C"]
    assert "started" not in train  # no run record: no times
    # the repro after it: prep restored from the run cache, train's art.lock entry still matching
    assert {n["name"]: n["state"] for n in ok["dag"]["nodes"]} == {"prep": "cached", "train": "up-to-date"}


def test_tails_are_recorded_and_bounded(repo):
    from artvc.pipeline.runner import TAIL_BYTES, TAIL_LINES
    from artvc.ui.data import run_data, runs_data

    with open_ro(repo) as ro:
        runs = runs_data(ro)["pipeline_runs"]
        flow = run_data(ro, next(r for r in runs if r["kind"] == "pipeline")["oid"])
        stage = run_data(ro, next(r for r in runs if r["kind"] == "repro" and not r["failed"])["oid"])
    for step, stream, last in [
        (flow["steps"]["train"], "stdout_tail", "train line 99 " + "x" * 100),
        (flow["steps"]["train"], "stderr_tail", "train err 99"),
        (stage["steps"]["train"], "stdout_tail", "stage out 49 " + "y" * 300),
        (stage["steps"]["train"], "stderr_tail", "trained"),
    ]:
        tail = step[stream]
        assert tail[-1] == last
        assert 0 < len(tail) <= TAIL_LINES and len("".join(tail).encode()) <= TAIL_BYTES
    assert len(stage["steps"]["train"]["stdout_tail"]) < TAIL_LINES  # 314-byte lines: the 4 KB bound cut them
    assert len(flow["steps"]["train"]["stdout_tail"]) == TAIL_LINES
    assert stage["steps"]["prep"]["stdout_tail"] == ["prep out"]


def test_bounded_tail_keeps_the_end_of_a_huge_line():
    from artvc.pipeline.runner import TAIL_BYTES, bounded_tail

    assert bounded_tail(["a", "b" * 10_000]) == ["b" * TAIL_BYTES]
    assert bounded_tail([str(i) for i in range(100)]) == [str(i) for i in range(80, 100)]
    assert bounded_tail([]) == []


def test_old_records_without_after_branch_or_tails_still_load_with_derived_edges(repo, tmp_path):
    """A pipeline-run record as art wrote it before the ui (no ``after``, no ``branch``): edges are derived
    from which step consumed which step's outputs, and the branch is None."""
    from artvc.pipeline.flow.records import Provenance, write_run
    from artvc.ui.data import run_data, runs_data
    from artvc.workspace import Repo as ArtRepo
    from artvc.workspace.runs import load_run

    # a copy of the repository, so the module's repository keeps its run list
    subprocess.run(["cp", "-a", str(repo.root), str(tmp_path / "old")], check=True)
    with open_ro(repo) as ro:
        new = next(r for r in runs_data(ro)["pipeline_runs"] if r["kind"] == "pipeline")
    with ArtRepo(tmp_path / "old") as art:
        fields = dict(load_run(art, new["oid"]).fields)
        fields["steps"] = [{k: v for k, v in s.items() if k != "after"} for s in fields["steps"]]
        fields["started"] = "2030-01-01T00:00:00.000Z"
        prov = Provenance(art)
        prov.git = {"commit": prov.git["commit"], "dirty": prov.git["dirty"]}  # as before branches were recorded
        with art.lock:
            old = write_run(art, prov, {k: v for k, v in fields.items() if k not in prov.fields()})
    with open_ro(Repo(tmp_path / "old", Path(repo.env["HOME"]))) as ro:
        listed = runs_data(ro)["pipeline_runs"][0]
        page = run_data(ro, old)
        fresh = run_data(ro, new["oid"])
    assert listed["oid"] == old and listed["branch"] is None
    assert sorted(page["dag"]["edges"]) == sorted(fresh["dag"]["edges"])
    assert len(page["dag"]["edges"]) == 3


# -- artifacts ----------------------------------------------------------------------------------------------


def test_artifacts_data_is_art_artifacts_json_plus_tracked_paths(repo):
    from artvc.ui.data import artifacts_data

    with open_ro(repo) as ro:
        arts = artifacts_data(ro)["artifacts"]
    cli = repo.json("artifacts")["artifacts"]
    flow = [{k: a[k] for k in ("name", "versions", "started")} for a in arts if a["kind"] == "artifact"]
    assert flow == cli
    paths = {a["name"]: a for a in arts if a["kind"] == "path"}
    assert {"data/table.csv", "notes.json", "img.png", "prep.txt", "metrics.json", "loss.csv"} <= set(paths)
    assert paths["prep.txt"]["versions"] >= 3  # C = 1, 2, 3 (the experiments' runs count too)


def test_artifact_data_versions_preview_and_lineage(repo):
    from artvc.ui.data import artifact_data

    name = "p/evaluate/output"
    with open_ro(repo) as ro:
        page = artifact_data(ro, name)
        csv = artifact_data(ro, "data/table.csv")
        notes = artifact_data(ro, "notes.json")
        img = artifact_data(ro, "img.png")
        prep = artifact_data(ro, "prep.txt")
    cli = repo.json("artifacts", "show", name)
    assert page["name"] == cli["name"] and page["kind"] == "artifact"
    assert [{k: v[k] for k in cli["versions"][0]} for v in page["versions"]] == cli["versions"]
    assert len(page["versions"]) == 2 and all(v["commit"] and v["created"] for v in page["versions"])
    assert page["preview"]["type"] == "json" and "3.2" in page["preview"]["text"]
    made = page["lineage"]["made_by"]
    assert {n["name"] for n in made["nodes"] if n["type"] == "run"} == {"load", "train", "evaluate"}
    keys = {n["key"] for n in made["nodes"]}
    assert all(a in keys and b in keys for a, b in made["edges"])
    used = artifact_data(open_ro(repo), "p/load/output")["lineage"]["used_by"]
    assert {n["name"] for n in used["nodes"] if n["type"] == "run"} == {"train", "evaluate"}
    assert csv["kind"] == "path" and csv["preview"] == {
        "type": "csv",
        "rows": [["a", "b"], ["1", "2"], ["3", "4"]],
        "truncated": False,
        "file": "table.csv",
    }
    assert csv["versions"][0]["commit"] and csv["versions"][0]["run_oid"]
    assert {n["name"] for n in csv["lineage"]["used_by"]["nodes"] if n["type"] == "run"} >= {"prep", "train"}
    assert notes["preview"]["type"] == "json" and json.loads(notes["preview"]["text"]) == {"a": "x", "b": [1, 2]}
    assert img["preview"]["type"] == "image"
    assert img["preview"]["data_uri"].startswith("data:image/png;base64,")
    assert prep["preview"]["type"] == "text" and prep["preview"]["text"] == "1"
    assert len(prep["versions"]) >= 3 and any(v["commit"] is None for v in prep["versions"])  # experiments' runs


def test_unknown_artifact_is_an_error(repo):
    from artvc.errors import ArtError
    from artvc.ui.data import artifact_data

    with open_ro(repo) as ro, pytest.raises(ArtError) as info:
        artifact_data(ro, "no/such/thing")
    assert info.value.exit_code == 1


# -- experiments and store ----------------------------------------------------------------------------------


def test_experiments_data_is_exp_show_json_plus_plots(repo):
    from artvc.ui.data import experiments_data, plots_of

    with open_ro(repo) as ro:
        page = experiments_data(ro)
    cli = repo.json("exp", "show")
    assert {k: page[k] for k in cli} == cli
    plots = page["plots"]
    assert plots["revisions"] == ["baseline", "e2", "e3"]
    loss = next(p for p in plots["plots"] if p["path"] == "loss.csv")
    assert [r["rev"] for r in loss["revisions"]] == ["baseline", "e2", "e3"]
    assert loss["revisions"][0]["series"][0]["points"] == [[1, 0.5], [2, 0.3]]
    drawn, labels = plots_of(plots)
    from artvc.pipeline.plotsrender import render_html

    assert labels == ["baseline", "e2", "e3"] and "<svg" in render_html(drawn, labels)


def test_store_data_is_du_json_plus_commits_artifacts_and_remotes(repo):
    from artvc.ui.data import store_data

    with open_ro(repo) as ro:
        page = store_data(ro)
    cli = repo.json("du")
    assert {k: page[k] for k in ("total", "store")} == {k: cli[k] for k in ("total", "store")}
    assert [a["path"] for a in page["artifacts"]] == [a["path"] for a in cli["artifacts"]]
    assert all(a["logical"] == a["logical_size"] for a in page["artifacts"])
    head = (
        repo.run("rev-parse", code=2)
        and subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo.root, capture_output=True, text=True).stdout.strip()
    )
    commits = page["commits"]
    assert commits[0]["commit"] == head and len(commits) == 2
    assert commits[0]["logical"] == page["total"]["logical_size"] and commits[0]["unique"] > 0
    (origin,) = page["remotes"]
    assert origin["name"] == "origin" and origin["pushed"] > 0 and origin["as_of"]


def test_redact_hides_credentials():
    from artvc.ui.data_store import redact

    assert redact("s3://key:secret@bucket/p") == "s3://***@bucket/p"
    assert redact("https://host/p?sig=abc") == "https://host/p?***"
    assert redact("/mnt/art") == "/mnt/art"


# -- read-only ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("plain", [False, True], ids=["open_repo", "Repo"])
def test_every_data_function_writes_nothing_under_the_repository(repo, plain):
    before = snapshot(repo.root)
    pages = every_page(repo, plain=plain)
    assert len(pages) > 20
    assert snapshot(repo.root) == before


@pytest.mark.parametrize("plain", [False, True], ids=["open_repo", "Repo"])
def test_a_missing_run_index_is_rebuilt_in_memory_only(repo, tmp_path, plain):
    subprocess.run(["cp", "-a", str(repo.root), str(tmp_path / "copy")], check=True)
    copy = Repo(tmp_path / "copy", Path(repo.env["HOME"]))
    for suffix in ("", "-wal", "-shm"):
        (copy.root / ".art" / f"state.db{suffix}").unlink(missing_ok=True)
    before = snapshot(copy.root)
    pages = every_page(copy, plain=plain)
    assert snapshot(copy.root) == before
    assert not (copy.root / ".art" / "state.db").exists()
    assert pages[0] == every_page(repo)[0]  # the same runs, from the store


# -- art runs show ------------------------------------------------------------------------------------------


def test_runs_show_errors(repo):
    unknown = repo.run("runs", "show", "ab" * 32, code=1)
    assert unknown.stderr.startswith("art: error: ") and "not in the store" in unknown.stderr
    assert repo.run("runs", "show", "zzzz", code=2).stderr.startswith("art: error: ")
    assert repo.run("runs", "show", "abcdef0123", code=1).stderr.startswith("art: error: ")


def test_runs_show_prints_steps_states_and_edges(repo):
    oid = next(r["oid"] for r in repo.json("runs")["pipeline_runs"] if r["kind"] == "repro" and r["failed"])
    out = repo.run("runs", "show", oid[:10]).stdout
    assert f"run {oid}  repro  art.toml" in out
    assert "prep" in out and "executed" in out
    assert "train" in out and "failed" in out and "after prep" in out and "! bad C" in out
    listing = repo.run("runs").stdout
    assert "add" in listing and "exp" in listing and "e2" in listing and "feature" in listing


def test_an_experiments_runs_are_found_by_prefix_in_the_main_workspace(repo):
    """``art exp run`` copies the experiment's run index back: its stage runs are found by a prefix."""
    exp = next(r for r in repo.json("runs")["pipeline_runs"] if r["kind"] == "exp")
    stage_run = next(s["run_oid"] for s in exp["steps"] if s["state"] == "executed")
    page = repo.json("runs", "show", stage_run[:8])
    assert page["run"]["oid"] == stage_run and page["run"]["kind"] == "stage"


def test_an_index_from_before_add_runs_were_listed_is_rebuilt_once(repo, tmp_path):
    import sqlite3

    subprocess.run(["cp", "-a", str(repo.root), str(tmp_path / "old")], check=True)
    old = Repo(tmp_path / "old", Path(repo.env["HOME"]))
    db = sqlite3.connect(old.root / ".art" / "state.db")
    with db:
        db.execute("DROP TABLE add_runs")  # as art before the ui left it
        db.execute("UPDATE facts SET value='3' WHERE key='runs-index'")
    db.close()
    with open_ro(old) as ro:  # rebuilt in memory, the file left as it is
        from artvc.ui.data import runs_data

        assert [r["kind"] for r in runs_data(ro)["pipeline_runs"]].count("add") == 1
    kinds = [r["kind"] for r in old.json("runs")["pipeline_runs"]]
    assert kinds.count("add") == 1


def test_a_new_repository_is_read_in_place_not_rebuilt_in_memory(ws):
    """``art init`` leaves a complete run index, so the dashboard reads state.db in place from the start."""
    from artvc.ui.data import open_repo, runs_data

    ws.gen({"a.txt": "hello\n"})
    ws.art("add", "a.txt")
    with open_repo(ws.root) as ro:
        assert ro.state.db.execute("PRAGMA database_list").fetchone()[2] == str(ws.root / ".art" / "state.db")
        assert [r["kind"] for r in runs_data(ro)["pipeline_runs"]] == ["add"]


def test_an_index_rebuilt_in_memory_is_kept_until_something_is_written(repo, tmp_path):
    from artvc.ui.data import open_repo, runs_data

    subprocess.run(["cp", "-a", str(repo.root), str(tmp_path / "copy")], check=True)
    copy = Repo(tmp_path / "copy", Path(repo.env["HOME"]))
    for suffix in ("", "-wal", "-shm"):
        (copy.root / ".art" / f"state.db{suffix}").unlink(missing_ok=True)
    with open_repo(copy.root) as ro:
        first = runs_data(ro)["pipeline_runs"]
    with open_repo(copy.root) as ro:  # the rebuilt index, kept in this process
        assert runs_data(ro)["pipeline_runs"] == first
    assert not (copy.root / ".art" / "state.db").exists()
    copy.gen({"more.txt": "more\n"})
    copy.art("add", "more.txt")  # writes the store and state.db: the kept index is stale now
    with open_repo(copy.root) as ro:
        again = runs_data(ro)["pipeline_runs"]
    assert len(again) == len(first) + 1 and again[0]["kind"] == "add" and again[0]["paths"] == ["more.txt"]


def test_an_experiments_repro_recorded_before_experiments_were_named_is_listed_as_the_experiment(repo, tmp_path):
    from artvc.pipeline.flow.records import Provenance, write_run
    from artvc.ui.data import run_data, runs_data
    from artvc.workspace import Repo as ArtRepo
    from artvc.workspace.runs import load_run

    subprocess.run(["cp", "-a", str(repo.root), str(tmp_path / "old")], check=True)
    with open_ro(repo) as ro:
        listed = runs_data(ro)["pipeline_runs"]
    e2 = next(r for r in listed if r.get("experiment") == "e2")
    plain = next(r for r in listed if r["kind"] == "repro" and not r["failed"])
    written = {}
    with ArtRepo(tmp_path / "old") as art:
        for label, entry in (("exp", e2), ("repro", plain)):
            fields = dict(load_run(art, entry["oid"]).fields)
            fields.pop("experiment", None)
            fields["steps"] = [{k: v for k, v in s.items() if k not in ("after", "outcome")} for s in fields["steps"]]
            prov = Provenance(art)
            with art.lock:
                written[label] = write_run(art, prov, {k: v for k, v in fields.items() if k not in prov.fields()})
    with open_ro(Repo(tmp_path / "old", Path(repo.env["HOME"]))) as ro:
        by_oid = {r["oid"]: r for r in runs_data(ro)["pipeline_runs"]}
        page = run_data(ro, written["exp"])
    assert by_oid[written["exp"]]["kind"] == "exp" and by_oid[written["exp"]]["experiment"] == "e2"
    assert page["run"] == by_oid[written["exp"]]
    assert by_oid[written["repro"]]["kind"] == "repro" and "experiment" not in by_oid[written["repro"]]
