"""Ordinary faults (disk full, permissions, read-only, odd names, deep trees, damaged caches) give one
``art: error:`` line, a hint and a documented exit code, and leave nothing half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.builders import write_random_file
from tests.e2e.faultfs import ROOT, art, ext4, make_repo, ok, one_error, open_to_nobody, read_only, tmpfs

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # real mounts and users: slow tier (CI runs it)


def store_temps(repo: Path) -> list[str]:
    return sorted(os.listdir(repo / ".art" / "store" / "tmp"))


@pytest.fixture
def small_disk(tmp_path):
    """A repository on a 24 MiB file system (a real tmpfs as root; a fault point that fails the same way
    otherwise), with the environment to run art in."""
    if ROOT:
        with tmpfs(tmp_path / "mnt", "24m") as mnt:
            yield make_repo(mnt / "repo"), {}
    else:
        yield make_repo(tmp_path / "repo"), {"ART_FAULT": "store.pack-writing@20:enospc"}


def test_add_on_a_full_disk_exits_13_and_leaves_no_partial_pack(small_disk):
    repo, env = small_disk
    write_random_file(repo / "big.bin", 14 << 20, seed=1)  # 14 MiB that do not compress: 28 MiB needed
    r = art(repo, "add", "big.bin", env=env)
    one_error(r, 13, "no space left on device", "hint: free some space")
    assert store_temps(repo) == []  # the 26 MiB partial pack of issue #14 is gone
    assert not (repo / "big.bin.art").exists()
    ok(art(repo, "fsck"))


def test_add_on_a_full_disk_with_direct_writes_leaves_no_partial_pack(tmp_path):
    """The same on a small ext4, where the large file's pack is written around the page cache (``O_DIRECT``):
    the direct write that finds the disk full fails the add the same way (as root; otherwise a fault point)."""
    if not ROOT:
        repo = make_repo(tmp_path / "repo")
        write_random_file(repo / "big.bin", 30 << 20, seed=4)
        r = art(repo, "add", "big.bin", env={"ART_FAULT": "store.pack-writing@20:enospc"})
        one_error(r, 13, "no space left on device")
        assert store_temps(repo) == []
        return
    with ext4(tmp_path / "mnt", 64) as mnt:
        repo = make_repo(mnt / "repo")
        free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
        write_random_file(repo / "big.bin", free // 2 + (2 << 20), seed=4)  # its pack does not fit beside it
        r = art(repo, "add", "big.bin")
        one_error(r, 13, "no space left on device", "hint: free some space")
        assert store_temps(repo) == []
        assert not (repo / "big.bin.art").exists()
        ok(art(repo, "fsck"))


def test_checkout_on_a_full_disk_exits_13_and_leaves_no_temp_file(small_disk):
    repo, env = small_disk
    write_random_file(repo / "a.bin", 6 << 20, seed=2)
    ok(art(repo, "add", "a.bin"))
    (repo / "a.bin").unlink()
    if ROOT:  # fill the disk so that only part of the file fits
        free = os.statvfs(repo).f_bavail * os.statvfs(repo).f_frsize
        write_random_file(repo / "filler", max(0, free - (2 << 20)), seed=3)
        env = {}
    else:
        env = {"ART_FAULT": "materialize.file-writing:enospc"}
    r = art(repo, "checkout", env=env)
    one_error(r, 13, "no space left on device")
    assert not [p for p in os.listdir(repo) if "art-tmp" in p]
    assert not (repo / "a.bin").exists()


def test_a_fault_with_no_layer_conversion_is_still_exit_13_not_70(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "f.txt").write_text("hello\n")
    r = art(repo, "add", "f.txt", env={"ART_FAULT": "store.pack-sealed:eio"})
    one_error(r, 13, "input/output error", "hint: the disk reported an I/O error")
    assert store_temps(repo) == []
    ok(art(repo, "add", "f.txt"))


def test_read_only_store_still_serves_reads_and_refuses_writes_with_13(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "data").mkdir()
    (repo / "data" / "a.txt").write_text("a\n")
    (repo / "m.bin").write_bytes(b"m" * 100_000)
    ok(art(repo, "add", "data", "m.bin"))
    (repo / "m.bin").unlink()
    (repo / "new.txt").write_text("new\n")
    with read_only(repo / ".art"):
        assert "missing" in ok(art(repo, "status")).stdout
        ok(art(repo, "ls"))
        ok(art(repo, "diff"))
        ok(art(repo, "checkout"))
        assert (repo / "m.bin").read_bytes() == b"m" * 100_000
        ok(art(repo, "fsck"))
        one_error(art(repo, "add", "new.txt"), 13, "read-only" if ROOT else "permission denied", "still work")
    assert not (repo / "new.txt.art").exists()


def test_unreadable_file_and_folder_exit_13_naming_the_path(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "d" / "s").mkdir(parents=True)
    (repo / "d" / "s" / "secret").write_text("x\n")
    open_to_nobody(repo)
    os.chmod(repo / "d" / "s" / "secret", 0)
    r = art(repo, "add", "d", as_nobody=True)
    one_error(r, 13, "cannot read", "d/s/secret", "permission denied", "hint: check the permissions")
    os.chmod(repo / "d" / "s" / "secret", 0o644)
    os.chmod(repo / "d" / "s", 0)
    try:
        one_error(art(repo, "add", "d", as_nobody=True), 13, "cannot read the folder", "d/s", "permission denied")
    finally:
        os.chmod(repo / "d" / "s", 0o755)
    assert not (repo / "d.art").exists()
    assert store_temps(repo) == []


def test_damaged_state_db_is_rebuilt_with_a_notice(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "f.txt").write_text("f\n")
    ok(art(repo, "add", "f.txt"))
    (repo / ".art" / "state.db").write_bytes(os.urandom(5000))
    r = ok(art(repo, "status"))
    assert "art: note:" in r.stderr and "state.db" in r.stderr and "rebuilt" in r.stderr
    assert "unchanged" in r.stdout
    assert "notice" not in ok(art(repo, "status")).stderr  # rebuilt once


@pytest.mark.parametrize("content", [b"\xff\xfe garbage", b"format = 1\nmin_size = 'x'\n", b"format = ["])
def test_damaged_store_config_exits_12_with_a_hint(tmp_path, content):
    repo = make_repo(tmp_path / "repo")
    (repo / "f.txt").write_text("f\n")
    ok(art(repo, "add", "f.txt"))
    (repo / ".art" / "store" / "config").write_bytes(content)
    for cmd in (["status"], ["add", "f.txt"], ["fsck"]):
        one_error(art(repo, *cmd), 12, "store config", "hint: restore")


def test_dangling_symlink_is_a_clear_error(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "link").symlink_to("nowhere")
    one_error(art(repo, "add", "link"), 1, "symlink to nowhere", "does not exist")


def test_non_utf8_name_is_refused_naming_the_bytes(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "d").mkdir()
    (repo / "d" / "ok.txt").write_text("x\n")
    with open(os.path.join(os.fsencode(repo / "d"), b"caf\xe9.txt"), "w") as f:
        f.write("x\n")
    one_error(art(repo, "add", "d"), 10, "caf\\xe9.txt", "not valid UTF-8", "hint: rename")
    assert not (repo / "d.art").exists()


@pytest.mark.slow
def test_a_tree_1500_levels_deep_is_added_checked_out_and_verified(tmp_path):
    repo = make_repo(tmp_path / "repo")
    deep = repo / "deep"
    deep.mkdir()
    for _ in range(1500):  # not mkdir(parents=True): pathlib recurses, as art did (RecursionError, exit 70)
        deep = deep / "a"
        os.mkdir(deep)
    (deep / "f").write_text("x\n")
    try:
        ok(art(repo, "add", "deep"))
        (deep / "f").write_text("changed\n")
        assert "modified" in ok(art(repo, "status")).stdout
        ok(art(repo, "checkout", "--force"))
        assert (deep / "f").read_text() == "x\n"
        ok(art(repo, "fsck"))
    finally:  # bottom-up by hand: shutil.rmtree (and so pytest's cleanup) recurses and cannot remove it
        (deep / "f").unlink(missing_ok=True)
        while deep != repo:
            os.rmdir(deep)
            deep = deep.parent


def store_tree(repo: Path, entries) -> None:
    """Put a tree (as a remote could send it) in the store and point ``data`` at it, as a pull would."""
    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.objects import Kind, Tree, TreeEntry
    from artvc.workspace import Repo
    from artvc.workspace.pointers import Pointer, write_pointer

    with Repo(repo) as r, r.store.writer() as w:
        blob = b"content\n"
        oid = hash_bytes(blob)
        w.put(oid, Kind.CHUNK, blob)
        tree = Tree.build(
            [
                TreeEntry(
                    name,
                    kind,
                    oid if kind == "file" else hash_bytes(target.encode()),
                    len(blob) if kind == "file" else 0,
                    target=target,
                )
                for name, kind, target in entries
            ]
        )
        w.put(tree.oid, Kind.TREE, tree.to_bytes())
    write_pointer(repo / "data.art", Pointer(tree.oid, "dir", tree.size, len(entries)))


def test_a_path_too_long_for_the_os_from_a_remote_tree_exits_13_when_written(tmp_path):
    """Names the decoder accepts (200 bytes each) nested 25 deep: 5000 bytes, over the OS's PATH_MAX."""
    from artvc.objstore.hashing import hash_bytes
    from artvc.objstore.objects import Kind, Tree, TreeEntry
    from artvc.workspace import Repo
    from artvc.workspace.pointers import Pointer, write_pointer

    repo = make_repo(tmp_path / "repo")
    blob = b"content\n"
    oid = hash_bytes(blob)
    with Repo(repo) as r, r.store.writer() as w:
        w.put(oid, Kind.CHUNK, blob)
        tree = Tree.build([TreeEntry("f.txt", "file", oid, len(blob))])
        w.put(tree.oid, Kind.TREE, tree.to_bytes())
        for i in range(25):
            tree = Tree.build([TreeEntry(f"{i:02d}" + "n" * 198, "dir", tree.oid, tree.size)])
            w.put(tree.oid, Kind.TREE, tree.to_bytes())
    write_pointer(repo / "data.art", Pointer(tree.oid, "dir", tree.size, 1))
    one_error(art(repo, "checkout"), 13, "file name too long", "hint: the file system refuses names this long")
    assert not [p for p in os.listdir(repo) if "art-tmp" in p]
    assert not (repo / "data").exists()


