"""Commands that edit files people also edit keep everything but the edited value, byte for byte (issue 10
item 6): comments, blank lines, the order of tables and keys."""

import pytest

SHARED = """# art configuration (committed). Secrets belong in .art/config.local, which git ignores.

# Where the team's data goes.
[remotes.origin]   # the main bucket
url = "/srv/origin"  # moved here in March
region = "eu-west-1"

# Settings every clone shares.
[core]
fsync = true    # we lost a pack once
jobs = 3        # CI has 4 cores

# (end of file)
"""

LOCAL = """# this machine only

[remotes.origin]
token = "t0"   # rotate monthly
"""


@pytest.fixture
def edited(ws):
    (ws.root / ".art/config").write_text(SHARED)
    (ws.root / ".art/config.local").write_text(LOCAL)
    return ws


def shared(ws):
    return (ws.root / ".art/config").read_text()


def local(ws):
    return (ws.root / ".art/config.local").read_text()


def test_config_changes_one_value_in_place(edited):
    edited.art("config", "core.jobs", "4")
    assert shared(edited) == SHARED.replace("jobs = 3        #", "jobs = 4        #")
    assert local(edited) == LOCAL


def test_config_adds_a_key_after_the_last_key_of_its_table(edited):
    edited.art("config", "core.strict_pipeline", "yes")
    assert shared(edited) == SHARED.replace("CI has 4 cores\n", "CI has 4 cores\nstrict_pipeline = true\n")


def test_config_unset_removes_only_that_line(edited):
    edited.art("config", "--unset", "core.fsync")
    assert shared(edited) == SHARED.replace("fsync = true    # we lost a pack once\n", "")


def test_config_local_keeps_the_local_file(edited):
    edited.art("config", "--local", "remotes.origin.token", "t1")
    assert local(edited) == LOCAL.replace('"t0"', '"t1"')
    assert shared(edited) == SHARED


def test_remote_add_puts_the_new_remote_after_the_others(edited):
    edited.art("remote", "add", "backup", "/srv/backup")
    expected = SHARED.replace(
        'region = "eu-west-1"\n\n# Settings',
        'region = "eu-west-1"\n\n[remotes.backup]\nurl = "/srv/backup"\n\n# Settings',
    )
    assert shared(edited) == expected
    assert local(edited) == LOCAL


def test_remote_modify_default_and_remove(edited):
    edited.art("remote", "modify", "origin", "-o", "region=us-east-2")
    after_modify = SHARED.replace('"eu-west-1"', '"us-east-2"')
    assert shared(edited) == after_modify
    edited.art("remote", "default", "origin")
    after_default = after_modify.replace("CI has 4 cores\n", 'CI has 4 cores\nremote = "origin"\n')
    assert shared(edited) == after_default
    edited.art("remote", "remove", "origin")
    assert shared(edited) == (
        "# art configuration (committed). Secrets belong in .art/config.local, which git ignores.\n\n"
        "# Where the team's data goes.\n"
        "[core]\n"
        "fsync = true    # we lost a pack once\n"
        "jobs = 3        # CI has 4 cores\n\n"
        "# (end of file)\n"
    )  # the remote's own lines and comments go with it, and so does core.remote naming it
    assert local(edited) == "# this machine only\n"


ART_TOML = """# The pipeline. Keep stages in the order they run.

[stages.prepare]   # cleans the raw data
cmd = "cp in.txt mid.txt"
deps = ["in.txt"]
outs = ["mid.txt"]    # small

# Training comes next.
"""


def test_stage_add_keeps_art_toml_and_force_replaces_only_that_stage(ws):
    (ws.root / "art.toml").write_text(ART_TOML)
    (ws.root / "in.txt").write_text("x")
    ws.art("stage", "add", "train", "-d", "mid.txt", "-o", "model.bin", "--", "cp mid.txt model.bin")
    with_train = ART_TOML.replace(
        "# small\n\n# Training",
        '# small\n\n[stages.train]\ncmd = "cp mid.txt model.bin"\ndeps = ["mid.txt"]\nouts = ["model.bin"]\n\n'
        "# Training",
    )
    assert (ws.root / "art.toml").read_text() == with_train
    ws.art("stage", "add", "prepare", "--force", "-d", "in.txt", "-o", "mid.txt", "--", "cat in.txt > mid.txt")
    assert (ws.root / "art.toml").read_text() == with_train.replace('"cp in.txt mid.txt"', '"cat in.txt > mid.txt"')
