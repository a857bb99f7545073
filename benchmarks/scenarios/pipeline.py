"""The pipeline scenario: a chain of stages, first repro, no-op repro, status, and two kinds of change."""

from __future__ import annotations

from harness.core import Group, Sample, Step, Workspace, expect, init_repo

from .files import step_status


def stage_out(i: int) -> str:
    return f"s{i:02d}.txt"


def stage_cmd(i: int, late: int | None) -> str:
    src = "in.txt" if i == 1 else stage_out(i - 1)
    if i == late:
        return f"sort -o {stage_out(i)} {src} {src}"
    return f"cp {src} {stage_out(i)}"


def write_pipeline(ws: Workspace, late: int | None = None) -> None:
    """Chain of cfg.stages stages written straight to dvc.yaml / art.toml (much faster than `stage add`)."""
    n = ws.cfg.stages
    deps = ["in.txt", *(stage_out(i) for i in range(1, n))]
    if ws.tool.name == "dvc":
        body = ["stages:"]
        for i in range(1, n + 1):
            body += [
                f"  s{i:02d}:",
                f"    cmd: {stage_cmd(i, late)}",
                "    deps:",
                f"    - {deps[i - 1]}",
                "    outs:",
                f"    - {stage_out(i)}",
            ]
        (ws.repo / "dvc.yaml").write_text("\n".join(body) + "\n")
        return
    body = []
    for i in range(1, n + 1):
        body += [
            f"[stages.s{i:02d}]",
            f'cmd = "{stage_cmd(i, late)}"',
            f'deps = ["{deps[i - 1]}"]',
            f'outs = ["{stage_out(i)}"]',
            "",
        ]
    (ws.repo / "art.toml").write_text("\n".join(body))


def input_text(version: int) -> str:
    return "".join(f"line {i:05d} v{version}\n" for i in range(200, 0, -1))


def expect_last_output(ws: Workspace, wanted: str) -> None:
    last = ws.repo / stage_out(ws.cfg.stages)
    got = last.read_text() if last.exists() else None
    expect(got == wanted, f"after repro {last.name} is {'missing' if got is None else 'stale'}")


def step_repro_first(ws: Workspace) -> Sample:
    secs = ws.timed("repro")
    expect_last_output(ws, input_text(1))
    return Sample(secs)


def step_repro_noop(ws: Workspace) -> Sample:
    return Sample(ws.timed("repro"))


def step_change_first(ws: Workspace) -> Sample:
    (ws.repo / "in.txt").write_text(input_text(2))
    secs = ws.timed("repro")
    expect_last_output(ws, input_text(2))
    return Sample(secs)


def step_change_late(ws: Workspace) -> Sample:
    write_pipeline(ws, late=max(1, ws.cfg.stages - 2))
    secs = ws.timed("repro")
    expect_last_output(ws, "".join(sorted(input_text(2).splitlines(keepends=True) * 2)))
    return Sample(secs)


def prep_pipeline(ws: Workspace) -> None:
    init_repo(ws, [])
    (ws.repo / "in.txt").write_text(input_text(1))
    write_pipeline(ws)


GROUP = Group(
    "pipeline",
    prep_pipeline,
    (
        Step("pipeline_50.first", step_repro_first),
        Step("pipeline_50.noop", step_repro_noop),
        Step("pipeline_50.status", step_status),
        Step("pipeline_50.change_first", step_change_first),
        Step("pipeline_50.change_late", step_change_late),
    ),
)
