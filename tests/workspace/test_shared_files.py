"""Read-modify-write of shared files happens under the repository lock on the file as it is now: a change made
by another process (here: another Repo object, as another command would be) since this one loaded is kept."""

from artvc.workspace import Repo
from artvc.workspace.config import set_value, unset_value
from artvc.workspace.remote import remote_add, remote_default, remote_remove


def test_config_changes_keep_what_another_process_wrote_meanwhile(ws):
    first, second = Repo(ws.root), Repo(ws.root)  # both loaded .art/config before either wrote
    set_value(second.config, "core.jobs", "5")
    set_value(first.config, "core.fsync", "true")
    unset_value(second.config, "core.gc_grace")
    fresh = Repo(ws.root).config
    assert fresh.core("jobs") == 5 and fresh.core("fsync") is True


def test_remote_changes_keep_what_another_process_wrote_meanwhile(ws, tmp_path):
    first, second = Repo(ws.root), Repo(ws.root)
    remote_add(second, "one", str(tmp_path / "r1"))
    remote_add(first, "two", str(tmp_path / "r2"))
    assert set(Repo(ws.root).config.remotes) == {"one", "two"}
    remote_default(second, "one")
    remote_remove(first, "two")
    fresh = Repo(ws.root).config
    assert set(fresh.remotes) == {"one"} and fresh.core("remote") == "one"


def test_config_change_waits_for_the_repository_lock(ws):
    repo = Repo(ws.root)
    with repo.lock:  # re-entrant: a command that holds the lock may change the config
        set_value(repo.config, "core.jobs", "4")
    assert Repo(ws.root).config.core("jobs") == 4
