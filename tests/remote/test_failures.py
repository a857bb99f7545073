import os
import subprocess
import sys

import pytest

from tests import servers
from tests.remote.conftest import FAST_S3, add_remote, art_json, assert_error, clone, files_under


@pytest.fixture
def few_retries(monkeypatch):
    """s3fs retries a failed request 5 times with backoff (1.9 s of sleeping) before art sees the failure;
    these tests are about what art does once the backend gives up, so it gives up after one retry here."""
    import s3fs

    monkeypatch.setattr(s3fs.S3FileSystem, "retries", 2)


def test_unreachable_endpoint_is_one_clear_error(data_ws, few_retries):
    dead = f"http://127.0.0.1:{servers.free_port()}"
    add_remote(data_ws, "s3://bucket/art", {"endpoint_url": dead, **FAST_S3})
    assert_error(data_ws.art("push", code=None), 12, f"cannot reach remote 'origin' at {dead} while")
    assert_error(data_ws.art("status", "--remote", code=None), 12, "remote 'origin'")


@pytest.mark.parametrize(
    ("url", "package", "extra"), [("s3://bucket/art", "s3fs", "s3"), ("az://container/art", "adlfs", "azure")]
)
def test_missing_backend_names_the_package_to_install(data_ws, tmp_path, url, package, extra):
    # the backend is installed here: shadow it, in art's own process, with a package that fails to import
    # exactly as a missing one does
    shadow = tmp_path / "shadow" / package
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(f"raise ModuleNotFoundError(\"No module named '{package}'\")\n")
    add_remote(data_ws, url)
    r = subprocess.run(
        [sys.executable, "-m", "artvc", "push"],
        cwd=data_ws.root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "shadow")},
    )
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("art: error: ") and "needs a backend" in lines[0]
    assert lines[1] == f"hint: pip install {package} (art's '{extra}' extra) into the environment art runs in"


def test_unknown_scheme_is_a_clear_error(data_ws):
    add_remote(data_ws, "nosuchproto://x/y")
    assert_error(data_ws.art("push", code=None), 1, "unknown URL scheme nosuchproto://")


@pytest.fixture
def proxied(s3_server, tmp_path, few_retries):
    """A bucket on moto reached through a FaultProxy (faults off until a test turns them on)."""
    from tests.bucket_fixtures import bucket_name

    name = bucket_name("fault")
    s3_server.filesystem().mkdir(name)
    with servers.FaultProxy(s3_server.port) as proxy:
        yield proxy, f"s3://{name}/root", {**s3_server.options_for_port(proxy.port), **FAST_S3}


def _visible_state_is_consistent(url, options):
    """Every index on the remote is valid and its pack complete; only index-less packs may be left over."""
    from artvc.objstore.store.remote import RemoteStore
    from artvc.objstore.store.remote_check import check_remote

    found = check_remote(RemoteStore.open(url, options), read_data=True)
    assert not found.problems, found.problems
    return found


@pytest.mark.slow  # waits out a real connect timeout / a cut transfer: seconds of wall time
def test_push_cut_mid_transfer_fails_cleanly_and_a_rerun_completes(data_ws, proxied, tmp_path):
    proxy, url, options = proxied
    add_remote(data_ws, url, options)
    proxy.cut_up_after = 200_000  # every connection is reset after 200 kB of request bytes
    assert_error(data_ws.art("push", code=None), 12, "remote 'origin' failed while")
    _visible_state_is_consistent(url, options)
    proxy.cut_up_after = None
    assert art_json(data_ws, "push")["objects"] > 0
    assert art_json(data_ws, "push")["objects"] == 0
    assert not _visible_state_is_consistent(url, options).garbage  # the re-run republished the same packs
    other = clone(data_ws, tmp_path / "clone")
    other.art("pull")
    assert files_under(other.root / "data") == files_under(data_ws.root / "data")


def test_a_transient_cut_is_retried(data_ws, proxied, tmp_path):
    proxy, url, options = proxied
    add_remote(data_ws, url, options)
    data_ws.art("push")
    other = clone(data_ws, tmp_path / "clone")
    proxy.cut_down_after, proxy.faults_left = 150_000, 1  # the first download connection is cut once
    other.art("pull")
    assert proxy.faults == 1
    assert (other.root / "model.bin").read_bytes() == (data_ws.root / "model.bin").read_bytes()


def test_two_cut_uploads_in_a_row_are_retried(data_ws, proxied, tmp_path):
    proxy, url, options = proxied
    add_remote(data_ws, url, options)
    proxy.cut_up_after, proxy.faults_left = 100_000, 2  # the next two connections are reset mid-upload
    assert art_json(data_ws, "push")["objects"] > 0
    assert proxy.faults == 2
    assert not _visible_state_is_consistent(url, options).problems
    other = clone(data_ws, tmp_path / "clone")
    other.art("pull")
    assert files_under(other.root / "data") == files_under(data_ws.root / "data")


@pytest.mark.long
def test_pull_cut_every_time_fails_cleanly_then_resumes(data_ws, proxied, tmp_path):
    proxy, url, options = proxied
    add_remote(data_ws, url, options)
    data_ws.art("push")
    other = clone(data_ws, tmp_path / "clone")
    other.art("fetch", "data")  # some objects arrive first
    proxy.cut_down_after = 100_000
    assert_error(other.art("pull", code=None), 12, "remote 'origin' failed while")
    assert not (other.root / "model.bin").exists()
    proxy.cut_down_after = None
    other.art("pull")
    assert (other.root / "model.bin").read_bytes() == (data_ws.root / "model.bin").read_bytes()
