import json
import os

import blake3
import pytest

from artvc.workspace import add, checkout, status
from tests.builders import csv_bytes, random_bytes


def store_bytes(ws) -> int:
    with ws.repo() as repo:
        return repo.store.stats()["pack_bytes"]


def test_pointer_id_is_blake3_of_content_and_checkout_restores_bytes(ws):
    data = random_bytes(1_500_000) + csv_bytes(500_000)
    ws.gen({"data": {"big.bin": data, "small.txt": "hello\n"}, "model.bin": random_bytes(10_000)})
    ws.art("add", "data/big.bin", "model.bin")
    text = (ws.root / "data/big.bin.art").read_text()
    assert f'id = "{blake3.blake3(data).hexdigest()}"' in text
    assert "/big.bin" in (ws.root / "data/.gitignore").read_text().splitlines()
    (ws.root / "data/big.bin").unlink()
    (ws.root / "model.bin").write_bytes(b"changed")
    ws.art("checkout", "--force")
    assert (ws.root / "data/big.bin").read_bytes() == data
    assert (ws.root / "model.bin").read_bytes() == random_bytes(10_000)


def test_directory_round_trip_keeps_tree_and_exec_bits(ws):
    ws.gen({"d": {"a.txt": "a", "sub": {"b.txt": "b" * 50_000, "deep": {"c": random_bytes(300_000)}}}})
    os.chmod(ws.root / "d/a.txt", 0o755)
    os.symlink("a.txt", ws.root / "d/link")
    ws.art("add", "d")
    pointer = (ws.root / "d.art").read_text()
    assert 'kind = "dir"' in pointer and "files = 3" in pointer
    import shutil

    shutil.rmtree(ws.root / "d")
    ws.art("checkout")
    assert (ws.root / "d/sub/deep/c").read_bytes() == random_bytes(300_000)
    assert os.access(ws.root / "d/a.txt", os.X_OK)
    assert os.readlink(ws.root / "d/link") == "a.txt"
    out = json.loads(ws.art("status", "--json").stdout)
    assert out["artifacts"][0]["state"] == "unchanged"


def test_status_states_and_check_exit_code(ws):
    ws.gen({"a.txt": "one", "b.txt": "two", "c.txt": "three"})
    ws.art("add", "a.txt", "b.txt", "c.txt")
    (ws.root / "a.txt").write_text("ONE!")
    (ws.root / "b.txt").unlink()
    states = {a["path"]: a["state"] for a in json.loads(ws.art("status", "--json").stdout)["artifacts"]}
    assert states == {"a.txt": "modified", "b.txt": "missing", "c.txt": "unchanged"}
    r = ws.art("status", "--check", code=4)
    assert r.stderr.startswith("art: error:")
    hint = r.stderr.splitlines()[-1]
    assert hint.startswith("hint: ") and "'art add'" in hint and "'art checkout'" in hint, r.stderr
    assert "'art pull'" not in hint, r.stderr


def test_not_in_store_state(ws):
    ws.gen({"a.txt": "x" * 100})
    ws.art("add", "a.txt")
    with ws.repo() as repo:
        repo.store.drop_packs(list(repo.store.pack_names()))
    states = [a["state"] for a in json.loads(ws.art("status", "--json").stdout)["artifacts"]]
    assert states == ["not-in-store"]


def test_checkout_refuses_modified_without_force_and_changes_nothing(ws):
    ws.gen({"a.txt": "original"})
    ws.art("add", "a.txt")
    (ws.root / "a.txt").write_text("my edit")
    r = ws.art("checkout", code=1)
    assert "a.txt" in r.stderr and "--force" in r.stderr
    assert (ws.root / "a.txt").read_text() == "my edit"


def age(folder, seconds: float = 2.0) -> None:
    """Date a folder's files back, as data that has sat on disk for a while (instead of sleeping past the
    racy-clean window: docs/concepts.md)."""
    for p in folder.rglob("*"):
        st = p.stat()
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


def test_readd_unchanged_reads_nothing(ws):
    ws.gen({"d": {f"f{i}.txt": f"file {i}" for i in range(200)}})
    age(ws.root / "d")  # older than the racy-clean window, so the stat cache may vouch for every file
    ws.art("add", "d")
    os.utime(ws.root / "d", None)
    with ws.repo() as repo:
        result = add(repo, ["d"])
    assert result.stats.hashed == 0 and result.stats.files == 200
    assert not result.artifacts[0].changed


def test_add_directory_after_one_change_hashes_one_file(ws):
    ws.gen({"d": {f"f{i}.txt": f"file {i}" for i in range(100)}})
    age(ws.root / "d")
    ws.art("add", "d")
    (ws.root / "d/f7.txt").write_text("new content")
    with ws.repo() as repo:
        result = add(repo, ["d"])
        assert result.stats.hashed == 1
        assert status(repo).clean


