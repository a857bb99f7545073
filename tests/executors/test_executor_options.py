"""Choosing where stages run: --executor flags, the [executor] config section and per-stage resources
(no cluster is started: these fail before one would be, or never need one)."""

from __future__ import annotations

import json

from artvc.pipeline.executors.local import LocalExecutor, LocalTask
from artvc.pipeline.spec import load

TOML = '[stages.a]\ncmd = "echo hi > a.txt"\nouts = ["a.txt"]\n'


def test_cluster_options_need_the_dask_executor(ws):
    ws.gen({"art.toml": TOML})
    r = ws.art("repro", "--local-cluster", "2", code=2)
    assert "need --executor dask" in r.stderr
    r = ws.art("repro", "--executor", "dask", code=2)
    assert "needs a scheduler" in r.stderr and "hint:" in r.stderr
    r = ws.art("repro", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", "--local-cluster", "1", code=2)
    assert "give one of" in r.stderr
    ws.git("add", "-A")
    ws.git("commit", "-qm", "pipeline")
    r = ws.art("exp", "run", "--run-all", "--outputs", "lazy", code=2)
    assert "need --executor dask" in r.stderr
    assert not (ws.root / "a.txt").exists()


def test_the_dask_executor_needs_a_remote(ws):
    ws.gen({"art.toml": TOML})
    r = ws.art("repro", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", code=1)
    assert "art: error:" in r.stderr and "remote" in r.stderr
    assert not (ws.root / "a.txt").exists()


def test_executor_config_is_validated_and_used(ws, tmp_path):
    ws.gen({"art.toml": TOML})
    ws.art("config", "executor.kind", "dask")
    ws.art("config", "executor.wait_notice", "2.5")
    assert ws.art("config", "executor.wait_notice").stdout.strip() == "2.5"
    r = ws.art("config", "executor.outputs", "eager", code=1)
    assert "executor.outputs must be one of fetch, lazy" in r.stderr
    r = ws.art("repro", code=2)  # kind = dask from the config, and no scheduler anywhere
    assert "needs a scheduler" in r.stderr
    ws.art("remote", "add", "o", str(tmp_path / "remote"), "-d")
    ws.art("config", "executor.scheduler", "tcp://127.0.0.1:9")
    ws.art("repro", "-n")  # a dry run never needs the cluster
    cfg = ws.root / ".art" / "config"
    cfg.write_text("[executor]\nretries = -1\n")
    r = ws.art("status", code=1)
    assert "executor.retries in .art/config must be a whole number >= 0" in r.stderr
    cfg.write_text("[executor]\nkind = 'k8s'\n")
    r = ws.art("status", code=1)
    assert "executor.kind in .art/config must be one of local, dask" in r.stderr


def test_resources_are_validated_and_change_neither_run_key_nor_staleness(ws):
    ws.gen({"art.toml": TOML})
    ws.art("repro")
    key = (ws.root / "art.lock").read_text()
    ws.gen({"art.toml": TOML + "resources = {GPU = 1, MEMORY = 16e9}\n"})
    assert load(ws.root).stages["a"].resources == (("GPU", 1), ("MEMORY", 16e9))
    status = json.loads(ws.art("status", "--json").stdout)
    assert all(s["state"] == "up-to-date" for s in status["stages"]), status
    ws.art("repro")  # the local executor ignores resources: nothing to do
    assert (ws.root / "art.lock").read_text() == key
    for bad in ("{GPU = 0}", "{GPU = 'one'}", '{"G P U" = 1}', "[1]"):
        ws.gen({"art.toml": TOML + f"resources = {bad}\n"})
        r = ws.art("status", code=1)
        assert "'resources' must be a table of names to positive numbers" in r.stderr


def test_the_local_executor_runs_tasks_and_reports_each_once(ws):
    ws.gen({"art.toml": TOML.replace("echo hi", "sleep 0.2; echo hi") + '[stages.b]\ncmd = "exit 3"\n'})
    stages = load(ws.root).stages
    with LocalExecutor(jobs=2) as ex:
        handles = {ex.submit(LocalTask(stages[n], ws.root)): n for n in ("a", "b")}
        done: dict[str, int] = {}
        while len(done) < 2:
            for h, finished in ex.wait_any([h for h in handles if handles[h] not in done], None):
                done[handles[h]] = finished.returncode
    assert done == {"a": 0, "b": 3}
    assert (ws.root / "a.txt").read_text() == "hi\n"
