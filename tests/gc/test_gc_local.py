import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artvc.objstore.objects import Kind
from artvc.objstore.reachability import closure
from artvc.workspace.gc import Retention, gc, parse_duration
from artvc.workspace.ls import artifacts_at
from artvc.workspace.roots import pointer_key
from tests.builders import random_bytes


def commit_version(ws, path: str, data: bytes, message: str, *, date: str | None = None) -> str:
    ws.gen({path: data})
    ws.art("add", path)
    ws.git("add", "-A")
    env = {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date} if date else None
    if env:
        os.environ.update(env)
    try:
        ws.git("commit", "-qm", message)
    finally:
        if env:
            for k in env:
                os.environ.pop(k, None)
    return ws.git("rev-parse", "HEAD").stdout.strip()


def keys(ws) -> set:
    with ws.repo() as repo:
        return {(o.oid, o.kind) for o in repo.store.iter_objects()}


def needed(ws, revs) -> set:
    with ws.repo() as repo:
        roots = {pointer_key(item.pointer) for rev in revs for item in artifacts_at(repo, rev).values()}
        missing = []
        found = closure(repo.store, roots, missing=missing)
        assert not missing
        return found


def chunk_keys(ws, rev: str, path: str) -> set:
    return {k for k in needed(ws, [rev]) if k[1] == Kind.CHUNK}


def test_keep_last_one_frees_only_the_older_versions_unique_chunks(ws):
    base = random_bytes(1_200_000, seed=1)
    revs = [commit_version(ws, "data.bin", base + random_bytes(400_000, seed=10 + i), f"v{i}") for i in range(3)]
    chunks = [chunk_keys(ws, r, "data.bin") for r in revs]
    shared = chunks[0] & chunks[1] & chunks[2]
    assert shared, "the versions must share chunks for this test to mean anything"
    unique_old = (chunks[0] | chunks[1]) - chunks[2]
    before = keys(ws)

    result = ws.art("gc", "--keep-last", "1", "--grace", "0", "--json")
    report = json.loads(result.stdout)

    after = keys(ws)
    removed = before - after
    assert {k for k in removed if k[1] == Kind.CHUNK} == unique_old
    assert chunks[2] <= after and shared <= after
    assert report["removed_objects"] == len(removed)
    ws.art("fsck")
    (ws.root / "data.bin").unlink()
    ws.art("checkout")
    assert (ws.root / "data.bin").read_bytes() == base + random_bytes(400_000, seed=12)


def test_default_keeps_every_branch_and_tag_and_grace_protects_new_objects(ws):
    commit_version(ws, "a.bin", random_bytes(300_000, seed=1), "a1")
    ws.git("tag", "t1")
    commit_version(ws, "a.bin", random_bytes(300_000, seed=2), "a2")
    ws.git("checkout", "-qb", "side")
    commit_version(ws, "a.bin", random_bytes(300_000, seed=3), "a3")
    ws.git("checkout", "-q", "main")
    ws.art("checkout", "--force")
    ws.gen({"loose.bin": random_bytes(200_000, seed=4)})
    ws.art("add", "loose.bin")
    (ws.root / "loose.bin.art").unlink()  # now unreferenced, but young
    before = keys(ws)

    out = ws.art("gc").stdout  # default grace 1h: nothing young goes
    assert "would" not in out
    assert keys(ws) == before

    ws.art("gc", "--grace", "0")
    after = keys(ws)
    assert needed(ws, ["t1", "main", "side"]) <= after
    gone = before - after
    assert gone and all(k[1] in (Kind.CHUNK, Kind.FILE, Kind.RUN) for k in gone)
    assert len({k for k in gone if k[1] == Kind.CHUNK}) >= 1


def test_dry_run_reports_bytes_and_deletes_nothing(ws):
    commit_version(ws, "a.bin", random_bytes(250_000, seed=1), "a1")
    commit_version(ws, "a.bin", random_bytes(250_000, seed=2), "a2")
    before = keys(ws)
    r = ws.art("gc", "--keep-last", "1", "--grace", "0", "--dry-run")
    assert "would remove" in r.stdout and "KiB" in r.stdout
    assert keys(ws) == before
    data = json.loads(ws.art("gc", "--keep-last", "1", "--grace", "0", "-n", "--json").stdout)
    assert data["dry_run"] and data["removed_size"] >= 250_000
    assert keys(ws) == before


def test_only_branches_drops_tag_only_history(ws):
    commit_version(ws, "a.bin", random_bytes(200_000, seed=1), "a1")
    ws.git("tag", "old")
    ws.git("checkout", "-q", "--orphan", "fresh")
    ws.git("rm", "-rqf", "--cached", ".")
    ws.git("branch", "-D", "main")
    commit_version(ws, "a.bin", random_bytes(200_000, seed=2), "fresh")
    tagged = needed(ws, ["old"]) - needed(ws, ["fresh"])
    ws.art("gc", "--all-branches", "--grace", "0")
    assert not (tagged & keys(ws))