def test_a_nul_in_a_link_target_from_a_remote_tree_is_refused(tmp_path):
    repo = make_repo(tmp_path / "repo")
    store_tree(repo, [("ok.txt", "file", None), ("link", "symlink", "ok.txt\0/etc/passwd")])
    r = art(repo, "checkout")
    assert r.returncode in (3, 10), r.stderr  # the tree decoder refuses it (3); make_symlink would (10)
    assert r.stderr.startswith("art: error: ") and "internal error" not in r.stderr
    assert not (repo / "data").exists()
    assert not [p for p in os.listdir(repo) if "art-tmp" in p]


def test_checkout_into_a_read_only_workspace_exits_13(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "f.txt").write_text("f\n")
    ok(art(repo, "add", "f.txt"))
    (repo / "f.txt").unlink()
    with read_only(repo):
        one_error(art(repo, "checkout"), 13, "f.txt", "read-only file system" if ROOT else "permission denied")
    ok(art(repo, "checkout"))
    assert (repo / "f.txt").read_text() == "f\n"


@pytest.mark.parametrize(
    ("content", "needle"), [(b"\xe3\x80 garbage \xff", "not UTF-8"), (b'[core]\njobs = "x"\n', "core.jobs")]
)
def test_damaged_workspace_config_is_a_config_error(tmp_path, content, needle):
    repo = make_repo(tmp_path / "repo")
    (repo / "f.txt").write_text("f\n")
    (repo / ".art" / "config").write_bytes(content)
    one_error(art(repo, "add", "f.txt"), 1, needle, "hint: ")


def test_a_translated_fault_is_also_reported_as_json(tmp_path):
    import json

    repo = make_repo(tmp_path / "repo")
    (repo / "f.txt").write_text("hello\n")
    r = art(repo, "add", "f.txt", "--json", env={"ART_FAULT": "store.pack-sealed:enospc"})
    assert r.returncode == 13
    err = json.loads(r.stdout)["error"]
    assert err["type"] == "FileSystemError" and err["exit_status"] == 13 and "no space left" in err["message"]
