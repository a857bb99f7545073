"""What runs on a worker of the distributed executor: one stage, from its task spec to its published result.

``run_stage(spec_bytes, cancel)`` is the Dask task (it imports nothing of Dask unless it runs inside a worker):

1. decode and check the spec (``protocol.decode_spec``); a different art version fails fast;
2. look at the remote's run-key marker: a run published already (an earlier attempt, another client) is
   returned as it is, ``cached`` — so a task retried after a lost worker costs one listing;
3. check the code tree and every dep out of the remote, verified, into a scratch workspace in the worker's
   cache (``workercache.py``);
4. run the stage there with the local runner contract (``/bin/sh -c`` or the call, cwd = the scratch root,
   ``ART_STAGE``, stdin closed), in its own process group; the cancel event is polled while it runs and the
   group is killed when it is set (SIGTERM, SIGKILL after 3 s) — a cancelled stage publishes nothing;
5. store its outs, write the run record (the same fields as a local run: ``pipeline/runrecord.py``; machine
   facts are the worker's), push them to the remote and publish the run-key marker last;
6. return a small result (``protocol.encode_result``). A failing command is a result (``ok`` false, exit
   status, stderr tail), never an exception: Dask retries only lost workers, not deterministic failures.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections import deque
from pathlib import Path
from typing import Any

from ..._version import __version__
from .protocol import VERSION, clip_lines, decode_spec, encode_result
from .workercache import WorkerCache

POLL = 0.5  # seconds between looks at the cancel event before the stage starts


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return ""


def _cancel_probe(name: str | None):
    """A function telling whether the session was cancelled (never, outside a Dask worker)."""
    if not name:
        return lambda: False
    try:
        from distributed import Event
    except ImportError:
        return lambda: False
    try:
        event = Event(name)
    except ValueError:  # not inside a worker: nobody can cancel
        return lambda: False
    last = [0.0, False]

    def cancelled() -> bool:
        now = time.monotonic()
        if not last[1] and now - last[0] >= 0.2:
            last[0] = now
            try:
                last[1] = bool(event.is_set())
            except Exception:  # the scheduler is gone: the client is gone too, stop
                last[1] = True
        return bool(last[1])

    return cancelled


def result(ok: bool, returncode: int, **fields: Any) -> dict[str, Any]:
    """A result dict with this worker's facts filled in."""
    out: dict[str, Any] = {
        "v": VERSION,
        "ok": ok,
        "returncode": returncode,
        "run_oid": None,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "worker": _worker_name(),
    }
    out.update(fields)
    return out


def run_stage(spec_bytes: bytes, cancel: str | None = None, cache_root: str | None = None) -> bytes:
    """Run one stage task (see the module docstring); return the encoded result.

    An art error that would happen again (an unsafe tree, damaged or missing objects) is a failed result;
    a remote that failed (``RemoteError``: maybe transient) and anything unexpected raise, so Dask retries.
    """
    from ...errors import ArtError, RemoteError

    spec = decode_spec(spec_bytes)
    try:
        return encode_result(execute(spec, cancel, cache_root))
    except RemoteError:
        raise
    except ArtError as exc:
        return encode_result(result(False, 1, error=f"{type(exc).__name__}: {exc.message}"[:4000]))


def execute(spec: dict[str, Any], cancel: str | None = None, cache_root: str | None = None) -> dict[str, Any]:
    """Run a checked task spec; return the result dict."""
    if spec["art"] != __version__:
        return result(
            False, 1, error=f"the worker runs art {__version__}, the client art {spec['art']}: install the same version"
        )
    stopped = _cancel_probe(cancel)
    if stopped():
        return result(False, 130, cancelled=True, error="cancelled before it started")
    cache = WorkerCache.for_worker(spec["remote"], Path(cache_root) if cache_root else None)
    read0 = cache.bytes_read
    rerun = bool((spec.get("extra") or {}).get("rerun"))  # art run --no-cache: do not reuse a published run
    hit = None if rerun else cache.lookup(spec["run_key"], spec["outs"])
    if hit is not None:
        return _from_run(hit, cached=True, bytes_downloaded=cache.bytes_read - read0)
    scratch = cache.task_dir(spec["run_key"])
    try:
        if spec["kind"] == "step":  # a step of a Python pipeline (steptask.py, dflow)
            from .steptask import run_step

            return run_step(cache, spec, scratch, stopped, read0, result)
        return _run_in(cache, spec, scratch, stopped, read0)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _from_run(run, *, cached: bool, bytes_downloaded: int) -> dict[str, Any]:
    from ..runrecord import lock_outs

    started = run.get("started") or ""
    return result(
        True,
        0,
        run_oid=str(run.oid),
        cached=cached,
        outs=lock_outs(run),
        duration=float(run.get("duration") or 0.0),
        started=_epoch(started),
        bytes_downloaded=bytes_downloaded,
    )


def _epoch(iso: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _run_in(cache: WorkerCache, spec: dict[str, Any], root: Path, stopped, read0: int) -> dict[str, Any]:
    from ...objstore.faults import fault_point
    from .. import runner
    from ..runrecord import provenance, stage_run

    cache.materialize(spec["code_tree"], "dir", root, root=root)
    for dep in spec["deps"]:
        cache.materialize(dep["oid"], dep["kind"], root / dep["path"], root=root)
    fault_point("worker.inputs-ready")
    downloaded = cache.bytes_read - read0
    if stopped():
        return result(False, 130, cancelled=True, bytes_downloaded=downloaded)
    target = spec["argv"] if spec["argv"] is not None else runner.call_argv(spec["call"], root)
    out_tail: deque[str] = deque(maxlen=runner.TAIL_LINES)
    done = runner.run_target(
        spec["name"], target, root, env=spec["env"], new_session=True, stop=stopped, stdout_tail=out_tail
    )
    tails = {"stderr_tail": clip_lines(done.stderr_tail), "stdout_tail": clip_lines(list(out_tail))}
    base = dict(started=done.started, duration=done.duration, bytes_downloaded=downloaded, **tails)
    if done.cancelled:
        return result(False, 130, cancelled=True, **base)
    if done.returncode != 0:
        return result(False, done.returncode, **base)
    missing = [o for o in spec["outs"] if not os.path.lexists(root / o)]
    if missing:
        return result(False, 0, missing=missing, **base)
    outs = [cache.ingest(root / o, o, root=root) for o in spec["outs"]]
    fault_point("worker.outputs-stored")
    if stopped():
        return result(False, 130, cancelled=True, **base)
    facts, packages = provenance(cache.root / "cache", spec["git"])
    run = stage_run(
        stage=spec["name"],
        cmd=spec["argv"] if isinstance(spec["argv"], str) else None,
        call=spec["call"],
        code_hash=spec["code_hash"],
        code=spec["code"],
        params=spec["params"],
        inputs=[{"path": d["path"], "oid": d["oid"], "kind": d["kind"], "run": d["run"]} for d in spec["deps"]],
        outs=outs,
        run_key=spec["run_key"],
        returncode=0,
        started=done.started,
        duration=done.duration,
        facts=facts,
        tails={k: runner.bounded_tail(v) for k, v in tails.items()},
    )
    run_oid = cache.publish(run.fields, outs, packages)
    return result(True, 0, run_oid=run_oid, outs=outs, **base)
