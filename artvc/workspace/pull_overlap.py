"""A pull's checkout beside its fetch: the folders it brings are written while their packs still arrive.

``pull`` used to fetch everything, then check out: the files of a folder of many small files were created only
once the last pack was in (and on ext4 creating them costs more than the whole fetch). ``Overlap`` runs the
checkout of the folders that are not in the workspace at all in a thread beside the fetch:

1. It waits for the fetch's walk (``objstore/arrivals.py``), then plans from the trees the walk verified
   (``VerifiedTrees``: the plan reads no tree from the store, where they are stored only at the end).
2. It writes each file as soon as its object is in the local store (each pack is adopted whole, verified);
   a file whose object has not arrived waits for the next pack.
3. Each folder is built in its private staging folder (as every checkout of a folder that is not there is)
   and renamed into place only once the fetch ended with everything whole (``Arrivals.settle``).

Only folders that are not there at all, with nothing in the way, are taken (their checkout changes nothing
in the workspace before that rename); everything else, and everything when the fetch did not end whole, is
checked out by ``pull`` after the fetch, the ordinary way (``checkout``): a damaged pack still leaves the
workspace as it was (exit 3).

4. Once the fetch has ended whole, the files left are written in two processes (``forked_writes.beside_fetch``:
   the main thread then only waits in ``finish``, the fetch's threads have ended, and the child gets every
   other job, its packs opened first, and touches no sqlite connection). Before, a core idled while this
   thread wrote the last ~45% of a 100k pull alone. An error of the child is raised again here (the folder is
   then checked out after the fetch, as on any failure of this thread); an interrupt, of the main thread or of
   the child, stops both and removes the staging folder before the pull ends (``finish``).

5. When the pull could fork as it started (``pull._fetch_beside``: one thread then), a writer process made
   then (``forked_writes.Writer``, ``FileStage.writer``) takes the jobs of a folder of ``FORK_AT`` files or more
   from the start: this thread locates each job's objects as they arrive and sends it, waiting for the writer
   while the fetch goes on, so the fetch keeps the interpreter; no second fork is made after the fetch.
"""

from __future__ import annotations

import threading

from ..objstore.arrivals import Arrivals, FetchNotWhole
from ..objstore.faults import fault_point
from ..objstore.objects import DECODED_MAX, encoded_count, read_tree
from ..objstore.oid import Oid
from ..objstore.pulled_tree import FileTree, checked_tree
from ..objstore.stage import FileStage
from ..objstore.store.base import ObjectStore
from .checkout import CheckoutResult, apply_plan
from .checkout_plan import CheckoutPlan, plan_checkout
from .repo import Repo
from .safety import AnyTree, TreeCache
from .tracked import TrackedArtifact

KEPT_ENTRIES = 16_384  # decoded entries kept for the apply step (~350 bytes each: ~6 MB); the rest decoded again


class VerifiedTrees(TreeCache):
    """A plan's tree cache that first gives the trees a fetch verified and has not stored yet (id -> encoding,
    or a large tree's file: ``objstore/pulled_tree.py``, read a window at a time, never held whole).

    The plan takes each tree once and the apply step once more (from what the plan kept, or decoded again):
    that second take lets the encoding go; a later read (the folder signatures, after the fetch ended) goes to
    the store, which has every tree by then.

    ``budget``: far below a checkout's (100,000 entries, ~35 MB decoded), since this cache lives beside the
    fetch's own memory: 1M files in folders of 100 peaked at 154 MB with that budget. A tree past it is decoded
    again by the apply step, from its verified encoding and without the checks: a pull of 200,000 files in
    folders of 100 on tmpfs took 7.3-7.7 s of user CPU against 7.0-7.1 (and peaked at 87-89 MB against 106-107)."""

    def __init__(self, verified: dict[Oid, bytes | FileTree], budget: int = KEPT_ENTRIES) -> None:
        super().__init__(budget)
        self.verified = verified
        self._taken: set[Oid] = set()

    def read(self, store: ObjectStore, oid: Oid, *, take: bool = False) -> AnyTree:
        tree = self.pop(oid, None) if take else self.get(oid)
        data = self.verified.get(oid)
        if take:
            if data is not None and (tree is not None or oid in self._taken):
                del self.verified[oid]  # the apply step's read: the plan is done with it
            self._taken.add(oid)
        if tree is not None:
            return tree
        if data is None:
            return super().read(store, oid, take=take)
        # the walk checked every tree it hands over: decoded again without the checks (``checked_tree``), whole
        # when small enough (then kept for the apply step), else read an entry at a time, plainly too
        if isinstance(data, FileTree):
            return data if data.count > DECODED_MAX else checked_tree(oid, data)
        return checked_tree(oid, data) if encoded_count(data) <= DECODED_MAX else read_tree(oid, data)


