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
    ws.art("config", "remotes.origin.url", "s3://bucket/x")
    echoed = ws.art("config", "--local", "remotes.origin.secret", "hunter2").stdout
    assert echoed == "remotes.origin.secret = ***\n"  # not echoed into a terminal or a CI log
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


def test_unknown_keys_are_refused_with_the_valid_ones_and_a_guess(ws):
    """Issue 10 item 8: `art config gc.bar yes` was accepted and written into the committed config."""
    before = (ws.root / ".art/config").read_text()
    r = ws.art("config", "gc.bar", "yes", code=1)
    assert r.stderr.splitlines()[0] == "art: error: unknown config key 'gc.bar'"
    assert (
        "valid keys: core.compact, core.delta, core.delta_depth, core.direct_writes, core.fsmonitor, core.fsync, "
        "core.gc_grace, core.jobs"
        in r.stderr
        and "remotes.NAME.OPTION" in r.stderr
    )
    r = ws.art("config", "core.job", "4", code=1)
    assert "hint: did you mean core.jobs? valid keys:" in r.stderr
    assert "did you mean core.gc_grace?" in ws.art("config", "gc.grace", "2h", code=1).stderr
    assert "did you mean core.fsync?" in ws.art("config", "core.fsnyc", code=1).stderr
    assert "did you mean core.jobs?" in ws.art("config", "--unset", "jobs", code=1).stderr
    assert (ws.root / ".art/config").read_text() == before


def test_unknown_keys_in_a_file_are_warnings_and_can_be_removed(ws):
    (ws.root / ".art/config").write_text("[core]\njbos = 3\nfsync = true\n\n[gc]\nbar = true\n")
    (ws.root / ".art/config.local").write_text("experimental = 1\n")
    r = ws.art("status")  # any command still works
    warnings = [line for line in r.stderr.splitlines() if line.startswith("art: warning:")]
    assert warnings == [
        "art: warning: unknown key gc.bar in .art/config is ignored (sections: core, remotes, executor); "
        "remove it with: art config --unset gc.bar",
        "art: warning: unknown key core.jbos in .art/config is ignored (did you mean core.jobs?); "
        "remove it with: art config --unset core.jbos",
        "art: warning: unknown key experimental in .art/config.local is ignored (sections: core, remotes, executor); "
        "remove it from the file",
    ]
    assert ws.art("config", "core.fsync").stdout.strip() == "true"
    assert "gc.bar" not in ws.art("config", "--list").stdout
    ws.art("config", "--unset", "gc.bar")
    ws.art("config", "--unset", "core.jbos")
    assert (ws.root / ".art/config").read_text() == "[core]\nfsync = true\n"
    assert "gc.bar" not in ws.art("status").stderr and "jbos" not in ws.art("status").stderr


def test_an_option_for_a_remote_that_does_not_exist_is_refused(ws):
    r = ws.art("config", "--local", "remotes.origin.secret", "hunter2", code=1)
    assert r.stderr.splitlines() == [
        "art: error: there is no remote 'origin' to set 'secret' for",
        "hint: add it first: art remote add origin URL",
    ]
    assert not (ws.root / ".art/config.local").exists() or "hunter2" not in (ws.root / ".art/config.local").read_text()
    assert ws.art("remote", "list").stdout.startswith("no remotes")  # no half-made remote that commands refuse
