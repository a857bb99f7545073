"""``art repro`` with a distributed executor: the two steps of a stage that differ from a local run.

``prepare``: after the local run cache missed, ask the remote's run-key markers (a published run is adopted,
``cached``); else build the task spec, ship what it names and hand it back for submission. The workspace is
not touched: a stage's previous outputs stay where they are until its result is adopted.

``finish``: a failed result becomes a ``failed`` outcome (exit status, stderr tail; nothing was published and
the workspace is as it was); a good one is adopted — the run record downloaded (verified) and indexed, the
outputs downloaded and checked out (``--outputs fetch``) or left on the remote (``lazy``) — and art.lock gets
the same entry a local run would have written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..outcome import CACHED, FAILED, RAN, StageOutcome

if TYPE_CHECKING:
    from ...objstore.lineage import Run
    from ..executor import Executor, _Launch
    from ..plan import PlanItem
    from ..spec import Stage
    from ..staleness import Facts


COMMIT_WAIT = 600.0  # seconds an adopted result waits for the repository lock to be recorded


def prepare(
    ex: Executor, item: PlanItem, stage: Stage, facts: Facts, reasons: tuple[str, ...], outcomes: dict
) -> dict[str, Any] | None:
    """The task spec to submit for ``stage`` (None: the remote had its run, now adopted and recorded)."""
    remote = ex.remote
    assert remote is not None
    if ex.options.run_cache and not item.forced:
        run = remote.find(facts.run_key, stage.outs)
        if run is not None:
            _adopt(ex, stage, facts, run)
            ex._record(
                outcomes,
                StageOutcome(
                    stage.name, CACHED, reasons, run=str(run.oid), message=f"Using the remote's run of {stage.name}"
                ),
            )
            return None
    spec = remote.spec(stage, facts, ex.inputs(facts))
    remote.ship(spec)
    remote.submitted += 1
    ex.on_event("start", stage.name, stage.command)
    return spec


def _adopt(ex: Executor, stage: Stage, facts: Facts, run: Run | str, hint: list[dict] | None = None) -> Run:
    remote = ex.remote
    assert remote is not None
    adopted = remote.adopt(str(run if isinstance(run, str) else run.oid), stage.outs, hint=hint)
    with ex.repo.lock.patiently(COMMIT_WAIT):
        ex.restore_run(stage, facts, adopted, checkout=remote.fetch)
    return adopted


def finish(ex: Executor, launch: _Launch, stage: Stage, done: dict[str, Any]) -> StageOutcome:
    """The outcome of a remote result (adopted when it is a run)."""
    if ex.on_output is not None:  # a worker's output is not streamed: its last lines, once the stage is done
        for line in done.get("stdout_tail") or ():
            ex.on_output(stage.name, line, False)
        for line in done.get("stderr_tail") or ():
            ex.on_output(stage.name, line, True)
    base: dict[str, Any] = dict(
        reasons=launch.reasons,
        duration=float(done.get("duration") or 0.0),
        returncode=int(done.get("returncode") or 0),
        stderr_tail=tuple(done.get("stderr_tail") or ()),
    )
    if not done["ok"]:
        if done.get("cancelled"):
            return StageOutcome(stage.name, FAILED, message="cancelled", **base)
        if done.get("error"):
            base["stderr_tail"] = (*base["stderr_tail"], str(done["error"]))
            if not base["returncode"]:
                base["returncode"] = 1
            return StageOutcome(stage.name, FAILED, message=f"on the worker: {done['error']}", **base)
        missing = tuple(done.get("missing") or ())
        if missing and base["returncode"] == 0:
            message = f"the command succeeded (exit status 0) but did not write {', '.join(missing)}"
            return StageOutcome(stage.name, FAILED, message=message, missing=missing, **base)
        return StageOutcome(stage.name, FAILED, message=f"exit status {base['returncode']}", **base)
    run = _adopt(ex, stage, launch.facts, str(done["run_oid"]), hint=list(done.get("outs") or ()))
    where = f" on {done.get('host') or 'a worker'}" + (" (already published)" if done.get("cached") else "")
    return StageOutcome(stage.name, RAN, run=str(run.oid), message=f"{base['duration']:.2f} s{where}", **base)
