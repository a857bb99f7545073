import json


def test_set_get_unset_round_trip(ws):
    ws.art("config", "core.jobs", "4")
    assert ws.art("config", "core.jobs").stdout.strip() == "4"
    assert "jobs = 4" in (ws.root / ".art/config").read_text()
    ws.art("config", "core.fsync", "true")
    with ws.repo() as repo:
        assert repo.config.core("fsync") is True and repo.config.core("jobs") == 4
    ws.art("config", "--unset", "core.jobs")
    assert ws.art("config", "core.jobs").stdout.strip() == "2"  # the default


def test_local_values_override_and_secrets_are_masked(ws):
    ws.art("config", "--local", "remotes.origin.secret", "hunter2")
    ws.art("config", "remotes.origin.url", "s3://bucket/x")
    assert "hunter2" not in (ws.root / ".art/config").read_text()
    assert "hunter2" in (ws.root / ".art/config.local").read_text()
    listed = json.loads(ws.art("config", "--list", "--json").stdout)
    assert listed["remotes.origin.secret"] == "***" and listed["remotes.origin.url"] == "s3://bucket/x"


def test_bad_keys_and_values_are_clean_errors(ws):
    for args in (
        ["config", "core.nope", "1"],
        ["config", "jobs", "1"],
        ["config", "core.jobs", "many"],
        ["config", "core.fsync", "maybe"],
        ["config", "--unset", "core.jobs"],
    ):
        r = ws.art(*args, code=1)
        assert r.stderr.startswith("art: error:"), args
    assert "jobs" not in (ws.root / ".art/config").read_text()