def test_keep_within_keeps_recent_commits_and_tips(ws):
    old = commit_version(ws, "a.bin", random_bytes(200_000, seed=1), "old", date="2001-01-01T00:00:00")
    mid = commit_version(ws, "a.bin", random_bytes(200_000, seed=2), "mid", date="2002-01-01T00:00:00")
    new = commit_version(ws, "a.bin", random_bytes(200_000, seed=3), "new")
    old_only, mid_only = needed(ws, [old]) - needed(ws, [new]), needed(ws, [mid]) - needed(ws, [new])
    ws.art("gc", "--keep-within", "30d", "--grace", "0")
    have = keys(ws)
    assert needed(ws, [new]) <= have
    assert not ({k for k in old_only | mid_only if k[1] == Kind.CHUNK} & have)


def test_bad_options_are_usage_errors(ws):
    r = ws.art("gc", "--keep-within", "soon", code=2)
    assert "art: error: invalid duration" in r.stderr and "hint:" in r.stderr
    r = ws.art("gc", "--keep-last", "0", code=2)
    assert "--keep-last" in r.stderr


def test_parse_duration():
    assert parse_duration("90s") == 90
    assert parse_duration("1d12h") == 36 * 3600
    assert parse_duration("2w") == 14 * 86400
    assert parse_duration("0") == 0


def test_gc_interrupted_between_copy_and_delete_leaves_a_valid_store(ws, monkeypatch):
    base = random_bytes(900_000, seed=5)
    commit_version(ws, "a.bin", base + b"one", "v1")
    commit_version(ws, "a.bin", base + b"two", "v2")
    ws.gen({"b.bin": random_bytes(100_000, seed=6)})
    ws.art("add", "b.bin")  # lands in its own pack with nothing dead: untouched
    from artvc.objstore.store.local import LocalStore

    def boom(self, names):
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalStore, "drop_packs", boom)
    with ws.repo() as repo, pytest.raises(KeyboardInterrupt):
        gc(repo, Retention(keep_last=1), grace=0)
    monkeypatch.undo()
    ws.art("fsck")
    with ws.repo() as repo:
        result = gc(repo, Retention(keep_last=1), grace=0)
        assert result.removed
    ws.art("fsck")
    (ws.root / "a.bin").unlink()
    ws.art("checkout")
    assert (ws.root / "a.bin").read_bytes() == base + b"two"


_GC_CASES = given(
    steps=st.lists(
        st.tuples(st.sampled_from(["main", "b1", "b2"]), st.sampled_from(["x.bin", "y.bin"]), st.integers(0, 5)),
        min_size=1,
        max_size=6,
    ),
    keep_last=st.one_of(st.none(), st.integers(1, 3)),
    groups=st.sampled_from([(False, False), (True, False), (False, True), (True, True)]),
)
_FIXTURE_OK = [HealthCheck.function_scoped_fixture]


def check_gc_keeps_what_it_was_told_to(tmp_path_factory, steps, keep_last, groups):
    from tests.conftest import Workspace, git

    root = tmp_path_factory.mktemp("prop")
    git(root, "init", "-q")
    ws = Workspace(root)
    ws.art("init")
    commit_version(ws, "x.bin", random_bytes(70_000, seed=99), "root")
    ws.git("tag", "t0")
    branches = {"main"}
    for n, (branch, path, seed) in enumerate(steps):
        if branch not in branches:
            ws.git("branch", branch)
            branches.add(branch)
        ws.git("checkout", "-q", branch)
        ws.art("checkout", "--force")
        shared = random_bytes(150_000, seed=seed)  # versions share chunks across branches
        commit_version(ws, path, shared + random_bytes(20_000, seed=1000 + n), f"s{n}")
        if n % 3 == 2:
            ws.git("tag", f"t{n}")
    branches_only, tags_only = groups
    with ws.repo() as repo:
        refs = repo.git.refs()
        selected = {
            n: c
            for n, c in refs.items()
            if (not branches_only and not tags_only)
            or (branches_only and n.startswith("refs/heads/"))
            or (tags_only and n.startswith("refs/tags/"))
        }
        expected_commits = set()
        for commit in set(selected.values()) | {repo.git.head_commit()}:
            history = [c for c, _ in repo.git.history([commit])]
            expected_commits |= set(history[:keep_last] if keep_last else history)
    must_keep = needed(ws, sorted(expected_commits))
    with ws.repo() as repo:
        gc(repo, Retention(keep_last=keep_last, branches=branches_only, tags=tags_only), grace=0)
    assert must_keep <= keys(ws)
    ws.art("fsck")


@pytest.mark.long
@settings(max_examples=4, deadline=None, suppress_health_check=_FIXTURE_OK)
@_GC_CASES
def test_gc_never_deletes_what_it_was_told_to_keep(tmp_path_factory, steps, keep_last, groups):
    check_gc_keeps_what_it_was_told_to(tmp_path_factory, steps, keep_last, groups)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=_FIXTURE_OK)
@_GC_CASES
def test_gc_never_deletes_what_it_was_told_to_keep_many_histories(tmp_path_factory, steps, keep_last, groups):
    check_gc_keeps_what_it_was_told_to(tmp_path_factory, steps, keep_last, groups)