@pytest.mark.slow
def test_dedup_append_and_insert_in_64mib_csv(ws):
    data = csv_bytes(64 << 20)
    (ws.root / "big.csv").write_bytes(data)
    ws.art("add", "big.csv")
    base = store_bytes(ws)
    (ws.root / "big.csv").write_bytes(data + csv_bytes(1 << 20, seed=9))
    ws.art("add", "big.csv")
    after_append = store_bytes(ws)
    assert after_append - base < 4 << 20
    mid = len(data) // 2
    (ws.root / "big.csv").write_bytes(data[:mid] + csv_bytes(1 << 20, seed=7) + data[mid:])
    ws.art("add", "big.csv")
    assert store_bytes(ws) - after_append < 4 << 20


def test_dedup_one_changed_file_in_2000_file_directory(ws):
    ws.gen({"d": {f"s{j}": {f"f{i}.bin": random_bytes(2000, seed=i * 100 + j) for i in range(100)} for j in range(20)}})
    ws.art("add", "d")
    base = store_bytes(ws)
    (ws.root / "d/s3/f5.bin").write_bytes(random_bytes(2000, seed=-1))
    ws.art("add", "d")
    assert store_bytes(ws) - base < 256 * 1024


def test_python_api_matches_cli(ws):
    ws.gen({"x.bin": random_bytes(5000)})
    with ws.repo() as repo:
        result = add(repo, ["x.bin"])
        assert result.artifacts[0].pointer.oid == blake3.blake3(random_bytes(5000)).hexdigest()
        (ws.root / "x.bin").unlink()
        assert checkout(repo).restored == ["x.bin"]


def test_switching_to_a_stored_version_needs_no_force(ws):
    ws.gen({"a.txt": "v1", "d": {"x": "1", "y": "2"}})
    ws.art("add", "a.txt", "d")
    ws.git("add", "-A")
    ws.git("commit", "-qm", "v1")
    ws.gen({"a.txt": "v2", "d": {"x": "10", "z": "3"}})
    ws.art("add", "a.txt", "d")
    ws.git("checkout", "HEAD", "--", "a.txt.art", "d.art")
    ws.art("checkout")
    assert (ws.root / "a.txt").read_text() == "v1"
    assert sorted(p.name for p in (ws.root / "d").iterdir()) == ["x", "y"]
    assert (ws.root / "d/x").read_text() == "1"


def test_missing_directory_is_restored_whole_and_staging_never_lingers(ws):
    ws.gen({"d": {f"s{i}": {f"f{j}": f"{i}-{j}" for j in range(5)} for i in range(4)}})
    ws.art("add", "d")
    import shutil

    shutil.rmtree(ws.root / "d")
    (ws.root / ".d.art-tmp-dir").mkdir()  # as a killed checkout would leave it
    (ws.root / ".d.art-tmp-dir/junk").write_text("half")
    ws.art("checkout")
    assert (ws.root / "d/s3/f4").read_text() == "3-4"
    assert not (ws.root / ".d.art-tmp-dir").exists()
    with ws.repo() as repo:
        assert status(repo).clean
        import os

        st = os.stat(ws.root / "d/s1/f1")
        assert repo.state.lookup(str(ws.root / "d/s1/f1"), st) is not None  # trusted, no re-hash


def test_adding_a_large_file_records_the_git_state_and_machine_of_the_add(ws):
    """A large new file's add reads the git facts in a thread beside the stream: the same facts as ever (the
    commit, the branch, tracked changes made before the add) and the machine's."""
    (ws.root / "notes.txt").write_text("a\n")
    ws.git("add", "-A")
    ws.git("commit", "-q", "-m", "first")
    head = ws.git("rev-parse", "HEAD").stdout.strip()
    branch = ws.git("branch", "--show-current").stdout.strip()
    (ws.root / "big.bin").write_bytes(random_bytes(3 << 20, seed=4))
    ws.art("add", "big.bin")
    run = json.loads(ws.art("lineage", "big.bin", "--json").stdout)["run"]
    assert run["kind"] == "add" and run["git"] == {"commit": head, "dirty": False, "branch": branch}
    assert run["user"] and run["host"] and run["python"] and run["art"]
    (ws.root / "notes.txt").write_text("b\n")  # a tracked file changed before the next add
    (ws.root / "big.bin").write_bytes(random_bytes(3 << 20, seed=5))
    ws.art("add", "big.bin")
    run = json.loads(ws.art("lineage", "big.bin", "--json").stdout)["run"]
    assert run["git"] == {"commit": head, "dirty": True, "branch": branch}