class Overlap:
    """The checkout of the fresh folders among ``arts`` in a thread beside the fetch (see the module docstring).

    Use: ``start``, run the fetch with ``stage`` (its ``arrivals`` set here), then ``finish`` with whether it
    ended whole; ``done`` then names the artifacts put in place and ``result`` counts them."""

    def __init__(self, repo: Repo, arts: list[TrackedArtifact], stage: FileStage, *, force: bool) -> None:
        self.repo, self.arts, self.stage, self.force = repo, arts, stage, force
        self.arrivals = stage.arrivals = Arrivals()
        self.done: set[str] = set()
        self.result = CheckoutResult([], [], 0)
        self.error: BaseException | None = None  # what stopped it (the ordinary checkout then does it all)
        self._thread = threading.Thread(target=self._run, name="art-pull-checkout", daemon=True)
        self._ended = threading.Event()  # set as ``_run`` returns (its staging folder removed, if it failed)

    def start(self) -> None:
        self._thread.start()

    def finish(self, whole: bool) -> None:
        """The fetch ended (``whole``: nothing failed or was missing): let the checkout end, and wait for it.

        This thread does nothing else meanwhile, so the checkout may write the rest in two processes
        (``forked_writes.beside_fetch``). Interrupted while waiting (Ctrl-C), it cancels the checkout, which stops
        before its next job of its own (the forked writer then killed; one that is writing the last jobs ends
        them first) and removes its staging folder, and waits for that before raising the interrupt again. An
        interrupt that reached the forked writer alone is raised here too.

        Raises:
            KeyboardInterrupt: as said above.
        """
        try:  # an event, not ``join``: interrupted, Python 3.11's join marks the running thread as ended
            fault_point("pull.checkout-waiting")
            self.arrivals.end(whole, waits=True)
            self._ended.wait()
        except BaseException:
            self.arrivals.cancel()
            fault_point("pull.checkout-cancelled")
            self._ended.wait()
            raise
        finally:
            self.stage.arrivals = None  # the ordinary checkout after this one waits for nothing
        self._thread.join()
        if isinstance(self.error, KeyboardInterrupt):  # Ctrl-C reached the forked writer: the pull stops
            raise KeyboardInterrupt

    @property
    def problem(self) -> str | None:
        """What stopped the checkout beside the fetch, in one line, when it was not the fetch ending without
        everything (a bug here would otherwise show only as a lost overlap: ``art pull -v`` says it)."""
        exc = self.error
        if exc is None or isinstance(exc, FetchNotWhole):
            return None
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")

    def _run(self) -> None:
        try:
            trees = self.arrivals.trees()
            dirs = [a for a in self.arts if a.pointer.kind == "dir" and trees and a.pointer.oid in trees]
            if not dirs or trees is None:
                return
            cache = VerifiedTrees(trees, KEPT_ENTRIES)
            # the fetch is bringing the objects: the plan checks none present (a file whose object never comes is
            # not written, and its folder never put in place)
            plan = plan_checkout(self.repo, None, force=self.force, artifacts=dirs, trees=cache, arriving=True)
            written = 0
            for a in plan.todo:  # one at a time: each put in place is counted, whatever stops a later one
                if a.fresh and a.clear is None and a.blocker is None:  # nothing in the workspace changes before
                    written += apply_plan(self.repo, CheckoutPlan(todo=[a], trees=cache), None, self.stage)
                    self.done.add(a.path)
                    self.result = CheckoutResult(sorted(self.done), [], written)
        except BaseException as exc:  # handed to ``pull``, which checks these out the ordinary way
            self.error = exc
        finally:
            self._ended.set()
