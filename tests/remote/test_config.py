import tomllib

from tests.remote.conftest import art_json, assert_error


def _toml(path):
    return tomllib.loads(path.read_text()) if path.exists() else {}


def test_remote_add_keeps_secrets_out_of_the_committed_config(ws):
    ws.art(
        "remote",
        "add",
        "origin",
        "s3://bucket/prefix",
        "--default",
        "-o",
        "endpoint_url=http://127.0.0.1:9",
        "-o",
        "key=AKIA123",
        "-o",
        "secret=s3cr3t",
        "-o",
        'client_kwargs={"region_name": "eu-west-1"}',
    )
    shared, local = _toml(ws.root / ".art/config"), _toml(ws.root / ".art/config.local")
    assert shared["core"]["remote"] == "origin"
    assert shared["remotes"]["origin"] == {
        "url": "s3://bucket/prefix",
        "endpoint_url": "http://127.0.0.1:9",
        "client_kwargs": {"region_name": "eu-west-1"},
    }
    assert local["remotes"]["origin"] == {"key": "AKIA123", "secret": "s3cr3t"}
    assert "s3cr3t" not in (ws.root / ".art/config").read_text()
    assert "config.local" in (ws.root / ".art/.gitignore").read_text()
    listed = art_json(ws, "remote", "list")["remotes"][0]
    assert listed["default"] and listed["options"]["secret"] == "***" and listed["options"]["key"] == "***"
    assert "s3cr3t" not in ws.art("remote", "list").stdout


def test_a_password_in_the_url_is_moved_to_the_local_config_with_a_warning(ws):
    result = ws.art("remote", "add", "box", "sftp://me:hunter2@example.com/srv/art")
    assert "art: warning:" in result.stderr and "credentials" in result.stderr
    assert "hunter2" not in (ws.root / ".art/config").read_text()
    assert _toml(ws.root / ".art/config")["remotes"]["box"]["url"] == "sftp://me@example.com/srv/art"
    assert _toml(ws.root / ".art/config.local")["remotes"]["box"] == {"password": "hunter2"}
    sas = ws.art("remote", "add", "azure", "az://container/art?sv=2024&sig=abc")
    assert "query string" in sas.stderr


def test_default_modify_remove(ws, tmp_path):
    ws.art("remote", "add", "a", str(tmp_path / "a"))
    ws.art("remote", "add", "b", "s3://bucket/b", "-o", "token=t0k")
    assert art_json(ws, "remote", "default")["default"] == "a"  # the first one added; the second is not
    ws.art("remote", "default", "b")
    assert art_json(ws, "remote", "default")["default"] == "b"
    ws.art("remote", "modify", "b", "--url", "s3://bucket/c", "-o", "profile=dev", "-u", "token")
    b = next(r for r in art_json(ws, "remote", "list")["remotes"] if r["name"] == "b")
    assert b["url"] == "s3://bucket/c" and b["options"] == {"profile": "dev"}
    assert "b" not in _toml(ws.root / ".art/config.local").get("remotes", {})
    ws.art("remote", "remove", "b")
    names = [r["name"] for r in art_json(ws, "remote", "list")["remotes"]]
    assert names == ["a"] and art_json(ws, "remote", "default")["default"] is None


def test_the_first_remote_added_is_the_default_so_push_needs_no_flag(ws, tmp_path):
    ws.gen({"d.bin": b"x" * 1000})
    ws.art("add", "d.bin")
    added = ws.art("remote", "add", "origin", str(tmp_path / "bucket"))
    assert "(default)" in added.stdout
    assert _toml(ws.root / ".art/config")["core"]["remote"] == "origin"
    assert "to origin" in ws.art("push").stdout
    second = ws.art("remote", "add", "backup", str(tmp_path / "other"))
    assert "(default)" not in second.stdout and art_json(ws, "remote", "default")["default"] == "origin"
    ws.art("remote", "add", "nas", str(tmp_path / "nas"), "--default")
    assert art_json(ws, "remote", "default")["default"] == "nas"
    ws.art("remote", "default", "--unset")  # remotes without a default: a new one does not become it
    ws.art("remote", "add", "third", str(tmp_path / "third"))
    assert art_json(ws, "remote", "default")["default"] is None


def test_a_relative_path_is_stored_relative_to_the_workspace(ws, tmp_path, monkeypatch):
    (ws.root / "sub").mkdir()
    monkeypatch.chdir(ws.root / "sub")
    from artvc.workspace.remote import remote_add

    with ws.repo() as repo:
        remote_add(repo, "up", "../../bucket")
    assert _toml(ws.root / ".art/config")["remotes"]["up"]["url"] == "../bucket"


def test_remote_bad_input(ws, tmp_path):
    assert_error(ws.art("push", code=None), 1, "no remote is configured")
    ws.art("remote", "add", "a", str(tmp_path / "a"))
    ws.art("remote", "default", "--unset")
    assert_error(ws.art("push", code=None), 1, "no default remote is set")
    assert_error(ws.art("pull", "-r", "nope", code=None), 1, "unknown remote 'nope'")
    assert_error(ws.art("remote", "add", "a", str(tmp_path / "x"), code=None), 1, "already exists")
    assert_error(ws.art("remote", "add", "bad name", "/x", code=None), 2, "invalid remote name")
    assert_error(ws.art("remote", "add", "c", "/x", "-o", "novalue", code=None), 2, "is not key=value")
    assert_error(ws.art("remote", "remove", "zzz", code=None), 1, "unknown remote")
    assert_error(ws.art("fsck", "--remote", "zzz", code=None), 1, "unknown remote")


def test_the_secret_options_line_agrees_with_its_count(ws):
    one = ws.art("remote", "add", "box", "sftp://me:hunter2@host.example/srv/art").stdout
    assert "secret option password was written to .art/config.local" in one
    two = ws.art("remote", "add", "s3", "s3://b/p", "-o", "key=K", "-o", "secret=S").stdout
    assert "secret options key, secret were written to .art/config.local" in two
