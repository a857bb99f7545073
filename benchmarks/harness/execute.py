"""Run scenario groups: K repeats, both tools prepared before either is timed, steps in lockstep."""

from __future__ import annotations

from .core import (
    Config,
    Group,
    Results,
    Step,
    Tool,
    ToolError,
    Workspace,
    isolated_env,
    log,
    remove_tree,
    settle_after_delete,
)


def plan_steps(group: Group, selected: set[str]) -> list[tuple[Step, bool]]:
    """Steps to run up to the last selected one; unselected non-optional ones run as unreported setup."""
    chosen = [step.key in selected for step in group.steps]
    if not any(chosen):
        return []
    last = max(i for i, c in enumerate(chosen) if c)
    pairs = enumerate(zip(group.steps, chosen, strict=True))
    return [(s, c) for i, (s, c) in pairs if i <= last and (c or not s.optional)]


def run_step(ws: Workspace, plan: list[tuple[Step, bool]], index: int, results: Results, rep: int) -> None:
    """Run plan[index] for one tool and record its sample; on failure record the error in results."""
    step, record = plan[index]
    try:
        sample = step.fn(ws)
    except ToolError as exc:
        ws.failed_at = step.key
        mark_failed(results, ws.tool.name, plan, step.key, str(exc))
        log(f"rep {rep + 1} {step.key:<26} {ws.tool.name}: FAIL")
        return
    log(f"rep {rep + 1} {step.key:<26} {ws.tool.name}: {sample.seconds:8.3f}s")
    if record:
        cell = results[step.key][ws.tool.name]
        cell.times.append(sample.seconds)
        cell.stored = sample.stored if sample.stored is not None else cell.stored


def mark_failed(results: Results, tool: str, plan: list[tuple[Step, bool]], at: str, error: str) -> None:
    """The first reported step at or after the failing one gets the error; later ones are marked not run."""
    started, told = False, False
    for step, record in plan:
        started = started or step.key == at
        if not (started and record) or results[step.key][tool].error:
            continue
        prefix = "" if step.key == at else f"(in setup step {at}) "
        results[step.key][tool].error = f"not run: step {at} failed" if told else prefix + error
        told = True


def run_group(index: int, group: Group, cfg: Config, tools: list[Tool], selected: set[str], results: Results) -> None:
    """K repeats; both workdirs are prepared before either is timed, then the tools run each step in
    lockstep (so both see the same disk state and background load), alternating who goes first."""
    plan = plan_steps(group, selected)
    if not plan:
        return
    broken: set[str] = set()
    for rep in range(cfg.repeat):
        order = [t for t in tools if t.name not in broken]
        if not order:
            return
        order = order if (rep + index) % 2 == 0 else order[::-1]
        live = prepare_all(group, cfg, order, plan, results)
        settle_after_delete(cfg, "setup")
        for i in range(len(plan)):
            for ws in live if i % 2 == 0 else live[::-1]:
                run_step(ws, plan, i, results, rep)
            live = [ws for ws in live if ws.failed_at is None]
        broken.update(t.name for t in order if t.name not in {ws.tool.name for ws in live})
        remove_tree(cfg.base / group.name, cfg)


def prepare_all(
    group: Group, cfg: Config, order: list[Tool], plan: list[tuple[Step, bool]], results: Results
) -> list[Workspace]:
    """Prepare every tool's workspace before anything is timed; return those that are ready."""
    ready = []
    for tool in order:
        ws = Workspace(tool, cfg.base / group.name / tool.name, cfg, tool_env(cfg))
        try:
            group.prepare(ws)
            ready.append(ws)
        except ToolError as exc:
            mark_failed(results, tool.name, plan, plan[0][0].key, f"setup failed: {exc}")
    return ready


def tool_env(cfg: Config) -> dict[str, str]:
    """Isolated HOME/git config, fixed git identity, no DVC analytics; same for both tools."""
    return isolated_env(cfg.base)
