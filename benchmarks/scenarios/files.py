"""Scenarios on plain files: one big incompressible file, a compressible CSV, 20k small files, versions."""

from __future__ import annotations

import filecmp
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

from harness.core import (
    MIB,
    Group,
    Sample,
    Step,
    StepFn,
    Workspace,
    add_remote,
    commit_all,
    copy_in,
    count_files,
    expect,
    init_repo,
    make_clone,
    tree_bytes,
)
from harness.datasets import dataset


def step_add(path: str, record_store: bool) -> StepFn:
    def fn(ws: Workspace) -> Sample:
        secs = ws.timed("add", path)
        pointer = ws.repo / f"{path}{ws.tool.pointer_ext}"
        expect(pointer.exists(), f"`add {path}` left no pointer file {pointer.name}")
        return Sample(secs, ws.store_bytes() if record_store else None)

    return fn


def step_status(ws: Workspace) -> Sample:
    return Sample(ws.timed("status"))


def step_push_first(ws: Workspace) -> Sample:
    add_remote(ws, ws.repo)
    commit_all(ws)
    ws.remote.mkdir()
    secs = ws.timed("push")
    expect(count_files(ws.remote) > 0, "push left the remote empty")
    return Sample(secs)


def step_push_again(ws: Workspace) -> Sample:
    return Sample(ws.timed("push"))


def step_pull_first(check: Callable[[Workspace], None]) -> StepFn:
    def fn(ws: Workspace) -> Sample:
        make_clone(ws)
        secs = ws.timed("pull", cwd=ws.clone)
        check(ws)
        return Sample(secs)

    return fn


def step_pull_again(ws: Workspace) -> Sample:
    return Sample(ws.timed("pull", cwd=ws.clone))


def check_big_pulled(ws: Workspace) -> None:
    got = ws.clone / "big.bin"
    expect(got.is_file(), "pull did not create big.bin")
    expect(filecmp.cmp(got, dataset(ws.cfg, "big"), shallow=False), "pulled big.bin differs from original")


def check_small_pulled(ws: Workspace) -> None:
    got = ws.clone / "data"
    n = count_files(got) if got.is_dir() else 0
    expect(n == ws.cfg.files, f"pull restored {n} of {ws.cfg.files} files")
    expect(tree_bytes(got) == tree_bytes(dataset(ws.cfg, "small")), "pulled data/ size differs")


def overwrite_middle(path: Path, size: int, seed: int) -> None:
    """Replace 1 MiB in the middle via copy+rename (safe even if the tool hard-links or chmods the file)."""
    tmp = path.with_name(path.name + ".edit")
    shutil.copyfile(path, tmp)
    with open(tmp, "r+b") as fh:
        fh.seek(max(0, size // 2 - MIB // 2))
        fh.write(random.Random(seed).randbytes(min(MIB, size)))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def step_versions(ws: Workspace) -> Sample:
    total = 0.0
    for version in range(3):
        if version:
            overwrite_middle(ws.repo / "big.bin", ws.cfg.size, 100 + version)
        total += ws.timed("add", "big.bin")
    stored = ws.store_bytes()
    expect(stored >= ws.cfg.size, f"{ws.tool.store} holds {stored} bytes, less than one version")
    return Sample(total, stored)


def prep_big(ws: Workspace) -> None:
    init_repo(ws, ["/big.bin"])
    copy_in(dataset(ws.cfg, "big"), ws.repo / "big.bin", ws.cfg)


def prep_csv(ws: Workspace) -> None:
    init_repo(ws, ["/table.csv"])
    copy_in(dataset(ws.cfg, "csv"), ws.repo / "table.csv", ws.cfg)


def prep_small(ws: Workspace) -> None:
    init_repo(ws, ["/data/"])
    copy_in(dataset(ws.cfg, "small"), ws.repo / "data", ws.cfg)


GROUPS: tuple[Group, ...] = (
    Group(
        "big",
        prep_big,
        (
            Step("add_1g", step_add("big.bin", True)),
            Step("status_1g", step_status, optional=True),
            Step("push_1g", step_push_first),
            Step("pull_1g", step_pull_first(check_big_pulled)),
        ),
    ),
    Group("csv", prep_csv, (Step("add_csv", step_add("table.csv", True)),)),
    Group(
        "small",
        prep_small,
        (
            Step("add_20k", step_add("data", True)),
            Step("status_20k", step_status, optional=True),
            Step("push_20k", step_push_first),
            Step("push_noop", step_push_again, optional=True),
            Step("pull_20k", step_pull_first(check_small_pulled)),
            Step("pull_noop", step_pull_again, optional=True),
        ),
    ),
    Group("versions", prep_big, (Step("versions_3", step_versions),)),
)
