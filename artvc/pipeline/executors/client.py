"""The client half of a distributed repro: what ``art repro --executor dask`` does on this machine besides
planning (``pipeline/executor.py``).

- ships the code once (``codeship.build`` + one push; unchanged files dedup) and every dep the remote lacks;
- asks the remote's run-key markers before submitting (a run another client or an earlier attempt published
  is adopted, not run again);
- builds each stage's task spec (``protocol``): the remote's URL and non-secret options only;
- adopts a worker's result: downloads the run record (verified), indexes it; with ``outputs = "fetch"`` also
  downloads the outputs so the caller checks them out like a run-cache hit, with ``"lazy"`` leaves them on
  the remote (art.lock names them; ``art pull`` gets them).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from ..._version import __version__
from ...errors import ArtError, IntegrityError
from ...objstore.lineage import Run
from ...objstore.objects import Kind
from ...objstore.oid import Oid
from ...workspace.repo import Repo
from ..spec import Pipeline, Stage
from ..staleness import Facts
from .protocol import looks_secret


def _key(kind: str | None, oid: str) -> tuple[Oid, Kind]:
    return Oid(oid), Kind.TREE if kind in ("dir", "tree") else Kind.FILE


def _stderr_warning(text: str) -> None:
    import sys

    print(f"art: warning: {text}", file=sys.stderr)


class RemoteStages:
    """One repro's connection to the remote its workers share.

    Args:
        remote: the remote's name (None: ``[executor] remote``, else the default remote).
        outputs: ``"fetch"`` (download and check out results) or ``"lazy"`` (leave them on the remote).
        git: the commit, dirtiness and branch the runs record.
    """

    def __init__(
        self, repo: Repo, pipeline: Pipeline, *, remote: str | None, outputs: str, git: dict, warn=None
    ) -> None:
        from ...workspace.remote import open_remote, resolve

        self.repo, self.pipeline, self.outputs = repo, pipeline, outputs
        self.warn = warn or _stderr_warning
        name = remote or repo.config.executor("remote") or None
        info = resolve(repo, name)
        url = info.url
        if "://" not in url and not os.path.isabs(url):
            url = str(repo.root / url)
        options = {
            k: v for k, v in info.options.items() if k not in info.secret_keys and not looks_secret(k) and k != "url"
        }
        self.remote_spec: dict[str, Any] = {"url": url, "options": options, "name": info.name}
        self.store = open_remote(repo, info.name)
        self.session = uuid.uuid4().hex[:16]
        self.git = {"commit": git.get("commit"), "dirty": git.get("dirty"), "branch": git.get("branch")}
        self._code_tree: str | None = None
        self.submitted = 0
        self.pushed_objects = 0

    def close(self) -> None:
        self.store.close()

    @property
    def fetch(self) -> bool:
        return self.outputs == "fetch"

    # -- before a stage is submitted ---------------------------------------------------------------------

    def find(self, run_key: str, outs: tuple[str, ...]) -> Run | None:
        """The newest run the remote's markers name for ``run_key`` that produced exactly ``outs``."""
        from ...workspace.remote_runcache import find

        return find(self.repo, self.store, run_key, outs, on_bad=self.warn)

    def code_tree(self) -> str:
        """The code tree's id (built and stored on first use)."""
        if self._code_tree is None:
            from .codeship import build

            self._code_tree = str(build(self.repo, self.pipeline).oid)
        return self._code_tree

    def spec(self, stage: Stage, facts: Facts, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """The task spec of ``stage`` (after ``ship`` put everything it names on the remote).

        Raises:
            ArtError: when a dep is missing (a stage runs only on what exists).
        """
        deps = []
        for i in inputs:
            if i["oid"] is None:
                raise ArtError(
                    f"stage {stage.name}: dep {i['path']} is missing", hint="create it, or run the stage that makes it"
                )
            deps.append({"path": i["path"], "oid": i["oid"], "kind": i["kind"], "run": i["run"]})
        return {
            "v": 1,
            "art": __version__,
            "session": self.session,
            "kind": "stage",
            "name": stage.name,
            "run_key": facts.run_key,
            "code_hash": facts.code_hash,
            "params": facts.params,
            "code_tree": self.code_tree(),
            "code": facts.code,
            "argv": stage.cmd,
            "call": stage.call if stage.cmd is None else None,
            "deps": deps,
            "outs": list(stage.outs),
            "env": {},
            "remote": self.remote_spec,
            "git": self.git,
            "resources": dict(stage.resources),
        }

    def ship(self, spec: dict[str, Any]) -> None:
        """Put the code tree and every dep of ``spec`` on the remote (what it lacks), under its shared lock.

        A dep in neither store (a plain file that neither git nor art tracks) is stored here first, through
        the stat cache; one only the remote holds (an output left there by ``--outputs lazy``) is fine.
        """
        from ...objstore.gc import RemoteLock
        from ...objstore.reachability import closure
        from ...objstore.transfer import upload
        from ...workspace.remote import transfer_jobs

        roots = [(Oid(spec["code_tree"]), Kind.TREE)] + [_key(d["kind"], d["oid"]) for d in spec["deps"]]
        paths = {_key(d["kind"], d["oid"]): d["path"] for d in spec["deps"]}
        if all(self._remote_has(r) for r in roots):  # as of the last look (a downstream stage's deps usually are)
            return
        with RemoteLock(self.store, exclusive=False, holder="art repro") as lock:
            self.store.refresh()
            todo = [r for r in roots if not self._remote_has(r)]
            for key in todo:  # a dep neither store has: a plain file that neither git nor art tracks
                if not self._stored(key):
                    self._ingest(paths[key], key)
            if todo:
                result = upload(
                    self.repo.store,
                    self.store,
                    closure(self.repo.store, todo),
                    jobs=transfer_jobs(self.repo, None),
                    staging_dir=str(self.repo.tmp_dir / "push"),
                    refresh=False,
                )
                self.pushed_objects += result.objects
            lock.check()

    def _remote_has(self, key: tuple[Oid, Kind]) -> bool:
        oid, kind = key
        if kind == Kind.FILE:
            return self.store.has(oid, Kind.FILE) or self.store.has(oid, Kind.CHUNK)
        return self.store.has(oid, kind)

    def _stored(self, key: tuple[Oid, Kind]) -> bool:
        oid, kind = key
        store = self.repo.store
        return store.has(oid, kind) or (kind == Kind.FILE and store.has(oid, Kind.CHUNK))

    def _ingest(self, path: str, key: tuple[Oid, Kind]) -> None:
        from ...objstore.ingest import Ingester

        repo = self.repo
        full = repo.abspath(path)
        with (
            repo.lock,
            repo.store.writer() as writer,
            Ingester(writer, repo.store.params, repo.store.compressor, cache=repo.state, guard=repo.root) as ing,
        ):
            got = ing.add_tree(full)[0].oid if key[1] == Kind.TREE else ing.add_file(full)[0]
        if got != key[0]:
            raise ArtError(f"dep {path} changed while the repro ran", hint="run 'art repro' again")

    # -- after a worker's result ------------------------------------------------------------------------

    def adopt(
        self, run_oid: str, outs: tuple[str, ...], *, fetch: bool | None = None, hint: list[dict] | None = None
    ) -> Run:
        """Download run ``run_oid`` (verified) and, with ``fetch``, its outputs; index the run here.
        ``hint``: the outputs a worker's result names, downloaded with the record in one pass (what the
        record itself names is checked afterwards, and fetched when the hint missed it).

        Raises:
            IntegrityError: the record does not produce ``outs`` or failed verification.
            TransferError, StoreIOError: the remote lacks it or failed.
        """
        from ...objstore.transfer import download
        from ...workspace.fetch import FetchResult, raise_for
        from ...workspace.remote import transfer_jobs
        from ...workspace.runs import load_run, record_run

        fetch = self.fetch if fetch is None else fetch
        store = self.store
        key = (Oid(run_oid), Kind.RUN)
        jobs = transfer_jobs(self.repo, None)
        with self.repo.lock:
            first = [key] + ([_key(o.get("kind"), str(o.get("id"))) for o in hint or ()] if fetch else [])
            # one refresh at most: the view is refreshed only when it does not list what is asked for
            got = download(store, self.repo.store, first, jobs=jobs, refresh=False)
            if got.missing or got.problems:  # maybe a bad hint: the record alone decides
                got = download(store, self.repo.store, [key], jobs=jobs, refresh=False)
            raise_for(FetchResult(store.name, store.url, 1, missing=got.missing, problems=got.problems))
            run = load_run(self.repo, run_oid)
            if sorted(str(o.get("path")) for o in run.get("outputs", [])) != sorted(outs):
                raise IntegrityError(f"run {run_oid[:10]} from the remote does not produce the stage's outs")
            if fetch:
                keys = [_key(o["kind"], o["oid"]) for o in run["outputs"]]
                got = download(store, self.repo.store, keys, jobs=jobs, refresh=False)  # nothing, when hinted
                raise_for(FetchResult(store.name, store.url, len(keys), missing=got.missing, problems=got.problems))
            record_run(self.repo, run)
        return run
